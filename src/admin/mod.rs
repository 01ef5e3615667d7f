//! Admin operations, shared by the `voiceportal admin` CLI and (later) the HTTP API:
//! provisioning mailboxes, PIN resets, the org default PIN, the portal passcode.
//!
//! Three rules hold for every operation:
//! - **Validate, then write.** Every input is checked (and every PIN hashed) before
//!   the first write, so bad input changes nothing.
//! - **Audit every change**, after it succeeded, with the actor, the action, the
//!   target and a non-secret detail (`pin=temporary`, never the PIN). Reads (list,
//!   status, the audit log itself) are not audited: they change nothing.
//! - **argon2 runs on a blocking thread** (one hash takes 50-400 ms), so an admin
//!   request never stalls the runtime that serves calls.

mod accounts;
pub mod cli;
mod error;
mod fields;
pub mod import;
mod mailboxes;
pub mod messages;
mod owner;
mod pins;
pub mod repair;
mod secret;
pub mod show;

use tracing::warn;

pub use accounts::AccountStatus;
pub use error::AdminError;
pub use fields::MailboxFields;
pub use mailboxes::MailboxStatus;
pub use owner::{AudioRemoval, Greeting, MailboxOverview};
pub use pins::PortalStatus;

use crate::config::Config;
use crate::domain::{Language, MailboxId, PinHasher, PinPolicy, TokenKey};
use crate::store::Store;
use crate::store::audit::AuditEntry;
use crate::store::lockout::LockoutPolicy;

/// Actor names are free text from the environment or an API login; this bounds
/// what one audit entry can hold.
const ACTOR_MAX_CHARS: usize = 64;

/// The admin operations, over one store and one configuration. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    store: Store,
    hasher: PinHasher,
    policy: PinPolicy,
    lockout: LockoutPolicy,
    /// The portal's own number: never a mailbox, and refused inside the passcode.
    portal: MailboxId,
    default_language: Language,
    /// Digests of the API tokens it creates (see `domain::token`).
    token_key: TokenKey,
}

impl Admin {
    /// Builds the hasher from `security` (hashing once, so a bad cost fails here)
    /// and takes the PIN and lockout policies from `config`.
    pub fn new(config: &Config, store: Store) -> Result<Admin, AdminError> {
        let hasher = PinHasher::new(&config.security.pepper, &config.security.hash)?;
        if !hasher.is_peppered() {
            warn!("security.pepper is empty: PIN hashes rely on their salt alone");
        }
        let portal =
            MailboxId::parse(&config.portal.number).map_err(AdminError::BadPortalNumber)?;
        Ok(Admin {
            store,
            hasher,
            policy: config.pin_policy.clone(),
            lockout: config.lockout.clone(),
            portal,
            default_language: config.portal.default_language,
            token_key: TokenKey::derive(&config.security.pepper),
        })
    }

    /// The portal's own number (`portal.number`).
    pub fn portal_number(&self) -> &MailboxId {
        &self.portal
    }

    /// The PIN policy new PINs are checked against, for pages that state it.
    pub fn pin_policy(&self) -> &PinPolicy {
        &self.policy
    }

    /// The lockout policy, for pages that state it.
    pub fn lockout_policy(&self) -> &LockoutPolicy {
        &self.lockout
    }

    /// Records an event that is not an admin operation (a web sign-in, a code
    /// request), under the same rules: never a secret in any field.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), AdminError> {
        self.record(actor, action, target, detail).await
    }

    /// Whether Redis answers (for readiness checks).
    pub async fn redis_reachable(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// The newest `count` audit entries, oldest first.
    pub async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>, AdminError> {
        Ok(self.store.audit_log(count).await?)
    }

    /// Runs `work` with the hasher on tokio's blocking pool.
    async fn hashing<T, F>(&self, work: F) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce(&PinHasher) -> T + Send + 'static,
    {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || work(&hasher))
            .await
            .map_err(|e| AdminError::Task(e.to_string()))
    }

    /// Appends the audit entry of a change that has been made.
    async fn record(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), AdminError> {
        self.store
            .audit(&actor_name(actor), action, target, detail)
            .await
            .map_err(AdminError::AuditFailed)
    }
}

/// The actor as recorded: printable characters only, bounded, never empty, so a
/// forged name cannot break the audit listing's lines.
fn actor_name(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(ACTOR_MAX_CHARS)
        .collect();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_names_are_printable_and_bounded() {
        assert_eq!(actor_name(" alice "), "alice");
        assert_eq!(actor_name(""), "unknown");
        assert_eq!(actor_name("\n\t"), "unknown");
        assert_eq!(actor_name("bob\nFAKE ENTRY"), "bobFAKE ENTRY");
        assert_eq!(actor_name(&"x".repeat(200)).len(), ACTOR_MAX_CHARS);
    }
}
