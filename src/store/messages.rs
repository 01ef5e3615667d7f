//! The message index: which voicemail messages a mailbox holds, in which folder,
//! and their envelope (caller, time, length). The audio itself is an ARI stored
//! recording (`voiceportal/<mailbox>/msg-<id>`), never in Redis.
//!
//! # Why audio first, index second
//!
//! A deposit records straight to [`message_recording`], then calls
//! [`Store::save_message`]. A crash (or a Redis error) in between leaves audio
//! without an index entry, which `admin::repair` finds and indexes; the opposite
//! order could leave an index entry with no audio, a message the owner hears of
//! but can never play.
//!
//! # Deleting in three steps
//!
//! 1. [`Store::delete_message`] un-indexes the message and leaves a tombstone, in
//!    one script;
//! 2. the caller deletes the audio through ARI;
//! 3. [`Store::clear_tombstone`].
//!
//! A crash after step 1 leaves audio that is not indexed; the tombstone tells
//! repair to delete it rather than resurrect a message its owner deleted.
//!
//! # Layout (see `keys`)
//!
//! - `vp:{1001}:msgs`: sorted set of message ids, scored by received time (ms).
//! - `vp:{1001}:msg:<id>`: hash with `folder` (`new`/`old`), `caller_number`,
//!   `caller_name`, `received` (ms since the epoch), `duration` (seconds).
//! - `vp:{1001}:tomb`: sorted set of tombstoned ids, scored by deletion time (ms).
//!
//! The index and the hashes always change together, in one script. Counts are
//! computed from the hashes rather than kept as counters, so they can never drift
//! from what a listing shows; a mailbox holds at most `deposit.max_messages`
//! messages (default 100), so the scan is short.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::Script;

use super::keys::{mailbox_key, message_key, messages_index, tombstones};
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// The two folders of app_voicemail that the SPEC keeps: a message is new until it
/// has been played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    New,
    Old,
}

impl Folder {
    pub fn as_str(self) -> &'static str {
        match self {
            Folder::New => "new",
            Folder::Old => "old",
        }
    }
}

impl fmt::Display for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown folder {0:?}: expected new or old")]
pub struct UnknownFolder(String);

impl FromStr for Folder {
    type Err = UnknownFolder;
    fn from_str(s: &str) -> Result<Folder, UnknownFolder> {
        match s {
            "new" => Ok(Folder::New),
            "old" => Ok(Folder::Old),
            other => Err(UnknownFolder(other.chars().take(16).collect())),
        }
    }
}

