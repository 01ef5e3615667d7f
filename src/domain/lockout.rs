//! The lockout policy: how many wrong PINs lock a mailbox (or the portal
//! passcode), and for how long. Pure settings; the atomic bookkeeping that
//! applies them lives in `store::lockout`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How strikes turn into locks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Consecutive wrong PINs that lock the subject (SPEC: 4).
    pub max_failed_attempts: u32,
    /// How long a lock lasts; absent (the SPEC default) = until an admin unlocks or
    /// resets the PIN. When a timed lock ends, the strikes start again from 0.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub lockout_duration: Option<Duration>,
    /// How long a reserved attempt may stay unfinished before it is presumed lost
    /// (the instance crashed mid-verification) and counted as a failure. Must
    /// exceed the time from reservation to finish (one argon2 verification and two
    /// Redis round trips), so flows reserve after the digits have been collected,
    /// never before the prompt.
    #[serde(with = "humantime_serde")]
    pub attempt_ttl: Duration,
    /// How long the strikes and lock of a mailbox number that does not exist are
    /// kept after the last attempt at it. Guesses at unknown numbers go through
    /// the same strikes and lock as a real mailbox (so a caller cannot tell which
    /// numbers exist), but their records must not pile up in Redis forever: each
    /// attempt renews this expiry, so while someone keeps guessing the record
    /// (and its lock) stays exactly as a real mailbox's would. With a timed lock
    /// (`lockout_duration`) the record is kept at least as long as the lock.
    #[serde(with = "humantime_serde")]
    pub unknown_mailbox_ttl: Duration,
    /// How long a PIN entry waits for a free attempt when the others are all in
    /// flight (simultaneous logins to one mailbox, on any instance), before it is
    /// answered as a wrong PIN without a strike. An attempt in flight lasts one
    /// verification plus its wait in the hashing queue, so with many logins to a
    /// shared mailbox a short wait lets every right PIN in; 0 answers at once.
    #[serde(with = "humantime_serde")]
    pub busy_wait: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failed_attempts: 4,
            lockout_duration: None,
            attempt_ttl: Duration::from_secs(60),
            unknown_mailbox_ttl: Duration::from_secs(24 * 3600),
            busy_wait: Duration::from_secs(3),
        }
    }
}

impl LockoutPolicy {
    /// Checks the values serde alone cannot, for config validation.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_failed_attempts == 0 {
            return Err("max_failed_attempts must be at least 1".into());
        }
        if self.attempt_ttl < Duration::from_millis(1) {
            return Err("attempt_ttl must be at least 1ms".into());
        }
        if self.busy_wait >= self.attempt_ttl {
            return Err(
                "busy_wait must be shorter than attempt_ttl (an entry waits for \
                 attempts in flight, which end within attempt_ttl)"
                    .into(),
            );
        }
        if self.unknown_mailbox_ttl < Duration::from_secs(1) {
            return Err("unknown_mailbox_ttl must be at least 1s".into());
        }
        if self
            .lockout_duration
            .is_some_and(|d| d < Duration::from_millis(1))
        {
            return Err(
                "lockout_duration must be at least 1ms; leave it out to lock \
                        until an administrator unlocks"
                    .into(),
            );
        }
        Ok(())
    }

    /// The limit as the scripts see it; 0 would lock everything, so it is read as 1
    /// even if validation was skipped.
    pub(crate) fn limit(&self) -> u32 {
        self.max_failed_attempts.max(1)
    }

    pub(crate) fn attempt_ttl_ms(&self) -> u64 {
        millis(self.attempt_ttl).max(1)
    }

    /// The expiry of a record of a number that is not a mailbox: at least the
    /// configured time, and never shorter than a timed lock (the scripts also
    /// keep it while a reservation is in flight).
    pub(crate) fn unknown_ttl_ms(&self) -> u64 {
        millis(self.unknown_mailbox_ttl).max(self.lock_ms()).max(1)
    }

    /// 0 means "until an admin unlocks" to the scripts.
    pub(crate) fn lock_ms(&self) -> u64 {
        self.lockout_duration.map_or(0, |d| millis(d).max(1))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let p = LockoutPolicy::default();
        assert_eq!(p.max_failed_attempts, 4);
        assert_eq!(p.lockout_duration, None);
        assert_eq!(p.attempt_ttl, Duration::from_secs(60));
        assert_eq!(p.busy_wait, Duration::from_secs(3));
        p.validate().unwrap();
        assert_eq!((p.limit(), p.lock_ms(), p.attempt_ttl_ms()), (4, 0, 60_000));
    }

    #[test]
    fn serde_uses_humantime_and_refuses_unknown_fields() {
        let p: LockoutPolicy =
            toml::from_str("max_failed_attempts = 5\nlockout_duration = \"15m\"").unwrap();
        assert_eq!(p.max_failed_attempts, 5);
        assert_eq!(p.lockout_duration, Some(Duration::from_secs(900)));
        assert_eq!(p.attempt_ttl, Duration::from_secs(60));
        assert_eq!(p.lock_ms(), 900_000);
        let back: LockoutPolicy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let none: LockoutPolicy = toml::from_str("").unwrap();
        assert_eq!(none, LockoutPolicy::default());
        let text = toml::to_string(&none).unwrap();
        assert_eq!(toml::from_str::<LockoutPolicy>(&text).unwrap(), none);
        assert!(toml::from_str::<LockoutPolicy>("max_attempts = 3").is_err());
    }

    #[test]
    fn validation() {
        let zero = LockoutPolicy {
            max_failed_attempts: 0,
            ..LockoutPolicy::default()
        };
        assert!(zero.validate().unwrap_err().contains("max_failed_attempts"));
        assert_eq!(zero.limit(), 1);
        let no_ttl = LockoutPolicy {
            attempt_ttl: Duration::ZERO,
            ..LockoutPolicy::default()
        };
        assert!(no_ttl.validate().unwrap_err().contains("attempt_ttl"));
        let no_lock = LockoutPolicy {
            lockout_duration: Some(Duration::ZERO),
            ..LockoutPolicy::default()
        };
        assert!(no_lock.validate().unwrap_err().contains("lockout_duration"));
        let long_wait = LockoutPolicy {
            busy_wait: Duration::from_secs(60),
            ..LockoutPolicy::default()
        };
        assert!(long_wait.validate().unwrap_err().contains("busy_wait"));
    }
}
