//! Repair: makes the message index and Asterisk's stored recordings agree again
//! after a crash, a Redis error or a hand-made change.
//!
//! Messages are written audio first, index second, and deleted index first
//! (leaving a tombstone), audio second (see `store::messages`). So the only
//! disagreements a crash can leave are:
//!
//! | found | meaning | repair |
//! |---|---|---|
//! | audio `voiceportal/<m>/msg-<id>`, not indexed, not tombstoned | the deposit stopped before indexing | index it as a new message: caller and time from the deposit's record (`store::deposits`; else time from the id, caller unknown), length from the WAV; light the lamp, queue the e-mail |
//! | a deposit record whose lease lapsed, its message indexed | the deposit stopped after indexing, before the e-mail was queued | queue the e-mail, light the lamp |
//! | a tombstone | a delete stopped before (or while) deleting the audio | delete the audio (404 is fine), clear the tombstone |
//! | an index entry whose audio is gone | deleted by hand, or lost on the Asterisk side | remove it from the index, unless the audio was recorded on another Asterisk (next section) |
//! | a key of the wrong type (`store::damage`) | written by hand or by another program | reported; set aside (a message's key deleted, so its audio is indexed afresh; others renamed `<key>:damaged`), except a lock record, left to `admin unlock` |
//! | recordings of a deleted mailbox (`Store::purges`) | Asterisk was away when the mailbox was deleted | delete them all, so a new mailbox of that number inherits nothing |
//!
//! # Safe beside live calls, and idempotent
//!
//! Repair runs at start-up and on demand, possibly while other instances take
//! calls, so it never acts on what a call may still be doing:
//! - audio still being recorded (`GET /recordings/live/{name}` answers 200) is
//!   skipped (`skipped_live`);
//! - audio whose deposit still holds its lease is skipped (`skipped_recent`):
//!   after recording, a deposit offers "1 send, 2 listen, 3 re-record", and
//!   during that review the audio exists without an index entry, legitimately;
//! - audio with no deposit record (left by a version without them) is skipped
//!   while younger than the grace period, by the time in its id: the longest a
//!   deposit can take, derived from the configuration (see
//!   [`RepairOptions::for_config`]);
//! - an index entry younger than the grace period is never removed;
//! - every change is one script that re-checks the state it depends on (an id
//!   indexed or tombstoned meanwhile is left alone; a mailbox deleted meanwhile
//!   gets nothing), and the audio of an orphan is downloaded after its state was
//!   read, so audio deleted meanwhile is never indexed.
//!
//! # Several Asterisk servers
//!
//! Servers sharing one Redis must share one recordings folder (docs/SCALING.md).
//! Should one of them not see it (a share not mounted, a server added without
//! it), every message recorded elsewhere would look like "audio gone" there. So
//! a message whose `recorded_on` names another Asterisk is never removed for
//! missing audio: it is counted (`skipped_elsewhere`) and reported, and the
//! server it was recorded on removes it if its audio is really gone.
//!
//! Running it twice changes nothing the second time. Recordings of mailboxes
//! that do not exist are left alone (`skipped_no_mailbox`): they may be kept on
//! purpose, and only an administrator can tell.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, error, info, warn};

use crate::ari::{AriClient, AriError, AriErrorKind};
use crate::config::Config;
use crate::domain::MailboxId;
use crate::notify::email::Notifier;
use crate::notify::mwi::Mwi;
use crate::store::damage::Part;
use crate::store::deposits::DepositRecord;
use crate::store::messages::{
    Folder, Message, MessageId, MessageState, RecoverOutcome, message_recording,
    parse_message_recording,
};
use crate::store::{Store, StoreError};

/// How often maintenance retries while Asterisk cannot be reached.
const UNREACHABLE_RETRY: Duration = Duration::from_secs(30);

