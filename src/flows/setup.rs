//! First use and forced set-up: choose a PIN (twice, with the policy's reason
//! spoken when it is refused), record the name with review, and for a brand-new
//! mailbox optionally the unavailable greeting.

use tracing::{info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, new_pin_entry, say, typed_pin};
use super::review::record_with_review;
use crate::access::{NewPin, PinProof};
use crate::call::{Call, CallError, Collect, Media};
use crate::domain::{PinRejection, Prompt};
use crate::store::mailboxes::MailboxRecord;

/// PIN refusals in a row before the call ends (the PIN stays as it was).
const MAX_REFUSALS: u32 = 5;

/// What a set-up step ended with.
pub enum Setup {
    Done,
    /// The caller gave up (silence, too many refusals); they heard goodbye.
    Abandoned,
}

/// PIN not chosen by the owner (default, temporary, admin reset): "before you can
/// use your voice portal you must change your PIN and record your name".
pub async fn forced(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<Setup, CallError> {
    call.play(&[say(Prompt::SetupRequired)]).await?;
    if let Setup::Abandoned = choose_pin(flows, call, record, proof).await? {
        return Ok(Setup::Abandoned);
    }
    record_name(flows, call, record).await
}

/// A mailbox with no PIN at all, reached by its owner from their own phone.
pub async fn without_pin(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<Setup, CallError> {
    call.play(&[say(Prompt::SetupWelcome)]).await?;
    if let Setup::Abandoned = choose_pin(flows, call, record, proof).await? {
        return Ok(Setup::Abandoned);
    }
    if let Setup::Abandoned = record_name(flows, call, record).await? {
        return Ok(Setup::Abandoned);
    }
    let offer = ask(
        call,
        &[say(Prompt::SetupOfferGreeting)],
        &Collect::one_key(),
    )
    .await?;
    if offer.is_some_and(|key| key.digits == "1") {
        let name = record.id.recording("unavail");
        record_with_review(call, Prompt::RecordUnavailableGreeting, &name).await?;
    }
    call.play(&[say(Prompt::SetupComplete)]).await?;
    Ok(Setup::Done)
}

/// The owner chose their PIN but has no recorded name yet.
pub async fn record_name(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
) -> Result<Setup, CallError> {
    let name = record.id.recording("name");
    if !record_with_review(call, Prompt::RecordName, &name).await? {
        // The name is part of set-up: nothing recorded, no portal yet (the next
        // login asks again).
        goodbye(call).await?;
        return Ok(Setup::Abandoned);
    }
    flows
        .store
        .set_name_recorded(&record.id, true)
        .await
        .map_err(backend)?;
    Ok(Setup::Done)
}

/// Mailbox options, 5: the same steps as in set-up, same policy and history.
pub async fn change_pin(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<Setup, CallError> {
    choose_pin(flows, call, record, proof).await
}

/// New PIN, confirmation, policy check; stored as the owner's PIN if the PIN is
/// still the one this call logged in with (`proof`, replaced by the new one).
async fn choose_pin(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<Setup, CallError> {
    let entry = new_pin_entry(flows);
    let max = flows.access.policy().max_length;
    let mut refusals = 0;
    loop {
        if refusals >= MAX_REFUSALS {
            goodbye(call).await?;
            return Ok(Setup::Abandoned);
        }
        let Some(first) = ask(call, &[say(Prompt::EnterNewPin)], &entry).await? else {
            goodbye(call).await?;
            return Ok(Setup::Abandoned);
        };
        let pin = match typed_pin(&first, max) {
            Ok(pin) => pin,
            Err(rejection) => {
                refusals += 1;
                call.play(&refusal(&rejection)).await?;
                continue;
            }
        };
        let checked = flows
            .access
            .check_new_pin(&record.id, &pin)
            .await
            .map_err(backend)?;
        match checked {
            NewPin::Accepted(_) => {}
            NewPin::Refused(rejection) => {
                refusals += 1;
                call.play(&refusal(&rejection)).await?;
                continue;
            }
            other => return stopped(call, other).await,
        }
        let Some(second) = ask(call, &[say(Prompt::ReenterNewPin)], &entry).await? else {
            goodbye(call).await?;
            return Ok(Setup::Abandoned);
        };
        if second.overflow || second.digits != first.digits {
            refusals += 1;
            call.play(&[say(Prompt::PinMismatch)]).await?;
            continue;
        }
        let changed = flows
            .access
            .change_pin(&record.id, &pin, proof)
            .await
            .map_err(backend)?;
        match changed {
            NewPin::Accepted(new_proof) => {
                *proof = new_proof;
                info!("owner chose a new PIN");
                call.play(&[say(Prompt::PinChanged)]).await?;
                return Ok(Setup::Done);
            }
            NewPin::Refused(rejection) => {
                refusals += 1;
                call.play(&refusal(&rejection)).await?;
            }
            other => return stopped(call, other).await,
        }
    }
}

/// A PIN change that cannot go on: the mailbox locked itself (the org default
/// PIN guessed by someone who did not log in with it), or the PIN was changed
/// in another call meanwhile. Either way the caller must start again.
async fn stopped(call: &mut Call, outcome: NewPin) -> Result<Setup, CallError> {
    if let NewPin::Locked = outcome {
        warn!("locked while choosing a new PIN");
        call.play(&[say(Prompt::Locked)]).await?;
        call.hangup().await?;
    } else {
        warn!("the PIN was changed in another call meanwhile; this change was not made");
        call.play(&[say(Prompt::PinChangedMeanwhile)]).await?;
        goodbye(call).await?;
    }
    Ok(Setup::Abandoned)
}

/// The spoken reason, with the limit where there is one.
fn refusal(rejection: &PinRejection) -> Vec<Media> {
    let mut media = vec![say(Prompt::for_rejection(rejection))];
    match rejection {
        PinRejection::TooShort { min } => media.extend([
            say(Prompt::PinAtLeast),
            Media::Number(*min as u64),
            say(Prompt::Digits),
        ]),
        PinRejection::TooLong { max } => media.extend([
            say(Prompt::PinAtMost),
            Media::Number(*max as u64),
            say(Prompt::Digits),
        ]),
        _ => {}
    }
    media
}
