//! Access control: checking and changing PINs and the portal passcode.
//!
//! This is the one place, besides `store`, that handles PIN hashes, so that a flow
//! never sees one (DESIGN.md). It combines the atomic lockout of `store::lockout`
//! with argon2id verification, and it answers a login for an unknown mailbox exactly
//! like a wrong PIN, after the same amount of hashing work, so callers cannot probe
//! which mailboxes exist.

pub mod accounts;
pub mod sessions;
pub mod signin;
pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;
use tracing::warn;

use crate::config::Config;
use crate::domain::{
    HashError, MailboxId, Password, Pin, PinHasher, PinPolicy, PinRejection, TokenKey,
};
use crate::metrics::{LockoutSubject, LoginOutcome, METRICS};
use crate::store::lockout::{LockSubject, LockoutPolicy, Reservation};
use crate::store::mailboxes::{MailboxRecord, PinOrigin};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("PIN hashing failed: {0}")]
    Hash(#[from] HashError),
    #[error("PIN hashing task failed: {0}")]
    Task(String),
}

/// What one login attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The right PIN: the caller is the owner.
    Granted(Box<MailboxRecord>),
    /// Wrong PIN, unknown mailbox, or no PIN set: all look the same to the caller.
    Denied,
    /// Locked, either before this attempt (the PIN was not checked) or by it.
    Locked,
}

/// The outcome of one attempt at a secret, whoever it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Right,
    Wrong,
    /// Locked before (the secret was not checked) or by this attempt.
    Locked,
}

#[derive(Clone)]
pub struct Access {
    store: Store,
    hasher: PinHasher,
    policy: PinPolicy,
    lockout: LockoutPolicy,
    /// Real verifications of a stored secret since start-up (dummy ones excluded):
    /// what the lockout bounds, exposed so operators and tests can watch it.
    verifications: Arc<AtomicU64>,
    /// Bounds concurrent argon2 runs (see `hashing`).
    hash_slots: Arc<Semaphore>,
    /// Keys the digests of web session ids and API tokens (see `domain::token`).
    token_key: TokenKey,
}

/// What is being tried against a stored hash.
#[derive(Clone)]
enum Guess {
    Pin(Pin),
    Password(Password),
}

impl Guess {
    fn verify(&self, hasher: &PinHasher, hash: &str) -> bool {
        match self {
            Guess::Pin(pin) => hasher.verify(pin, hash),
            Guess::Password(password) => hasher.verify_password(password, hash),
        }
    }

    fn verify_dummy(&self, hasher: &PinHasher) {
        match self {
            Guess::Pin(pin) => hasher.verify_dummy(pin),
            Guess::Password(password) => hasher.verify_password_dummy(password),
        }
    }
}

impl Access {
    pub fn new(config: &Config, store: Store) -> Result<Access, AccessError> {
        let hasher = PinHasher::new(&config.security.pepper, &config.security.hash)?;
        if !hasher.is_peppered() {
            warn!("security.pepper is empty: PIN hashes rely on their salt alone");
        }
        Ok(Access {
            store,
            hasher,
            policy: config.pin_policy.clone(),
            lockout: config.lockout.clone(),
            verifications: Arc::new(AtomicU64::new(0)),
            hash_slots: Arc::new(Semaphore::new(hash_slots())),
            token_key: TokenKey::derive(&config.security.pepper),
        })
    }

    pub fn policy(&self) -> &PinPolicy {
        &self.policy
    }

    /// How many stored PINs and passcodes this instance has verified.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// One attempt at a mailbox's PIN. Reserves the attempt first (atomic across
    /// calls and instances), so a locked mailbox never has its PIN checked.
    ///
    /// A well-formed number with no mailbox (or no PIN) goes through the same
    /// strikes and lock as a real one, against a dummy hash: otherwise "it never
    /// locks" would tell a caller which mailboxes exist.
    pub async fn login(&self, mailbox: &MailboxId, pin: &Pin) -> Result<Login, AccessError> {
        let record = self.store.mailbox(mailbox).await?;
        let hash = match &record {
            Some(record) if record.pin_origin != PinOrigin::None => {
                self.store.pin_hash(mailbox).await?
            }
            _ => None,
        };
        let subject = LockSubject::Mailbox(mailbox.clone());
        let verdict = self
            .check(&subject, Guess::Pin(pin.clone()), hash.clone())
            .await?;
        let login = match (verdict, record, hash) {
            (Verdict::Right, Some(record), Some(_)) => Login::Granted(Box::new(record)),
            (Verdict::Locked, _, _) => Login::Locked,
            _ => Login::Denied,
        };
        METRICS.login(match login {
            Login::Granted(_) => LoginOutcome::Granted,
            Login::Denied => LoginOutcome::Denied,
            Login::Locked => LoginOutcome::Locked,
        });
        Ok(login)
    }

    /// An attempt at a mailbox number that cannot exist (malformed): denied after
    /// the same hashing work as a real attempt.
    pub async fn deny(&self, pin: &Pin) -> Result<Login, AccessError> {
        self.verify_dummy(pin).await?;
        Ok(Login::Denied)
    }