/// What one repair pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Orphaned audio indexed as new messages.
    pub indexed: usize,
    /// Tombstones whose audio was deleted (or already gone) and which were cleared.
    pub tombstones_cleared: usize,
    /// Index entries removed because their audio is gone.
    pub dangling_removed: usize,
    /// Orphaned audio still being recorded.
    pub skipped_live: usize,
    /// Orphaned audio younger than the grace period (a deposit may be in review).
    pub skipped_recent: usize,
    /// Message audio of mailboxes that do not exist.
    pub skipped_no_mailbox: usize,
    /// Index entries whose audio this Asterisk does not have, recorded on
    /// another Asterisk: left alone (see "Several Asterisk servers" above).
    pub skipped_elsewhere: usize,
    /// Messages whose deposit stopped after indexing them: lamp and e-mail sent now.
    pub notified_late: usize,
    /// Deposit records with nothing left to do (audio gone or discarded), removed.
    pub deposits_closed: usize,
    /// Recordings of deleted mailboxes removed from Asterisk.
    pub purged: usize,
    /// Keys of the wrong type found, one line each: the key, its type, and
    /// what was done.
    pub damaged: Vec<String>,
    /// Items that could not be checked or fixed (logged one by one); the next
    /// pass tries them again.
    pub failed: usize,
    /// Mailboxes whose counts changed, in number order: their lamps need an update.
    pub changed: Vec<MailboxId>,
}

impl RepairReport {
    /// Whether the pass changed anything.
    pub fn changed_anything(&self) -> bool {
        self.indexed
            + self.tombstones_cleared
            + self.dangling_removed
            + self.notified_late
            + self.purged
            + self.damaged.len()
            > 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// Asterisk could not be asked (unreachable, refused the credentials, or
    /// failed): nothing can be compared, so nothing was changed after it.
    #[error("repair needs Asterisk: {0}")]
    Ari(#[from] AriError),
    #[error("repair needs Redis: {0}")]
    Store(#[from] StoreError),
}

impl RepairError {
    /// Whether Asterisk did not answer at all (as opposed to answering an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RepairError::Ari(e) if e.kind == AriErrorKind::Transport)
    }
}

/// The clock and grace of one pass; tests set both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairOptions {
    pub now: DateTime<Utc>,
    /// How old audio without a deposit record (and an index entry) must be
    /// before repair acts on it.
    pub grace: Duration,
}

impl Default for RepairOptions {
    fn default() -> Self {
        RepairOptions::for_config(&Config::default())
    }
}

impl RepairOptions {
    /// Now, with the grace a deposit can need under `config`: the longest
    /// message, one listen to it at the review, the review question asked as
    /// often as silence allows, and the time spent trying to index it.
    pub fn for_config(config: &Config) -> RepairOptions {
        let deposit = &config.deposit;
        let call = &config.call;
        let review = (call.prompt_timeout + call.first_digit_timeout)
            .saturating_mul(call.max_silent_prompts);
        RepairOptions {
            now: Utc::now(),
            grace: deposit.max_message.saturating_mul(2) + review + deposit.index_retry_for,
        }
    }

