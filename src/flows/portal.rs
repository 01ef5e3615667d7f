//! Portal login (`*98`, the portal number) and the `login,<mailbox>` entry point.
//!
//! From the owner's own phone on a trusted entry point: "enter your PIN then pound;
//! if you are not calling from your own phone, press star". Otherwise, or after
//! `*`: mailbox number, then PIN. Each PIN entry is one attempt; an unknown mailbox
//! gets exactly what a wrong PIN gets.

use tracing::{info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, login_pin_entry, say, typed_pin};
use super::setup::{self, Setup};
use crate::access::{Login, Origin, PinProof};
use crate::call::{Call, CallError, Collect};
use crate::domain::{Language, MailboxId, Pin, Prompt};
use crate::store::mailboxes::{MailboxRecord, PinOrigin};

/// How the mailbox of the next attempt is known.
#[derive(Clone)]
enum Target {
    /// The caller's own phone: PIN prompt with the `*` escape.
    OwnPhone(MailboxId),
    /// `login,<mailbox>`: PIN prompt only.
    Given(MailboxId),
    /// Ask for the mailbox number.
    Ask,
}

/// `Stasis(voiceportal,portal)`.
pub async fn run(flows: &Flows, call: &mut Call) -> Result<(), CallError> {
    call.answer().await?;
    match own_mailbox(flows, call).await? {
        Some(record) if has_no_pin(flows, &record).await? => first_use(flows, call, record).await,
        Some(record) => login(flows, call, Target::OwnPhone(record.id)).await,
        None => login(flows, call, Target::Ask).await,
    }
}

/// `Stasis(voiceportal,login,<mailbox>)`.
pub async fn run_login(
    flows: &Flows,
    call: &mut Call,
    mailbox: MailboxId,
) -> Result<(), CallError> {
    call.answer().await?;
    login_to(flows, call, mailbox).await
}

/// Straight to the PIN prompt of `mailbox` (the call is answered): the phone's
/// voicemail button, `*` during a greeting, the owner dialing their own extension.
/// The owner of a mailbox with no PIN yet, on their own phone, gets set-up instead.
pub async fn login_to(flows: &Flows, call: &mut Call, mailbox: MailboxId) -> Result<(), CallError> {
    if let Some(record) = own_mailbox(flows, call).await?
        && record.id == mailbox
        && has_no_pin(flows, &record).await?
    {
        return first_use(flows, call, record).await;
    }
    login(flows, call, Target::Given(mailbox)).await
}

/// The caller's own mailbox, when the entry point is trusted to present the
/// caller's real extension as caller ID: a trusted context, and the channel of
/// that extension's own phone (`portal.own_phone_channel`).
pub async fn own_mailbox(flows: &Flows, call: &Call) -> Result<Option<MailboxRecord>, CallError> {
    let trusted = flows
        .config
        .portal
        .trusted_contexts
        .iter()
        .any(|c| c == call.context());
    if !trusted {
        return Ok(None);
    }
    let Ok(id) = MailboxId::parse(call.caller_number()) else {
        return Ok(None);
    };
    let endpoint = &flows.config.portal.own_phone_channel;
    if !endpoint.is_empty() {
        let prefix = format!("{}-", endpoint.replace("{number}", id.as_str()));
        if !call.channel_name().starts_with(&prefix) {
            return Ok(None);
        }
    }
    flows.store.mailbox(&id).await.map_err(backend)
}

/// No PIN at all: the origin says so *and* no hash is stored (a damaged record
/// must not open set-up without a PIN).
async fn has_no_pin(flows: &Flows, record: &MailboxRecord) -> Result<bool, CallError> {
    if record.pin_origin != PinOrigin::None {
        return Ok(false);
    }
    let hash = flows.store.pin_hash(&record.id).await.map_err(backend)?;
    Ok(hash.is_none())
}

