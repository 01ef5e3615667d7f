//! `voiceportal admin import app-voicemail`: moves the mailboxes of one
//! app_voicemail context into voiceportal.
//!
//! For each mailbox of the context in `voicemail.conf`: the mailbox (number, full
//! name, e-mail, `language=`, `tz=`), its PIN as a temporary PIN that must be
//! changed at the next login (hashed here, never printed or logged; `-` or empty:
//! no PIN), its greetings and spoken name, and its messages (INBOX and Urgent as
//! new, the saved folders as old) with caller, date and length from
//! `msgNNNN.txt`. Then the lamps are republished.
//!
//! # Rules
//!
//! - **Nothing half-done.** A mailbox's audio is all prepared (copied or
//!   converted) before anything is written; then moved into Asterisk's
//!   recordings directory; then its record and messages are committed in one
//!   Redis script (see `store::imports`). Anything failing on the way removes
//!   what was placed and reports the mailbox as not imported.
//! - **Idempotent.** The import ledger remembers every message imported, so a
//!   second run imports only what app_voicemail received since. A mailbox that
//!   exists keeps its record and PIN (its owner may have changed it); greetings
//!   it has are not replaced.
//! - **Everything said, nothing lost.** A bad line or file is reported with its
//!   path and line and skipped; the rest goes on. Audio that cannot be converted
//!   fails its mailbox, which can be imported again once fixed.
//! - `--dry-run` reads everything and reports what would be done, writing nothing.

mod audio;
mod conf;
mod report;
mod spool;
mod voicemail_conf;

use std::collections::HashSet;
use std::path::PathBuf;

use tracing::info;

pub use report::{ImportReport, Location, MailboxReport, Outcome, PinImport, Problem};

use self::audio::{AudioFile, AudioFormat, Recordings, Staging};
use self::spool::{SpoolMailbox, SpoolMessage};
use self::voicemail_conf::{ConfMailbox, ConfPin};
use super::messages::Asterisk;
use super::{Admin, AdminError, MailboxFields};
use crate::domain::{MailboxId, Pin};
use crate::store::imports::ImportCommit;
use crate::store::mailboxes::{MailboxRecord, PinOrigin};
use crate::store::messages::{Message, MessageId};

/// What to import, from where, to where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// app_voicemail's `voicemail.conf`.
    pub conf: PathBuf,
    /// app_voicemail's spool (`/var/spool/asterisk/voicemail`).
    pub spool: PathBuf,
    /// The voicemail.conf context to import.
    pub context: String,
    /// Asterisk's recordings directory (see `audio`).
    pub recordings_dir: PathBuf,
    pub dry_run: bool,
}

