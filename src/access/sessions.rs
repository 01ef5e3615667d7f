//! Web sessions and their CSRF tokens.
//!
//! A session id is 256 random bits, sent to the browser in a cookie and stored in
//! Redis only as a keyed digest (see `domain::token`). Each request re-checks
//! that the session's subject still stands: the administrator's account exists
//! and its password has not changed since (its generation), or the owner's
//! mailbox still exists.
//!
//! A CSRF token is the keyed digest of the session id under its own purpose: a
//! page can show it, a cross-site form cannot know it (it would need the cookie),
//! and nothing has to be stored for it. Sign-in forms, before any session exists,
//! bind theirs the same way to a random pre-session cookie.

use std::fmt;
use std::time::Duration;

use chrono::Utc;

use super::{Access, AccessError};
use crate::domain::token::{random_secret, same_secret};
use crate::store::sessions::{SessionRecord, SessionSubject};

/// The secret of one session (or of a pre-session form binding), as the cookie
/// carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// Length of what `random_secret` makes.
    const LEN: usize = 43;

    /// A fresh random id.
    pub fn generate() -> SessionId {
        SessionId(random_secret())
    }

    /// Accepts only what `generate` makes, so a forged cookie never reaches Redis.
    pub fn parse(raw: &str) -> Option<SessionId> {
        let ok = raw.len() == Self::LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| SessionId(raw.to_owned()))
    }

    /// For the `Set-Cookie` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(***)")
    }
}

impl Access {
    /// Starts a session for `subject`, valid for `lifetime`.
    pub async fn start_session(
        &self,
        subject: SessionSubject,
        lifetime: Duration,
    ) -> Result<SessionId, AccessError> {
        let id = SessionId::generate();
        let record = SessionRecord {
            subject,
            created: Utc::now(),
        };
        self.store
            .create_session(&self.session_digest(&id), &record, lifetime)
            .await?;
        Ok(id)
    }

    /// The subject of a live session whose subject still stands; `None` otherwise.
    pub async fn session(&self, id: &SessionId) -> Result<Option<SessionSubject>, AccessError> {
        let Some(record) = self.store.session(&self.session_digest(id)).await? else {
            return Ok(None);
        };
        let stands = match &record.subject {
            SessionSubject::Admin { name, generation } => self
                .store
                .admin_account(name)
                .await?
                .is_some_and(|account| account.generation == *generation),
            SessionSubject::Owner(mailbox) => self.store.mailbox(mailbox).await?.is_some(),
        };
        Ok(stands.then_some(record.subject))
    }

    /// Ends a session (signing out).
    pub async fn end_session(&self, id: &SessionId) -> Result<(), AccessError> {
        Ok(self.store.delete_session(&self.session_digest(id)).await?)
    }

    /// The CSRF token of forms shown to the holder of `binding` (a session id,
    /// or the pre-session cookie of the sign-in forms).
    pub fn csrf_token(&self, binding: &SessionId) -> String {
        self.token_key.digest("csrf", binding.expose())
    }

    /// Whether a submitted CSRF token is the one of `binding`.
    pub fn csrf_matches(&self, binding: &SessionId, submitted: &str) -> bool {
        same_secret(&self.csrf_token(binding), submitted)
    }

    fn session_digest(&self, id: &SessionId) -> String {
        self.token_key.digest("session", id.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_never_shown() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(id.expose()), Some(id.clone()));
        assert_eq!(format!("{id:?}"), "SessionId(***)");
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse(&"a".repeat(42)), None);
        assert_eq!(SessionId::parse(&format!("{}!", "a".repeat(42))), None);
    }
}
