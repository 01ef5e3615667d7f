//! The call voiceportal places to an owner's phone to speak a web sign-in code
//! (`notify::signin`): the code, in the mailbox's language, repeated until the
//! owner hangs up, the code is used or it expires.

use tracing::{info, warn};

use super::Flows;
use super::ask::{backend, goodbye, say};
use crate::access::signin::CodeState;
use crate::call::{Call, CallError, Media};
use crate::domain::Prompt;

pub async fn run(flows: &Flows, call: &mut Call) -> Result<(), CallError> {
    let Some(pending) = flows.courier.claim(call.channel_id()) else {
        // Not a call we placed (a dialplan sent it here), or its code expired.
        warn!("signin-code entry on a channel voiceportal did not call: no code to speak");
        return super::apologise(call).await;
    };
    tracing::Span::current().record("mailbox", pending.mailbox.as_str());
    call.set_language(pending.language.code());
    // Answered by the phone already; answering again is harmless, and it puts
    // the channel in the state every other flow starts from.
    call.answer().await?;
    info!("speaking a sign-in code");
    let mut intro = Prompt::SigninCode;
    while tokio::time::Instant::now() < pending.until {
        let state = flows
            .access
            .signin_code_state(&pending.mailbox, &pending.request)
            .await
            .map_err(backend)?;
        match state {
            CodeState::Pending => {}
            CodeState::Used => {
                call.play(&[say(Prompt::SignedIn)]).await?;
                return goodbye(call).await;
            }
            CodeState::Gone => return goodbye(call).await,
        }
        call.play(&[say(intro), Media::Digits(pending.code.expose().to_owned())])
            .await?;
        intro = Prompt::SigninCodeAgain;
    }
    goodbye(call).await
}
