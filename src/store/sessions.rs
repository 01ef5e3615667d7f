//! Web sessions: who signed in, and since when.
//!
//! One hash per session, `vp:session:<digest>`, where the digest is a keyed
//! BLAKE2b of the session id in the cookie (see `domain::token`): a copy of Redis
//! holds no usable cookie. Redis expires the key at the end of the session's
//! lifetime, so a forgotten session costs nothing.
//!
//! | field | value |
//! |---|---|
//! | `kind` | `admin` or `owner` |
//! | `subject` | the administrator's name, or the mailbox number |
//! | `generation` | for an administrator, the account's generation at sign-in |
//! | `created` | ms since the epoch |

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::keys::session_key;
use super::{Store, StoreError};
use crate::domain::{AdminName, MailboxId};

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSubject {
    /// An administrator of the web portal, with the account's generation at
    /// sign-in (a password change bumps it and so ends the session).
    Admin { name: AdminName, generation: u64 },
    /// The owner of a mailbox, signed in with a one-time code.
    Owner(MailboxId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub subject: SessionSubject,
    pub created: DateTime<Utc>,
}

impl SessionRecord {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let (kind, subject, generation) = match &self.subject {
            SessionSubject::Admin { name, generation } => ("admin", name.to_string(), *generation),
            SessionSubject::Owner(mailbox) => ("owner", mailbox.to_string(), 0),
        };
        vec![
            ("kind", kind.to_owned()),
            ("subject", subject),
            ("generation", generation.to_string()),
            ("created", self.created.timestamp_millis().to_string()),
        ]
    }

    /// `None` for anything this version did not write: the session is then
    /// simply not valid.
    fn from_fields(fields: &HashMap<String, String>) -> Option<SessionRecord> {
        let subject = fields.get("subject")?;
        let subject = match fields.get("kind")?.as_str() {
            "admin" => SessionSubject::Admin {
                name: AdminName::parse(subject).ok()?,
                generation: fields.get("generation")?.parse().ok()?,
            },
            "owner" => SessionSubject::Owner(MailboxId::parse(subject).ok()?),
            _ => return None,
        };
        let created = fields
            .get("created")?
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)?;
        Some(SessionRecord { subject, created })
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl Store {
    /// Stores a session for `lifetime`, under the digest of its id.
    pub async fn create_session(
        &self,
        digest: &str,
        record: &SessionRecord,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let key = session_key(digest);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(&key, &record.fields())
            .ignore()
            .pexpire(&key, millis(lifetime))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    /// The session of that digest, if it exists and has not expired.
    pub async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(session_key(digest))
            .await
            .map_err(|e| self.error(e))?;
        Ok(SessionRecord::from_fields(&fields))
    }

    /// Ends a session (sign-out). Ending one that is gone is not an error.
    pub async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.del::<_, i64>(session_key(digest))
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_no_session() {
        let admin = SessionRecord {
            subject: SessionSubject::Admin {
                name: AdminName::parse("alice").unwrap(),
                generation: 3,
            },
            created: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
        };
        let owner = SessionRecord {
            subject: SessionSubject::Owner(MailboxId::parse("1001").unwrap()),
            ..admin.clone()
        };
        for record in [admin, owner] {
            let fields: HashMap<String, String> = record
                .fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            assert_eq!(SessionRecord::from_fields(&fields), Some(record));
        }
        let mut bad = HashMap::new();
        bad.insert("kind".to_owned(), "root".to_owned());
        bad.insert("subject".to_owned(), "x".to_owned());
        assert_eq!(SessionRecord::from_fields(&bad), None);
        assert_eq!(SessionRecord::from_fields(&HashMap::new()), None);
    }
}
