//! Leaving a message: `Stasis(voiceportal,deposit,<mailbox>[,<DIALSTATUS>])`.
//!
//! Greeting (temporary > busy or unavailable > recorded name > "the person at
//! extension"), "leave your message after the tone"; during it `*` logs the owner
//! in, `0` reaches the operator (if configured), `#` skips to the beep. The message
//! is recorded straight into its final stored recording, then indexed: audio first,
//! so a crash in between leaves audio that repair finds again, never an index
//! entry without audio. Who called and when is written to Redis before the audio
//! exists, under a lease renewed while the call runs (`store::deposits`), so the
//! repair that `serve` runs periodically can finish a deposit whose instance died
//! or could not reach Redis: index, lamp and e-mail. A hang-up at any point after
//! the beep sends.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, say};
use super::portal;
use crate::call::{Call, CallError, Collect, DialplanTarget, Media, RecordSpec, Recorded};
use crate::domain::{Language, MailboxId, Prompt};
use crate::notify::email::clean;
use crate::store::Store;
use crate::store::mailboxes::MailboxRecord;
use crate::store::messages::{Folder, Message, MessageId, SaveOutcome, message_recording};

/// Re-recordings offered after a too-short message, before goodbye.
const MAX_TOO_SHORT: u32 = 3;
/// Longest wait between two tries at indexing.
const MAX_INDEX_RETRY_DELAY: Duration = Duration::from_secs(5);

pub async fn run(
    flows: &Flows,
    call: &mut Call,
    mailbox: MailboxId,
    busy: bool,
) -> Result<(), CallError> {
    let Some(record) = flows.store.mailbox(&mailbox).await.map_err(backend)? else {
        warn!(mailbox = %mailbox, "deposit for a mailbox that does not exist");
        call.answer().await?;
        call.play(&[say(Prompt::Error)]).await?;
        return goodbye(call).await;
    };
    tracing::Span::current().record("mailbox", mailbox.as_str());
    call.set_language(Language::parse(&record.language).unwrap_or_default().code());
    call.answer().await?;

    if portal::own_mailbox(flows, call)
        .await?
        .is_some_and(|own| own.id == mailbox)
    {
        info!("owner called their own mailbox: login");
        return portal::login_to(flows, call, mailbox).await;
    }

    let counts = flows
        .store
        .message_counts(&mailbox)
        .await
        .map_err(backend)?;
    if counts.new + counts.old >= flows.config.deposit.max_messages {
        info!("mailbox full");
        call.play(&[say(Prompt::MailboxFull)]).await?;
        return goodbye(call).await;
    }

    let mut prompt = greeting(call, &record, busy).await?;
    prompt.push(say(Prompt::LeaveMessage));
    // Keys during the greeting; once it ends, straight to the beep.
    let during_greeting = Collect {
        first_digit_timeout: Some(Duration::from_millis(1)),
        ..Collect::one_key()
    };
    let key = call.play_and_collect(&prompt, &during_greeting).await?;
    match key.digits.as_str() {
        "*" => return portal::login_to(flows, call, mailbox).await,
        "0" => {
            if let Some(operator) = &flows.config.deposit.operator {
                info!("caller asked for the operator");
                call.play(&[say(Prompt::PleaseHold)]).await?;
                let target = DialplanTarget {
                    context: operator.context.clone(),
                    extension: operator.extension.clone(),
                    priority: operator.priority,
                };
                return call.continue_in_dialplan(Some(&target)).await;
            }
        }
        _ => {}
    }
    record_message(flows, call, &record).await
}