/// A message id, `<received unix ms>-<6 lowercase hex>`, e.g. `1700000000000-0a1b2c`.
///
/// The time comes first so ids sort by time (13 digits until the year 2286), and it
/// survives in the recording's name, so repair can date a message whose index
/// entry was lost. The random suffix keeps two messages of the same millisecond
/// apart; it is not a secret (the index, not the id, decides who may play what).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// Hex digits of the random suffix.
    const SUFFIX_LEN: usize = 6;
    /// Digits of the time part: enough for any `i64` millisecond count we accept.
    const MAX_TIME_DIGITS: usize = 15;

    /// A fresh id for a message received at `received`.
    pub fn generate(received: DateTime<Utc>) -> MessageId {
        MessageId::with_suffix(received, rand::random::<u32>())
    }

    /// The id with a chosen suffix (only its low 24 bits are used), so tests can
    /// make ids they know in advance.
    pub fn with_suffix(received: DateTime<Utc>, suffix: u32) -> MessageId {
        // Times before 1970 do not occur for a message; 0 keeps the id parseable.
        let ms = received.timestamp_millis().max(0);
        MessageId(format!("{ms}-{:06x}", suffix & 0x00ff_ffff))
    }

    /// Accepts exactly what `generate` produces: digits without a leading zero
    /// (one `0` alone is fine), `-`, six lowercase hex digits. Anything else (a
    /// recording someone else named `msg-...`, a mistyped id) is `None`.
    pub fn parse(raw: &str) -> Option<MessageId> {
        let (time, suffix) = raw.split_once('-')?;
        let time_ok = !time.is_empty()
            && time.len() <= Self::MAX_TIME_DIGITS
            && time.bytes().all(|b| b.is_ascii_digit())
            && (time == "0" || !time.starts_with('0'));
        let suffix_ok = suffix.len() == Self::SUFFIX_LEN
            && suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        (time_ok && suffix_ok).then(|| MessageId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The time encoded in the id.
    pub fn received(&self) -> Option<DateTime<Utc>> {
        let (time, _) = self.0.split_once('-')?;
        DateTime::from_timestamp_millis(time.parse().ok()?)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The recording name of a message's audio, `voiceportal/1001/msg-<id>`: where a
/// deposit records before the message exists in the index.
pub fn message_recording(mailbox: &MailboxId, id: &MessageId) -> String {
    mailbox.recording(&format!("{RECORDING_PREFIX}{id}"))
}

/// What starts the last part of a message recording's name.
const RECORDING_PREFIX: &str = "msg-";

/// The mailbox and id of a message recording's name; `None` for any other
/// recording (greetings, names, other applications' files).
pub fn parse_message_recording(name: &str) -> Option<(MailboxId, MessageId)> {
    let rest = name.strip_prefix("voiceportal/")?;
    let (mailbox, file) = rest.split_once('/')?;
    let id = file.strip_prefix(RECORDING_PREFIX)?;
    // `MailboxId::parse` trims spaces; a name with spaces is not one we made.
    if mailbox.trim() != mailbox {
        return None;
    }
    Some((MailboxId::parse(mailbox).ok()?, MessageId::parse(id)?))
}

/// One voicemail message as flows and admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub mailbox: MailboxId,
    pub folder: Folder,
    /// Caller ID number; empty when unknown (e.g. a message recovered by repair).
    pub caller_number: String,
    /// Caller ID name; empty when unknown.
    pub caller_name: String,
    pub received: DateTime<Utc>,
    /// Length of the audio in whole seconds.
    pub duration_secs: u32,
    /// The Asterisk (its entity id, as `GET /asterisk/ping` says) whose
    /// recordings folder received the audio; empty when unknown (messages saved
    /// before this was kept, imports). With several Asterisk servers, audio
    /// missing on another server means its recordings folder is not the shared
    /// one (docs/SCALING.md), not that the message is gone: repair there leaves
    /// the message alone (`admin::repair`).
    pub recorded_on: String,
}

impl Message {
    /// The ARI stored-recording name of this message's audio.
    pub fn recording(&self) -> String {
        message_recording(&self.mailbox, &self.id)
    }

    pub(super) fn fields(&self) -> [(&'static str, String); 6] {
        [
            ("folder", self.folder.as_str().to_owned()),
            ("caller_number", self.caller_number.clone()),
            ("caller_name", self.caller_name.clone()),
            ("received", self.received.timestamp_millis().to_string()),
            ("duration", self.duration_secs.to_string()),
            ("recorded_on", self.recorded_on.clone()),
        ]
    }

    /// Reads a hash leniently: a field edited by hand or missing falls back to
    /// something sensible (the id's time, folder new, no caller) rather than
    /// hiding the message from its owner.
    fn from_fields(mailbox: MailboxId, id: MessageId, fields: &HashMap<String, String>) -> Message {
        let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let received = get("received")
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .or_else(|| id.received())
            .unwrap_or(DateTime::UNIX_EPOCH);
        Message {
            folder: if get("folder") == "old" {
                Folder::Old
            } else {
                Folder::New
            },
            caller_number: get("caller_number"),
            caller_name: get("caller_name"),
            received,
            duration_secs: get("duration").parse().unwrap_or(0),
            recorded_on: get("recorded_on"),
            id,
            mailbox,
        }
    }
}

/// How many messages each folder holds: what the lamp and "you have N new and M
/// old messages" say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageCounts {
    pub new: u32,
    pub old: u32,
}

impl MessageCounts {
    pub fn total(self) -> u32 {
        self.new.saturating_add(self.old)
    }
}

/// The result of [`Store::save_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Indexed (or already indexed, by repair, and refreshed); the new counts.
    Saved(MessageCounts),
    /// The mailbox holds `max_messages` already; nothing was indexed, so the
    /// caller should delete the audio.
    Full,
    /// The mailbox was deleted while the message was being left; nothing was
    /// indexed (a mailbox created later with the same number must not inherit the
    /// message), so the caller should delete the audio.
    NoMailbox,
}

/// Whether repair may touch a recording: see [`Store::message_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Indexed,
    /// Un-indexed by a delete whose audio deletion has not been confirmed.
    Tombstoned,
    /// Neither: audio of this id, if any, is an orphan.
    Absent,
}

