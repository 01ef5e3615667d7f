//! What the web portals do beyond the CLI's operations: the extensions overview,
//! recordings (greetings, names, attendant greetings) played in the browser,
//! and the operations an owner does on their own mailbox (play a message, set a
//! PIN, delete the temporary greeting). Audited like every admin operation; the
//! actor says who (an administrator, or `owner:1001`) and from where.

use futures_util::StreamExt;

use super::messages::{Asterisk, MessageAdminError};
use super::{Admin, AdminError, MailboxStatus};
use crate::access::{Access, AccessError, NewPin};
use crate::domain::{MailboxId, Pin, PinRejection};
use crate::store::lockout::LockSubject;
use crate::store::messages::{Folder, Message, MessageCounts};

/// The recordings of one mailbox besides its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    Unavailable,
    Busy,
    Temporary,
    Name,
}

impl Greeting {
    pub const ALL: [Greeting; 4] = [
        Greeting::Unavailable,
        Greeting::Busy,
        Greeting::Temporary,
        Greeting::Name,
    ];

    /// The last part of the recording's name, and of its URL.
    pub fn file(self) -> &'static str {
        match self {
            Greeting::Unavailable => "unavail",
            Greeting::Busy => "busy",
            Greeting::Temporary => "temp",
            Greeting::Name => "name",
        }
    }

    pub fn from_file(file: &str) -> Option<Greeting> {
        Greeting::ALL.into_iter().find(|g| g.file() == file)
    }
}

/// One row of the extensions list: the record, strikes and lock, counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxOverview {
    pub status: MailboxStatus,
    pub counts: MessageCounts,
}

/// What became of a deleted mailbox's recordings in Asterisk.
#[derive(Debug)]
pub enum AudioRemoval {
    /// This many recordings were deleted, and the lamp turned off.
    Removed(usize),
    /// The mailbox is gone, but its recordings could not be removed.
    Left(MessageAdminError),
}

/// Mailboxes read at once by [`Admin::mailbox_overview`].
const OVERVIEW_CONCURRENCY: usize = 32;

/// The prefix of attendant greetings' recording names.
const ATTENDANT_PREFIX: &str = "voiceportal/attendant/";

fn access_error(e: AccessError) -> AdminError {
    match e {
        AccessError::Store(e) => AdminError::Store(e),
        AccessError::Hash(e) => AdminError::Hash(e),
        AccessError::Task(e) => AdminError::Task(e),
        AccessError::Pool(e) => AdminError::Task(e.to_string()),
    }
}

impl Admin {
    /// Every mailbox with its lock and message counts, in number order. The
    /// rows are read [`OVERVIEW_CONCURRENCY`] at a time: the connection
    /// pipelines them, so a list of hundreds costs a few round trips' time, not
    /// three per mailbox.
    pub async fn mailbox_overview(&self) -> Result<Vec<MailboxOverview>, AdminError> {
        let ids = self.store.mailbox_ids().await?;
        let rows: Vec<Result<Option<MailboxOverview>, AdminError>> =
            futures_util::stream::iter(ids)
                .map(|id| self.overview_row(id))
                .buffered(OVERVIEW_CONCURRENCY)
                .collect()
                .await;
        // A mailbox deleted between the reads is simply not listed.
        rows.into_iter().filter_map(Result::transpose).collect()
    }

    async fn overview_row(&self, id: MailboxId) -> Result<Option<MailboxOverview>, AdminError> {
        let Some(record) = self.store.mailbox(&id).await? else {
            return Ok(None);
        };
        let lock = self
            .store
            .lock_status(&LockSubject::Mailbox(id.clone()))
            .await?;
        let counts = self.store.message_counts(&id).await?;
        Ok(Some(MailboxOverview {
            status: MailboxStatus {
                record,
                lock,
                max_failed_attempts: self.lockout.max_failed_attempts,
                counts,
            },
            counts,
        }))
    }

    /// Deletes a mailbox, then its recordings in Asterisk and its lamp. Asterisk
    /// being away leaves the recordings behind, which the result says (the
    /// mailbox is deleted either way).
    pub async fn delete_mailbox_and_audio(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        number: &str,
    ) -> Result<AudioRemoval, AdminError> {
        let id = MailboxId::parse(number)?;
        self.delete_mailbox(actor, id.as_str()).await?;
        // `purge` also clears the mark that keeps the number from being reused
        // while its old recordings are still in Asterisk.
        Ok(match self.purge(asterisk, id.as_str()).await {
            Ok(n) => AudioRemoval::Removed(n),
            Err(e) => AudioRemoval::Left(e),
        })
    }

