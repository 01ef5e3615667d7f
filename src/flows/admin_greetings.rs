//! The portal's admin side: the portal's own number entered as a mailbox leads here.
//! After the admin passcode (its own strikes and lock), the auto-attendant
//! greetings menu: pick a greeting by number (`#` alone: the virtual
//! receptionist's company greeting), then 1 record, 2 listen, 3 delete, `*`
//! another greeting, `#` exit. Greetings are ARI stored recordings named
//! `voiceportal/attendant/<number>`, played by `attendant,<number>` and
//! `receptionist[,<number>]`; listening to one the receptionist plays while it is
//! not recorded plays the stock greeting callers hear meanwhile.

use tracing::{info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, login_pin_entry, say, typed_pin};
use super::receptionist::stock_greeting;
use super::review::record_with_review;
use crate::access::Verdict;
use crate::call::{Call, CallError, Collect, CollectEnd, Media};
use crate::domain::receptionist::MAX_GREETING_DIGITS;
use crate::domain::{Pin, Prompt};

/// The stored recording of one attendant greeting.
pub fn greeting_recording(greeting: &str) -> String {
    format!("voiceportal/attendant/{greeting}")
}

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
                return greetings_menu(flows, call).await;
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

async fn greetings_menu(flows: &Flows, call: &mut Call) -> Result<(), CallError> {
    let receptionist = &flows.config.receptionist;
    loop {
        let Some(mut number) = ask(
            call,
            &[say(Prompt::EnterGreetingNumber)],
            &Collect::digits(MAX_GREETING_DIGITS),
        )
        .await?
        else {
            return goodbye(call).await;
        };
        if number.digits.is_empty() && number.end == CollectEnd::Terminator {
            number.digits = receptionist.default_greeting.clone();
        }
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
                        let mut media = vec![say(Prompt::NoGreetingRecorded)];
                        if receptionist.uses_greeting(&number.digits) {
                            let operator = receptionist.menu(Some(&number.digits)).operator;
                            media.push(say(Prompt::StandardGreetingPlays));
                            media.extend(stock_greeting(operator.is_some()));
                        }
                        call.play(&media).await?;
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
