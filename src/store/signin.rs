//! The one-time code of a sign-in by phone (or e-mail), at most one per mailbox.
//!
//! `vp:{1001}:signin` is a hash that Redis expires with the code:
//!
//! | field | value |
//! |---|---|
//! | `hash` | argon2id PHC string of the code (six digits need a slow hash) |
//! | `request` | random id of the request that made it: the call speaking it asks whether it is still pending, and only that request's code is consumed |
//! | `tries` | verifications left |
//! | `used` | `1` once the code signed someone in (the hash is dropped then); kept until expiry so the call speaking it can say so |
//!
//! Every verification first takes a try in one script, so however many requests
//! race, a code is checked at most `tries` times; the right code is then
//! consumed in one script, so it signs in once.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::keys::mailbox_key;
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// KEYS: code. Returns {hash, request} and uses up one try, or nil when there is
/// no code or no try left (the code is then deleted).
const TAKE_TRY: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if redis.call('HEXISTS', KEYS[1], 'used') == 1 then return nil end
local left = redis.call('HINCRBY', KEYS[1], 'tries', -1)
if left < 0 then
  redis.call('DEL', KEYS[1])
  return nil
end
return redis.call('HMGET', KEYS[1], 'hash', 'request')
"#;

/// KEYS: code. ARGV: request. 1 if that request's code was there unused (now
/// used).
const CONSUME: &str = r#"
if redis.call('HGET', KEYS[1], 'request') == ARGV[1]
   and redis.call('HEXISTS', KEYS[1], 'used') == 0 then
  redis.call('HSET', KEYS[1], 'used', 1)
  redis.call('HDEL', KEYS[1], 'hash')
  return 1
end
return 0
"#;

static TAKE_TRY_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_TRY));
static CONSUME_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CONSUME));

fn code_key(mailbox: &MailboxId) -> String {
    mailbox_key(mailbox.as_str(), "signin")
}

/// A try at the pending code: the hash to verify against, and the request to
/// consume if it matches.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeTry {
    pub hash: String,
    pub request: String,
}

/// The hash is not for printing.
impl std::fmt::Debug for CodeTry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeTry").finish_non_exhaustive()
    }
}

/// Where one request's code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// Waiting to be typed, with tries left.
    Pending,
    /// It signed the owner in.
    Used,
    /// Expired, out of tries, or replaced by a newer request.
    Gone,
}

impl Store {
    /// Replaces the mailbox's pending code (an earlier one stops working).
    pub async fn set_signin_code(
        &self,
        mailbox: &MailboxId,
        hash: &str,
        request: &str,
        tries: u32,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let key = code_key(mailbox);
        let ms = i64::try_from(lifetime.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(&key)
            .ignore()
            .hset_multiple(
                &key,
                &[
                    ("hash", hash.to_owned()),
                    ("request", request.to_owned()),
                    ("tries", tries.to_string()),
                ],
            )
            .ignore()
            .pexpire(&key, ms)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    /// Uses up one try of the pending code; `None` if there is no code (never
    /// requested, expired, used, or out of tries).
    pub async fn take_signin_try(
        &self,
        mailbox: &MailboxId,
    ) -> Result<Option<CodeTry>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Option<Vec<Option<String>>> = TAKE_TRY_SCRIPT
            .key(code_key(mailbox))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match reply.as_deref() {
            Some([Some(hash), Some(request)]) => Some(CodeTry {
                hash: hash.clone(),
                request: request.clone(),
            }),
            _ => None,
        })
    }

    /// Consumes the code of `request`; `false` if it is gone (used, expired, or
    /// replaced by a newer request).
    pub async fn consume_signin_code(
        &self,
        mailbox: &MailboxId,
        request: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let consumed: i64 = CONSUME_SCRIPT
            .key(code_key(mailbox))
            .arg(request)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(consumed == 1)
    }

    /// Where the code of `request` stands.
    pub async fn signin_code_state(
        &self,
        mailbox: &MailboxId,
        request: &str,
    ) -> Result<CodeState, StoreError> {
        let mut conn = self.conn.clone();
        let (current, tries, used): (Option<String>, Option<i64>, Option<String>) = conn
            .hmget(code_key(mailbox), &["request", "tries", "used"])
            .await
            .map_err(|e| self.error(e))?;
        Ok(match (current.as_deref() == Some(request), used, tries) {
            (true, Some(_), _) => CodeState::Used,
            (true, None, Some(tries)) if tries > 0 => CodeState::Pending,
            _ => CodeState::Gone,
        })
    }
}
