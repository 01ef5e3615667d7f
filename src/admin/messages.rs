//! Admin access to messages: list a mailbox's messages, download one's audio,
//! delete one, and run repair. The audio lives in Asterisk, so all but the
//! listing need ARI; an Asterisk that cannot be reached is named as such, with
//! the URL tried, rather than as a bare transport error.
//!
//! Listing is a read like any other and is not audited. Downloading is: it
//! takes a copy of what a person said out of the system, which is exactly what
//! an audit trail is for.

use chrono_tz::Tz;

use super::repair::{self, RepairError, RepairOptions, RepairReport};
use super::{Admin, AdminError};
use crate::ari::{AriClient, AriError, AriErrorKind};
use crate::config::AriConfig;
use crate::domain::MailboxId;
use crate::notify::email::Notifier;
use crate::notify::mwi::Mwi;
use crate::store::Store;
use crate::store::mailboxes::MailboxRecord;
use crate::store::messages::{Message, MessageCounts, MessageId};

#[derive(Debug, thiserror::Error)]
pub enum MessageAdminError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(
        "{0:?} is not a message id: expected <milliseconds>-<6 hex digits>, as `voiceportal \
         admin messages list` shows"
    )]
    BadMessageId(String),
    #[error("mailbox {mailbox} has no message {id}")]
    UnknownMessage { mailbox: MailboxId, id: MessageId },
    #[error(
        "cannot reach Asterisk ARI at {url}: {message} (is Asterisk running, with http.conf \
         enabled, and is ari.url right?)"
    )]
    Unreachable { url: String, message: String },
    #[error(
        "Asterisk ARI at {url} refused user {user:?}: check ari.username and ari.password \
         against Asterisk's ari.conf"
    )]
    Refused { url: String, user: String },
    #[error("Asterisk ARI request failed: {0}")]
    Ari(AriError),
    #[error(
        "the audio of message {id} of mailbox {mailbox} is missing from Asterisk; `voiceportal \
         admin repair` removes such entries"
    )]
    AudioMissing { mailbox: MailboxId, id: MessageId },
    /// The message is gone from the mailbox (and its lamp); only its audio is
    /// left, marked for repair to delete. Said explicitly so the administrator
    /// does not think the delete failed altogether.
    #[error(
        "message {id} was removed from mailbox {mailbox}, but its audio could not be deleted \
         ({source}); `voiceportal admin repair` deletes it once Asterisk answers"
    )]
    AudioNotDeleted {
        mailbox: MailboxId,
        id: MessageId,
        source: Box<MessageAdminError>,
    },
    #[error("repair needs Redis: {0}")]
    RepairStore(crate::store::StoreError),
    #[error("{0:?} is not a greeting number: digits only, at most 20")]
    BadGreeting(String),
    #[error("there is no recording {0}")]
    RecordingMissing(String),
}

/// Asterisk as the message commands use it: the audio and the lamps.
#[derive(Clone)]
pub struct Asterisk {
    client: AriClient,
    mwi: Mwi,
    url: String,
    user: String,
}

impl Asterisk {
    /// `mwi_context` is `config.portal.mwi_context`.
    pub fn new(config: &AriConfig, mwi_context: &str) -> Result<Asterisk, MessageAdminError> {
        let client = AriClient::new(config).map_err(MessageAdminError::Ari)?;
        Ok(Asterisk {
            mwi: Mwi::new(client.clone(), mwi_context),
            client,
            url: config.url.clone(),
            user: config.username.clone(),
        })
    }

    pub fn client(&self) -> &AriClient {
        &self.client
    }

    pub fn mwi(&self) -> &Mwi {
        &self.mwi
    }

    /// Names the two failures an administrator fixes outside voiceportal.
    fn error(&self, error: AriError) -> MessageAdminError {
        match error.kind {
            AriErrorKind::Transport => MessageAdminError::Unreachable {
                url: self.url.clone(),
                message: error.message,
            },
            AriErrorKind::Unauthorized => MessageAdminError::Refused {
                url: self.url.clone(),
                user: self.user.clone(),
            },
            _ => MessageAdminError::Ari(error),
        }
    }
}