    /// A mailbox's message counts.
    pub async fn message_counts(&self, id: &MailboxId) -> Result<MessageCounts, AdminError> {
        Ok(self.store.message_counts(id).await?)
    }

    /// Which of a mailbox's greetings (and name) are recorded.
    pub async fn greetings(
        &self,
        asterisk: &Asterisk,
        number: &str,
    ) -> Result<Vec<Greeting>, MessageAdminError> {
        let id = MailboxId::parse(number).map_err(AdminError::from)?;
        self.existing(&id).await?;
        let names = asterisk.recording_names().await?;
        Ok(Greeting::ALL
            .into_iter()
            .filter(|g| names.contains(&id.recording(g.file())))
            .collect())
    }

    /// The audio (WAV) of one greeting or the name.
    pub async fn greeting_audio(
        &self,
        asterisk: &Asterisk,
        number: &str,
        greeting: Greeting,
    ) -> Result<Vec<u8>, MessageAdminError> {
        let id = MailboxId::parse(number).map_err(AdminError::from)?;
        self.existing(&id).await?;
        asterisk
            .recording_audio(&id.recording(greeting.file()))
            .await
    }

    /// Removes the temporary greeting: callers hear the usual greetings again.
    pub async fn delete_temporary_greeting(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        number: &str,
    ) -> Result<(), MessageAdminError> {
        let id = MailboxId::parse(number).map_err(AdminError::from)?;
        self.existing(&id).await?;
        asterisk
            .delete_recording(&id.recording(Greeting::Temporary.file()))
            .await?;
        self.record(actor, "greeting-delete", id.as_str(), "greeting=temp")
            .await?;
        Ok(())
    }

    /// The numbers of the recorded auto-attendant greetings.
    pub async fn attendant_greetings(
        &self,
        asterisk: &Asterisk,
    ) -> Result<Vec<String>, MessageAdminError> {
        let mut greetings: Vec<String> = asterisk
            .recording_names()
            .await?
            .iter()
            .filter_map(|name| name.strip_prefix(ATTENDANT_PREFIX))
            .filter(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
            .collect();
        greetings.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
        Ok(greetings)
    }

    /// The audio of one auto-attendant greeting (digits only, as the portal
    /// records them).
    pub async fn attendant_greeting_audio(
        &self,
        asterisk: &Asterisk,
        greeting: &str,
    ) -> Result<Vec<u8>, MessageAdminError> {
        if greeting.is_empty()
            || greeting.len() > 20
            || !greeting.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MessageAdminError::BadGreeting(super::error::echo(greeting)));
        }
        asterisk
            .recording_audio(&format!("{ATTENDANT_PREFIX}{greeting}"))
            .await
    }

    /// The owner plays a message: its audio, and a new message becomes old and
    /// the lamp follows, as on the phone.
    pub async fn play_message(
        &self,
        actor: &str,
        asterisk: &Asterisk,
        number: &str,
        message: &str,
    ) -> Result<(Message, Vec<u8>), MessageAdminError> {
        let (message, audio) = self
            .download_message(actor, asterisk, number, message)
            .await?;
        if message.folder == Folder::New {
            self.store
                .set_folder(&message.mailbox, &message.id, Folder::Old)
                .await
                .map_err(AdminError::from)?;
            asterisk.mwi().refresh(&self.store, &message.mailbox).await;
        }
        Ok((message, audio))
    }

    /// The owner sets a new PIN from the web: the full policy (history and the
    /// current PIN included), then the mailbox is unlocked with strikes at 0 and
    /// must_change cleared (an owner-chosen PIN). A name still unrecorded is asked
    /// for at the next phone login. `Ok(Err(reason))` when the policy refuses it.
    pub async fn owner_set_pin(
        &self,
        actor: &str,
        access: &Access,
        number: &str,
        pin: &Pin,
    ) -> Result<Result<(), PinRejection>, AdminError> {
        let id = MailboxId::parse(number)?;
        self.existing(&id).await?;
        match access
            .change_pin_as_owner(&id, pin)
            .await
            .map_err(access_error)?
        {
            NewPin::Accepted(_) => {}
            NewPin::Refused(rejection) => return Ok(Err(rejection)),
            // The org default PIN, tried as a new PIN: it cost a strike.
            NewPin::Locked => return Ok(Err(PinRejection::DefaultPin)),
            NewPin::ChangedMeanwhile => return Err(AdminError::PinChangedMeanwhile(id)),
        }
        self.store.unlock(&LockSubject::Mailbox(id.clone())).await?;
        self.record(actor, "pin-change", id.as_str(), "pin=user unlocked")
            .await?;
        Ok(Ok(()))
    }
}
