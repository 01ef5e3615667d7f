//! The audit trail of admin actions: a Redis stream, appended to and never edited.
//! Entries say who did what to which mailbox, and when; never a PIN or passcode,
//! which is why they are built from typed fields rather than free text.

use redis::AsyncCommands;
use redis::streams::{StreamMaxlen, StreamRangeReply};

use super::keys::audit_stream;
use super::{Store, StoreError};

/// Roughly how many entries the stream keeps (Redis trims approximately).
const KEEP: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The stream id, which is also the time (milliseconds since the epoch).
    pub id: String,
    /// Who acted: the CLI's OS user, or the HTTP API's authenticated admin.
    pub actor: String,
    /// What was done, e.g. `reset-pin`.
    pub action: String,
    /// What it was done to, e.g. a mailbox number or `portal`.
    pub target: String,
    /// Non-secret details, e.g. `pin=temporary`.
    pub detail: String,
}

impl Store {
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = conn
            .xadd_maxlen(
                audit_stream(),
                StreamMaxlen::Approx(KEEP),
                "*",
                &[
                    ("actor", actor),
                    ("action", action),
                    ("target", target),
                    ("detail", detail),
                ],
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The newest `count` entries, oldest first.
    pub async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn
            .xrevrange_count(audit_stream(), "+", "-", count)
            .await
            .map_err(|e| self.error(e))?;
        let mut entries: Vec<AuditEntry> = reply
            .ids
            .into_iter()
            .map(|entry| {
                let field =
                    |name: &str| -> String { entry.get::<String>(name).unwrap_or_default() };
                AuditEntry {
                    actor: field("actor"),
                    action: field("action"),
                    target: field("target"),
                    detail: field("detail"),
                    id: entry.id.clone(),
                }
            })
            .collect();
        entries.reverse();
        Ok(entries)
    }
}