async fn first_use(flows: &Flows, call: &mut Call, record: MailboxRecord) -> Result<(), CallError> {
    enter_mailbox(call, &record);
    info!("first use: set-up without a PIN");
    let mut proof = PinProof::no_pin();
    if let Setup::Done = setup::without_pin(flows, call, &record, &mut proof).await? {
        return super::menu::run(flows, call, &record, &mut proof).await;
    }
    Ok(())
}

async fn login(flows: &Flows, call: &mut Call, mut target: Target) -> Result<(), CallError> {
    let max_attempts = flows.config.portal.max_attempts_per_call;
    let own = own_mailbox(flows, call).await?.map(|record| record.id);
    let mut attempts = 0;
    loop {
        let (mailbox, pin_prompt) = match &target {
            Target::OwnPhone(id) => (Some(id.clone()), Prompt::EnterPinOrStar),
            Target::Given(id) => (Some(id.clone()), Prompt::EnterPin),
            Target::Ask => {
                let entry = Collect::digits(MailboxId::MAX_LEN);
                let Some(number) = ask(call, &[say(Prompt::EnterMailbox)], &entry).await? else {
                    return goodbye(call).await;
                };
                if !number.overflow && number.digits == flows.config.portal.number {
                    return super::admin_greetings::run(flows, call).await;
                }
                // A malformed number goes on to the PIN prompt like any other:
                // the caller learns nothing about which mailboxes exist.
                let mailbox = Some(number)
                    .filter(|n| !n.overflow)
                    .and_then(|n| MailboxId::parse(&n.digits).ok());
                (mailbox, Prompt::EnterPin)
            }
        };
        let Some(entry) = ask(call, &[say(pin_prompt)], &login_pin_entry()).await? else {
            return goodbye(call).await;
        };
        if matches!(target, Target::OwnPhone(_)) && entry.digits.starts_with('*') {
            target = Target::Ask;
            continue;
        }
        attempts += 1;
        let outcome = match (mailbox, typed_pin(&entry, Pin::MAX_LEN)) {
            (Some(mailbox), Ok(pin)) => {
                let origin = if own.as_ref() == Some(&mailbox) {
                    Origin::OwnPhone
                } else {
                    Origin::Elsewhere
                };
                flows
                    .access
                    .login(&mailbox, &pin, origin)
                    .await
                    .map_err(backend)?
            }
            (None, Ok(pin)) => flows.access.deny(&pin).await.map_err(backend)?,
            // Not a PIN at all (`*` inside, nothing before `#`, or longer than
            // any PIN): it cannot be right, for a known mailbox or not.
            (_, Err(_)) => Login::Denied,
        };
        match outcome {
            Login::Granted(record, proof) => return logged_in(flows, call, *record, proof).await,
            Login::Locked => {
                warn!("login refused: locked");
                call.play(&[say(Prompt::Locked)]).await?;
                return call.hangup().await;
            }
            Login::Denied if attempts >= max_attempts => {
                info!(attempts, "too many wrong PINs in one call");
                call.play(&[say(Prompt::PinIncorrect)]).await?;
                return goodbye(call).await;
            }
            Login::Denied => {
                call.play(&[say(Prompt::PinIncorrect)]).await?;
                if let Target::OwnPhone(_) | Target::Given(_) = target {
                    continue;
                }
            }
        }
    }
}

async fn logged_in(
    flows: &Flows,
    call: &mut Call,
    record: MailboxRecord,
    mut proof: PinProof,
) -> Result<(), CallError> {
    enter_mailbox(call, &record);
    info!("login");
    let setup = if record.must_change {
        setup::forced(flows, call, &record, &mut proof).await?
    } else if !record.name_recorded {
        setup::record_name(flows, call, &record).await?
    } else {
        Setup::Done
    };
    match setup {
        Setup::Done => super::menu::run(flows, call, &record, &mut proof).await,
        Setup::Abandoned => Ok(()),
    }
}

/// The mailbox is known: log it on the call's span and speak its language.
fn enter_mailbox(call: &mut Call, record: &MailboxRecord) {
    tracing::Span::current().record("mailbox", record.id.as_str());
    let language = Language::parse(&record.language).unwrap_or_default();
    call.set_language(language.code());
}
