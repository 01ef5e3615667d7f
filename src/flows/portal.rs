//! The voice portal (`*98`, the portal number): mailbox number, then PIN.

use tracing::info;

use super::Flows;
use crate::call::{Call, CallError, Collect, Digits, Media};
use crate::domain::MailboxId;

/// Longest PIN the portal accepts in one attempt.
const MAX_PIN_DIGITS: usize = 12;

pub async fn run(_flows: &Flows, call: &mut Call) -> Result<(), CallError> {
    call.answer().await?;
    let Some(mailbox) = ask(call, "vm-login", MailboxId::MAX_LEN).await? else {
        return goodbye(call).await;
    };
    if let Ok(mailbox) = MailboxId::parse(&mailbox.digits) {
        tracing::Span::current().record("mailbox", mailbox.as_str());
    }
    let Some(_pin) = ask(call, "vm-password", MAX_PIN_DIGITS).await? else {
        return goodbye(call).await;
    };
    info!("portal entry collected");
    goodbye(call).await
}

/// Plays `prompt` and collects an entry, reprompting on silence; `None` after
/// `call.max_silent_prompts` silent prompts.
async fn ask(
    call: &mut Call,
    prompt: &str,
    max_digits: usize,
) -> Result<Option<Digits>, CallError> {
    for _ in 0..call.timing().max_silent_prompts {
        let entry = call
            .play_and_collect(&[Media::sound(prompt)], &Collect::digits(max_digits))
            .await?;
        if !entry.is_silence() {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

async fn goodbye(call: &mut Call) -> Result<(), CallError> {
    call.play(&[Media::sound("vm-goodbye")]).await?;
    call.hangup().await
}
