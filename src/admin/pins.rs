//! PIN administration: resets, temporary PINs, unlocking, the org default PIN and
//! the portal passcode.
//!
//! A PIN given by an administrator is checked against the policy's pure rules
//! (length, repeated digit, runs, the mailbox number) even though the owner must
//! change it at the next login: a guessable temporary PIN is an open door until
//! then. The PIN history is not applied (an admin cannot know it, and temporary
//! PINs never enter it).

use super::{Admin, AdminError, MailboxStatus};
use crate::domain::{HashError, MailboxId, Pin, PinHasher, PinPolicy, PinRejection};
use crate::store::lockout::{LockStatus, LockSubject};
use crate::store::mailboxes::PinOrigin;

/// What `admin status` shows about the portal and the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalStatus {
    /// The portal's own number (`portal.number`).
    pub number: MailboxId,
    pub passcode_set: bool,
    pub default_pin_set: bool,
    /// Strikes and lock of the portal passcode.
    pub lock: LockStatus,
    pub max_failed_attempts: u32,
}

impl Admin {
    /// Unlocks the mailbox (strikes to 0) and gives it a PIN that must be changed
    /// at the next login: `temporary` if given, else the org default PIN. With
    /// neither, [`AdminError::NoDefaultPin`] and nothing changes.
    ///
    /// The PIN is written before the unlock: interrupted in between, the mailbox
    /// stays locked with the new PIN (run it again), rather than unlocked with the
    /// old one.
    pub async fn reset_pin(
        &self,
        actor: &str,
        number: &str,
        temporary: Option<Pin>,
    ) -> Result<MailboxStatus, AdminError> {
        let id = MailboxId::parse(number)?;
        self.existing(&id).await?;
        let (hash, origin) = match temporary {
            Some(pin) => (self.temporary_hash(&id, pin).await?, PinOrigin::Temporary),
            None => match self.store.default_pin_hash().await? {
                Some(hash) => (hash, PinOrigin::Default),
                None => return Err(AdminError::NoDefaultPin),
            },
        };
        self.store_pin(&id, &hash, origin).await?;
        self.store.unlock(&LockSubject::Mailbox(id.clone())).await?;
        let detail = format!("pin={origin} unlocked");
        self.record(actor, "reset-pin", id.as_str(), &detail)
            .await?;
        self.status_of(&id).await
    }

    /// Gives the mailbox a temporary PIN (must change at the next login) without
    /// touching its strikes or lock; the returned status says if it is locked.
    pub async fn set_temp_pin(
        &self,
        actor: &str,
        number: &str,
        pin: Pin,
    ) -> Result<MailboxStatus, AdminError> {
        let id = MailboxId::parse(number)?;
        self.existing(&id).await?;
        let hash = self.temporary_hash(&id, pin).await?;
        self.store_pin(&id, &hash, PinOrigin::Temporary).await?;
        self.record(actor, "set-temp-pin", id.as_str(), "pin=temporary")
            .await?;
        self.status_of(&id).await
    }

    /// Clears strikes and lock only; the PIN stays as it is.
    pub async fn unlock(&self, actor: &str, number: &str) -> Result<MailboxStatus, AdminError> {
        let id = MailboxId::parse(number)?;
        let before = self.status_of(&id).await?;
        self.store.unlock(&LockSubject::Mailbox(id.clone())).await?;
        let detail = format!(
            "was_locked={} strikes={}",
            before.lock.locked, before.lock.strikes
        );
        self.record(actor, "unlock", id.as_str(), &detail).await?;
        self.status_of(&id).await
    }

    /// Sets (`Some`) or clears (`None`) the org default PIN. Existing mailboxes keep
    /// the PIN they have; only mailboxes created (or reset without a temporary PIN)
    /// afterwards get the new one.
    pub async fn set_default_pin(&self, actor: &str, pin: Option<Pin>) -> Result<(), AdminError> {
        let Some(pin) = pin else {
            self.store.set_default_pin_hash(None).await?;
            return self.record(actor, "default-pin-clear", "org", "").await;
        };
        // No mailbox to compare with: every other pure rule applies.
        let rules = PinPolicy {
            forbid_mailbox_number: false,
            ..self.policy.clone()
        };
        rules.check_rules(&pin, &self.portal)?;
        let passcode = self.store.portal_passcode_hash().await?;
        let hash = self
            .hashing(move |hasher| hash_if_different(hasher, &pin, passcode.as_deref()))
            .await??
            .ok_or(AdminError::PasscodeIsDefaultPin)?;
        self.store.set_default_pin_hash(Some(&hash)).await?;
        self.record(actor, "default-pin-set", "org", "").await
    }

    /// Sets the portal's admin passcode and unlocks it (its own strikes and lock).
    /// The pure rules apply with the portal's number in the mailbox role, and the
    /// passcode must differ from the org default PIN.
    pub async fn set_portal_passcode(&self, actor: &str, passcode: Pin) -> Result<(), AdminError> {
        self.policy.check_rules(&passcode, &self.portal)?;
        let default_hash = self.store.default_pin_hash().await?;
        let hash = self
            .hashing(move |hasher| hash_if_different(hasher, &passcode, default_hash.as_deref()))
            .await??
            .ok_or(AdminError::PasscodeIsDefaultPin)?;
        self.store.set_portal_passcode_hash(&hash).await?;
        self.record(actor, "portal-passcode-set", "portal", "unlocked")
            .await
    }

    /// Whether a passcode and a default PIN are set, and the passcode's lock.
    pub async fn portal_status(&self) -> Result<PortalStatus, AdminError> {
        let passcode_set = self.store.portal_passcode_hash().await?.is_some();
        let default_pin_set = self.store.default_pin_hash().await?.is_some();
        let lock = self.store.lock_status(&LockSubject::PortalPasscode).await?;
        Ok(PortalStatus {
            number: self.portal.clone(),
            passcode_set,
            default_pin_set,
            lock,
            max_failed_attempts: self.lockout.max_failed_attempts,
        })
    }

    /// Checks a temporary PIN for `id` and hashes it. It must differ from the org
    /// default PIN when the policy forbids that PIN: a "temporary" PIN everyone
    /// knows would defeat the reset.
    async fn temporary_hash(&self, id: &MailboxId, pin: Pin) -> Result<String, AdminError> {
        self.policy.check_rules(&pin, id)?;
        let default_hash = if self.policy.forbid_default_pin {
            self.store.default_pin_hash().await?
        } else {
            None
        };
        self.hashing(move |hasher| hash_if_different(hasher, &pin, default_hash.as_deref()))
            .await??
            .ok_or(AdminError::PinRejected(PinRejection::DefaultPin))
    }

    async fn store_pin(
        &self,
        id: &MailboxId,
        hash: &str,
        origin: PinOrigin,
    ) -> Result<(), AdminError> {
        if self
            .store
            .set_pin(id, hash, origin, self.policy.history)
            .await?
        {
            Ok(())
        } else {
            Err(AdminError::UnknownMailbox(id.clone()))
        }
    }
}

/// A fresh hash of `pin`, or `None` if `pin` matches `other`, the hash of a
/// secret it must differ from (one verification, then one hash: both on the
/// blocking pool, which is where callers run this).
fn hash_if_different(
    hasher: &PinHasher,
    pin: &Pin,
    other: Option<&str>,
) -> Result<Option<String>, HashError> {
    if other.is_some_and(|hash| hasher.verify(pin, hash)) {
        return Ok(None);
    }
    hasher.hash(pin).map(Some)
}
