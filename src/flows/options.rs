//! Mailbox options (0 in the mailbox menu): 1 unavailable greeting, 2 busy
//! greeting, 3 name, 4 temporary greeting (record or erase), 5 change PIN, `*` back.
//! Every recording has the 1/2/3 review.

use tracing::info;

use super::Flows;
use super::ask::{ask, backend, say};
use super::review::record_with_review;
use super::setup;
use crate::access::PinProof;
use crate::call::{Call, CallError, Collect};
use crate::domain::Prompt;
use crate::store::mailboxes::MailboxRecord;

pub async fn run(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<(), CallError> {
    loop {
        let Some(key) = ask(call, &[say(Prompt::MailboxOptions)], &Collect::one_key()).await?
        else {
            return Ok(());
        };
        match key.digits.as_str() {
            "1" => {
                let name = record.id.recording("unavail");
                record_with_review(call, Prompt::RecordUnavailableGreeting, &name).await?;
            }
            "2" => {
                let name = record.id.recording("busy");
                record_with_review(call, Prompt::RecordBusyGreeting, &name).await?;
            }
            "3" => {
                let name = record.id.recording("name");
                if record_with_review(call, Prompt::RecordName, &name).await? {
                    flows
                        .store
                        .set_name_recorded(&record.id, true)
                        .await
                        .map_err(backend)?;
                }
            }
            "4" => temporary_greeting(call, record).await?,
            "5" => {
                if let setup::Setup::Abandoned =
                    setup::change_pin(flows, call, record, proof).await?
                {
                    // The call ended there (locked, or changed meanwhile).
                    return Err(CallError::Gone);
                }
            }
            "*" => return Ok(()),
            _ => call.play(&[say(Prompt::InvalidOption)]).await?,
        }
    }
}

/// With a temporary greeting set: 1 re-record, 2 erase; without: 1 record.
async fn temporary_greeting(call: &mut Call, record: &MailboxRecord) -> Result<(), CallError> {
    let name = record.id.recording("temp");
    let exists = call.recording_exists(&name).await?;
    let menu = if exists {
        Prompt::TemporaryGreetingMenu
    } else {
        Prompt::TemporaryGreetingRecordOnly
    };
    let Some(key) = ask(call, &[say(menu)], &Collect::one_key()).await? else {
        return Ok(());
    };
    match key.digits.as_str() {
        "1" => {
            record_with_review(call, Prompt::RecordTemporaryGreeting, &name).await?;
        }
        "2" if exists => {
            call.delete_recording(&name).await?;
            info!("temporary greeting erased");
            call.play(&[say(Prompt::TemporaryGreetingRemoved)]).await?;
        }
        _ => call.play(&[say(Prompt::InvalidOption)]).await?,
    }
    Ok(())
}