/// A mailbox's messages, for `admin messages list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageListing {
    /// For the time zone the dates are shown in.
    pub record: MailboxRecord,
    /// Every message, oldest first, whatever its folder.
    pub messages: Vec<Message>,
}

impl MessageListing {
    /// The mailbox's time zone; an unknown name (edited by hand) falls back to UTC.
    pub fn timezone(&self) -> Tz {
        self.record.timezone.parse().unwrap_or(Tz::UTC)
    }

    pub fn counts(&self) -> MessageCounts {
        let old = self
            .messages
            .iter()
            .filter(|m| m.folder == crate::store::messages::Folder::Old)
            .count();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        MessageCounts {
            new: count(self.messages.len() - old),
            old: count(old),
        }
    }
}

fn parse_id(raw: &str) -> Result<MessageId, MessageAdminError> {
    MessageId::parse(raw.trim())
        .ok_or_else(|| MessageAdminError::BadMessageId(super::error::echo(raw)))
}

impl Admin {
    /// Every message of a mailbox, oldest first.
    pub async fn list_messages(&self, number: &str) -> Result<MessageListing, MessageAdminError> {
        let id = MailboxId::parse(number).map_err(AdminError::from)?;
        let record = self.existing(&id).await?;
        let messages = self
            .store
            .all_messages(&id)
            .await
            .map_err(AdminError::from)?;
        Ok(MessageListing { record, messages })
    }

    /// One message and its audio (a WAV), fetched through ARI. Only indexed
    /// messages can be downloaded: the index, not the recording name, says what
    /// is a message. Audited.
    pub async fn download_message(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        number: &str,
        message: &str,
    ) -> Result<(Message, Vec<u8>), MessageAdminError> {
        let (mailbox, message) = self.existing_message(number, message).await?;
        let audio = asterisk
            .client
            .download_stored_recording(&message.recording())
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    MessageAdminError::AudioMissing {
                        mailbox: mailbox.clone(),
                        id: message.id.clone(),
                    }
                } else {
                    asterisk.error(e)
                }
            })?;
        self.record(
            actor,
            "message-download",
            mailbox.as_str(),
            message.id.as_str(),
        )
        .await?;
        Ok((message, audio))
    }

    /// Deletes a message as the mailbox menu does: tombstone and un-index, delete
    /// the audio through ARI, clear the tombstone; then the lamp is updated (also
    /// when the audio could not be deleted: the message has left the mailbox).
    /// Audited, also when only the audio deletion failed (the message is gone
    /// from the mailbox by then).
    pub async fn delete_message(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        number: &str,
        message: &str,
    ) -> Result<MessageCounts, MessageAdminError> {
        let mailbox = MailboxId::parse(number).map_err(AdminError::from)?;
        let id = parse_id(message)?;
        self.existing(&mailbox).await?;
        let counts = self
            .store
            .delete_message(&mailbox, &id)
            .await
            .map_err(AdminError::from)?
            .ok_or_else(|| MessageAdminError::UnknownMessage {
                mailbox: mailbox.clone(),
                id: id.clone(),
            })?;
        let name = crate::store::messages::message_recording(&mailbox, &id);
        let audio = match asterisk.client.delete_stored_recording(&name).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(asterisk.error(e)),
        };
        let detail = match &audio {
            Ok(()) => {
                self.store
                    .clear_tombstone(&mailbox, &id)
                    .await
                    .map_err(AdminError::from)?;
                format!("id={id}")
            }
            Err(_) => format!("id={id} audio=pending-repair"),
        };
        // Counts read afresh: a deposit may have landed since the delete.
        asterisk.mwi.refresh(&self.store, &mailbox).await;
        self.record(actor, "message-delete", mailbox.as_str(), &detail)
            .await?;
        match audio {
            Ok(()) => Ok(counts),
            Err(source) => Err(MessageAdminError::AudioNotDeleted {
                mailbox,
                id,
                source: Box::new(source),
            }),
        }
    }

    /// Runs a repair pass, then republishes every lamp (repair changes counts).
    /// Audited with what it did.
    pub async fn repair(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        options: RepairOptions,
        notifier: &Notifier,
    ) -> Result<RepairReport, MessageAdminError> {
        let report = repair::repair_with(&self.store, &asterisk.client, options, notifier)
            .await
            .map_err(|e| match e {
                RepairError::Ari(e) => asterisk.error(e),
                RepairError::Store(e) => MessageAdminError::RepairStore(e),
            })?;
        asterisk
            .mwi
            .republish_all(&self.store)
            .await
            .map_err(AdminError::from)?;
        let detail = format!(
            "indexed={} tombstones_cleared={} dangling_removed={} notified_late={} \
             skipped_live={} skipped_recent={} skipped_no_mailbox={} skipped_elsewhere={} failed={}",
            report.indexed,
            report.tombstones_cleared,
            report.dangling_removed,
            report.notified_late,
            report.skipped_live,
            report.skipped_recent,
            report.skipped_no_mailbox,
            report.skipped_elsewhere,
            report.failed
        );
        self.record(actor, "repair", "messages", &detail).await?;
        Ok(report)
    }

    /// Removes the recordings of deleted mailbox `number` from Asterisk (name,
    /// greetings, messages) and its lamp, then lifts the mark that keeps the
    /// number from being reused. Returns how many recordings were deleted. A
    /// number that is a mailbox again is refused: its recordings are its own.
    pub async fn purge(
        &self,
        asterisk: &Asterisk,
        number: &str,
    ) -> Result<usize, MessageAdminError> {
        let id = MailboxId::parse(number).map_err(AdminError::from)?;
        if self
            .store
            .mailbox(&id)
            .await
            .map_err(AdminError::from)?
            .is_some()
        {
            return Err(AdminError::MailboxExists(id).into());
        }
        let deleted = asterisk.remove_mailbox_audio(&self.store, &id).await?;
        self.store
            .clear_purge(&id)
            .await
            .map_err(AdminError::from)?;
        Ok(deleted)
    }

    async fn existing_message(
        &self,
        number: &str,
        message: &str,
    ) -> Result<(MailboxId, Message), MessageAdminError> {
        let mailbox = MailboxId::parse(number).map_err(AdminError::from)?;
        let id = parse_id(message)?;
        self.existing(&mailbox).await?;
        let found = self
            .store
            .message(&mailbox, &id)
            .await
            .map_err(AdminError::from)?;
        match found {
            Some(found) => Ok((mailbox, found)),
            None => Err(MessageAdminError::UnknownMessage { mailbox, id }),
        }
    }
}

