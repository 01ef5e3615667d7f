//! Signing in an administrator of the web portal.
//!
//! Failed sign-ins are throttled twice: per account, with the same atomic
//! strikes and lock as a PIN (`max_failed_attempts`, then locked until an
//! administrator unlocks it with the CLI, or for `lockout_duration`); and per
//! client address, with a rate limit on attempts, so one address cannot lock
//! every account in turn nor guess at leisure. An unknown name goes through the
//! same steps against a dummy hash, so timing and answers do not tell which
//! accounts exist.

use std::net::IpAddr;
use std::time::Duration;

use super::{Access, AccessError, Guess, Verdict};
use crate::domain::{AdminName, Password};
use crate::store::accounts::AdminAccount;
use crate::store::lockout::LockSubject;
use crate::store::throttle::{Rate, RateScope};

/// Sign-in attempts one client address may make per window, whatever the name.
pub const ATTEMPTS_PER_ADDRESS: u32 = 20;
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What one sign-in attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminSignIn {
    Granted(AdminAccount),
    /// Wrong name or password: one answer for both.
    Denied,
    /// The account is locked (before, or by this attempt).
    Locked,
    /// This address made too many attempts; nothing was checked.
    Throttled {
        retry_after: Duration,
    },
}

impl Access {
    /// One attempt at an administrator's password, from `client`.
    pub async fn admin_sign_in(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<AdminSignIn, AccessError> {
        let scope = RateScope::Address(client);
        if let Rate::Limited { retry_after } = self
            .store
            .hit_rate(&scope, "admin-signin", ATTEMPTS_PER_ADDRESS, ADDRESS_WINDOW)
            .await?
        {
            return Ok(AdminSignIn::Throttled { retry_after });
        }
        // A password that cannot be one is checked as the empty one, for timing.
        let password = Password::for_sign_in(password)
            .or_else(|_| Password::for_sign_in(""))
            .map_err(|e| AccessError::Task(e.to_string()))?;
        let Ok(name) = AdminName::parse(name) else {
            self.hashing(move |h| h.verify_password_dummy(&password))
                .await?;
            return Ok(AdminSignIn::Denied);
        };
        let hash = self.store.admin_password_hash(&name).await?;
        let subject = LockSubject::AdminAccount(name.clone());
        let verdict = self
            .check(&subject, Guess::Password(password), hash, true)
            .await?;
        Ok(match verdict {
            Verdict::Locked => AdminSignIn::Locked,
            Verdict::Wrong => AdminSignIn::Denied,
            Verdict::Right => match self.store.admin_account(&name).await? {
                Some(account) => AdminSignIn::Granted(account),
                // Deleted between the two reads.
                None => AdminSignIn::Denied,
            },
        })
    }
}
