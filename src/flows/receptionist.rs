//! `Stasis(voiceportal,receptionist[,<greeting>])`: the virtual receptionist.
//!
//! The company greeting (recorded through the portal's greetings menu; a stock
//! prompt until it is), then the caller types an extension or presses a one-key
//! option. A known extension continues in the dialplan at
//! `<extension_context>,<extension>,1`, which rings the phone and falls to
//! `deposit` with DIALSTATUS, where `*` logs the owner in. An unknown extension:
//! "that extension does not exist" and the greeting again; after three, or after
//! the caller stays silent through every prompt, the operator if there is one,
//! else goodbye. What each key means is decided by `domain::receptionist`.

use tracing::info;

use super::Flows;
use super::admin_greetings::greeting_recording;
use super::ask::{ask, backend, goodbye, say};
use crate::call::{Call, CallError, Collect, DialplanTarget, Media};
use crate::domain::Prompt;
use crate::domain::receptionist::{Choice, Destination, Known, MAX_UNKNOWN_EXTENSIONS, Menu};

pub async fn run(flows: &Flows, call: &mut Call, greeting: Option<&str>) -> Result<(), CallError> {
    let menu = flows.config.receptionist.menu(greeting);
    call.answer().await?;
    let welcome = welcome(call, &menu).await?;
    let mailboxes = flows.store.mailbox_ids().await.map_err(backend)?;
    let known = Known::new(
        mailboxes.into_iter().map(|m| m.as_str().to_owned()),
        &menu.listed,
    );
    let mut prompt = welcome.clone();
    let mut unknown = 0;
    loop {
        let Some(typed) = entry(call, &prompt, &menu, &known).await? else {
            info!("receptionist: nothing typed");
            return operator_or_goodbye(call, &menu).await;
        };
        match menu.choose(&typed, &known) {
            Choice::Option(destination) => {
                info!(key = %typed, context = %destination.context, "receptionist: option");
                return transfer(call, &destination).await;
            }
            Choice::Operator(destination) => {
                info!("receptionist: operator");
                return transfer(call, &destination).await;
            }
            Choice::Extension(destination) => {
                info!(extension = %destination.extension, "receptionist: extension");
                return transfer(call, &destination).await;
            }
            Choice::Unknown => {
                unknown += 1;
                info!(attempt = unknown, "receptionist: unknown extension");
                if unknown >= MAX_UNKNOWN_EXTENSIONS {
                    call.play(&[say(Prompt::NoSuchExtension)]).await?;
                    return operator_or_goodbye(call, &menu).await;
                }
                prompt = [say(Prompt::NoSuchExtension)]
                    .into_iter()
                    .chain(welcome.iter().cloned())
                    .collect();
            }
        }
    }
}

/// The recorded company greeting, or the stock one while none is recorded
/// (a missing stored recording would start and never finish: check first).
async fn welcome(call: &mut Call, menu: &Menu) -> Result<Vec<Media>, CallError> {
    let recording = greeting_recording(&menu.greeting);
    if call.recording_exists(&recording).await? {
        return Ok(vec![Media::Recording(recording)]);
    }
    Ok(stock_greeting(menu.operator.is_some()))
}

/// What callers hear while no greeting is recorded.
pub fn stock_greeting(with_operator: bool) -> Vec<Media> {
    let mut media = vec![say(Prompt::ReceptionistWelcome)];
    if with_operator {
        media.push(say(Prompt::ReceptionistOperator));
    }
    media
}

/// One entry: the first key barges in on the prompt (which is repeated while
/// the caller stays silent: `None` after the last); then digits one by one until
/// the entry is complete (see `Menu::is_complete`), `#`, or the inter-digit
/// timeout. A lone option key acts at once when no extension starts with it.
async fn entry(
    call: &mut Call,
    prompt: &[Media],
    menu: &Menu,
    known: &Known,
) -> Result<Option<String>, CallError> {
    let Some(first) = ask(call, prompt, &Collect::one_key()).await? else {
        return Ok(None);
    };
    let mut typed = first.digits;
    if typed == "#" {
        return Ok(Some(String::new()));
    }
    if menu.acts_at_once(&typed, known) {
        return Ok(Some(typed));
    }
    let next_key = Collect {
        first_digit_timeout: Some(call.timing().inter_digit_timeout),
        ..Collect::one_key()
    };
    while !menu.is_complete(&typed, known) {
        let key = call.play_and_collect(&[], &next_key).await?;
        match key.digits.as_str() {
            "" | "#" => break,
            digit => typed.push_str(digit),
        }
    }
    Ok(Some(typed))
}

/// "Please hold", then the dialplan takes the call.
async fn transfer(call: &mut Call, destination: &Destination) -> Result<(), CallError> {
    call.play(&[say(Prompt::PleaseHold)]).await?;
    let target = DialplanTarget {
        context: destination.context.clone(),
        extension: destination.extension.clone(),
        priority: destination.priority,
    };
    call.continue_in_dialplan(Some(&target)).await
}

async fn operator_or_goodbye(call: &mut Call, menu: &Menu) -> Result<(), CallError> {
    match &menu.operator {
        Some(operator) => {
            info!("receptionist: to the operator");
            transfer(call, operator).await
        }
        None => {
            info!("receptionist: no operator configured; goodbye");
            goodbye(call).await
        }
    }
}
