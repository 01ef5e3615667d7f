//! Recording with review, as app_voicemail does it: after the recording,
//! 1 keeps it, 2 plays it back, 3 records again.
//!
//! Takes are recorded under a scratch name and copied over the real one only
//! when kept, so a hang-up or a failed take never replaces a good greeting or
//! name with a partial or empty one.

use std::time::Duration;

use tracing::warn;

use super::ask::{ask, say};
use crate::call::{Call, CallError, Collect, Media, RecordSpec};
use crate::domain::Prompt;

/// Longest name or greeting.
const MAX_GREETING: Duration = Duration::from_secs(60);
/// Silence that ends a name or greeting.
const MAX_SILENCE: Duration = Duration::from_secs(5);
/// Recordings of nothing in a row before giving up.
const MAX_EMPTY: u32 = 3;

/// Plays `prompt`, records after the beep and lets the caller review; the kept
/// take becomes `name`. `Ok(true)` once kept; `Ok(false)` if nothing usable was
/// recorded (then `name` is unchanged). A caller who falls silent at the review
/// keeps the take; one who hangs up keeps nothing.
pub async fn record_with_review(
    call: &mut Call,
    prompt: Prompt,
    name: &str,
) -> Result<bool, CallError> {
    let take = format!("{name}-new");
    let result = review_takes(call, prompt, &take).await;
    let kept = match result {
        Ok(true) => match call.replace_recording(&take, name).await {
            Ok(()) => Ok(true),
            Err(e) => Err(e),
        },
        other => other,
    };
    if let Err(e) = call.delete_recording(&take).await {
        warn!(recording = %take, error = %e, "cannot delete a scratch recording");
    }
    kept
}

async fn review_takes(call: &mut Call, prompt: Prompt, take: &str) -> Result<bool, CallError> {
    let spec = RecordSpec {
        name: take.to_owned(),
        max_duration: MAX_GREETING,
        max_silence: MAX_SILENCE,
        beep: true,
        terminate_on: "#",
    };
    let mut empty = 0;
    'record: loop {
        call.play(&[say(prompt)]).await?;
        let recorded = call.record(&spec).await?;
        if recorded.hung_up {
            return Err(CallError::Gone);
        }
        if recorded.duration_secs == 0 {
            empty += 1;
            if empty >= MAX_EMPTY {
                return Ok(false);
            }
            call.play(&[say(Prompt::TryAgain)]).await?;
            continue;
        }
        let length = Duration::from_secs(recorded.duration_secs.into());
        let mut pending: Option<char> = None;
        loop {
            let key = match pending.take() {
                Some(key) => key,
                None => {
                    let Some(entry) =
                        ask(call, &[say(Prompt::Review)], &Collect::one_key()).await?
                    else {
                        return Ok(true);
                    };
                    entry.digits.chars().next().unwrap_or('1')
                }
            };
            match key {
                '1' => {
                    call.play(&[say(Prompt::RecordingSaved)]).await?;
                    return Ok(true);
                }
                // A key pressed while listening answers the review at once.
                '2' => {
                    pending = call
                        .play_message(&[Media::Recording(take.to_owned())], length)
                        .await?
                }
                '3' => continue 'record,
                _ => call.play(&[say(Prompt::InvalidOption)]).await?,
            }
        }
    }
}
