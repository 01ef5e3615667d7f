//! Web administrator accounts (created with `voiceportal admin account ...`).
//!
//! | field of `vp:{admins}:account:<name>` | value |
//! |---|---|
//! | `password_hash` | argon2id PHC string of the password |
//! | `created` | creation time, ms since the epoch (Redis `TIME`) |
//! | `generation` | bumped at every password change: a session remembers the generation it was made in, so changing a password signs out every session of the account |
//!
//! Like `MailboxRecord`, [`AdminAccount`] never carries the hash; only
//! [`Store::admin_password_hash`] hands it out, to the code that verifies it.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::{AsyncCommands, Script};

use super::keys::{admin_account, admin_index, admin_lock};
use super::{Store, StoreError};
use crate::domain::AdminName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccount {
    pub name: AdminName,
    pub created: Option<DateTime<Utc>>,
    pub generation: u64,
}

/// KEYS: account, index. ARGV: name, hash. 0 if it exists already.
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'password_hash', ARGV[2], 'created', now, 'generation', 1)
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"#;

/// KEYS: account. ARGV: hash. 0 if there is no such account.
const SET_PASSWORD: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return 1
"#;

/// KEYS: account, index, lock. ARGV: name. 0 if there was no such account.
const DELETE: &str = r#"
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], ARGV[1])
return existed
"#;

static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE));
static SET_PASSWORD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SET_PASSWORD));
static DELETE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE));

impl Store {
    /// Creates an account; `false` if one of that name exists (nothing changes).
    pub async fn create_admin(&self, name: &AdminName, hash: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let created: i64 = CREATE_SCRIPT
            .key(admin_account(name))
            .key(admin_index())
            .arg(name.as_str())
            .arg(hash)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(created == 1)
    }

    /// Replaces the password and bumps the generation (every session of the
    /// account ends); `false` if there is no such account.
    pub async fn set_admin_password(
        &self,
        name: &AdminName,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let done: i64 = SET_PASSWORD_SCRIPT
            .key(admin_account(name))
            .arg(hash)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(done == 1)
    }

    /// Deletes the account and its lock; `false` if there was none.
    pub async fn delete_admin(&self, name: &AdminName) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let existed: i64 = DELETE_SCRIPT
            .key(admin_account(name))
            .key(admin_index())
            .key(admin_lock(name))
            .arg(name.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(existed == 1)
    }

    pub async fn admin_account(
        &self,
        name: &AdminName,
    ) -> Result<Option<AdminAccount>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(admin_account(name))
            .await
            .map_err(|e| self.error(e))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |field: &str| fields.get(field).and_then(|v| v.parse::<i64>().ok());
        Ok(Some(AdminAccount {
            name: name.clone(),
            created: number("created").and_then(DateTime::from_timestamp_millis),
            generation: number("generation")
                .and_then(|g| u64::try_from(g).ok())
                .unwrap_or(0),
        }))
    }

    /// The password hash, for verification only.
    pub async fn admin_password_hash(
        &self,
        name: &AdminName,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let hash: Option<String> = conn
            .hget(admin_account(name), "password_hash")
            .await
            .map_err(|e| self.error(e))?;
        Ok(hash.filter(|h| !h.is_empty()))
    }

    /// Every account name, sorted.
    pub async fn admin_names(&self) -> Result<Vec<AdminName>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = conn
            .smembers(admin_index())
            .await
            .map_err(|e| self.error(e))?;
        let mut names: Vec<AdminName> = raw
            .iter()
            .filter_map(|n| AdminName::parse(n).ok())
            .collect();
        names.sort();
        Ok(names)
    }
}
