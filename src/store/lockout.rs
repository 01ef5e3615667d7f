//! Strikes and locks: how many wrong PINs a mailbox (or the portal's admin
//! passcode) has seen, and whether it is locked.
//!
//! # The invariant
//!
//! **Between two resets (a successful login or an admin unlock), no more than
//! `max_failed_attempts` PIN verifications are granted for one subject**, however
//! many calls guess at once and however many service instances share the Redis.
//!
//! A plain "read strikes, verify, write strikes" would let 20 simultaneous calls all
//! read "0 strikes" and all verify. So a verification must first be *reserved*:
//! [`Store::reserve_attempt`] grants an attempt only while
//! `strikes + attempts in flight < max_failed_attempts`, and records it as in
//! flight; [`Store::finish_attempt`] turns it into a strike or a reset. Both are one
//! Lua script each, so the check and the update are atomic across connections and
//! instances. At every moment `strikes + in flight <= max_failed_attempts`, so the
//! number of verifications that can still fail before the lock is bounded by what
//! is left of the quota.
//!
//! A success resets the strikes but leaves other attempts in flight in place, so
//! they keep holding their share of the quota in the new period. An admin
//! [`Store::unlock`] is the one exception: it voids the attempts in flight (a
//! clean slate is what the administrator asked for), so a verification already
//! under way when the administrator unlocks can come on top of the new quota. That
//! needs an administrator's action and is bounded by `max_failed_attempts`; such an
//! attempt's failure still counts as a strike in the new period (see
//! [`Store::finish_attempt`]).
//!
//! # Crashes and expiry
//!
//! A reservation carries an expiry (`attempt_ttl`). If the instance dies between
//! reserving and finishing, the attempt would hold a slot of the quota forever; so
//! once expired it is removed **and counted as one strike**: the PIN may well have
//! been verified before the crash, and counting it keeps the invariant true. An
//! expired attempt therefore never locks a subject by itself beyond what a failed
//! attempt would have done.
//!
//! Finishing late is safe: a failure whose reservation has expired is not counted
//! again (the expiry counted it); a success still resets the strikes (the right PIN
//! was given) but never lifts a lock.
//!
//! # Time
//!
//! Every script reads the clock with Redis `TIME`, so instances with skewed clocks
//! agree on expiries. Times are milliseconds since the Unix epoch.
//!
//! # Layout
//!
//! One hash per subject, `vp:{1001}:lock` or `vp:{portal}:lock`:
//!
//! | field | value |
//! |---|---|
//! | `strikes` | consecutive failures since the last reset |
//! | `locked` | `1` when locked (absent otherwise) |
//! | `locked_until` | end of a timed lock, ms (absent: until an admin unlocks) |
//! | `limit`, `lock_ms` | the policy of the last reservation, so that expiries judged by a script without a policy (`lock_status`) lock the same way |
//! | `a:<token>` | one attempt in flight, valued with its expiry in ms |
//!
//! A subject with no strikes, no lock and nothing in flight has no key at all.

use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::Script;

use super::keys::mailbox_key;
use super::{Store, StoreError};
pub use crate::domain::LockoutPolicy;
use crate::domain::{AdminName, MailboxId};

/// Whose strikes: a mailbox's PIN, or the portal's admin passcode (which has its own
/// strikes and lock, SPEC "Portal login" 5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockSubject {
    Mailbox(MailboxId),
    /// A well-formed number that is not a mailbox: the same record as a mailbox
    /// of that number would have (so guesses at it look exactly the same), but
    /// expiring `unknown_mailbox_ttl` after the last attempt, so that guessing
    /// many numbers cannot grow Redis without bound.
    UnknownMailbox(MailboxId),
    PortalPasscode,
    /// A web administrator account: failed sign-ins lock it like a PIN.
    AdminAccount(AdminName),
}

impl LockSubject {
    /// The lock hash: `vp:{1001}:lock`, or `vp:{portal}:lock`. A mailbox number is
    /// digits only, so it can never collide with `portal`.
    /// How long the record lives after an attempt, for the scripts (0: forever).
    fn expire_ms(&self, policy: &LockoutPolicy) -> u64 {
        match self {
            LockSubject::UnknownMailbox(_) => policy.unknown_ttl_ms(),
            LockSubject::Mailbox(_)
            | LockSubject::PortalPasscode
            | LockSubject::AdminAccount(_) => 0,
        }
    }

