//! `Stasis(voiceportal,attendant,<greeting>)`: play an auto-attendant greeting
//! recorded through the portal, collect one key, and return to the dialplan with
//! it in `VP_DIGIT` (empty when nothing was pressed).

use tracing::warn;

use super::admin_greetings::greeting_recording;
use super::ask::say;
use crate::call::{Call, CallError, Collect, Media};
use crate::domain::Prompt;

pub async fn run(call: &mut Call, greeting: &str) -> Result<(), CallError> {
    call.answer().await?;
    let name = greeting_recording(greeting);
    // A missing stored recording would start and never finish: check first.
    let prompt = if call.recording_exists(&name).await? {
        vec![Media::Recording(name)]
    } else {
        warn!(
            greeting,
            "attendant greeting not recorded; the caller hears an apology"
        );
        vec![say(Prompt::Error)]
    };
    let key = call.play_and_collect(&prompt, &Collect::one_key()).await?;
    call.set_variable("VP_DIGIT", &key.digits).await?;
    call.continue_in_dialplan(None).await
}
