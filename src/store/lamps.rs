//! Lamp changes, shared between the services of several Asterisk servers.
//!
//! Each voiceportal sets the message-waiting lamps on its own Asterisk only
//! (`notify::mwi`). When several Asterisk servers share one Redis, an owner's phone
//! may be registered to another server than the one a message came through, so
//! every lamp change is also appended to a Redis stream, `vp:lamps`, which every
//! service follows and applies to its own Asterisk.
//!
//! The stream is a hint, not the record: an entry says only "this mailbox's counts
//! changed" and the follower reads the counts from the message index itself, so
//! entries may be read twice, late, or trimmed away without a lamp staying wrong
//! for long (the periodic repair republishes every lamp anyway). It is one key,
//! written and read with single-key commands: fine on a Redis Cluster.

use redis::AsyncCommands;
use redis::streams::{StreamMaxlen, StreamRangeReply};

use super::keys::lamp_stream;
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// Roughly how many entries the stream keeps: far more than the changes of one
/// poll interval, so a follower that polls in time misses none.
const KEEP: usize = 10_000;

/// One lamp change read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LampChange {
    /// The stream id: where the next read starts.
    pub id: String,
    /// The mailbox whose counts changed; `None` for an entry that does not name
    /// a valid mailbox (written by something else), which is skipped.
    pub mailbox: Option<MailboxId>,
    /// The process that made the change (see `notify::mwi`), which has already
    /// set its own Asterisk's lamp.
    pub origin: String,
}

impl Store {
    /// Appends "the counts of `mailbox` changed", made by `origin`.
    pub async fn announce_lamp(&self, mailbox: &MailboxId, origin: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = conn
            .xadd_maxlen(
                lamp_stream(),
                StreamMaxlen::Approx(KEEP),
                "*",
                &[("mailbox", mailbox.as_str()), ("origin", origin)],
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The id of the newest entry (`0-0` when the stream is empty): a follower
    /// that starts now reads what comes after it.
    pub async fn lamp_stream_end(&self) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn
            .xrevrange_count(lamp_stream(), "+", "-", 1)
            .await
            .map_err(|e| self.error(e))?;
        Ok(reply
            .ids
            .into_iter()
            .next()
            .map(|entry| entry.id)
            .unwrap_or_else(|| "0-0".to_owned()))
    }

    /// Up to `count` entries after `after`, oldest first.
    pub async fn lamp_changes_after(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<LampChange>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn
            .xrange_count(lamp_stream(), format!("({after}"), "+", count)
            .await
            .map_err(|e| self.error(e))?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let field = |name: &str| entry.get::<String>(name).unwrap_or_default();
                LampChange {
                    mailbox: MailboxId::parse(&field("mailbox")).ok(),
                    origin: field("origin"),
                    id: entry.id.clone(),
                }
            })
            .collect())
    }
}