/// The default file name of a download, `1001-<id>.wav`.
pub fn default_file_name(message: &Message) -> String {
    format!("{}-{}.wav", message.mailbox, message.id)
}

impl Asterisk {
    /// The names of every stored recording.
    pub async fn recording_names(&self) -> Result<Vec<String>, MessageAdminError> {
        let stored = self
            .client
            .stored_recordings()
            .await
            .map_err(|e| self.error(e))?;
        Ok(stored.into_iter().map(|r| r.name).collect())
    }

    /// One stored recording's file.
    pub async fn recording_audio(&self, name: &str) -> Result<Vec<u8>, MessageAdminError> {
        self.client
            .download_stored_recording(name)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    MessageAdminError::RecordingMissing(name.to_owned())
                } else {
                    self.error(e)
                }
            })
    }

    /// Deletes one stored recording; one that is not there is already deleted.
    pub async fn delete_recording(&self, name: &str) -> Result<(), MessageAdminError> {
        match self.client.delete_stored_recording(name).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Removes every recording of a deleted mailbox (name, greetings, messages)
    /// and turns its lamp off. Returns how many recordings were deleted.
    pub async fn remove_mailbox_audio(
        &self,
        store: &Store,
        m: &MailboxId,
    ) -> Result<usize, MessageAdminError> {
        let prefix = format!("{}/", m.recording("").trim_end_matches('/'));
        let stored = self
            .client
            .stored_recordings()
            .await
            .map_err(|e| self.error(e))?;
        let mut deleted = 0;
        for recording in stored.iter().filter(|r| r.name.starts_with(&prefix)) {
            match self.client.delete_stored_recording(&recording.name).await {
                Ok(()) => deleted += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        self.mwi.clear(store, m).await;
        Ok(deleted)
    }
}
