//! Access control: checking and changing PINs and the portal passcode.
//!
//! This is the one place, besides `store`, that handles PIN hashes, so that a flow
//! never sees one (DESIGN.md). It combines the atomic lockout of `store::lockout`
//! with argon2id verification, and it answers a login for an unknown mailbox exactly
//! like a wrong PIN, after the same amount of hashing work, so callers cannot probe
//! which mailboxes exist.

pub mod accounts;
pub mod hash_pool;
pub mod sessions;
pub mod signin;
pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use self::hash_pool::{HashPool, PoolError};
use crate::config::Config;
use crate::domain::{
    HashError, Hashing, MailboxId, Password, Pin, PinHasher, PinPolicy, PinRejection, TokenKey,
};
use crate::metrics::{LockoutSubject, LoginOutcome, METRICS};
use crate::store::lockout::{LockSubject, LockoutPolicy, Reservation};
use crate::store::mailboxes::{MailboxRecord, PinOrigin, PinSwap};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("PIN hashing failed: {0}")]
    Hash(#[from] HashError),
    #[error("PIN hashing task failed: {0}")]
    Task(String),
    /// The hashing queue is full, or a job was lost.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// Which PIN a caller was let in with: what a later PIN change must still find
/// in place (a compare-and-set, see `Store::replace_pin`). It holds the hash, so
/// it is opaque: flows carry it from the login to the change and never read it.
#[derive(Clone, PartialEq, Eq)]
pub struct PinProof(Option<String>);

impl PinProof {
    /// A mailbox that has no PIN yet, set up by its owner from their own phone.
    pub fn no_pin() -> PinProof {
        PinProof(None)
    }
}

impl std::fmt::Debug for PinProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinProof(***)")
    }
}

/// Where a login comes from, as far as the org default PIN is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The owner's own phone (trusted context and the phone's own channel).
    OwnPhone,
    /// Anywhere else: another phone, or from outside.
    Elsewhere,
}

/// What one login attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The right PIN: the caller is the owner.
    Granted(Box<MailboxRecord>, PinProof),
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

/// What a new PIN the owner typed came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewPin {
    /// It passes the policy (`check_new_pin`), or it is now the PIN
    /// (`change_pin`, with the proof a later change needs).
    Accepted(PinProof),
    /// Refused, for this reason.
    Refused(PinRejection),
    /// It was the org default PIN, tried by someone who did not log in with it:
    /// a guess at that PIN, which counted as a strike and locked the mailbox.
    Locked,
    /// The PIN was changed meanwhile (another call, an administrator): nothing
    /// was written; the caller must log in again.
    ChangedMeanwhile,
}

#[derive(Clone)]
pub struct Access {
    store: Store,
    /// Every argon2 run of this instance, in arrival order (see `hash_pool`).
    pool: Arc<HashPool>,
    policy: PinPolicy,
    lockout: LockoutPolicy,
    /// Real verifications of a stored secret since start-up (dummy ones excluded):
    /// what the lockout bounds, exposed so operators and tests can watch it.
    verifications: Arc<AtomicU64>,
    /// `portal.default_pin_from_any_phone`.
    default_pin_from_any_phone: bool,
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
    fn verify(&self, hashing: &mut Hashing<'_>, hash: &str) -> bool {
        match self {
            Guess::Pin(pin) => hashing.verify(pin, hash),
            Guess::Password(password) => hashing.verify_password(password, hash),
        }
    }

    fn verify_dummy(&self, hashing: &mut Hashing<'_>) {
        match self {
            Guess::Pin(pin) => hashing.verify_dummy(pin),
            Guess::Password(password) => hashing.verify_password_dummy(password),
        }
    }
}

/// First and longest pause between two tries at a reservation while the quota
/// is busy: short enough to catch a slot soon after a verification ends (one
/// takes tens of milliseconds), long enough not to hammer Redis.
const BUSY_PAUSE_MIN: Duration = Duration::from_millis(5);
const BUSY_PAUSE_MAX: Duration = Duration::from_millis(80);