    /// Whether something dated `at` is older than the grace period. An
    /// unreadable or future date is young: when in doubt, leave it alone.
    fn is_old(&self, at: Option<DateTime<Utc>>) -> bool {
        let Some(at) = at else { return false };
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        self.now.signed_duration_since(at) >= grace
    }
}

/// One repair pass with the default configuration's grace, now, notifying
/// nobody by e-mail.
pub async fn repair(store: &Store, client: &AriClient) -> Result<RepairReport, RepairError> {
    repair_with(
        store,
        client,
        RepairOptions::default(),
        &Notifier::disabled(),
    )
    .await
}

/// One repair pass (see the module documentation). Recovered messages get
/// their e-mail through `notifier`.
pub async fn repair_with(
    store: &Store,
    client: &AriClient,
    options: RepairOptions,
    notifier: &Notifier,
) -> Result<RepairReport, RepairError> {
    let stored: HashSet<String> = client
        .stored_recordings()
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let mut audio: BTreeMap<MailboxId, Vec<MessageId>> = BTreeMap::new();
    for name in &stored {
        if let Some((mailbox, id)) = parse_message_recording(name) {
            audio.entry(mailbox).or_default().push(id);
        }
    }
    let here = client.asterisk_id().await?;
    let mailboxes = store.mailbox_ids().await?;
    let mut report = RepairReport::default();
    for number in store.purges().await? {
        audio.remove(&number);
        purge(store, client, &number, &stored, &mut report).await?;
    }
    let mut changed = BTreeSet::new();
    for m in &mailboxes {
        let before = (
            report.indexed,
            report.tombstones_cleared,
            report.dangling_removed,
        );
        let before = (before, report.notified_late);
        set_aside_damaged(store, m, &mut report).await?;
        clear_tombstones(store, client, m, &mut report).await?;
        let ids = audio.remove(m).unwrap_or_default();
        let mut deposits = Deposits::read(store, m, options).await?;
        index_orphans(
            store,
            client,
            m,
            ids,
            &mut deposits,
            options,
            notifier,
            &here,
            &mut report,
        )
        .await?;
        finish_deposits(store, client, m, &deposits, notifier, &mut report).await?;
        remove_dangling(store, client, m, &stored, options, &here, &mut report).await?;
        if before
            != (
                (
                    report.indexed,
                    report.tombstones_cleared,
                    report.dangling_removed,
                ),
                report.notified_late,
            )
        {
            changed.insert(m.clone());
        }
    }
    // What is left belongs to mailboxes that do not exist.
    report.skipped_no_mailbox += audio.values().map(Vec::len).sum::<usize>();
    if report.skipped_elsewhere > 0 {
        error!(
            messages = report.skipped_elsewhere,
            "messages recorded on another Asterisk have no audio on this one: \
             is its recordings folder the shared one (docs/SCALING.md)? \
             They were left indexed"
        );
    }
    report.changed = sort_numbers(changed);
    Ok(report)
}

/// Deletes every recording of deleted mailbox `m` (name, greetings, messages),
/// then lifts its mark. One still being recorded (a deposit that began before
/// the delete) is left for the next pass, and so is the mark.
async fn purge(
    store: &Store,
    client: &AriClient,
    m: &MailboxId,
    stored: &HashSet<String>,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    if store.mailbox(m).await?.is_some() {
        // Created again since (after its audio was removed): nothing to purge.
        store.clear_purge(m).await?;
        return Ok(());
    }
    let prefix = format!("{}/", m.recording("").trim_end_matches('/'));
    let mut complete = true;
    for name in stored.iter().filter(|name| name.starts_with(&prefix)) {
        match client.live_recording(name).await {
            Ok(_) => {
                complete = false;
                report.skipped_live += 1;
                continue;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                complete = false;
                item_failed(report, "ask whether it is still recording", name, e)?;
                continue;
            }
        }
        match client.delete_stored_recording(name).await {
            Ok(()) => report.purged += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                complete = false;
                item_failed(report, "delete a recording of a deleted mailbox", name, e)?;
            }
        }
    }
    if complete {
        info!(mailbox = %m, "repair: recordings of a deleted mailbox removed");
        store.clear_purge(m).await?;
    }
    Ok(())
}

/// Finds keys of the wrong type, reports each, and sets aside what repair may
/// (see `store::damage`), before anything else reads them.
async fn set_aside_damaged(
    store: &Store,
    m: &MailboxId,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    for damaged in store.damaged_keys(m).await? {
        let done = match damaged.part {
            Part::Lock => format!("left as is: `voiceportal admin unlock {m}` resets it"),
            Part::Message => "deleted with its index entry; its audio is indexed again".to_owned(),
            Part::Data => format!("renamed {}:damaged", damaged.key),
        };
        store.set_aside(m, &damaged).await?;
        warn!(key = %damaged.key, found = %damaged.found, expected = damaged.expected,
            "repair: a key has the wrong type; {done}");
        report.damaged.push(format!(
            "{} is a {}, not a {}: {done}",
            damaged.key, damaged.found, damaged.expected
        ));
    }
    Ok(())
}

