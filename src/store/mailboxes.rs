//! Mailbox records: who owns a mailbox, how to talk to them, and the state of
//! their PIN. The PIN hash is stored here but only handed out by `pin_hash`, for
//! the code that verifies PINs; `MailboxRecord` never carries it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use redis::AsyncCommands;

use super::keys::{imports_ledger, mailbox_index, mailbox_key, purge_index, purge_mark};
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// Where the current PIN came from. Anything but `User` forces a change at the next
/// login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOrigin {
    /// No PIN yet: the owner sets one up from their own phone.
    None,
    /// The organisation's default PIN.
    Default,
    /// Set by an administrator.
    Temporary,
    /// Chosen by the owner.
    User,
}

impl PinOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            PinOrigin::None => "none",
            PinOrigin::Default => "default",
            PinOrigin::Temporary => "temporary",
            PinOrigin::User => "user",
        }
    }
}

impl fmt::Display for PinOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinOrigin {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "none" | "" => Ok(PinOrigin::None),
            "default" => Ok(PinOrigin::Default),
            "temporary" => Ok(PinOrigin::Temporary),
            "user" => Ok(PinOrigin::User),
            _ => Err(()),
        }
    }
}

/// The outcome of [`Store::replace_pin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSwap {
    Replaced,
    /// The PIN is no longer the one the caller logged in with (another call,
    /// or an administrator, changed it): nothing was written.
    ChangedMeanwhile,
    NoMailbox,
}

/// A mailbox as flows and admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRecord {
    pub id: MailboxId,
    /// The owner's name, for listings (the spoken name is a recording).
    pub display_name: String,
    pub email: Option<String>,
    /// Prompt language, e.g. `en` or `fr`.
    pub language: String,
    /// IANA time zone for message envelopes, e.g. `Europe/Paris`.
    pub timezone: String,
    pub pin_origin: PinOrigin,
    pub must_change: bool,
    pub name_recorded: bool,
}

impl MailboxRecord {
    pub fn new(id: MailboxId) -> MailboxRecord {
        MailboxRecord {
            id,
            display_name: String::new(),
            email: None,
            language: "en".into(),
            timezone: "UTC".into(),
            pin_origin: PinOrigin::None,
            must_change: false,
            name_recorded: false,
        }
    }

    /// What describes the owner; an update rewrites only these, so it can never
    /// undo a PIN change or a recorded name that happened meanwhile.
    fn descriptive_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("display_name", self.display_name.clone()),
            ("email", self.email.clone().unwrap_or_default()),
            ("language", self.language.clone()),
            ("timezone", self.timezone.clone()),
        ]
    }

    /// Every field of a new record.
    pub(super) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = self.descriptive_fields();
        fields.extend([
            ("pin_origin", self.pin_origin.as_str().to_owned()),
            ("must_change", flag(self.must_change)),
            ("name_recorded", flag(self.name_recorded)),
        ]);
        fields
    }

    fn from_fields(id: MailboxId, fields: &HashMap<String, String>) -> MailboxRecord {
        let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let pin_origin: Result<PinOrigin, ()> = get("pin_origin").parse();
        MailboxRecord {
            id,
            display_name: get("display_name"),
            email: Some(get("email")).filter(|e| !e.is_empty()),
            language: Some(get("language"))
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "en".into()),
            timezone: Some(get("timezone"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "UTC".into()),
            // An origin we cannot read fails closed: a PIN that must be changed,
            // never "no PIN" (which opens set-up without one).
            pin_origin: pin_origin.unwrap_or(PinOrigin::Temporary),
            must_change: get("must_change") == "1" || pin_origin.is_err(),
            name_recorded: get("name_recorded") == "1",
        }
    }
}

fn flag(value: bool) -> String {
    if value { "1" } else { "0" }.to_owned()
}

/// Creates the record only if the mailbox does not exist yet and no deleted
/// mailbox of that number still has recordings in Asterisk (its purge mark,
/// `vp:{<mailbox>}:purged`), in one step. KEYS: box, purge mark. ARGV: PIN
/// hash, then field/value pairs.
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'pin_hash', ARGV[1]) end
return 1
"#;