    /// One attempt at the portal's admin passcode, with its own strikes and lock.
    /// No passcode configured: always denied, after the same work.
    pub async fn admin_login(&self, passcode: &Pin) -> Result<Verdict, AccessError> {
        let hash = self.store.portal_passcode_hash().await?;
        self.check(
            &LockSubject::PortalPasscode,
            Guess::Pin(passcode.clone()),
            hash,
        )
        .await
    }

    /// Waits for a hashing slot, then reserves the attempt, verifies (against a
    /// dummy when there is no stored hash, which is never right) and records the
    /// result. The slot comes first so that an attempt never sits reserved in a
    /// queue long enough to expire into a strike.
    async fn check(
        &self,
        subject: &LockSubject,
        guess: Guess,
        hash: Option<String>,
    ) -> Result<Verdict, AccessError> {
        let _slot = self.hash_slot().await?;
        let token = match self.store.reserve_attempt(subject, &self.lockout).await? {
            Reservation::Locked => return Ok(Verdict::Locked),
            Reservation::Busy => {
                // Other calls hold the rest of the quota: a wrong PIN, no strike.
                self.blocking(move |this| guess.verify_dummy(&this.hasher))
                    .await?;
                return Ok(Verdict::Wrong);
            }
            Reservation::Granted(token) => token,
        };
        let right = match hash {
            Some(hash) => {
                self.verifications.fetch_add(1, Ordering::Relaxed);
                self.blocking(move |this| guess.verify(&this.hasher, &hash))
                    .await?
            }
            None => {
                self.blocking(move |this| guess.verify_dummy(&this.hasher))
                    .await?;
                false
            }
        };
        let result = self
            .store
            .finish_attempt(subject, token, right, &self.lockout)
            .await?;
        if result.locked && !right {
            // The reservation was granted, so the subject was not locked when
            // this attempt began: it ended locked with this failure.
            METRICS.lockout(match subject {
                LockSubject::Mailbox(_) => LockoutSubject::Mailbox,
                LockSubject::PortalPasscode => LockoutSubject::PortalPasscode,
                LockSubject::AdminAccount(_) => LockoutSubject::Administrator,
            });
        }
        Ok(if result.locked {
            Verdict::Locked
        } else if right {
            Verdict::Right
        } else {
            Verdict::Wrong
        })
    }

    /// The full policy check of a PIN the owner wants, without storing it: the
    /// reason is spoken before the caller is asked to confirm.
    pub async fn check_new_pin(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
    ) -> Result<Result<(), PinRejection>, AccessError> {
        let default_hash = self.store.default_pin_hash().await?;
        let history = self.store.pin_history(mailbox).await?;
        // The PIN being replaced (a default or temporary one never enters the
        // history) must not come back as the "new" one.
        let current = self.store.pin_hash(mailbox).await?;
        let (pin, mailbox) = (pin.clone(), mailbox.clone());
        self.hashing(move |this| {
            this.policy.check(
                &pin,
                &mailbox,
                &this.hasher,
                default_hash.as_deref(),
                &history,
            )?;
            match current {
                Some(current) if this.hasher.verify(&pin, &current) => {
                    Err(PinRejection::RecentlyUsed)
                }
                _ => Ok(()),
            }
        })
        .await
    }

    /// Sets the owner's own PIN after the full policy check (rules, the org default
    /// PIN, the last PINs). `Err(rejection)` says why it was refused.
    pub async fn change_pin(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
    ) -> Result<Result<(), PinRejection>, AccessError> {
        if let Err(rejection) = self.check_new_pin(mailbox, pin).await? {
            return Ok(Err(rejection));
        }
        let pin = pin.clone();
        let hash = self.hashing(move |this| this.hasher.hash(&pin)).await??;
        self.store
            .set_pin(mailbox, &hash, PinOrigin::User, self.policy.history)
            .await?;
        Ok(Ok(()))
    }

    async fn verify_dummy(&self, pin: &Pin) -> Result<(), AccessError> {
        let pin = pin.clone();
        self.hashing(move |this| this.hasher.verify_dummy(&pin))
            .await
    }

    /// Runs argon2 work off the async threads, at most `hash_slots` at a time: each
    /// run holds `security.hash.memory_kib` of memory, so a burst of logins must
    /// queue rather than allocate without bound.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Access) -> T + Send + 'static,
    ) -> Result<T, AccessError> {
        let _slot = self.hash_slot().await?;
        self.blocking(work).await
    }

    async fn hash_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AccessError> {
        self.hash_slots
            .acquire()
            .await
            .map_err(|e| AccessError::Task(e.to_string()))
    }

    /// Argon2 work on the blocking pool; the caller holds a hashing slot.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Access) -> T + Send + 'static,
    ) -> Result<T, AccessError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| AccessError::Task(e.to_string()))
    }
}

/// One argon2 run per core: more would only queue inside the blocking pool while
/// holding their memory.
fn hash_slots() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