/// Mailbox numbers in the order listings use: shorter first, then by digits.
fn sort_numbers(ids: BTreeSet<MailboxId>) -> Vec<MailboxId> {
    let mut ids: Vec<MailboxId> = ids.into_iter().collect();
    ids.sort_by(|a, b| (a.as_str().len(), a.as_str()).cmp(&(b.as_str().len(), b.as_str())));
    ids
}

/// An ARI failure of one item: Asterisk gone away ends the pass (every other item
/// would wait for the same timeout); anything else is logged and counted.
fn item_failed(
    report: &mut RepairReport,
    what: &str,
    name: &str,
    error: AriError,
) -> Result<(), RepairError> {
    if error.kind == AriErrorKind::Transport {
        return Err(RepairError::Ari(error));
    }
    warn!(recording = name, error = %error, "repair: cannot {what}");
    report.failed += 1;
    Ok(())
}

/// Finishes interrupted deletes. The audio is deleted whether or not the listing
/// showed it: a message saved and deleted after the listing was taken still has
/// audio, and a second delete of audio already gone is a harmless 404.
async fn clear_tombstones(
    store: &Store,
    client: &AriClient,
    m: &MailboxId,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    for (id, _) in store.tombstones(m).await? {
        let name = message_recording(m, &id);
        match client.delete_stored_recording(&name).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                item_failed(report, "delete the audio of a deleted message", &name, e)?;
                continue;
            }
        }
        store.clear_tombstone(m, &id).await?;
        report.tombstones_cleared += 1;
    }
    Ok(())
}

/// The deposit records of one mailbox, read once per pass.
struct Deposits {
    /// Readable records, by message id.
    records: BTreeMap<MessageId, DepositRecord>,
    /// Whose lease lapsed: the deposit is over, one way or another.
    lapsed: BTreeSet<MessageId>,
}

impl Deposits {
    async fn read(
        store: &Store,
        m: &MailboxId,
        options: RepairOptions,
    ) -> Result<Deposits, RepairError> {
        let mut deposits = Deposits {
            records: BTreeMap::new(),
            lapsed: BTreeSet::new(),
        };
        for (field, record) in store.deposits(m).await? {
            match (MessageId::parse(&field), record) {
                (Some(id), Some(record)) => {
                    if record.lease_until <= options.now {
                        deposits.lapsed.insert(id.clone());
                    }
                    deposits.records.insert(id, record);
                }
                _ => {
                    warn!(mailbox = %m, field = %field, "repair: removed an unreadable deposit record");
                    store.drop_deposit_record(m, &field).await?;
                }
            }
        }
        Ok(deposits)
    }

    /// Whether repair may act on the audio of `id`: its deposit is over (lease
    /// lapsed), or it has none and is older than the grace.
    fn is_due(&self, id: &MessageId, options: RepairOptions) -> bool {
        if self.records.contains_key(id) {
            self.lapsed.contains(id)
        } else {
            options.is_old(id.received())
        }
    }
}

/// Lamp and e-mail for a message repair indexed or found owed; the deposit
/// record goes once the e-mail is queued.
async fn notify(
    store: &Store,
    notifier: &Notifier,
    m: &MailboxId,
    message: &Message,
) -> Result<(), RepairError> {
    let Some(record) = store.mailbox(m).await? else {
        return Ok(());
    };
    notifier.message_saved(&record, message).await?;
    store.end_deposit(m, &message.id).await?;
    Ok(())
}