impl Access {
    pub fn new(config: &Config, store: Store) -> Result<Access, AccessError> {
        let hasher = PinHasher::new(&config.security.pepper, &config.security.hash)?;
        if !hasher.is_peppered() {
            warn!("security.pepper is empty: PIN hashes rely on their salt alone");
        }
        let pool_config = &config.security.hash_pool;
        let pool = HashPool::start(&hasher, pool_config.workers(), pool_config.queue_limit())
            .map_err(|e| AccessError::Task(format!("cannot start the PIN hashing threads: {e}")))?;
        report_capacity(&hasher, &pool, pool_config.queue_limit(), config);
        Ok(Access {
            store,
            pool: Arc::new(pool),
            policy: config.pin_policy.clone(),
            lockout: config.lockout.clone(),
            verifications: Arc::new(AtomicU64::new(0)),
            default_pin_from_any_phone: config.portal.default_pin_from_any_phone,
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
    /// locks" would tell a caller which mailboxes exist. Its record expires
    /// (`lockout.unknown_mailbox_ttl`), so guesses cannot fill Redis.
    ///
    /// The org default PIN opens a mailbox only from the owner's own phone
    /// (unless `portal.default_pin_from_any_phone`): everyone in the organisation
    /// knows it, so elsewhere it is a wrong PIN, with its strike.
    pub async fn login(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
        origin: Origin,
    ) -> Result<Login, AccessError> {
        let found = self.store.mailbox_with_pin(mailbox).await?;
        let (record, hash, subject) = match found {
            Some((record, hash)) => {
                let hash = hash.filter(|_| record.pin_origin != PinOrigin::None);
                (Some(record), hash, LockSubject::Mailbox(mailbox.clone()))
            }
            None => (None, None, LockSubject::UnknownMailbox(mailbox.clone())),
        };
        let allowed = match &record {
            Some(record) if record.pin_origin == PinOrigin::Default => {
                origin == Origin::OwnPhone || self.default_pin_from_any_phone
            }
            _ => true,
        };
        let verdict = self
            .check(&subject, Guess::Pin(pin.clone()), hash.clone(), allowed)
            .await?;
        let login = match (verdict, record, hash) {
            (Verdict::Right, Some(record), Some(hash)) => {
                Login::Granted(Box::new(record), PinProof(Some(hash)))
            }
            (Verdict::Locked, _, _) => Login::Locked,
            _ => Login::Denied,
        };
        METRICS.login(match login {
            Login::Granted(..) => LoginOutcome::Granted,
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
            true,
        )
        .await
    }

    /// Reserves the attempt (waiting up to `lockout.busy_wait` while other calls
    /// hold the rest of the quota), verifies in the hashing queue (against a
    /// dummy when there is no stored hash, which is never right) and records the
    /// result. When `allowed` is false the secret is verified all the same (same
    /// work, same timing) but a right one counts as wrong.
    ///
    /// The reservation is held while the job waits in the queue; the queue's
    /// bound keeps that wait far below `lockout.attempt_ttl` (see
    /// `report_capacity`). A job refused by a full queue never ran: its attempt
    /// is cancelled, not counted.
    async fn check(
        &self,
        subject: &LockSubject,
        guess: Guess,
        hash: Option<String>,
        allowed: bool,
    ) -> Result<Verdict, AccessError> {
        let token = match self.reserve(subject).await? {
            Reservation::Locked => return Ok(Verdict::Locked),
            Reservation::Busy => {
                // Still busy after the wait: a wrong PIN, no strike.
                self.hashing(move |h| guess.verify_dummy(h)).await?;
                return Ok(Verdict::Wrong);
            }
            Reservation::Granted(token) => token,
        };
        let verified = match hash {
            Some(hash) => {
                self.verifications.fetch_add(1, Ordering::Relaxed);
                self.hashing(move |h| guess.verify(h, &hash))
                    .await
                    .map(|right| right && allowed)
            }
            None => self
                .hashing(move |h| guess.verify_dummy(h))
                .await
                .map(|()| false),
        };
        let right = match verified {
            Ok(right) => right,
            Err(AccessError::Pool(PoolError::Full(waiting))) => {
                self.store
                    .cancel_attempt(subject, token, &self.lockout)
                    .await?;
                return Err(PoolError::Full(waiting).into());
            }
            // A lost job may have verified: its reservation expires as a strike.
            Err(e) => return Err(e),
        };
        let result = self
            .store
            .finish_attempt(subject, token, right, &self.lockout)
            .await?;
        if result.locked && !right {
            // The reservation was granted, so the subject was not locked when
            // this attempt began: it ended locked with this failure.
            METRICS.lockout(match subject {
                LockSubject::Mailbox(_) | LockSubject::UnknownMailbox(_) => LockoutSubject::Mailbox,
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

    /// One reservation for `subject`, retried with growing pauses while the quota
    /// is busy, for at most `lockout.busy_wait`: simultaneous logins to one shared
    /// mailbox then take turns instead of being refused. The lock stays atomic:
    /// every try is one `reserve_attempt` script.
    async fn reserve(&self, subject: &LockSubject) -> Result<Reservation, AccessError> {
        let deadline = Instant::now() + self.lockout.busy_wait;
        let mut pause = BUSY_PAUSE_MIN;
        loop {
            let reservation = self.store.reserve_attempt(subject, &self.lockout).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(reservation, Reservation::Busy) || left.is_zero() {
                return Ok(reservation);
            }
            // Jitter, so that waiters on several instances do not retry in step.
            let jittered = pause.mul_f64(0.5 + rand::random::<f64>());
            tokio::time::sleep(jittered.min(left)).await;
            pause = (pause * 2).min(BUSY_PAUSE_MAX);
        }
    }

    /// The full policy check of a PIN the owner wants, without storing it: the
    /// reason is spoken before the caller is asked to confirm.
    ///
    /// The org default PIN is refused without saying so (the caller hears "that
    /// PIN cannot be used"), and, unless the mailbox is on the default PIN (its
    /// owner logged in with it and knows it), it counts as a strike: otherwise
    /// any logged-in user could test guesses of the default PIN for free.
    pub async fn check_new_pin(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
    ) -> Result<NewPin, AccessError> {
        let default_hash = self.store.default_pin_hash().await?;
        let history = self.store.pin_history(mailbox).await?;
        let Some((record, current)) = self.store.mailbox_with_pin(mailbox).await? else {
            return Ok(NewPin::ChangedMeanwhile);
        };
        let (candidate, id, policy) = (pin.clone(), mailbox.clone(), self.policy.clone());
        let checked = self
            .hashing(move |hashing| {
                policy.check(&candidate, &id, hashing, default_hash.as_deref(), &history)?;
                // The PIN being replaced (a default or temporary one never enters
                // the history) must not come back as the "new" one.
                match current {
                    Some(current) if hashing.verify(&candidate, &current) => {
                        Err(PinRejection::RecentlyUsed)
                    }
                    _ => Ok(()),
                }
            })
            .await?;
        match checked {
            Ok(()) => Ok(NewPin::Accepted(PinProof(None))),
            Err(PinRejection::DefaultPin) if record.pin_origin != PinOrigin::Default => {
                let subject = LockSubject::Mailbox(mailbox.clone());
                let result = self.store.add_strike(&subject, &self.lockout).await?;
                warn!(
                    strikes = result.strikes,
                    locked = result.locked,
                    "a new PIN equal to the org default PIN was tried by a caller not logged in with it"
                );
                if result.locked {
                    Ok(NewPin::Locked)
                } else {
                    Ok(NewPin::Refused(PinRejection::DefaultPin))
                }
            }
            Err(rejection) => Ok(NewPin::Refused(rejection)),
        }
    }

    /// Sets the owner's own PIN after the full policy check (rules, the org default
    /// PIN, the last PINs), only if the PIN is still the one `proof` was given for.
    pub async fn change_pin(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
        proof: &PinProof,
    ) -> Result<NewPin, AccessError> {
        match self.check_new_pin(mailbox, pin).await? {
            NewPin::Accepted(_) => {}
            other => return Ok(other),
        }
        let pin = pin.clone();
        let hash = self.hashing(move |h| h.hash(&pin)).await??;
        let swap = self
            .store
            .replace_pin(mailbox, proof.0.as_deref(), &hash, self.policy.history)
            .await?;
        Ok(match swap {
            PinSwap::Replaced => NewPin::Accepted(PinProof(Some(hash))),
            PinSwap::ChangedMeanwhile | PinSwap::NoMailbox => NewPin::ChangedMeanwhile,
        })
    }

    /// A new PIN chosen by an owner who proved who they are another way (the web
    /// portal's sign-in by phone): it replaces the PIN stored now, still as a
    /// compare-and-set, so a change made meanwhile is never overwritten silently.
    pub async fn change_pin_as_owner(
        &self,
        mailbox: &MailboxId,
        pin: &Pin,
    ) -> Result<NewPin, AccessError> {
        let current = self.store.pin_hash(mailbox).await?;
        self.change_pin(mailbox, pin, &PinProof(current)).await
    }

    async fn verify_dummy(&self, pin: &Pin) -> Result<(), AccessError> {
        let pin = pin.clone();
        self.hashing(move |h| h.verify_dummy(&pin)).await
    }

    /// Runs argon2 work on the hashing threads, after every job queued before it.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Hashing<'_>) -> T + Send + 'static,
    ) -> Result<T, AccessError> {
        Ok(self.pool.run(work).await?)
    }
}

/// Measures one verification at the configured cost and says what it means for
/// logins: the rate the workers sustain and how long a full queue takes to
/// drain. An attempt is reserved while it waits in the queue, so a drain time
/// near `lockout.attempt_ttl` would turn waits into strikes: warned about.
fn report_capacity(hasher: &PinHasher, pool: &HashPool, queue_limit: usize, config: &Config) {
    let pin = Pin::parse("000000").ok();
    let started = Instant::now();
    if let Some(pin) = &pin {
        hasher.verify_dummy(pin);
    }
    let hash_time = started.elapsed();
    let workers = pool.workers();
    let per_second = workers as f64 / hash_time.as_secs_f64().max(1e-6);
    let drain = hash_time.mul_f64(queue_limit as f64 / workers as f64);
    info!(
        hash_ms = hash_time.as_secs_f64() * 1000.0,
        workers,
        logins_per_second = per_second.round(),
        full_queue_drain_s = drain.as_secs_f64(),
        "PIN hashing ready"
    );
    if drain * 2 > config.lockout.attempt_ttl {
        warn!(
            queue_limit,
            full_queue_drain_s = drain.as_secs_f64(),
            attempt_ttl_s = config.lockout.attempt_ttl.as_secs_f64(),
            "a full PIN hashing queue takes more than half of lockout.attempt_ttl to drain: \
             lower security.hash_pool.queue_limit or the hash cost, or raise attempt_ttl"
        );
    }
}