/// The outcome of [`Store::index_recovered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverOutcome {
    Indexed,
    /// Indexed or tombstoned meanwhile (a deposit saved it, or it is being
    /// deleted): nothing changed.
    AlreadyKnown,
    /// The mailbox does not exist (any more): nothing changed.
    NoMailbox,
}

/// Counts one mailbox's folders from its hashes. Prepended to the scripts that
/// return counts, so counts are read in the same atomic step as the change.
/// A hash without a `folder` field counts as new, as `Message::from_fields` reads it.
///
/// A key of the wrong type (written by hand or by another program) must not
/// make the whole mailbox unusable: a message whose key is not a hash is left
/// out (listings name it, repair fixes it), and an index that is not a sorted
/// set reads as empty.
const COUNTS_FN: &str = r#"
local function is(key, kind)
  local t = redis.call('TYPE', key).ok
  return t == kind or t == 'none'
end

local function indexed(index)
  if not is(index, 'zset') then return {} end
  return redis.call('ZRANGE', index, 0, -1)
end

local function counts(index, prefix)
  local new, old = 0, 0
  for _, id in ipairs(indexed(index)) do
    local key = prefix .. id
    if redis.call('TYPE', key).ok == 'hash' then
      if redis.call('HGET', key, 'folder') == 'old' then
        old = old + 1
      else
        new = new + 1
      end
    end
  end
  return {new, old}
end
"#;

/// KEYS: index. ARGV: hash prefix. Returns {new, old}.
const COUNTS: &str = "return counts(KEYS[1], ARGV[1])";

/// Checks room and indexes in one step, so concurrent deposits can never exceed
/// `max_messages` between them. An id that is already indexed (repair recovered
/// it while the deposit was still running) is refreshed with the deposit's
/// better metadata (caller ID), keeping its folder, and not counted twice.
/// KEYS: index, hash, box. ARGV: id, received ms, max, hash prefix, fields...
/// Returns {status, new, old}: status 1 saved, 0 full, -1 no mailbox.
const SAVE: &str = r#"
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1, 0, 0} end
if not is(KEYS[1], 'zset') then return {-2, 0, 0} end
if not is(KEYS[2], 'hash') then redis.call('DEL', KEYS[2]) end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local folder = redis.call('HGET', KEYS[2], 'folder')
  redis.call('HSET', KEYS[2], unpack(ARGV, 5))
  if folder then redis.call('HSET', KEYS[2], 'folder', folder) end
  local c = counts(KEYS[1], ARGV[4])
  return {1, c[1], c[2]}
end
local c = counts(KEYS[1], ARGV[4])
if c[1] + c[2] >= tonumber(ARGV[3]) then return {0, c[1], c[2]} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
c = counts(KEYS[1], ARGV[4])
return {1, c[1], c[2]}
"#;

/// KEYS: index, hash. ARGV: id, folder, hash prefix.
/// Returns {1, new, old}, or {0} if the message is not indexed.
const SET_FOLDER: &str = r#"
if not is(KEYS[1], 'zset') or redis.call('TYPE', KEYS[2]).ok ~= 'hash'
    or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
redis.call('HSET', KEYS[2], 'folder', ARGV[2])
local c = counts(KEYS[1], ARGV[3])
return {1, c[1], c[2]}
"#;

/// Step 1 of a delete: un-index and tombstone together, dated with Redis' clock so
/// instances with skewed clocks agree.
/// KEYS: index, hash, tombstones. ARGV: id, hash prefix.
/// Returns {1, new, old}, or {0} if the message is not indexed.
const DELETE: &str = r#"
if not is(KEYS[1], 'zset') or not is(KEYS[3], 'zset') then return {0} end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[3], now, ARGV[1])
local c = counts(KEYS[1], ARGV[2])
return {1, c[1], c[2]}
"#;