/// Indexes audio that has neither an index entry nor a tombstone.
#[allow(clippy::too_many_arguments)]
async fn index_orphans(
    store: &Store,
    client: &AriClient,
    m: &MailboxId,
    ids: Vec<MessageId>,
    deposits: &mut Deposits,
    options: RepairOptions,
    notifier: &Notifier,
    here: &str,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    for id in ids {
        if store.message_state(m, &id).await? != MessageState::Absent {
            continue;
        }
        if !deposits.is_due(&id, options) {
            report.skipped_recent += 1;
            continue;
        }
        let name = message_recording(m, &id);
        match client.live_recording(&name).await {
            Ok(_) => {
                report.skipped_live += 1;
                continue;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                item_failed(report, "ask whether it is still recording", &name, e)?;
                continue;
            }
        }
        // Downloaded after the state was read: audio deleted since (by a delete
        // that has finished) answers 404 here and is not resurrected.
        let bytes = match client.download_stored_recording(&name).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                item_failed(report, "download orphaned audio", &name, e)?;
                continue;
            }
        };
        let deposit = deposits.records.get(&id);
        let Some(received) = deposit.map(|d| d.received).or_else(|| id.received()) else {
            continue;
        };
        let message = Message {
            id,
            mailbox: m.clone(),
            folder: Folder::New,
            caller_number: deposit.map(|d| d.caller_number.clone()).unwrap_or_default(),
            caller_name: deposit.map(|d| d.caller_name.clone()).unwrap_or_default(),
            received,
            duration_secs: wav_duration_secs(&bytes),
            // Found in this Asterisk's folder.
            recorded_on: here.to_owned(),
        };
        match store.index_recovered(&message).await? {
            RecoverOutcome::Indexed => {
                info!(mailbox = %m, id = %message.id, duration = message.duration_secs,
                    "repair: indexed a message whose deposit did not finish");
                report.indexed += 1;
                notify(store, notifier, m, &message).await?;
                // Its deposit is finished: not one for `finish_deposits`.
                deposits.lapsed.remove(&message.id);
            }
            RecoverOutcome::AlreadyKnown => {}
            RecoverOutcome::NoMailbox => report.skipped_no_mailbox += 1,
        }
    }
    Ok(())
}

/// Deposits whose lease lapsed and that are still on record: the message was
/// indexed but its e-mail never queued (lamp and e-mail now), or there is
/// nothing left to do (the audio is gone, or the message was deleted).
async fn finish_deposits(
    store: &Store,
    client: &AriClient,
    m: &MailboxId,
    deposits: &Deposits,
    notifier: &Notifier,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    for id in &deposits.lapsed {
        match store.message_state(m, id).await? {
            MessageState::Indexed => {
                if let Some(message) = store.message(m, id).await? {
                    info!(mailbox = %m, id = %id,
                        "repair: notifying a message whose deposit stopped after indexing it");
                    notify(store, notifier, m, &message).await?;
                    report.notified_late += 1;
                }
            }
            MessageState::Tombstoned => {
                store.end_deposit(m, id).await?;
                report.deposits_closed += 1;
            }
            MessageState::Absent => {
                let name = message_recording(m, id);
                match client.stored_recording(&name).await {
                    // Audio left for a later pass (live, or failed to index).
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        store.end_deposit(m, id).await?;
                        report.deposits_closed += 1;
                    }
                    Err(e) => item_failed(report, "check a deposit's audio", &name, e)?,
                }
            }
        }
    }
    Ok(())
}

