//! Small building blocks every flow uses: prompts by catalogue name, asking with
//! reprompts on silence, saying goodbye.

use super::Flows;
use crate::call::{Call, CallError, Collect, Digits, Media};
use crate::domain::Prompt;

pub fn say(prompt: Prompt) -> Media {
    Media::sound(prompt.sound())
}

/// Plays `prompts` and collects an entry, repeating the prompt when the caller
/// presses nothing; `None` after `call.max_silent_prompts` silent prompts.
pub async fn ask(
    call: &mut Call,
    prompts: &[Media],
    spec: &Collect,
) -> Result<Option<Digits>, CallError> {
    for _ in 0..call.timing().max_silent_prompts {
        let entry = call.play_and_collect(prompts, spec).await?;
        if !entry.is_silence() {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Ends the call politely.
pub async fn goodbye(call: &mut Call) -> Result<(), CallError> {
    call.play(&[say(Prompt::Goodbye)]).await?;
    call.hangup().await
}

/// A PIN entry ends with `#` or at the policy's maximum length (SPEC): what was
/// typed is one attempt.
pub fn pin_entry(flows: &Flows) -> Collect {
    Collect::digits(flows.access.policy().max_length)
}

/// A service a flow depends on failed (Redis, PIN hashing): the call ends with an
/// apology (see `Flows::handle`).
pub fn backend(error: impl std::fmt::Display) -> CallError {
    CallError::Backend(error.to_string())
}