/// The greeting a caller hears, by SPEC's order of preference.
async fn greeting(
    call: &mut Call,
    record: &MailboxRecord,
    busy: bool,
) -> Result<Vec<Media>, CallError> {
    let temporary = record.id.recording("temp");
    if call.recording_exists(&temporary).await? {
        return Ok(vec![Media::Recording(temporary)]);
    }
    let usual = record.id.recording(if busy { "busy" } else { "unavail" });
    if call.recording_exists(&usual).await? {
        return Ok(vec![Media::Recording(usual)]);
    }
    let state = say(if busy {
        Prompt::IsOnThePhone
    } else {
        Prompt::IsUnavailable
    });
    let name = record.id.recording("name");
    if record.name_recorded && call.recording_exists(&name).await? {
        return Ok(vec![Media::Recording(name), state]);
    }
    Ok(vec![
        say(Prompt::ThePersonAtExtension),
        Media::Digits(record.id.as_str().to_owned()),
        state,
    ])
}

/// Beep, record, review (1 send, 2 listen, 3 re-record). A hang-up sends.
async fn record_message(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
) -> Result<(), CallError> {
    let deposit = &flows.config.deposit;
    let min_secs = deposit.min_message.as_secs().max(1) as u32;
    let mut too_short = 0;
    let recorded_on = call.asterisk_id().await;
    loop {
        let received = Utc::now();
        let mut message = Message {
            id: MessageId::generate(received),
            mailbox: record.id.clone(),
            folder: Folder::New,
            // Caller ID is whatever the far end sent: stored cleaned, as it is
            // shown later in listings and e-mails.
            caller_number: clean(call.caller_number()),
            caller_name: clean(call.caller_name()),
            received,
            duration_secs: 0,
            recorded_on: recorded_on.clone(),
        };
        // Before the audio exists: repair must know who called, and when, if
        // this instance dies from here on (see `store::deposits`).
        let lease = deposit.lease;
        if let Err(e) = flows.store.begin_deposit(&message, lease).await {
            warn!(error = %e, "cannot record the deposit in progress; recording anyway");
        }
        let _lease = Lease::start(flows.store.clone(), message.clone(), lease);
        let spec = RecordSpec {
            name: message_recording(&record.id, &message.id),
            max_duration: deposit.max_message,
            max_silence: deposit.max_silence,
            beep: true,
            terminate_on: "#",
        };
        let recorded = call.record(&spec).await?;
        message.duration_secs = recorded.duration_secs;
        if recorded.duration_secs < min_secs {
            discard(flows, call, &message).await;
            if recorded.hung_up {
                info!(
                    secs = recorded.duration_secs,
                    "too short a message before hang-up: discarded"
                );
                return Ok(());
            }
            too_short += 1;
            call.play(&[say(Prompt::MessageTooShort)]).await?;
            if too_short >= MAX_TOO_SHORT {
                return goodbye(call).await;
            }
            call.play(&[say(Prompt::LeaveMessage)]).await?;
            continue;
        }
        if recorded.hung_up {
            return send(flows, call, record, &message).await;
        }
        match review(call, &recorded).await {
            Ok(Review::Send) | Err(CallError::Gone) => {
                return send(flows, call, record, &message).await;
            }
            Ok(Review::Rerecord) => {
                discard(flows, call, &message).await;
                call.play(&[say(Prompt::LeaveMessage)]).await?;
            }
            Err(e) => {
                // The audio is kept: sending is what the caller would want.
                send(flows, call, record, &message).await?;
                return Err(e);
            }
        }
    }
}

/// Renews a deposit's lease until dropped (the deposit is over, or its task
/// died): from then on, repair may finish what the deposit did not.
struct Lease(tokio::task::JoinHandle<()>);

