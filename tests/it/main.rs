mod support;

mod ari_client;
mod call_runtime;
mod cli;
mod load;
mod lockout;
mod portal_stub;
mod prompts;
mod store_mailboxes;
mod websocket;
