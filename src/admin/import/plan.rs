//! Deciding what one mailbox's import writes, before anything is written: its
//! record (a new mailbox only), its PIN, the greetings it lacks, and the messages
//! its import ledger does not hold yet, each with an id derived from the message.

use std::collections::HashSet;

use super::ImportError;
use super::audio::{self, AudioFile, Recordings};
use super::conf;
use super::report::Problem;
use super::spool::{SpoolMailbox, SpoolMessage};
use super::voicemail_conf::{self, ConfMailbox, ConfPin};
use crate::admin::{Admin, AdminError, MailboxFields};
use crate::domain::Pin;
use crate::store::mailboxes::MailboxRecord;
use crate::store::messages::{Message, MessageId};

/// One mailbox's work, decided before anything is written.
pub(super) struct Plan {
    pub(super) record: MailboxRecord,
    /// The mailbox does not exist yet.
    pub(super) created: bool,
    pub(super) pin: Option<Pin>,
    pub(super) greetings: Vec<(&'static str, AudioFile)>,
    pub(super) messages: Vec<PlannedMessage>,
    /// Messages its ledger holds already: not planned again.
    pub(super) already_imported: usize,
}

/// A message to import and where its audio is.
pub(super) struct PlannedMessage {
    pub(super) message: Message,
    /// Its ledger key.
    pub(super) key: String,
    pub(super) file: AudioFile,
    /// From `msgNNNN.txt`; else the audio's length once prepared.
    pub(super) duration_secs: Option<u32>,
}

impl Admin {
    /// Decides what to write for one mailbox, reading Redis but writing nothing.
    pub(super) async fn plan_mailbox(
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
                    recorded_on: String::new(),
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