    pub fn key(&self) -> String {
        match self {
            LockSubject::Mailbox(id) | LockSubject::UnknownMailbox(id) => {
                mailbox_key(id.as_str(), "lock")
            }
            LockSubject::PortalPasscode => mailbox_key("portal", "lock"),
            LockSubject::AdminAccount(name) => super::keys::admin_lock(name),
        }
    }
}

impl fmt::Display for LockSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockSubject::Mailbox(id) | LockSubject::UnknownMailbox(id) => {
                write!(f, "mailbox {id}")
            }
            LockSubject::PortalPasscode => f.write_str("portal passcode"),
            LockSubject::AdminAccount(name) => write!(f, "administrator {name}"),
        }
    }
}

/// Proof that one verification was granted; hand it back to
/// [`Store::finish_attempt`]. Not `Clone`, and consumed by `finish_attempt`, so one
/// attempt cannot be finished twice. Dropping it unfinished is allowed: the attempt
/// expires and counts as a failure (that is also what happens if `finish_attempt`
/// itself fails).
pub struct AttemptToken {
    id: String,
    expires_at_ms: i64,
}

impl AttemptToken {
    /// When the reservation lapses and counts as a failure.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.expires_at_ms)
    }
}

/// The id is a capability to finish an attempt: never printed.
impl fmt::Debug for AttemptToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttemptToken(***)")
    }
}

/// The answer to "may I verify this PIN?".
#[derive(Debug)]
pub enum Reservation {
    /// Verify the PIN, then call [`Store::finish_attempt`] with the outcome.
    Granted(AttemptToken),
    /// The subject is locked: do not verify the PIN; play the locked message. No
    /// strike is added (SPEC).
    Locked,
    /// Not locked, but the rest of the quota is held by attempts in flight in other
    /// calls (simultaneous logins or guesses). Do not verify yet: it clears as soon
    /// as one of those attempts succeeds or is cancelled (a failure or an expiry
    /// turns its slot into a strike), so `Access` asks again for up to
    /// `lockout.busy_wait`; still busy after that,
    /// the entry is a wrong PIN for this call (same prompt, same hashing work
    /// against a dummy hash), without a strike.
    Busy,
}

/// The state after [`Store::finish_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptResult {
    /// Consecutive failures now on record (0 after a success).
    pub strikes: u32,
    /// Locked now; on a failure, this one may have caused it.
    pub locked: bool,
}

/// What an administrator (or a flow, before prompting) sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockStatus {
    pub strikes: u32,
    pub locked: bool,
    /// End of a timed lock; `None` while locked means until an admin unlocks.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Shared by every script: reading the clock, applying expiries, locking, and
