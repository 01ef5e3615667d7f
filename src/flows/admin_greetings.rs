//! The portal's admin side: the portal's own number entered as a mailbox leads here.
//! After the admin passcode (its own strikes and lock), the auto-attendant
//! greetings menu: pick a greeting by number, then 1 record, 2 listen, 3 delete,
//! `*` another greeting, `#` exit. Greetings are ARI stored recordings named
//! `voiceportal/attendant/<number>`.

use tracing::{info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, login_pin_entry, say, typed_pin};
use super::review::record_with_review;
use crate::access::Verdict;
use crate::call::{Call, CallError, Collect, Media};
use crate::domain::{Pin, Prompt};

/// The stored recording of one attendant greeting.
pub fn greeting_recording(greeting: &str) -> String {
    format!("voiceportal/attendant/{greeting}")
}

/// Longest greeting number.
const MAX_GREETING_DIGITS: usize = 4;

pub async fn run(flows: &Flows, call: &mut Call) -> Result<(), CallError> {
    let max_attempts = flows.config.portal.max_attempts_per_call;
    for attempt in 1..=max_attempts {
        let Some(entry) = ask(call, &[say(Prompt::EnterAdminPasscode)], &login_pin_entry()).await?
        else {
            return goodbye(call).await;
        };
        let verdict = match typed_pin(&entry, Pin::MAX_LEN) {
            Ok(passcode) => flows.access.admin_login(&passcode).await.map_err(backend)?,
            Err(_) => Verdict::Wrong,
        };
        match verdict {
            Verdict::Right => {
                info!("admin passcode accepted");
                return greetings_menu(call).await;
            }
            Verdict::Locked => {
                warn!("admin passcode locked");
                call.play(&[say(Prompt::Locked)]).await?;
                return call.hangup().await;
            }
            Verdict::Wrong => {
                call.play(&[say(Prompt::PasscodeIncorrect)]).await?;
                if attempt == max_attempts {
                    return goodbye(call).await;
                }
            }
        }
    }
    goodbye(call).await
}

async fn greetings_menu(call: &mut Call) -> Result<(), CallError> {
    loop {
        let Some(number) = ask(
            call,
            &[say(Prompt::EnterGreetingNumber)],
            &Collect::digits(MAX_GREETING_DIGITS),
        )
        .await?
        else {
            return goodbye(call).await;
        };
        if number.overflow
            || number.digits.is_empty()
            || !number.digits.bytes().all(|b| b.is_ascii_digit())
        {
            call.play(&[say(Prompt::InvalidOption)]).await?;
            continue;
        }
        let name = greeting_recording(&number.digits);
        loop {
            let menu = [
                say(Prompt::Greeting),
                Media::Number(number.digits.parse().unwrap_or(0)),
                say(Prompt::GreetingMenu),
            ];
            let Some(key) = ask(call, &menu, &Collect::one_key()).await? else {
                return goodbye(call).await;
            };
            match key.digits.as_str() {
                "1" => {
                    record_with_review(call, Prompt::RecordGreeting, &name).await?;
                }
                "2" => {
                    if call.recording_exists(&name).await? {
                        call.play(&[Media::Recording(name.clone())]).await?;
                    } else {
                        call.play(&[say(Prompt::NoGreetingRecorded)]).await?;
                    }
                }
                "3" => {
                    call.delete_recording(&name).await?;
                    info!(greeting = %number.digits, "attendant greeting deleted");
                    call.play(&[say(Prompt::GreetingDeleted)]).await?;
                }
                "*" => break,
                "#" => return goodbye(call).await,
                _ => call.play(&[say(Prompt::InvalidOption)]).await?,
            }
        }
    }
}