/// The messages of one folder (or both, with folder ''), oldest first, each as
/// {id, field, value, ...}. A damaged entry (its key is not a hash) comes as
/// {key, '!damaged'}, and an index that is not a sorted set as
/// {index, '!damaged'}: the caller logs them and goes on without them.
/// KEYS: index. ARGV: hash prefix, folder.
const LIST: &str = r#"
local out = {}
if not is(KEYS[1], 'zset') then return {{KEYS[1], '!damaged'}} end
for _, id in ipairs(indexed(KEYS[1])) do
  local key = ARGV[1] .. id
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'hash' and kind ~= 'none' then
    out[#out + 1] = {key, '!damaged'}
  end
  local fields = {}
  if kind == 'hash' then fields = redis.call('HGETALL', key) end
  if #fields > 0 then
    local folder = 'new'
    for i = 1, #fields, 2 do
      if fields[i] == 'folder' and fields[i + 1] == 'old' then folder = 'old' end
    end
    if ARGV[2] == '' or ARGV[2] == folder then
      table.insert(fields, 1, id)
      out[#out + 1] = fields
    end
  end
end
return out
"#;

/// Indexes audio found by repair, unless the mailbox is gone or the id is known
/// (indexed, or tombstoned: its owner deleted it). Ignores `max_messages`: the
/// caller was told there was room when they recorded, and losing a message is
/// worse than one over the limit.
/// KEYS: index, hash, tombstones, box. ARGV: id, received ms, fields...
/// Returns 1 indexed, 0 already known, -1 no mailbox.
const RECOVER: &str = r#"
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) or redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
return 1
"#;

/// Removes an index entry and its hash together. KEYS: index, hash. ARGV: id.
/// Returns 1 if it was indexed.
const UNINDEX: &str = r#"
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return removed
"#;

fn with_counts(body: &str) -> Script {
    Script::new(&format!("{COUNTS_FN}\n{body}"))
}

static COUNTS_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_counts(COUNTS));
static SAVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_counts(SAVE));
static SET_FOLDER_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_counts(SET_FOLDER));
static DELETE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_counts(DELETE));
static LIST_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_counts(LIST));
static RECOVER_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RECOVER));
static UNINDEX_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(UNINDEX));

/// `vp:{1001}:msg:`: the scripts append ids to reach a message's hash. Every such
/// key shares the mailbox's hash tag, so this stays valid on Redis Cluster.
fn hash_prefix(mailbox: &MailboxId) -> String {
    message_key(mailbox.as_str(), "")
}