/// What stops an import before any mailbox.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Conf(#[from] conf::ReadError),
    #[error(transparent)]
    Context(#[from] voicemail_conf::ContextError),
    #[error("{0}")]
    Spool(String),
    #[error("{0}")]
    Recordings(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// One mailbox's work, decided before anything is written.
struct Plan {
    record: MailboxRecord,
    created: bool,
    pin: Option<Pin>,
    greetings: Vec<(&'static str, AudioFile)>,
    messages: Vec<PlannedMessage>,
    already_imported: usize,
}

/// What every mailbox of one run shares.
struct Run<'a> {
    actor: &'a str,
    recordings: Recordings,
    dry_run: bool,
    /// Whether sox can be run (checked once).
    sox: bool,
}

struct PlannedMessage {
    message: Message,
    key: String,
    file: AudioFile,
    /// From `msgNNNN.txt`; else the audio's length once prepared.
    duration_secs: Option<u32>,
}

impl Admin {
    /// Imports one context of app_voicemail (see the module documentation).
    pub async fn import_app_voicemail(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        options: &ImportOptions,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport {
            dry_run: options.dry_run,
            ..ImportReport::default()
        };
        let parsed = conf::read(&options.conf, &mut report.problems)?;
        let vm = voicemail_conf::mailboxes(&parsed, &options.context, &mut report.problems)?;
        let context_dir =
            spool::context_dir(&options.spool, &vm.context).map_err(ImportError::Spool)?;
        match &context_dir {
            Some(dir) => {
                for (name, path) in spool::subdirs(dir) {
                    let known = MailboxId::parse(&name)
                        .is_ok_and(|id| id.as_str() == name && vm.mailboxes.contains_key(&id));
                    if !known {
                        report.problems.push(Problem::new(
                            Location::file(&path),
                            format!(
                                "no mailbox {name:?} in voicemail.conf [{}]: not imported",
                                vm.context
                            ),
                        ));
                    }
                }
            }
            None => report.notes.push(format!(
                "the spool {} has no directory for [{}]: its mailboxes have no messages or \
                 greetings to import",
                options.spool.display(),
                vm.context
            )),
        }
        let recordings =
            Recordings::open(&options.recordings_dir).map_err(ImportError::Recordings)?;
        if !options.dry_run {
            check_recordings_dir(&recordings, asterisk, &mut report).await?;
        }
        let run = Run {
            actor,
            recordings,
            dry_run: options.dry_run,
            sox: sox_available().await,
        };
        let mut imported = Vec::new();
        for mailbox in vm.mailboxes.values() {
            let dir = context_dir
                .as_ref()
                .map(|d| d.join(mailbox.number.as_str()));
            let outcome = self.import_mailbox(&run, mailbox, dir, &mut report).await?;
            if outcome.outcome == Outcome::Imported {
                imported.push(outcome.mailbox.clone());
            }
            report.mailboxes.push(outcome);
        }
        if !options.dry_run && !imported.is_empty() {
            report.lamps = Some(self.republish(asterisk, &imported).await);
        }
        Ok(report)
    }

    async fn import_mailbox(
        &self,
        run: &Run<'_>,
        conf: &ConfMailbox,
        dir: Option<PathBuf>,
        report: &mut ImportReport,
    ) -> Result<MailboxReport, ImportError> {
        let spool = dir
            .map(|dir| spool::read_mailbox(&dir, &mut report.problems))
            .unwrap_or_default();
        let mut summary = MailboxReport {
            mailbox: conf.number.clone(),
            outcome: Outcome::WouldImport,
            created: false,
            pin: PinImport::Kept,
            greetings: Vec::new(),
            new_messages: 0,
            old_messages: 0,
            already_imported: 0,
            converted: 0,
        };
        if conf.number == self.portal {
            summary.outcome = Outcome::Failed(
                "it is the voice portal's own number (portal.number) and cannot be a mailbox"
                    .into(),
            );
            return Ok(summary);
        }
        let plan = self
            .plan(conf, &spool, &run.recordings, &mut report.problems)
            .await?;
        summary.created = plan.created;
        summary.pin = match (plan.created, plan.pin.is_some()) {
            (false, _) => PinImport::Kept,
            (true, true) => PinImport::Temporary,
            (true, false) => PinImport::None,
        };
        summary.greetings = plan.greetings.iter().map(|(name, _)| *name).collect();
        summary.new_messages = plan
            .messages
            .iter()
            .filter(|m| m.message.folder == crate::store::messages::Folder::New)
            .count();
        summary.old_messages = plan.messages.len() - summary.new_messages;
        summary.already_imported = plan.already_imported;
        let files: Vec<&AudioFile> = plan
            .greetings
            .iter()
            .map(|(_, file)| file)
            .chain(plan.messages.iter().map(|m| &m.file))
            .collect();
        summary.converted = files.iter().filter(|f| needs_conversion(f)).count();
        if let Some(reason) = cannot_prepare(&files, run.sox) {
            summary.outcome = Outcome::Failed(reason.to_string());
            return Ok(summary);
        }
        if run.dry_run {
            return Ok(summary);
        }
        if !plan.created && plan.greetings.is_empty() && plan.messages.is_empty() {
            // Imported before, nothing new since: nothing to write or audit.
            summary.outcome = Outcome::Imported;
            return Ok(summary);
        }
        match self.write(run.actor, &run.recordings, plan, report).await {
            Ok(()) => summary.outcome = Outcome::Imported,
            Err(reason) => summary.outcome = Outcome::Failed(reason),
        }
        Ok(summary)
    }

    /// Decides what to write for one mailbox, reading Redis but writing nothing.
    async fn plan(
        &self,
        conf: &ConfMailbox,
        spool: &SpoolMailbox,
        recordings: &Recordings,
        problems: &mut Vec<Problem>,
    ) -> Result<Plan, ImportError> {
        let id = conf.number.clone();
        let existing = self.store.mailbox(&id).await.map_err(AdminError::from)?;
        let created = existing.is_none();
        let record = match existing {
            Some(record) => record,
            None => self.new_record(conf, problems),
        };
        let pin = if created {
            self.conf_pin(conf, spool, problems)
        } else {
            None
        };
        let greetings = spool
            .greetings
            .iter()
            .filter(|g| created || !recordings.exists(&id.recording(g.name)))
            .filter_map(|g| audio::best(&g.files).map(|file| (g.name, file.clone())))
            .collect();
        let ledger = self
            .store
            .import_ledger(&id)
            .await
            .map_err(AdminError::from)?;
        let mut taken: HashSet<String> = ledger.values().cloned().collect();
        let mut messages = Vec::new();
        let mut already_imported = 0;
        let mut sorted: Vec<&SpoolMessage> = spool.messages.iter().collect();
        sorted.sort_by(|a, b| (a.received, &a.key).cmp(&(b.received, &b.key)));
        for source in sorted {
            if ledger.contains_key(&source.key) {
                already_imported += 1;
                continue;
            }
            let Some(file) = audio::best(&source.files) else {
                continue;
            };
            let id_of_message = message_id(source, &mut taken);
            messages.push(PlannedMessage {
                message: Message {
                    id: id_of_message,
                    mailbox: id.clone(),
                    folder: source.folder,
                    caller_number: source.caller_number.clone(),
                    caller_name: source.caller_name.clone(),
                    received: source.received,
                    duration_secs: source.duration_secs.unwrap_or(0),
                },
                key: source.key.clone(),
                file: file.clone(),
                duration_secs: source.duration_secs,
            });
        }
        Ok(Plan {
            record,
            created,
            pin,
            greetings,
            messages,
            already_imported,
        })
    }

    /// The record of a new mailbox: each field that fails voiceportal's checks is
    /// reported and left out, rather than costing the mailbox.
    fn new_record(&self, conf: &ConfMailbox, problems: &mut Vec<Problem>) -> MailboxRecord {
        let mut record = MailboxRecord::new(conf.number.clone());
        record.language = self.default_language.code().to_owned();
        let language = voicemail_conf::language(conf, problems).map(|l| l.code().to_owned());
        let fields = [
            (
                "name",
                MailboxFields {
                    display_name: Some(conf.full_name.clone()),
                    ..MailboxFields::default()
                },
            ),
            (
                "e-mail",
                MailboxFields {
                    email: Some(conf.email.clone()),
                    ..MailboxFields::default()
                },
            ),
            (
                "language",
                MailboxFields {
                    language,
                    ..MailboxFields::default()
                },
            ),
            (
                "time zone",
                MailboxFields {
                    timezone: conf.timezone.clone(),
                    ..MailboxFields::default()
                },
            ),
        ];
        for (what, field) in fields {
            if let Err(e) = field.apply(&mut record) {
                problems.push(Problem::new(
                    conf.at.clone(),
                    format!("mailbox {}: {what} left out: {e}", conf.number),
                ));
            }
        }
        record
    }

    /// The PIN to import: from voicemail.conf, or from the spool's `secret.conf`
    /// with `passwordlocation=spooldir` (voicemail.conf's when that has none, as
    /// app_voicemail does). An unusable PIN is reported (never shown) and the
    /// mailbox gets none.
    fn conf_pin(
        &self,
        conf: &ConfMailbox,
        spool: &SpoolMailbox,
        problems: &mut Vec<Problem>,
    ) -> Option<Pin> {
        let mut at = conf.at.clone();
        let mut from_spool = None;
        if conf.pin_in_spool
            && let Some(secret) = &spool.secret
        {
            let mut local = Vec::new();
            if let Ok(parsed) = conf::read(secret, &mut local)
                && let Some(var) = parsed
                    .categories_named("general")
                    .filter_map(|c| c.get("password"))
                    .last()
            {
                at = var.at.clone();
                from_spool = Some(ConfPin::parse(&var.value));
            }
            problems.append(&mut local);
        }
        let pin = from_spool.unwrap_or_else(|| match &conf.pin {
            ConfPin::Pin(pin) => ConfPin::Pin(pin.clone()),
            ConfPin::None => ConfPin::None,
            ConfPin::Unusable(why) => ConfPin::Unusable(why),
        });
        match pin {
            ConfPin::Pin(pin) => Some(pin),
            ConfPin::None => None,
            ConfPin::Unusable(why) => {
                problems.push(Problem::new(
                    at,
                    format!(
                        "mailbox {}: its PIN is not imported ({why}); the mailbox gets no PIN: \
                         its owner sets one up from their own phone, or give one with \
                         `voiceportal admin set-temp-pin {}`",
                        conf.number, conf.number
                    ),
                ));
                None
            }
        }
    }

    /// Prepares every file, places them, commits; on any failure removes what was
    /// placed and says why.
    async fn write(
        &self,
        actor: &str,
        recordings: &Recordings,
        plan: Plan,
        report: &mut ImportReport,
    ) -> Result<(), String> {
        let mut staging = recordings.staging()?;
        let mut staged_greetings = Vec::new();
        for (name, file) in &plan.greetings {
            let staged = prepare(&mut staging, file).await?;
            staged_greetings.push((*name, staged));
        }
        let mut messages = Vec::new();
        let mut staged_messages = Vec::new();
        for planned in plan.messages {
            let staged = prepare(&mut staging, &planned.file).await?;
            let mut message = planned.message;
            message.duration_secs = planned.duration_secs.unwrap_or(staged.duration_secs);
            staged_messages.push((message.recording(), staged));
            messages.push((message, planned.key));
        }
        let pin_hash = match plan.pin {
            Some(pin) => Some(
                self.hashing(move |hasher| hasher.hash(&pin))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let id = plan.record.id.clone();
        let mut record = plan.record;
        if plan.created {
            (record.pin_origin, record.must_change) = match pin_hash {
                Some(_) => (PinOrigin::Temporary, true),
                None => (PinOrigin::None, false),
            };
        }
        let name_imported = staged_greetings.iter().any(|(name, _)| *name == "name");
        let targets = staged_greetings
            .iter()
            .map(|(name, staged)| (id.recording(name), staged))
            .chain(
                staged_messages
                    .iter()
                    .map(|(name, staged)| (name.clone(), staged)),
            );
        let mut placed = Vec::new();
        for (name, staged) in targets {
            match recordings.place(&staged.path, &name) {
                Ok(path) => placed.push(path),
                Err(e) => {
                    placed.iter().for_each(|p| recordings.remove(p));
                    return Err(format!(
                        "cannot write {}: {e}",
                        recordings.path_of(&name).display()
                    ));
                }
            }
        }
        if let Some(first) = placed.first()
            && !recordings.ownership_ok(first)
            && !report.notes.iter().any(|n| n.contains("owned by"))
        {
            report.notes.push(format!(
                "the files written are not owned by the owner of {}: run the import as root \
                 or as Asterisk's user, or Asterisk cannot delete them later",
                recordings.dir().display()
            ));
        }
        let commit = ImportCommit {
            record: &record,
            pin_hash: pin_hash.as_deref(),
            name_imported,
            messages: &messages,
        };
        let outcome = match self.store.commit_import(&commit).await {
            Ok(outcome) => outcome,
            Err(e) => {
                placed.iter().for_each(|p| recordings.remove(p));
                return Err(format!("nothing was kept: {e}"));
            }
        };
        drop(staging);
        let detail = format!(
            "created={} pin={} messages={} greetings={}",
            outcome.created,
            if !plan.created {
                "kept"
            } else if pin_hash.is_some() {
                "temporary"
            } else {
                "none"
            },
            outcome.indexed + outcome.refreshed,
            staged_greetings
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(",")
        );
        info!(mailbox = %id, %detail, "import: mailbox imported");
        if let Err(e) = self
            .record(actor, "import-mailbox", id.as_str(), &detail)
            .await
        {
            report.notes.push(format!("mailbox {id}: {e}"));
        }
        Ok(())
    }

    /// Publishes the lamps of the imported mailboxes; says how it went.
    async fn republish(&self, asterisk: &Asterisk, mailboxes: &[MailboxId]) -> String {
        let mut published = 0;
        for id in mailboxes {
            let counts = match self.store.message_counts(id).await {
                Ok(counts) => counts,
                Err(e) => return format!("lamps: {published} published, then Redis failed: {e}"),
            };
            if let Err(e) = asterisk.mwi().try_publish(id, counts).await {
                return format!(
                    "lamps: {published} of {} published; Asterisk did not take the rest ({e}): \
                     voiceportal republishes every lamp when it starts",
                    mailboxes.len()
                );
            }
            published += 1;
        }
        format!("lamps: {published} mailbox(es) published")
    }
}

/// Prepares one file; a failure names the file and ends the mailbox.
async fn prepare(staging: &mut Staging, file: &AudioFile) -> Result<audio::Staged, String> {
    staging
        .prepare(file)
        .await
        .map_err(|e| e.into_problem().to_string())
}

/// Whether a file will go through sox.
fn needs_conversion(file: &AudioFile) -> bool {
    file.format != AudioFormat::Wav
        || !std::fs::read(&file.path).is_ok_and(|bytes| audio::is_service_wav(&bytes))
}

/// The first file that cannot be prepared (an unsupported format, or sox
/// missing), found before anything is written.
fn cannot_prepare(files: &[&AudioFile], sox: bool) -> Option<Problem> {
    for file in files {
        if file.format == AudioFormat::Unsupported {
            return Some(Problem::new(
                Location::file(&file.path),
                "no format of this recording can be converted (sox does not read it): convert \
                 it to WAV by hand",
            ));
        }
        if !sox && needs_conversion(file) {
            return Some(Problem::new(
                Location::file(&file.path),
                "sox is needed to convert this file and is not installed (apt-get install sox)",
            ));
        }
    }
    None
}

async fn sox_available() -> bool {
    tokio::process::Command::new("sox")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// A message's id: its time, and a suffix derived from its ledger key, so that a
/// second run (after a crash before the commit) writes the same names. An id
/// already taken (by the ledger, or earlier in this run) moves to the next
/// suffix.
fn message_id(message: &SpoolMessage, taken: &mut HashSet<String>) -> MessageId {
    let mut suffix = fnv1a(&message.key);
    loop {
        let id = MessageId::with_suffix(message.received, suffix);
        if taken.insert(id.as_str().to_owned()) {
            return id;
        }
        suffix = suffix.wrapping_add(1);
    }
}

/// 32-bit FNV-1a: a stable hash (std's may change between releases).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// Writes a probe recording and asks Asterisk for it: a recordings directory
/// that is not Asterisk's would import audio nobody can hear. Asterisk not
/// answering is only a note: the import goes on (the next start of voiceportal
/// lights the lamps).
async fn check_recordings_dir(
    recordings: &Recordings,
    asterisk: &Asterisk,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let name = format!("voiceportal/import-check-{:08x}", rand::random::<u32>());
    let staging = recordings.staging().map_err(ImportError::Recordings)?;
    let probe = staging_probe(&staging).map_err(ImportError::Recordings)?;
    let placed = recordings.place(&probe, &name).map_err(|e| {
        ImportError::Recordings(format!(
            "cannot write in {}: {e}",
            recordings.dir().display()
        ))
    })?;
    drop(staging);
    let seen = asterisk.client().stored_recording(&name).await;
    let deleted = match &seen {
        Ok(_) => asterisk
            .client()
            .delete_stored_recording(&name)
            .await
            .is_ok(),
        Err(_) => false,
    };
    if !deleted {
        recordings.remove(&placed);
    }
    match seen {
        Ok(_) if deleted => Ok(()),
        Ok(_) => {
            report.notes.push(format!(
                "Asterisk sees {} but could not delete a file written there: check the \
                 ownership of the files",
                recordings.dir().display()
            ));
            Ok(())
        }
        Err(e) if e.is_not_found() => Err(ImportError::Recordings(format!(
            "Asterisk does not see {}: {} is not its recordings directory (astspooldir in \
             asterisk.conf, plus /recording); give the right one with --recordings-dir or \
             [import] recordings_dir",
            placed.display(),
            recordings.dir().display()
        ))),
        Err(e) => {
            report.notes.push(format!(
                "cannot ask Asterisk whether {} is its recordings directory ({e}): make sure it \
                 is; lamps are republished when voiceportal starts",
                recordings.dir().display()
            ));
            Ok(())
        }
    }
}

/// Writes the probe WAV into the staging directory.
fn staging_probe(staging: &Staging) -> Result<PathBuf, String> {
    let path = staging.path().join("probe.wav");
    std::fs::write(&path, audio::probe_wav())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_never_collide() {
        let message = |key: &str| SpoolMessage {
            folder: crate::store::messages::Folder::New,
            files: Vec::new(),
            caller_number: String::new(),
            caller_name: String::new(),
            received: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            duration_secs: None,
            key: key.into(),
        };
        let a = message_id(&message("msg_id:1"), &mut HashSet::new());
        let again = message_id(&message("msg_id:1"), &mut HashSet::new());
        assert_eq!(a, again);
        assert!(a.as_str().starts_with("1700000000000-"));
        let mut taken = HashSet::from([a.as_str().to_owned()]);
        let b = message_id(&message("msg_id:1"), &mut taken);
        assert_ne!(a, b);
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }
}