/// Deletes every key of a mailbox and, if it existed, sets its purge mark, in
/// one step. KEYS: box, pins, msgs, lock, tomb, imported, deposits, purge mark.
/// ARGV: message key prefix.
const DELETE: &str = r#"
local existed = redis.call('EXISTS', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, msg in ipairs(ids) do redis.call('DEL', ARGV[1] .. msg) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
if existed == 1 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[8], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return existed
"#;

/// Removes a purge entry only if it still has the score this caller gave it.
/// KEYS: purge index. ARGV: number, score.
const UNDO_PURGE_ENTRY: &str = r#"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
"#;

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The outcome of [`Store::create_mailbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The mailbox exists already: nothing was changed.
    Exists,
    /// A mailbox of this number was deleted while its recordings could not be
    /// removed from Asterisk: a new one would inherit them (messages re-indexed
    /// by repair, the old greeting played to callers). Nothing was changed;
    /// remove them first (see `Store::purges`).
    AudioPending,
}

impl Store {
    /// Creates a mailbox (see [`Created`]). `pin_hash` is the initial PIN (the
    /// org default PIN), if any.
    pub async fn create_mailbox(
        &self,
        record: &MailboxRecord,
        pin_hash: Option<&str>,
    ) -> Result<Created, StoreError> {
        let m = record.id.as_str();
        let mut conn = self.conn.clone();
        // A deletion from before purge marks existed has only its index entry.
        let legacy_purge: Option<f64> = conn
            .zscore(purge_index(), m)
            .await
            .map_err(|e| self.error(e))?;
        if legacy_purge.is_some() && !self.purge_marked(&record.id).await? {
            if self.mailbox(&record.id).await?.is_some() {
                return Ok(Created::Exists);
            }
            return Ok(Created::AudioPending);
        }
        // Indexed first: an index entry whose record is missing is skipped by
        // `mailbox_ids`, while a record missing from the index could not be found.
        conn.sadd::<_, _, i64>(mailbox_index(), m)
            .await
            .map_err(|e| self.error(e))?;
        let create = redis::Script::new(CREATE);
        let mut script = create.prepare_invoke();
        script
            .key(mailbox_key(m, "box"))
            .key(purge_mark(m))
            .arg(pin_hash.unwrap_or(""));
        for (name, value) in record.fields() {
            script.arg(name).arg(value);
        }
        script.arg("id").arg(m);
        let created: i32 = script
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match created {
            1 => Created::Created,
            -2 => Created::AudioPending,
            _ => Created::Exists,
        })
    }

    /// Whether deleted mailbox `id` still has its purge mark (its recordings
    /// are not known to be gone).
    pub async fn purge_marked(&self, id: &MailboxId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        conn.exists(purge_mark(id.as_str()))
            .await
            .map_err(|e| self.error(e))
    }

    pub async fn mailbox(&self, id: &MailboxId) -> Result<Option<MailboxRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(mailbox_key(id.as_str(), "box"))
            .await
            .map_err(|e| self.error(e))?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(MailboxRecord::from_fields(id.clone(), &fields)))
    }

    /// Rewrites the descriptive fields (name, e-mail, language, time zone) of an
    /// existing mailbox; `false` if it does not exist. PIN state is not touched.
    pub async fn update_mailbox(&self, record: &MailboxRecord) -> Result<bool, StoreError> {
        const UPDATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"#;
        let update = redis::Script::new(UPDATE);
        let mut script = update.prepare_invoke();
        script.key(mailbox_key(record.id.as_str(), "box"));
        for (name, value) in record.descriptive_fields() {
            script.arg(name).arg(value);
        }
        let mut conn = self.conn.clone();
        let updated: i32 = script
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(updated == 1)
    }

    /// Deletes a mailbox and every key it owns (record, PIN history, message index
    /// and tombstones, lock, import ledger, deposits); `false` if it did not
    /// exist. The audio lives in Asterisk: the mailbox's purge mark is set in the
    /// same step, and stays until its recordings are known to be gone
    /// ([`Store::clear_purge`], after `admin mailbox delete` or repair removed
    /// them).
    ///
    /// The global lists are other hash slots (see `keys`), so they change in
    /// their own steps: the purge entry before (so a crash never leaves a mark
    /// nobody lists) and again after (in case repair cleared it meanwhile, seeing
    /// the mailbox still there), the index entry after.
    pub async fn delete_mailbox(&self, id: &MailboxId) -> Result<bool, StoreError> {
        let m = id.as_str();
        let mut conn = self.conn.clone();
        let score = now_millis();
        let added: i64 = redis::cmd("ZADD")
            .arg(purge_index())
            .arg("NX")
            .arg(score)
            .arg(m)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        let existed: i32 = redis::Script::new(DELETE)
            .key(mailbox_key(m, "box"))
            .key(mailbox_key(m, "pins"))
            .key(mailbox_key(m, "msgs"))
            .key(mailbox_key(m, "lock"))
            .key(mailbox_key(m, "tomb"))
            .key(imports_ledger(m))
            .key(mailbox_key(m, "deposits"))
            .key(purge_mark(m))
            .arg(mailbox_key(m, "msg:"))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        if existed == 1 {
            conn.zadd::<_, _, _, i64>(purge_index(), m, now_millis().max(score))
                .await
                .map_err(|e| self.error(e))?;
            conn.srem::<_, _, i64>(mailbox_index(), m)
                .await
                .map_err(|e| self.error(e))?;
        } else if added == 1 {
            redis::Script::new(UNDO_PURGE_ENTRY)
                .key(purge_index())
                .arg(m)
                .arg(score)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(existed == 1)
    }

    /// Numbers of deleted mailboxes whose recordings may still be in Asterisk.
    pub async fn purges(&self) -> Result<Vec<MailboxId>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = conn
            .zrange(purge_index(), 0, -1)
            .await
            .map_err(|e| self.error(e))?;
        Ok(raw
            .iter()
            .filter_map(|r| MailboxId::parse(r).ok())
            .collect())
    }

    /// The recordings of deleted mailbox `id` are gone from Asterisk: the mark
    /// first (it is what blocks a new mailbox), then the list entry.
    pub async fn clear_purge(&self, id: &MailboxId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.del::<_, i64>(purge_mark(id.as_str()))
            .await
            .map_err(|e| self.error(e))?;
        conn.zrem::<_, _, i64>(purge_index(), id.as_str())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Every mailbox number, sorted. An index entry without its record (a
    /// creation that stopped half-way, see [`Store::create_mailbox`]) is left
    /// out.
    pub async fn mailbox_ids(&self) -> Result<Vec<MailboxId>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = conn
            .smembers(mailbox_index())
            .await
            .map_err(|e| self.error(e))?;
        let listed: Vec<MailboxId> = raw
            .iter()
            .filter_map(|r| MailboxId::parse(r).ok())
            .collect();
        // One EXISTS each, concurrently: on a Cluster the records are spread
        // over every master, so they cannot be asked in one command.
        let checks = listed.iter().map(|id| {
            let mut conn = self.conn.clone();
            let key = mailbox_key(id.as_str(), "box");
            async move { conn.exists::<_, bool>(key).await }
        });
        let found = futures_util::future::join_all(checks).await;
        let mut ids = Vec::with_capacity(listed.len());
        for (id, exists) in listed.into_iter().zip(found) {
            if exists.map_err(|e| self.error(e))? {
                ids.push(id);
            }
        }
        ids.sort_by(|a, b| (a.as_str().len(), a.as_str()).cmp(&(b.as_str().len(), b.as_str())));
        Ok(ids)
    }

    /// The record and its PIN hash read in one step, so the hash verified at a
    /// login is the one of the record the caller is then given (see
    /// [`Store::replace_pin`]).
    pub async fn mailbox_with_pin(
        &self,
        id: &MailboxId,
    ) -> Result<Option<(MailboxRecord, Option<String>)>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(mailbox_key(id.as_str(), "box"))
            .await
            .map_err(|e| self.error(e))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let hash = fields.get("pin_hash").filter(|h| !h.is_empty()).cloned();
        Ok(Some((
            MailboxRecord::from_fields(id.clone(), &fields),
            hash,
        )))
    }

    /// The current PIN hash, for verification only.
    pub async fn pin_hash(&self, id: &MailboxId) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let hash: Option<String> = conn
            .hget(mailbox_key(id.as_str(), "box"), "pin_hash")
            .await
            .map_err(|e| self.error(e))?;
        Ok(hash.filter(|h| !h.is_empty()))
    }

    /// The hashes of the last PINs, newest first. A history of the wrong type
    /// (damaged) reads as empty, logged: the owner can still change their PIN,
    /// and the next change starts a new history.
    pub async fn pin_history(&self, id: &MailboxId) -> Result<Vec<String>, StoreError> {
        let key = mailbox_key(id.as_str(), "pins");
        if !self.has_type(&key, "list").await? {
            tracing::error!(key = %key,
                "the PIN history has the wrong type: ignored, and replaced at the next PIN change");
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        conn.lrange(key, 0, -1).await.map_err(|e| self.error(e))
    }

    /// Replaces the PIN of an existing mailbox in one step: the hash, its origin,
    /// must_change, and (for owner-chosen PINs) the history, trimmed to `history`
    /// entries. `false` if the mailbox does not exist.
    pub async fn set_pin(
        &self,
        id: &MailboxId,
        pin_hash: &str,
        origin: PinOrigin,
        history: usize,
    ) -> Result<bool, StoreError> {
        const SET_PIN: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'pin_hash', ARGV[1], 'pin_origin', ARGV[2], 'must_change', ARGV[3])
if ARGV[2] == 'user' and tonumber(ARGV[4]) > 0 then
  if redis.call('TYPE', KEYS[2]).ok ~= 'list' then redis.call('DEL', KEYS[2]) end
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
end
return 1
"#;
        let must_change = origin != PinOrigin::User;
        let mut conn = self.conn.clone();
        let done: i32 = redis::Script::new(SET_PIN)
            .key(mailbox_key(id.as_str(), "box"))
            .key(mailbox_key(id.as_str(), "pins"))
            .arg(pin_hash)
            .arg(origin.as_str())
            .arg(flag(must_change))
            .arg(history)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(done == 1)
    }

    /// The owner's PIN change, as a compare-and-set: the new hash replaces the
    /// PIN only if the stored hash is still `expected` (the one the caller was
    /// verified against; `None` for a mailbox that had no PIN). Two calls in
    /// set-up on the same temporary PIN cannot both change it: the second finds
    /// the first one's PIN and gets [`PinSwap::ChangedMeanwhile`].
    pub async fn replace_pin(
        &self,
        id: &MailboxId,
        expected: Option<&str>,
        pin_hash: &str,
        history: usize,
    ) -> Result<PinSwap, StoreError> {
        const REPLACE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], 'pin_hash') or ''
if current ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'pin_hash', ARGV[2], 'pin_origin', 'user', 'must_change', '0')
if tonumber(ARGV[3]) > 0 then
  if redis.call('TYPE', KEYS[2]).ok ~= 'list' then redis.call('DEL', KEYS[2]) end
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
end
return 1
"#;
        let mut conn = self.conn.clone();
        let done: i32 = redis::Script::new(REPLACE)
            .key(mailbox_key(id.as_str(), "box"))
            .key(mailbox_key(id.as_str(), "pins"))
            .arg(expected.unwrap_or(""))
            .arg(pin_hash)
            .arg(history)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match done {
            1 => PinSwap::Replaced,
            -1 => PinSwap::ChangedMeanwhile,
            _ => PinSwap::NoMailbox,
        })
    }

    /// Records that the owner's spoken name exists (or was removed).
    pub async fn set_name_recorded(
        &self,
        id: &MailboxId,
        recorded: bool,
    ) -> Result<(), StoreError> {
        const SET: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'name_recorded', ARGV[1])
return 1
"#;
        let mut conn = self.conn.clone();
        let _: i32 = redis::Script::new(SET)
            .key(mailbox_key(id.as_str(), "box"))
            .arg(flag(recorded))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}
