//! Recording with review, as app_voicemail does it: after the recording,
//! 1 keeps it, 2 plays it back, 3 records again.

use std::time::Duration;

use super::ask::{ask, say};
use crate::call::{Call, CallError, Collect, Media, RecordSpec};
use crate::domain::Prompt;

/// Longest name or greeting.
const MAX_GREETING: Duration = Duration::from_secs(60);
/// Silence that ends a name or greeting.
const MAX_SILENCE: Duration = Duration::from_secs(5);
/// Recordings of nothing in a row before giving up.
const MAX_EMPTY: u32 = 3;

/// Plays `prompt`, records `name` after the beep and lets the caller review it.
/// `Ok(true)` once kept; `Ok(false)` if nothing usable was recorded. A caller who
/// falls silent at the review keeps what they recorded; one who hangs up keeps it
/// too (the file is there), and the flow ends with `Gone`.
pub async fn record_with_review(
    call: &mut Call,
    prompt: Prompt,
    name: &str,
) -> Result<bool, CallError> {
    let spec = RecordSpec {
        name: name.to_owned(),
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
        loop {
            let Some(key) = ask(call, &[say(Prompt::Review)], &Collect::one_key()).await? else {
                return Ok(true);
            };
            match key.digits.as_str() {
                "1" => {
                    call.play(&[say(Prompt::RecordingSaved)]).await?;
                    return Ok(true);
                }
                "2" => call.play(&[Media::Recording(name.to_owned())]).await?,
                "3" => continue 'record,
                _ => call.play(&[say(Prompt::InvalidOption)]).await?,
            }
        }
    }
}
