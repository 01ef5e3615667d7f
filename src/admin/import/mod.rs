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
mod plan;
mod report;
mod spool;
mod voicemail_conf;
mod write;

use std::path::PathBuf;

pub use report::{ImportReport, Location, MailboxReport, Outcome, PinImport, Problem};

use self::audio::{AudioFile, Recordings};
use self::voicemail_conf::ConfMailbox;
use self::write::{cannot_prepare, check_recordings_dir, needs_conversion, sox_available};
use super::messages::Asterisk;
use super::{Admin, AdminError};
use crate::domain::MailboxId;
use crate::store::messages::Folder;

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

/// What every mailbox of one run shares.
struct Run<'a> {
    actor: &'a str,
    recordings: Recordings,
    dry_run: bool,
    /// Whether sox can be run (checked once).
    sox: bool,
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
            .plan_mailbox(conf, &spool, &run.recordings, &mut report.problems)
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
            .filter(|m| m.message.folder == Folder::New)
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
        match self
            .write_mailbox(run.actor, &run.recordings, plan, report)
            .await
        {
            Ok(()) => summary.outcome = Outcome::Imported,
            Err(reason) => summary.outcome = Outcome::Failed(reason),
        }
        Ok(summary)
    }
}