/// Removes index entries whose audio is gone. The listing may predate a
/// message's audio, so absence from it is only a hint, confirmed by asking for
/// the recording itself. Messages recorded on another Asterisk (`here` is this
/// one) are only counted: see "Several Asterisk servers" above.
async fn remove_dangling(
    store: &Store,
    client: &AriClient,
    m: &MailboxId,
    stored: &HashSet<String>,
    options: RepairOptions,
    here: &str,
    report: &mut RepairReport,
) -> Result<(), RepairError> {
    for message in store.all_messages(m).await? {
        let name = message.recording();
        if stored.contains(&name) || !options.is_old(Some(message.received)) {
            continue;
        }
        if !message.recorded_on.is_empty() && message.recorded_on != here {
            report.skipped_elsewhere += 1;
            continue;
        }
        match client.stored_recording(&name).await {
            Ok(_) => continue,
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                item_failed(report, "check a message's audio", &name, e)?;
                continue;
            }
        }
        if store.unindex_message(m, &message.id).await? {
            warn!(mailbox = %m, id = %message.id, "repair: removed a message whose audio is gone");
            report.dangling_removed += 1;
        }
    }
    Ok(())
}

/// Whole seconds of audio in a WAV file, truncated as Asterisk reports recording
/// durations. Reads the RIFF chunks (`fmt ` for the byte rate, `data` for the
/// size) rather than assuming a 44-byte header; a data size of 0 or past the end
/// of the file (a writer that died before fixing the header) counts what is
/// there. Anything that is not a WAV reads as 0: the message is still worth
/// keeping, its length is only shown.
pub fn wav_duration_secs(bytes: &[u8]) -> u32 {
    wav_duration(bytes).unwrap_or(0)
}

fn wav_duration(bytes: &[u8]) -> Option<u32> {
    /// Asterisk's `wav` format: 8 kHz, 16-bit, mono.
    const DEFAULT_BYTE_RATE: u32 = 16_000;
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut byte_rate = None;
    let mut pos: usize = 12;
    loop {
        let id = bytes.get(pos..pos.checked_add(4)?)?;
        let size = usize::try_from(le_u32(bytes, pos.checked_add(4)?)?).ok()?;
        let body = pos.checked_add(8)?;
        if id == b"fmt " {
            byte_rate = le_u32(bytes, body.checked_add(8)?).filter(|&rate| rate > 0);
        } else if id == b"data" {
            let available = bytes.len().saturating_sub(body);
            let size = if size == 0 || size > available {
                available
            } else {
                size
            };
            let rate = byte_rate.unwrap_or(DEFAULT_BYTE_RATE) as usize;
            return u32::try_from(size / rate).ok();
        }
        // Chunks are padded to an even length.
        pos = body.checked_add(size)?.checked_add(size & 1)?;
    }
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

/// What maintenance should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassOutcome {
    /// Done: the next pass comes after `repair.interval`.
    Complete,
    /// Asterisk did not answer: try again soon.
    AsteriskUnreachable,
}

/// One maintenance pass: repair, then every lamp republished (a lamp missed by
/// a deposit that could not reach Redis, or by a repair, is put right). Logs and
/// never fails: a service that cannot repair can still take calls.
pub async fn pass(
    store: &Store,
    client: &AriClient,
    mwi: &Mwi,
    notifier: &Notifier,
    config: &Config,
) -> PassOutcome {
    match repair_with(store, client, RepairOptions::for_config(config), notifier).await {
        Ok(report) => log_report(&report),
        Err(e) if e.is_unreachable() => {
            warn!(error = %e, "message repair postponed: Asterisk is not reachable");
            return PassOutcome::AsteriskUnreachable;
        }
        Err(e) => {
            warn!(error = %e, "message repair failed; the next pass tries again")
        }
    }
    match mwi.republish_all(store).await {
        Ok(count) => debug!(mailboxes = count, "message-waiting lamps republished"),
        Err(e) => warn!(error = %e, "message-waiting lamps not republished"),
    }
    PassOutcome::Complete
}