impl Lease {
    fn start(store: Store, message: Message, lease: Duration) -> Lease {
        Lease(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = store.renew_deposit(&message, lease).await {
                    warn!(error = %e, "cannot renew the lease of a deposit in progress");
                }
            }
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Review {
    Send,
    Rerecord,
}

async fn review(call: &mut Call, recorded: &Recorded) -> Result<Review, CallError> {
    let length = Duration::from_secs(recorded.duration_secs.into());
    let mut pending: Option<char> = None;
    loop {
        let key = match pending.take() {
            Some(key) => key,
            None => {
                let Some(entry) = ask(call, &[say(Prompt::Review)], &Collect::one_key()).await?
                else {
                    return Ok(Review::Send);
                };
                entry.digits.chars().next().unwrap_or('1')
            }
        };
        match key {
            '1' => return Ok(Review::Send),
            // The whole message, however long; a key pressed meanwhile answers
            // the review at once.
            '2' => {
                pending = call
                    .play_message(&[Media::Recording(recorded.name.clone())], length)
                    .await?
            }
            '3' => return Ok(Review::Rerecord),
            _ => call.play(&[say(Prompt::InvalidOption)]).await?,
        }
    }
}

/// Indexes the message, lights the lamp, queues the e-mail; tells the caller if
/// they are still there.
///
/// Redis may stall or fail over: indexing is retried with backoff for
/// `deposit.index_retry_for`. The audio is stored by then, so the caller is told
/// the message is saved as soon as the first try fails, rather than kept waiting
/// in silence. Saving is idempotent, so a try that Redis ran after we gave up on
/// it is harmless; and if every try fails, the deposit's record stays, for the
/// periodic repair to index the message, light the lamp and send the e-mail.
async fn send(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    message: &Message,
) -> Result<(), CallError> {
    let max = flows.config.deposit.max_messages;
    let give_up = Instant::now() + flows.config.deposit.index_retry_for;
    let mut delay = Duration::from_millis(200);
    let mut told = false;
    let outcome = loop {
        match flows.store.save_message(message, max).await {
            Ok(outcome) => break Some(outcome),
            Err(e) if Instant::now() + delay < give_up => {
                warn!(error = %e, retry_in = ?delay, message = %message.id.as_str(),
                    "cannot index a message yet; retrying");
                if !told {
                    told = true;
                    tell(call, Prompt::MessageSaved).await;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_INDEX_RETRY_DELAY);
            }
            Err(e) => {
                error!(error = %e, message = %message.id.as_str(),
                    "cannot index a message; its audio and deposit record are kept for repair");
                break None;
            }
        }
    };
    match outcome {
        Some(SaveOutcome::Saved(_)) => {
            info!(message = %message.id.as_str(), secs = message.duration_secs, "message saved");
            crate::metrics::METRICS.message_left();
            flows.mwi.refresh(&flows.store, &record.id).await;
            match flows.notifier.message_saved(record, message).await {
                Ok(()) => {
                    if let Err(e) = flows.store.end_deposit(&record.id, &message.id).await {
                        warn!(error = %e, "cannot close the deposit record; repair will");
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot queue the e-mail notification; repair will")
                }
            }
            if !told {
                tell(call, Prompt::MessageSaved).await;
            }
        }
        Some(SaveOutcome::NoMailbox) => {
            warn!("the mailbox was deleted while the message was recorded: discarded");
            discard(flows, call, message).await;
            if !told {
                tell(call, Prompt::Error).await;
            }
        }
        Some(SaveOutcome::Full) => {
            info!("mailbox filled up while the message was recorded: discarded");
            discard(flows, call, message).await;
            if !told {
                tell(call, Prompt::MailboxFull).await;
            }
        }
        None => {
            if !told {
                tell(call, Prompt::MessageSaved).await;
            }
        }
    }
    Ok(())
}

/// Says one thing and goodbye, if the caller is still there; a caller who hung
/// up meanwhile is not an error.
async fn tell(call: &mut Call, prompt: Prompt) {
    if call.is_gone() {
        return;
    }
    if call.play(&[say(prompt)]).await.is_ok() {
        let _ = goodbye(call).await;
    }
}

/// Deletes a recording that will not be a message, and its deposit record.
/// Failure only leaves a file behind, which repair would index: log it loudly.
async fn discard(flows: &Flows, call: &mut Call, message: &Message) {
    let name = message.recording();
    match call.delete_recording(&name).await {
        Ok(()) => {
            if let Err(e) = flows.store.end_deposit(&message.mailbox, &message.id).await {
                warn!(error = %e, "cannot close the record of a discarded deposit");
            }
        }
        Err(e) => warn!(recording = %name, error = %e, "cannot delete a discarded recording"),
    }
}
