//! Provisioning: create, update, delete, list and inspect mailboxes.

use super::{Admin, AdminError, MailboxFields};
use crate::domain::MailboxId;
use crate::store::lockout::{LockStatus, LockSubject};
use crate::store::mailboxes::{Created, MailboxRecord, PinOrigin};
use crate::store::messages::MessageCounts;

/// What `admin status` (and each line of `admin mailbox list`) shows about one
/// mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    pub record: MailboxRecord,
    pub lock: LockStatus,
    /// The lockout policy's limit, so strikes can be read as "2 of 4".
    pub max_failed_attempts: u32,
    pub counts: MessageCounts,
}

impl Admin {
    /// Creates a mailbox. If an org default PIN is configured, the mailbox starts
    /// with it (origin `default`, must change at first login); otherwise with no
    /// PIN, and the owner sets one up from their own phone. Setting or clearing the
    /// default PIN later does not touch mailboxes created before.
    pub async fn create_mailbox(
        &self,
        actor: &str,
        number: &str,
        fields: &MailboxFields,
    ) -> Result<MailboxRecord, AdminError> {
        let id = MailboxId::parse(number)?;
        if id == self.portal {
            return Err(AdminError::ReservedNumber(id));
        }
        let mut record = MailboxRecord::new(id.clone());
        record.language = self.default_language.code().to_owned();
        fields.apply(&mut record)?;
        let default_hash = self.store.default_pin_hash().await?;
        if default_hash.is_some() {
            record.pin_origin = PinOrigin::Default;
            record.must_change = true;
        }
        match self
            .store
            .create_mailbox(&record, default_hash.as_deref())
            .await?
        {
            Created::Created => {}
            Created::Exists => return Err(AdminError::MailboxExists(id)),
            Created::AudioPending => return Err(AdminError::AudioPending(id)),
        }
        let detail = format!(
            "pin={} language={} timezone={}",
            record.pin_origin, record.language, record.timezone
        );
        self.record(actor, "mailbox-create", id.as_str(), &detail)
            .await?;
        Ok(record)
    }

    /// Changes the given fields only.
    ///
    /// Caveat: `Store::update_mailbox` rewrites the whole record, PIN origin and
    /// must_change included, from what was read here; a PIN change landing between
    /// the read and the write would have its origin undone. It should write the
    /// descriptive fields only (a store fix, outside this module).
    pub async fn update_mailbox(
        &self,
        actor: &str,
        number: &str,
        fields: &MailboxFields,
    ) -> Result<MailboxRecord, AdminError> {
        let id = MailboxId::parse(number)?;
        let mut record = self.existing(&id).await?;
        let given = fields.apply(&mut record)?;
        if given.is_empty() {
            return Err(AdminError::NothingToUpdate);
        }
        if !self.store.update_mailbox(&record).await? {
            return Err(AdminError::UnknownMailbox(id));
        }
        let detail = format!("fields={}", given.join(","));
        self.record(actor, "mailbox-update", id.as_str(), &detail)
            .await?;
        Ok(record)
    }

    /// Deletes a mailbox with its PIN history, strikes and message index. Its
    /// recordings in Asterisk go next ([`Admin::purge`]); until they are gone
    /// no mailbox of the same number can be created.
    pub async fn delete_mailbox(&self, actor: &str, number: &str) -> Result<(), AdminError> {
        let id = MailboxId::parse(number)?;
        self.existing(&id).await?;
        if !self.store.delete_mailbox(&id).await? {
            return Err(AdminError::UnknownMailbox(id));
        }
        self.record(actor, "mailbox-delete", id.as_str(), "").await
    }

    /// Every mailbox with its lock and message counts, in number order.
    pub async fn list_mailboxes_with_counts(&self) -> Result<Vec<MailboxStatus>, AdminError> {
        let mut listing = Vec::new();
        for id in self.store.mailbox_ids().await? {
            // One deleted between the two reads is simply not listed.
            match self.status_of(&id).await {
                Ok(status) => listing.push(status),
                Err(AdminError::UnknownMailbox(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(listing)
    }

    /// Every mailbox, in number order (shorter numbers first).
    pub async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>, AdminError> {
        let mut records = Vec::new();
        for id in self.store.mailbox_ids().await? {
            // One deleted between the two reads is simply not listed.
            if let Some(record) = self.store.mailbox(&id).await? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The record, strikes and lock of one mailbox.
    pub async fn status(&self, number: &str) -> Result<MailboxStatus, AdminError> {
        let id = MailboxId::parse(number)?;
        self.status_of(&id).await
    }

    pub(super) async fn status_of(&self, id: &MailboxId) -> Result<MailboxStatus, AdminError> {
        let record = self.existing(id).await?;
        let lock = self
            .store
            .lock_status(&LockSubject::Mailbox(id.clone()))
            .await?;
        let counts = self.store.message_counts(id).await?;
        Ok(MailboxStatus {
            record,
            lock,
            max_failed_attempts: self.lockout.max_failed_attempts,
            counts,
        })
    }

    pub(super) async fn existing(&self, id: &MailboxId) -> Result<MailboxRecord, AdminError> {
        self.store
            .mailbox(id)
            .await?
            .ok_or_else(|| AdminError::UnknownMailbox(id.clone()))
    }
}