/// `{new, old}` (or `{status, new, old}` from index 1) as counts; Lua numbers
/// are never negative here, but a hand-edited reply must not wrap around.
fn counts_at(reply: &[i64], from: usize) -> MessageCounts {
    let at = |i: usize| {
        reply
            .get(i)
            .map_or(0, |&n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
    };
    MessageCounts {
        new: at(from),
        old: at(from + 1),
    }
}

impl Store {
    pub async fn message_counts(&self, m: &MailboxId) -> Result<MessageCounts, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = COUNTS_SCRIPT
            .key(messages_index(m.as_str()))
            .arg(hash_prefix(m))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(counts_at(&reply, 0))
    }

    /// Indexes a message whose audio is already stored. Atomically refuses when
    /// the mailbox holds `max_messages` (new + old) (`Full`), or no longer exists
    /// (`NoMailbox`).
    pub async fn save_message(
        &self,
        msg: &Message,
        max_messages: u32,
    ) -> Result<SaveOutcome, StoreError> {
        let m = msg.mailbox.as_str();
        let mut script = SAVE_SCRIPT.prepare_invoke();
        script
            .key(messages_index(m))
            .key(message_key(m, msg.id.as_str()))
            .key(mailbox_key(m, "box"))
            .arg(msg.id.as_str())
            .arg(msg.received.timestamp_millis())
            .arg(max_messages)
            .arg(hash_prefix(&msg.mailbox));
        for (name, value) in msg.fields() {
            script.arg(name).arg(value);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = script
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match reply.first() {
            Some(1) => SaveOutcome::Saved(counts_at(&reply, 1)),
            Some(-1) => SaveOutcome::NoMailbox,
            Some(-2) => {
                let key = messages_index(m);
                tracing::error!(key = %key,
                    "the message index has the wrong type; `voiceportal admin repair` fixes it");
                return Err(self.damaged(key));
            }
            _ => SaveOutcome::Full,
        })
    }

    /// Messages of one folder, oldest first.
    pub async fn messages(
        &self,
        m: &MailboxId,
        folder: Folder,
    ) -> Result<Vec<Message>, StoreError> {
        self.list_messages(m, folder.as_str()).await
    }

    /// Every message of a mailbox, both folders, oldest first.
    pub async fn all_messages(&self, m: &MailboxId) -> Result<Vec<Message>, StoreError> {
        self.list_messages(m, "").await
    }

    async fn list_messages(&self, m: &MailboxId, folder: &str) -> Result<Vec<Message>, StoreError> {
        let mut conn = self.conn.clone();
        let rows: Vec<Vec<String>> = LIST_SCRIPT
            .key(messages_index(m.as_str()))
            .arg(hash_prefix(m))
            .arg(folder)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                if row.get(1).map(String::as_str) == Some("!damaged") {
                    tracing::error!(key = %row[0],
                        "a Redis key of the wrong type is left out of the mailbox; \
                         `voiceportal admin repair` fixes it");
                    return None;
                }
                let mut items = row.into_iter();
                // An id that does not parse was written by something else: skip it
                // rather than hand flows a recording name we did not make.
                let id = MessageId::parse(&items.next()?)?;
                let mut fields = HashMap::new();
                while let (Some(name), Some(value)) = (items.next(), items.next()) {
                    fields.insert(name, value);
                }
                Some(Message::from_fields(m.clone(), id, &fields))
            })
            .collect())
    }

    pub async fn message(
        &self,
        m: &MailboxId,
        id: &MessageId,
    ) -> Result<Option<Message>, StoreError> {
        let key = message_key(m.as_str(), id.as_str());
        if !self.has_type(&messages_index(m.as_str()), "zset").await?
            || !self.has_type(&key, "hash").await?
        {
            return Ok(None);
        }
        let mut conn = self.conn.clone();
        let (indexed, fields): (Option<f64>, HashMap<String, String>) = redis::pipe()
            .zscore(messages_index(m.as_str()), id.as_str())
            .hgetall(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if indexed.is_none() || fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(Message::from_fields(m.clone(), id.clone(), &fields)))
    }

    /// Moves a message; returns the new counts; `None` if it does not exist.
    pub async fn set_folder(
        &self,
        m: &MailboxId,
        id: &MessageId,
        folder: Folder,
    ) -> Result<Option<MessageCounts>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = SET_FOLDER_SCRIPT
            .key(messages_index(m.as_str()))
            .key(message_key(m.as_str(), id.as_str()))
            .arg(id.as_str())
            .arg(folder.as_str())
            .arg(hash_prefix(m))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok((reply.first() == Some(&1)).then(|| counts_at(&reply, 1)))
    }

    /// Step 1 of deleting: atomically un-index and leave a tombstone, so a crash
    /// before the audio is deleted never lets repair resurrect the message. Then
    /// delete the audio through ARI (404 counts as deleted) and call
    /// [`Store::clear_tombstone`]. Returns the new counts; `None` if unknown.
    pub async fn delete_message(
        &self,
        m: &MailboxId,
        id: &MessageId,
    ) -> Result<Option<MessageCounts>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = DELETE_SCRIPT
            .key(messages_index(m.as_str()))
            .key(message_key(m.as_str(), id.as_str()))
            .key(tombstones(m.as_str()))
            .arg(id.as_str())
            .arg(hash_prefix(m))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok((reply.first() == Some(&1)).then(|| counts_at(&reply, 1)))
    }

    /// Step 3 of deleting, after the audio is deleted through ARI.
    pub async fn clear_tombstone(&self, m: &MailboxId, id: &MessageId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZREM")
            .arg(tombstones(m.as_str()))
            .arg(id.as_str())
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Tombstoned ids with the time their deletion began, oldest first.
    pub async fn tombstones(
        &self,
        m: &MailboxId,
    ) -> Result<Vec<(MessageId, Option<DateTime<Utc>>)>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(tombstones(m.as_str()))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(raw
            .into_iter()
            .filter_map(|(id, score)| {
                // Scores are whole milliseconds well inside f64's exact range.
                let at = DateTime::from_timestamp_millis(score as i64);
                MessageId::parse(&id).map(|id| (id, at))
            })
            .collect())
    }

    /// Whether an id is indexed, being deleted, or unknown to the index.
    pub async fn message_state(
        &self,
        m: &MailboxId,
        id: &MessageId,
    ) -> Result<MessageState, StoreError> {
        let mut conn = self.conn.clone();
        let (indexed, tombstoned): (Option<f64>, Option<f64>) = redis::pipe()
            .zscore(messages_index(m.as_str()), id.as_str())
            .zscore(tombstones(m.as_str()), id.as_str())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match (indexed, tombstoned) {
            (Some(_), _) => MessageState::Indexed,
            (None, Some(_)) => MessageState::Tombstoned,
            (None, None) => MessageState::Absent,
        })
    }

    /// For repair: indexes audio that has no index entry, in one step that
    /// re-checks everything `message_state` saw (see [`RecoverOutcome`]).
    pub async fn index_recovered(&self, msg: &Message) -> Result<RecoverOutcome, StoreError> {
        let m = msg.mailbox.as_str();
        let mut script = RECOVER_SCRIPT.prepare_invoke();
        script
            .key(messages_index(m))
            .key(message_key(m, msg.id.as_str()))
            .key(tombstones(m))
            .key(mailbox_key(m, "box"))
            .arg(msg.id.as_str())
            .arg(msg.received.timestamp_millis());
        for (name, value) in msg.fields() {
            script.arg(name).arg(value);
        }
        let mut conn = self.conn.clone();
        let status: i64 = script
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match status {
            1 => RecoverOutcome::Indexed,
            -1 => RecoverOutcome::NoMailbox,
            _ => RecoverOutcome::AlreadyKnown,
        })
    }

    /// For repair: removes an index entry whose audio is gone. `false` if it was
    /// not indexed (any more).
    pub async fn unindex_message(&self, m: &MailboxId, id: &MessageId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = UNINDEX_SCRIPT
            .key(messages_index(m.as_str()))
            .key(message_key(m.as_str(), id.as_str()))
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(removed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn ids_carry_their_time_and_sort_by_it() {
        let a = MessageId::with_suffix(at(1_700_000_000_000), 0xabc);
        assert_eq!(a.as_str(), "1700000000000-000abc");
        assert_eq!(a.received(), Some(at(1_700_000_000_000)));
        let b = MessageId::with_suffix(at(1_700_000_000_001), 0);
        assert!(a < b);
        let g = MessageId::generate(at(1_700_000_000_000));
        assert_eq!(MessageId::parse(g.as_str()), Some(g.clone()));
        assert!(g.as_str().starts_with("1700000000000-"));
        // Only the low 24 bits of the suffix are used: always six digits.
        let c = MessageId::with_suffix(at(5), u32::MAX);
        assert_eq!(c.as_str(), "5-ffffff");
    }

    #[test]
    fn parse_accepts_only_generated_ids() {
        assert!(MessageId::parse("1700000000000-0a1b2c").is_some());
        assert!(MessageId::parse("0-000000").is_some());
        for bad in [
            "",
            "-0a1b2c",
            "1700000000000",
            "1700000000000-0A1B2C",
            "1700000000000-0a1b2",
            "1700000000000-0a1b2c3",
            "01700000000000-0a1b2c",
            "17000x0000000-0a1b2c",
            "1700000000000-0a1b2g",
            "1700000000000-0a1b2c-1",
            "1234567890123456-0a1b2c",
            "../x-0a1b2c",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recording_names_round_trip() {
        let m = MailboxId::parse("1001").unwrap();
        let id = MessageId::parse("1700000000000-0a1b2c").unwrap();
        let name = message_recording(&m, &id);
        assert_eq!(name, "voiceportal/1001/msg-1700000000000-0a1b2c");
        assert_eq!(parse_message_recording(&name), Some((m, id)));
        for other in [
            "voiceportal/1001/name",
            "voiceportal/1001/msg-bad",
            "voiceportal/10a1/msg-1700000000000-0a1b2c",
            "voiceportal/ 1001/msg-1700000000000-0a1b2c",
            "other/1001/msg-1700000000000-0a1b2c",
            "voiceportal/1001/sub/msg-1700000000000-0a1b2c",
        ] {
            assert_eq!(parse_message_recording(other), None, "{other}");
        }
    }

    #[test]
    fn hashes_read_leniently() {
        let m = MailboxId::parse("1001").unwrap();
        let id = MessageId::parse("1700000000000-0a1b2c").unwrap();
        let msg = Message::from_fields(m.clone(), id.clone(), &HashMap::new());
        assert_eq!(msg.folder, Folder::New);
        assert_eq!(msg.received, at(1_700_000_000_000));
        assert_eq!(msg.duration_secs, 0);
        let full = Message {
            id: id.clone(),
            mailbox: m.clone(),
            folder: Folder::Old,
            caller_number: "1002".into(),
            caller_name: "Bob".into(),
            received: at(1_700_000_000_123),
            duration_secs: 12,
            recorded_on: String::new(),
        };
        let fields: HashMap<String, String> = full
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(Message::from_fields(m, id, &fields), full);
    }

    #[test]
    fn folders_parse() {
        assert_eq!("old".parse(), Ok(Folder::Old));
        assert_eq!(Folder::New.to_string(), "new");
        assert!("Old".parse::<Folder>().is_err());
    }
}
