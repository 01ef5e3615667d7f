mod support;

mod admin;
mod ari_client;
mod call_runtime;
mod cli;
mod deposit;
mod email;
mod entry_points;
mod load;
mod lockout;
mod menu;
mod messages;
mod portal;
mod prompts;
mod repair;
mod store_mailboxes;
mod websocket;
