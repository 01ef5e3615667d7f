//! Importing a mailbox from app_voicemail, in one atomic step.
//!
//! The audio is put into Asterisk's recordings directory first (as a deposit
//! records before it indexes); then [`Store::commit_import`] creates the mailbox
//! if it does not exist, indexes every message and records each in the mailbox's
//! import ledger (`vp:{1001}:imported`), in one script: a mailbox is never seen
//! half-imported, and a crash before the script leaves only audio under names the
//! next run writes again (ids are derived from the messages, not random).
//!
//! The ledger (a hash: ledger key of the app_voicemail message -> message id) is
//! what makes a second run add nothing: a message already in it is skipped, even
//! if its owner has deleted it since (it must not come back); and the ids it
//! holds are taken, so a new message never gets one. A message indexed meanwhile
//! by repair (its audio was placed, the script never ran) gets its caller and
//! time back, keeping its folder.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{AsyncCommands, Script};
use serde::Serialize;

use super::keys::{
    imports_ledger, mailbox_index, mailbox_key, message_key, messages_index, tombstones,
};
use super::mailboxes::MailboxRecord;
use super::messages::Message;
use super::{Store, StoreError};

/// KEYS: box, index, ledger, tombstones (one mailbox's slot: the mailbox list
/// is added to before, see [`Store::commit_import`]). ARGV: the plan as JSON.
/// Returns {created, indexed, refreshed, skipped}.
const COMMIT: &str = r#"
local plan = cjson.decode(ARGV[1])
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(plan.fields))
  if plan.pin_hash ~= '' then redis.call('HSET', KEYS[1], 'pin_hash', plan.pin_hash) end
  created = 1
end
if plan.name_imported then redis.call('HSET', KEYS[1], 'name_recorded', '1') end
local indexed, refreshed, skipped = 0, 0, 0
for _, m in ipairs(plan.messages) do
  if redis.call('HEXISTS', KEYS[3], m.key) == 1 or redis.call('ZSCORE', KEYS[4], m.id) then
    skipped = skipped + 1
  else
    local hash = plan.prefix .. m.id
    if redis.call('ZSCORE', KEYS[2], m.id) then
      local folder = redis.call('HGET', hash, 'folder')
      redis.call('HSET', hash, unpack(m.fields))
      if folder then redis.call('HSET', hash, 'folder', folder) end
      refreshed = refreshed + 1
    else
      redis.call('ZADD', KEYS[2], m.received, m.id)
      redis.call('HSET', hash, unpack(m.fields))
      indexed = indexed + 1
    end
    redis.call('HSET', KEYS[3], m.key, m.id)
  end
end
return {created, indexed, refreshed, skipped}
"#;

static COMMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMMIT));

/// One mailbox's import, as [`Store::commit_import`] writes it.
pub struct ImportCommit<'a> {
    /// Written only if the mailbox does not exist yet.
    pub record: &'a MailboxRecord,
    /// The imported PIN's hash (for a new mailbox only).
    pub pin_hash: Option<&'a str>,
    /// The spoken name was imported: mark it recorded.
    pub name_imported: bool,
    /// Each message with its ledger key.
    pub messages: &'a [(Message, String)],
}

/// What [`Store::commit_import`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitOutcome {
    pub created: bool,
    pub indexed: usize,
    /// Indexed already (by repair, after an interrupted import): metadata
    /// refreshed.
    pub refreshed: usize,
    /// In the ledger already (or being deleted): left alone.
    pub skipped: usize,
}

#[derive(Serialize)]
struct Plan<'a> {
    id: &'a str,
    fields: Vec<String>,
    pin_hash: &'a str,
    name_imported: bool,
    prefix: String,
    messages: Vec<PlannedMessage<'a>>,
}

#[derive(Serialize)]
struct PlannedMessage<'a> {
    id: &'a str,
    key: &'a str,
    /// Milliseconds, as text: Lua numbers would print large ones in exponent form.
    received: String,
    fields: Vec<String>,
}

fn flatten<'f>(pairs: impl IntoIterator<Item = (&'f str, String)>) -> Vec<String> {
    pairs
        .into_iter()
        .flat_map(|(name, value)| [name.to_owned(), value])
        .collect()
}

impl Store {
    /// The import ledger of mailbox `m`: ledger key to message id.
    pub async fn import_ledger(
        &self,
        m: &crate::domain::MailboxId,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut conn = self.conn.clone();
        conn.hgetall(imports_ledger(m.as_str()))
            .await
            .map_err(|e| self.error(e))
    }

    /// Creates the mailbox if needed and indexes the messages, in one step (see
    /// the module documentation).
    pub async fn commit_import(
        &self,
        commit: &ImportCommit<'_>,
    ) -> Result<CommitOutcome, StoreError> {
        let m = commit.record.id.as_str();
        let mut fields = commit.record.fields();
        fields.push(("id", m.to_owned()));
        let plan = Plan {
            id: m,
            fields: flatten(fields),
            pin_hash: commit.pin_hash.unwrap_or(""),
            name_imported: commit.name_imported,
            prefix: message_key(m, ""),
            messages: commit
                .messages
                .iter()
                .map(|(message, key)| PlannedMessage {
                    id: message.id.as_str(),
                    key,
                    received: message.received.timestamp_millis().to_string(),
                    fields: flatten(message.fields()),
                })
                .collect(),
        };
        // Serialising plain strings and numbers cannot fail.
        let json = serde_json::to_string(&plan).unwrap_or_default();
        let mut conn = self.conn.clone();
        // Listed first, as `create_mailbox` does: a listed number without a
        // record is skipped, a record nobody lists could not be found.
        conn.sadd::<_, _, i64>(mailbox_index(), m)
            .await
            .map_err(|e| self.error(e))?;
        let reply: Vec<i64> = COMMIT_SCRIPT
            .key(mailbox_key(m, "box"))
            .key(messages_index(m))
            .key(imports_ledger(m))
            .key(tombstones(m))
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let at = |i: usize| reply.get(i).map_or(0, |&n| usize::try_from(n).unwrap_or(0));
        Ok(CommitOutcome {
            created: at(0) == 1,
            indexed: at(1),
            refreshed: at(2),
            skipped: at(3),
        })
    }
}
