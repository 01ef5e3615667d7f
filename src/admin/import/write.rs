//! Writing one mailbox's import: every file prepared (copied or converted), then
//! placed in Asterisk's recordings directory, then the record and messages
//! committed in one Redis script; on any failure what was placed is removed. And
//! the checks around it: that Asterisk reads the recordings directory, that sox
//! can convert what needs it; and the lamps afterwards.

use std::path::PathBuf;

use tracing::info;

use super::ImportError;
use super::audio::{self, AudioFile, AudioFormat, Recordings, Staging};
use super::plan::Plan;
use super::report::{ImportReport, Location, Problem};
use crate::admin::Admin;
use crate::admin::messages::Asterisk;
use crate::domain::MailboxId;
use crate::store::imports::ImportCommit;
use crate::store::mailboxes::PinOrigin;

impl Admin {
    /// Prepares every file, places them, commits; on any failure removes what was
    /// placed and says why.
    pub(super) async fn write_mailbox(
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
    pub(super) async fn republish(&self, asterisk: &Asterisk, mailboxes: &[MailboxId]) -> String {
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
pub(super) fn needs_conversion(file: &AudioFile) -> bool {
    file.format != AudioFormat::Wav
        || !std::fs::read(&file.path).is_ok_and(|bytes| audio::is_service_wav(&bytes))
}

/// The first file that cannot be prepared (an unsupported format, or sox
/// missing), found before anything is written.
pub(super) fn cannot_prepare(files: &[&AudioFile], sox: bool) -> Option<Problem> {
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

pub(super) async fn sox_available() -> bool {
    tokio::process::Command::new("sox")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Writes a probe recording and asks Asterisk for it: a recordings directory
/// that is not Asterisk's would import audio nobody can hear. Asterisk not
/// answering is only a note: the import goes on (the next start of voiceportal
/// lights the lamps).
pub(super) async fn check_recordings_dir(
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
