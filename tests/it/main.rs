mod support;

mod lockout;
mod prompts;