/// removing the key of a subject that is back to a clean state.
const PRELUDE: &str = r#"
local key = KEYS[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function lock(s, now)
  s.locked = true
  redis.call('HSET', key, 'locked', '1')
  if s.lock_ms > 0 then
    s.locked_until = now + s.lock_ms
    redis.call('HSET', key, 'locked_until', s.locked_until)
  else
    s.locked_until = nil
    redis.call('HDEL', key, 'locked_until')
  end
end

-- Reads the state and applies the passage of time, in this order:
-- 1. each attempt whose reservation expired is removed and counts as one strike;
-- 2. a timed lock that has ended is lifted, strikes back to 0;
-- 3. strikes at or above the limit lock (expired attempts can get there, and so
--    can a limit lowered by a configuration change).
-- A record of the wrong type (written by hand or by another program): the
-- scripts answer {-9}, which fails closed (locked) and is logged.
local function damaged()
  local kind = redis.call('TYPE', key).ok
  return kind ~= 'hash' and kind ~= 'none'
end

local function settle(now)
  local s = { strikes = 0, locked = false, locked_until = nil, limit = nil,
              lock_ms = 0, in_flight = 0 }
  local flat = redis.call('HGETALL', key)
  local expired = 0
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    if string.sub(field, 1, 2) == 'a:' then
      if (tonumber(value) or 0) <= now then
        redis.call('HDEL', key, field)
        expired = expired + 1
      else
        s.in_flight = s.in_flight + 1
      end
    elseif field == 'strikes' then s.strikes = tonumber(value) or 0
    elseif field == 'locked' then s.locked = (value == '1')
    elseif field == 'locked_until' then s.locked_until = tonumber(value)
    elseif field == 'limit' then s.limit = tonumber(value)
    elseif field == 'lock_ms' then s.lock_ms = tonumber(value) or 0
    end
  end
  if expired > 0 then
    s.strikes = s.strikes + expired
    redis.call('HSET', key, 'strikes', s.strikes)
  end
  if s.locked and s.locked_until and s.locked_until <= now then
    s.locked = false
    s.locked_until = nil
    s.strikes = 0
    redis.call('HDEL', key, 'locked', 'locked_until')
    redis.call('HSET', key, 'strikes', 0)
  end
  if (not s.locked) and s.limit and s.strikes >= s.limit then
    lock(s, now)
  end
  return s
end

local function tidy(s)
  if s.strikes == 0 and (not s.locked) and s.in_flight == 0 then
    redis.call('DEL', key)
  end
end

-- A record of a number that is not a mailbox expires `expire_ms` after its
-- last attempt, and never before an attempt in flight would (0: a real
-- mailbox, kept until reset; an expiry left by guesses made before the mailbox
-- was created is removed).
local function keep(expire_ms, now)
  if redis.call('EXISTS', key) == 0 then return end
  if expire_ms <= 0 then
    redis.call('PERSIST', key)
    return
  end
  local ttl = expire_ms
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, 2) == 'a:' then
      local left = (tonumber(flat[i + 1]) or 0) - now
      if left > ttl then ttl = left end
    end
  end
  redis.call('PEXPIRE', key, ttl)
end

local function reply(s)
  return { s.strikes, s.locked and 1 or 0, s.locked_until or -1 }
end
"#;

/// ARGV: limit, lock_ms, attempt_ttl_ms, token id, expire_ms.
/// Returns {0} locked, {2} busy, {1, expires_at_ms} granted.
const RESERVE: &str = r#"
local expire_ms = tonumber(ARGV[5])
local now = now_ms()
if damaged() then return { -9 } end
redis.call('HSET', key, 'limit', ARGV[1], 'lock_ms', ARGV[2])
local s = settle(now)
if s.locked then keep(expire_ms, now) return { 0 } end
if s.strikes + s.in_flight >= s.limit then keep(expire_ms, now) return { 2 } end
local expires = now + tonumber(ARGV[3])
redis.call('HSET', key, 'a:' .. ARGV[4], expires)
keep(expire_ms, now)
return { 1, expires }
"#;

/// ARGV: limit, lock_ms, token id, token expiry ms, success (1/0), expire_ms.
/// Returns reply(s).
///
/// A failure counts if the attempt was still in flight, or if it is gone but its
/// reservation has not expired yet (an admin unlock voided it while the PIN was
/// being checked: the guess was still made). Gone and expired means the expiry
/// counted it already, in `settle` of this script or of an earlier one.
const FINISH: &str = r#"
local now = now_ms()
if damaged() then return { -9 } end
redis.call('HSET', key, 'limit', ARGV[1], 'lock_ms', ARGV[2])
local s = settle(now)
local was_in_flight = redis.call('HDEL', key, 'a:' .. ARGV[3]) == 1
if was_in_flight then s.in_flight = s.in_flight - 1 end
if ARGV[5] == '1' then
  if (not s.locked) and s.strikes ~= 0 then
    s.strikes = 0
    redis.call('HSET', key, 'strikes', 0)
  end
elseif was_in_flight or tonumber(ARGV[4]) > now then
  s.strikes = s.strikes + 1
  redis.call('HSET', key, 'strikes', s.strikes)
  if (not s.locked) and s.strikes >= s.limit then lock(s, now) end
end
tidy(s)
keep(tonumber(ARGV[6]), now)
return reply(s)
"#;

