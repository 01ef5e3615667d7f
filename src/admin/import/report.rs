//! What an import tells the administrator: each problem where it was found (a
//! file, and a line when the file has lines), and per mailbox what was (or, with
//! `--dry-run`, would be) done. Nothing here ever holds a PIN.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::domain::MailboxId;

/// A file, and a line in it when it has lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl Location {
    pub fn file(path: &Path) -> Location {
        Location {
            path: path.to_owned(),
            line: None,
        }
    }

    pub fn line(path: &Path, line: usize) -> Location {
        Location {
            path: path.to_owned(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Something the administrator should know: what was skipped or assumed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Location,
    pub message: String,
}

impl Problem {
    pub fn new(at: Location, message: impl Into<String>) -> Problem {
        Problem {
            at,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What happened to one mailbox of `voicemail.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxReport {
    pub mailbox: MailboxId,
    pub outcome: Outcome,
    /// Created now (false: it existed; its record and PIN were kept).
    pub created: bool,
    /// The PIN it got: temporary (must change) or none. Never the PIN.
    pub pin: PinImport,
    /// Greetings and name written (`unavail`, `busy`, `temp`, `name`).
    pub greetings: Vec<&'static str>,
    pub new_messages: usize,
    pub old_messages: usize,
    /// Messages imported before (a second run): left as they are.
    pub already_imported: usize,
    /// Audio files that were (or would be) converted with sox.
    pub converted: usize,
}

/// What a mailbox's PIN became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinImport {
    /// Hashed as a temporary PIN the owner must change at the next login.
    Temporary,
    /// `-`, empty, or not usable: no PIN (set up from the owner's own phone, or
    /// `admin reset-pin`).
    None,
    /// The mailbox existed: its PIN was kept.
    Kept,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    /// `--dry-run`: what would be imported.
    WouldImport,
    /// Nothing was written for this mailbox; the reason.
    Failed(String),
}

/// The whole import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub problems: Vec<Problem>,
    pub mailboxes: Vec<MailboxReport>,
    /// How the lamps were brought up to date.
    pub lamps: Option<String>,
    /// Said once, before everything: the recordings directory could not be
    /// checked against Asterisk.
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Mailboxes that could not be imported.
    pub fn failed(&self) -> usize {
        self.mailboxes
            .iter()
            .filter(|m| matches!(m.outcome, Outcome::Failed(_)))
            .count()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for problem in &self.problems {
            writeln!(f, "{problem}")?;
        }
        for m in &self.mailboxes {
            let verb = match &m.outcome {
                Outcome::Imported => "imported",
                Outcome::WouldImport => "would import",
                Outcome::Failed(reason) => {
                    writeln!(
                        f,
                        "mailbox {}: NOT imported, nothing of it was written: {reason}",
                        m.mailbox
                    )?;
                    continue;
                }
            };
            let what = if m.created {
                "new mailbox"
            } else {
                "existing mailbox"
            };
            let pin = match m.pin {
                PinImport::Temporary => "temporary PIN (must change)",
                PinImport::None => "no PIN",
                PinImport::Kept => "PIN kept",
            };
            write!(
                f,
                "mailbox {}: {verb} ({what}, {pin}); messages: {} new, {} old",
                m.mailbox, m.new_messages, m.old_messages
            )?;
            if m.already_imported > 0 {
                write!(f, ", {} imported before", m.already_imported)?;
            }
            if !m.greetings.is_empty() {
                write!(f, "; greetings: {}", m.greetings.join(", "))?;
            }
            if m.converted > 0 {
                write!(f, "; {} audio file(s) converted with sox", m.converted)?;
            }
            writeln!(f)?;
        }
        if let Some(lamps) = &self.lamps {
            writeln!(f, "{lamps}")?;
        }
        let failed = self.failed();
        let done = self.mailboxes.len() - failed;
        let verb = if self.dry_run {
            "would be imported (dry run: nothing was changed)"
        } else {
            "imported"
        };
        write!(f, "{done} mailbox(es) {verb}")?;
        if failed > 0 {
            write!(f, ", {failed} not imported")?;
        }
        writeln!(f, "; {} problem(s) reported above", self.problems.len())
    }
}
