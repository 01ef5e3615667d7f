//! Bearer tokens of the HTTP API (created with `voiceportal admin token ...`).
//!
//! Only digests are stored (see `domain::token`): `vp:{tokens}:<digest>` holds the
//! token's name and creation time, and `vp:{tokens}:index` maps each name to its
//! digest, for listing and revoking. Both share one hash tag, so a token and its
//! index entry always change together.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::{AsyncCommands, Script};

use super::keys::{token_index, token_key};
use super::{Store, StoreError};
use crate::domain::AdminName;

/// An API token as listings show it: never the token, never its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Named like an administrator account; the audit log shows `token:<name>`.
    pub name: AdminName,
    pub created: Option<DateTime<Utc>>,
}

/// KEYS: index, token. ARGV: name. 0 if the name is taken.
const CREATE: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'name', ARGV[1], 'created', now)
return 1
"#;

/// KEYS: index. ARGV: name, token key prefix. 0 if there is no such token.
const REVOKE: &str = r#"
local digest = redis.call('HGET', KEYS[1], ARGV[1])
if not digest then return 0 end
redis.call('DEL', ARGV[2] .. digest)
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"#;

static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE));
static REVOKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE));

impl Store {
    /// Stores a new token's digest under `name`; `false` if the name is taken.
    pub async fn create_token(&self, name: &AdminName, digest: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let created: i64 = CREATE_SCRIPT
            .key(token_index())
            .key(token_key(digest))
            .arg(name.as_str())
            .arg(digest)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(created == 1)
    }

    /// The token whose digest this is, if it exists.
    pub async fn token_by_digest(&self, digest: &str) -> Result<Option<ApiToken>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn
            .hgetall(token_key(digest))
            .await
            .map_err(|e| self.error(e))?;
        Ok(token_from_fields(&fields))
    }

    /// Deletes the token of that name; `false` if there was none.
    pub async fn revoke_token(&self, name: &AdminName) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let revoked: i64 = REVOKE_SCRIPT
            .key(token_index())
            .arg(name.as_str())
            .arg(token_key(""))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(revoked == 1)
    }

    /// Every token, by name.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut conn = self.conn.clone();
        let index: HashMap<String, String> = conn
            .hgetall(token_index())
            .await
            .map_err(|e| self.error(e))?;
        let mut tokens = Vec::new();
        for digest in index.values() {
            if let Some(token) = self.token_by_digest(digest).await? {
                tokens.push(token);
            }
        }
        tokens.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tokens)
    }
}

fn token_from_fields(fields: &HashMap<String, String>) -> Option<ApiToken> {
    Some(ApiToken {
        name: AdminName::parse(fields.get("name")?).ok()?,
        created: fields
            .get("created")
            .and_then(|c| c.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis),
    })
}