/// One strike with no reservation: a guess made another way than at the PIN
/// prompt (see `Access::check_new_pin`). ARGV: limit, lock_ms, expire_ms.
const STRIKE: &str = r#"
local now = now_ms()
if damaged() then return { -9 } end
redis.call('HSET', key, 'limit', ARGV[1], 'lock_ms', ARGV[2])
local s = settle(now)
s.strikes = s.strikes + 1
redis.call('HSET', key, 'strikes', s.strikes)
if (not s.locked) and s.strikes >= s.limit then lock(s, now) end
keep(tonumber(ARGV[3]), now)
return reply(s)
"#;

/// ARGV: token id, expire_ms. Withdraws an attempt whose secret was never
/// verified (the hashing queue refused it): no strike, no reset. Returns reply(s).
const CANCEL: &str = r#"
local now = now_ms()
if damaged() then return { -9 } end
local s = settle(now)
if redis.call('HDEL', key, 'a:' .. ARGV[1]) == 1 then s.in_flight = s.in_flight - 1 end
tidy(s)
keep(tonumber(ARGV[2]), now)
return reply(s)
"#;

/// No ARGV. Returns reply(s) after applying expiries with the stored policy.
const STATUS: &str = r#"
if damaged() then return { -9 } end
local s = settle(now_ms())
tidy(s)
return reply(s)
"#;

/// Clears everything: strikes, lock, attempts in flight.
const UNLOCK: &str = r#"
redis.call('DEL', KEYS[1])
return 1
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

// Built once: `Script` hashes its source, and EVALSHA then avoids resending it.
static RESERVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(RESERVE));
static FINISH_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(FINISH));
static STRIKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(STRIKE));
static CANCEL_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(CANCEL));
static STATUS_SCRIPT: LazyLock<Script> = LazyLock::new(|| script(STATUS));
static UNLOCK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(UNLOCK));

/// 128 random bits, hex: unguessable and collision-free in practice, so one
/// caller can never finish another's attempt.
fn new_token_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn count(raw: Option<&i64>) -> u32 {
    raw.and_then(|v| u32::try_from(*v).ok()).unwrap_or(0)
}

/// The scripts' answer for a record of the wrong type.
const DAMAGED: i64 = -9;

/// A damaged record fails closed: read as locked, and said in the log with the
/// key, which `admin repair` reports and `admin unlock` replaces.
fn damaged(subject: &LockSubject) {
    tracing::error!(key = %subject.key(), %subject,
        "the strikes record has the wrong type: treated as locked; `voiceportal admin unlock` resets it");
}

/// Decodes `reply(s)`: {strikes, locked, locked_until_ms or -1}; a damaged
/// record reads as locked.
fn decode_state(raw: &[i64]) -> (u32, bool, Option<DateTime<Utc>>) {
    if raw.first() == Some(&DAMAGED) {
        return (0, true, None);
    }
    let strikes = count(raw.first());
    let locked = raw.get(1).copied() == Some(1);
    let locked_until = raw
        .get(2)
        .copied()
        .filter(|ms| *ms >= 0)
        .and_then(DateTime::from_timestamp_millis);
    (strikes, locked, locked_until)
}