/// Maintenance for as long as `serve` runs: a pass every `repair.interval`
/// (sooner while Asterisk is unreachable), after `first`.
pub async fn periodic(
    store: Store,
    client: AriClient,
    mwi: Mwi,
    notifier: Notifier,
    config: std::sync::Arc<Config>,
    first: PassOutcome,
) {
    let mut outcome = first;
    loop {
        let wait = match outcome {
            PassOutcome::Complete => config.repair.interval,
            PassOutcome::AsteriskUnreachable => UNREACHABLE_RETRY.min(config.repair.interval),
        };
        tokio::time::sleep(wait).await;
        outcome = pass(&store, &client, &mwi, &notifier, &config).await;
    }
}

fn log_report(report: &RepairReport) {
    let RepairReport {
        indexed,
        tombstones_cleared,
        dangling_removed,
        skipped_live,
        skipped_recent,
        skipped_no_mailbox,
        skipped_elsewhere,
        notified_late,
        deposits_closed,
        purged,
        failed,
        ..
    } = report;
    if report.changed_anything() || *failed > 0 {
        warn!(
            indexed,
            tombstones_cleared,
            dangling_removed,
            notified_late,
            deposits_closed,
            purged,
            skipped_live,
            skipped_recent,
            skipped_no_mailbox,
            skipped_elsewhere,
            failed,
            "message repair fixed the index"
        );
    } else {
        info!(
            skipped_live,
            skipped_recent,
            skipped_no_mailbox,
            skipped_elsewhere,
            "message repair: index and audio agree"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(data: usize, declared: Option<u32>, byte_rate: u32) -> Vec<u8> {
        let declared = declared.unwrap_or(data as u32);
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&declared.wrapping_add(36).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&(byte_rate / 2).to_le_bytes());
        out.extend_from_slice(&byte_rate.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&declared.to_le_bytes());
        out.resize(out.len() + data, 7);
        out
    }

    #[test]
    fn wav_durations_come_from_the_data_chunk() {
        assert_eq!(wav_duration_secs(&wav(16_000 * 7 + 100, None, 16_000)), 7);
        assert_eq!(wav_duration_secs(&wav(0, None, 16_000)), 0);
        // 16 kHz 16-bit: twice the byte rate.
        assert_eq!(wav_duration_secs(&wav(32_000 * 3, None, 32_000)), 3);
        // A header never fixed up (0) or claiming more than the file holds.
        assert_eq!(wav_duration_secs(&wav(16_000 * 2, Some(0), 16_000)), 2);
        assert_eq!(
            wav_duration_secs(&wav(16_000 * 2, Some(u32::MAX), 16_000)),
            2
        );
        // A zero byte rate falls back to Asterisk's 8 kHz 16-bit.
        assert_eq!(wav_duration_secs(&wav(16_000 * 4, None, 0)), 4);
    }

    #[test]
    fn extra_chunks_are_skipped_and_garbage_reads_as_zero() {
        let mut file = wav(16_000 * 5, None, 16_000);
        // Insert an odd-sized LIST chunk (padded) between fmt and data.
        let list = [b"LIST".as_slice(), &3u32.to_le_bytes(), b"abc\0"].concat();
        file.splice(36..36, list);
        assert_eq!(wav_duration_secs(&file), 5);
        assert_eq!(wav_duration_secs(b""), 0);
        assert_eq!(wav_duration_secs(b"RIFF\0\0\0\0WAVE"), 0);
        assert_eq!(wav_duration_secs(&[0u8; 100]), 0);
        let mut truncated = wav(16_000, None, 16_000);
        truncated.truncate(30);
        assert_eq!(wav_duration_secs(&truncated), 0);
    }

    #[test]
    fn grace_protects_young_and_undated_things() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let options = RepairOptions {
            now,
            grace: Duration::from_secs(600),
        };
        assert!(options.is_old(Some(now - chrono::Duration::seconds(600))));
        assert!(!options.is_old(Some(now - chrono::Duration::seconds(599))));
        assert!(!options.is_old(Some(now + chrono::Duration::seconds(5))));
        assert!(!options.is_old(None));
    }
}
