//! Keys of the wrong type: a value written by hand or by another program where
//! voiceportal expects its own. The scripts step around such a key (the rest of
//! the mailbox keeps working, see `messages` and `lockout`); this module finds
//! them for `admin repair`, and sets them aside.

use redis::AsyncCommands;

use super::keys::{mailbox_key, message_key, messages_index};
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// One key of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedKey {
    pub key: String,
    /// The type found.
    pub found: String,
    /// The type voiceportal keeps there.
    pub expected: &'static str,
    pub part: Part,
}

/// What the key is to its mailbox, which decides the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Strikes and lock: not fixed by repair (clearing it would unlock the
    /// mailbox, an administrator's decision: `admin unlock`).
    Lock,
    /// PIN history, message index, tombstones, deposits, or one message: set
    /// aside (renamed with a `:damaged` suffix, or deleted for one message,
    /// whose audio repair then indexes afresh).
    Data,
    Message,
}

impl Store {
    /// Every key of mailbox `m` that has the wrong type.
    pub async fn damaged_keys(&self, m: &MailboxId) -> Result<Vec<DamagedKey>, StoreError> {
        let fixed = [
            (mailbox_key(m.as_str(), "lock"), "hash", Part::Lock),
            (mailbox_key(m.as_str(), "pins"), "list", Part::Data),
            (messages_index(m.as_str()), "zset", Part::Data),
            (mailbox_key(m.as_str(), "tomb"), "zset", Part::Data),
            (mailbox_key(m.as_str(), "deposits"), "hash", Part::Data),
        ];
        let mut found = Vec::new();
        let mut index_ok = true;
        for (key, expected, part) in fixed {
            let kind = self.key_type(&key).await?;
            if kind != expected && kind != "none" {
                if key == messages_index(m.as_str()) {
                    index_ok = false;
                }
                found.push(DamagedKey {
                    key,
                    found: kind,
                    expected,
                    part,
                });
            }
        }
        if index_ok {
            let mut conn = self.conn.clone();
            let ids: Vec<String> = conn
                .zrange(messages_index(m.as_str()), 0, -1)
                .await
                .map_err(|e| self.error(e))?;
            for id in ids {
                let key = message_key(m.as_str(), &id);
                let kind = self.key_type(&key).await?;
                if kind != "hash" && kind != "none" {
                    found.push(DamagedKey {
                        key,
                        found: kind,
                        expected: "hash",
                        part: Part::Message,
                    });
                }
            }
        }
        Ok(found)
    }

    /// Sets a damaged key aside: a message's key is deleted with its index
    /// entry; any other is renamed `<key>:damaged` (kept for a look, replacing
    /// an older one). Does nothing to a lock record (see [`Part::Lock`]).
    pub async fn set_aside(&self, m: &MailboxId, damaged: &DamagedKey) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        match damaged.part {
            Part::Lock => Ok(()),
            Part::Message => {
                let prefix = message_key(m.as_str(), "");
                let id = damaged.key.strip_prefix(&prefix).unwrap_or_default();
                redis::pipe()
                    .atomic()
                    .del(&damaged.key)
                    .zrem(messages_index(m.as_str()), id)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| self.error(e))
            }
            Part::Data => conn
                .rename::<_, _, ()>(&damaged.key, format!("{}:damaged", damaged.key))
                .await
                .map_err(|e| self.error(e)),
        }
    }
}
