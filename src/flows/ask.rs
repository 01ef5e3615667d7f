//! Small building blocks every flow uses: prompts by catalogue name, asking with
//! reprompts on silence, saying goodbye.

use super::Flows;
use crate::call::{Call, CallError, Collect, Digits, Media};
use crate::domain::{Pin, PinRejection, Prompt};

pub fn say(prompt: Prompt) -> Media {
    Media::sound(prompt.sound())
}

/// Plays `prompts` and collects an entry, repeating the prompt when the caller
/// presses nothing, after "sorry, I did not hear anything" (SPEC: "no input:
/// reprompt"); `None` after `call.max_silent_prompts` silent prompts.
pub async fn ask(
    call: &mut Call,
    prompts: &[Media],
    spec: &Collect,
) -> Result<Option<Digits>, CallError> {
    let mut reprompt = vec![say(Prompt::NoInput)];
    reprompt.extend_from_slice(prompts);
    for attempt in 0..call.timing().max_silent_prompts {
        let playlist = if attempt == 0 { prompts } else { &reprompt };
        let entry = call.play_and_collect(playlist, spec).await?;
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

/// The PIN (or passcode) of a login: one attempt, ended by `#` or a pause. Up to
/// the longest PIN any policy allows, not the current policy's maximum: a PIN set
/// before the maximum was lowered must still open its mailbox. Longer is one
/// wrong entry.
pub fn login_pin_entry() -> Collect {
    Collect::digits(Pin::MAX_LEN)
}

/// A new PIN: up to the policy's maximum; longer is refused as too long.
pub fn new_pin_entry(flows: &Flows) -> Collect {
    Collect::digits(flows.access.policy().max_length)
}

/// What was typed at a PIN prompt, as a PIN; an overflowed entry is too long.
pub fn typed_pin(entry: &Digits, max: usize) -> Result<Pin, PinRejection> {
    if entry.overflow {
        return Err(PinRejection::TooLong { max });
    }
    Pin::parse(&entry.digits)
}

/// A service a flow depends on failed (Redis, PIN hashing): the call ends with an
/// apology (see `Flows::handle`).
pub fn backend(error: impl std::fmt::Display) -> CallError {
    CallError::Backend(error.to_string())
}