impl Store {
    /// Asks for the right to verify one PIN entry for `subject`. See the module
    /// documentation for the invariant this upholds, and [`Reservation`] for what
    /// each answer means to a flow.
    pub async fn reserve_attempt(
        &self,
        subject: &LockSubject,
        policy: &LockoutPolicy,
    ) -> Result<Reservation, StoreError> {
        let id = new_token_id();
        let mut conn = self.conn.clone();
        let raw: Vec<i64> = RESERVE_SCRIPT
            .key(subject.key())
            .arg(policy.limit())
            .arg(policy.lock_ms())
            .arg(policy.attempt_ttl_ms())
            .arg(&id)
            .arg(subject.expire_ms(policy))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match raw.as_slice() {
            [1, expires_at_ms] => Reservation::Granted(AttemptToken {
                id,
                expires_at_ms: *expires_at_ms,
            }),
            [2] => Reservation::Busy,
            [DAMAGED] => {
                damaged(subject);
                Reservation::Locked
            }
            // Only {0} remains; anything unexpected errs on the safe side.
            _ => Reservation::Locked,
        })
    }

    /// Records the outcome of a granted verification: a success resets the strikes
    /// to 0 (it never lifts a lock); a failure adds one strike and locks at
    /// `max_failed_attempts`, for `lockout_duration` if set.
    ///
    /// A token whose reservation expired before this call was already counted as a
    /// failure by the expiry: finishing it with a failure adds nothing, with a
    /// success still resets the strikes. A token voided by [`Store::unlock`] while
    /// in flight counts a failure if its reservation has not expired yet.
    ///
    /// `locked: true` after a success means the subject was locked in the meantime
    /// (by other calls' failures or an expiry): the flow must not log the caller in.
    pub async fn finish_attempt(
        &self,
        subject: &LockSubject,
        token: AttemptToken,
        success: bool,
        policy: &LockoutPolicy,
    ) -> Result<AttemptResult, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<i64> = FINISH_SCRIPT
            .key(subject.key())
            .arg(policy.limit())
            .arg(policy.lock_ms())
            .arg(&token.id)
            .arg(token.expires_at_ms)
            .arg(if success { 1 } else { 0 })
            .arg(subject.expire_ms(policy))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if raw.first() == Some(&DAMAGED) {
            damaged(subject);
        }
        let (strikes, locked, _) = decode_state(&raw);
        Ok(AttemptResult { strikes, locked })
    }

    /// Withdraws a granted attempt whose secret was never verified (the hashing
    /// queue was full): its share of the quota is free again, with no strike.
    /// The invariant counts verifications, and none happened.
    pub async fn cancel_attempt(
        &self,
        subject: &LockSubject,
        token: AttemptToken,
        policy: &LockoutPolicy,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<i64> = CANCEL_SCRIPT
            .key(subject.key())
            .arg(&token.id)
            .arg(subject.expire_ms(policy))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if raw.first() == Some(&DAMAGED) {
            damaged(subject);
        }
        Ok(())
    }

    /// Adds one strike (locking at the limit) for a guess that needed no
    /// reservation because no secret was verified against the guess itself.
    pub async fn add_strike(
        &self,
        subject: &LockSubject,
        policy: &LockoutPolicy,
    ) -> Result<AttemptResult, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<i64> = STRIKE_SCRIPT
            .key(subject.key())
            .arg(policy.limit())
            .arg(policy.lock_ms())
            .arg(subject.expire_ms(policy))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let (strikes, locked, _) = decode_state(&raw);
        Ok(AttemptResult { strikes, locked })
    }

    /// The current strikes and lock, with expiries applied (an ended timed lock
    /// reads as unlocked with 0 strikes; a lapsed reservation as a strike).
    pub async fn lock_status(&self, subject: &LockSubject) -> Result<LockStatus, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<i64> = STATUS_SCRIPT
            .key(subject.key())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let (strikes, locked, locked_until) = decode_state(&raw);
        Ok(LockStatus {
            strikes,
            locked,
            locked_until: locked_until.filter(|_| locked),
        })
    }

    /// Admin unlock (also part of a PIN reset): strikes to 0, unlocked, attempts in
    /// flight voided. A voided attempt that fails before its reservation expires
    /// still counts as a strike on the fresh state (see `finish_attempt`).
    pub async fn unlock(&self, subject: &LockSubject) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = UNLOCK_SCRIPT
            .key(subject.key())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_have_their_own_hash_tag() {
        let id = MailboxId::parse("1001").unwrap();
        assert_eq!(LockSubject::Mailbox(id).key(), "vp:{1001}:lock");
        assert_eq!(LockSubject::PortalPasscode.key(), "vp:{portal}:lock");
        assert_eq!(LockSubject::PortalPasscode.to_string(), "portal passcode");
    }

    #[test]
    fn tokens_are_random_and_never_printed() {
        let a = new_token_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_token_id());
        let token = AttemptToken {
            id: a.clone(),
            expires_at_ms: 0,
        };
        let shown = format!("{:?}", Reservation::Granted(token));
        assert!(!shown.contains(&a), "{shown}");
    }

    #[test]
    fn decodes_script_replies() {
        assert_eq!(decode_state(&[3, 0, -1]), (3, false, None));
        let (strikes, locked, until) = decode_state(&[4, 1, 1_700_000_000_000]);
        assert_eq!((strikes, locked), (4, true));
        assert_eq!(until.map(|t| t.timestamp()), Some(1_700_000_000));
        assert_eq!(decode_state(&[]), (0, false, None));
    }
}
