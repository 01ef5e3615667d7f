//! Rate limits: at most N requests of one kind per window, per mailbox or per
//! client address (sign-in requests, sign-in attempts).
//!
//! A fixed window per key: the first request starts it, every request counts,
//! and the key expires with the window. Counting and checking are one script, so
//! parallel requests and service instances can never overshoot the limit. A
//! fixed window lets up to 2N through around a window boundary; for the limits
//! used here (a few sign-ins per quarter hour) that is harmless, and it keeps the
//! state at one integer per key.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::keys::{address_rate, mailbox_key};
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// Whose requests are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateScope {
    Mailbox(MailboxId),
    Address(IpAddr),
}

impl RateScope {
    fn key(&self, what: &str) -> String {
        match self {
            RateScope::Mailbox(id) => mailbox_key(id.as_str(), &format!("rate:{what}")),
            RateScope::Address(ip) => address_rate(ip, what),
        }
    }
}

/// The answer to one counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Allowed,
    /// Over the limit; the window ends in this long.
    Limited {
        retry_after: Duration,
    },
}

/// KEYS: counter. ARGV: limit, window ms. Returns {allowed 1/0, ms left}.
const HIT: &str = r#"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if n > tonumber(ARGV[1]) then return {0, ttl} end
return {1, ttl}
"#;

static HIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(HIT));

impl Store {
    /// Counts one request of kind `what` for `scope`: allowed while at most
    /// `limit` were made in the current `window`.
    pub async fn hit_rate(
        &self,
        scope: &RateScope,
        what: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Rate, StoreError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = HIT_SCRIPT
            .key(scope.key(what))
            .arg(limit)
            .arg(window_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match reply.as_slice() {
            [1, _] => Rate::Allowed,
            [_, left] => Rate::Limited {
                retry_after: Duration::from_millis(u64::try_from(*left).unwrap_or(0)),
            },
            _ => Rate::Limited {
                retry_after: window,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_scope_as_hash_tag() {
        let mailbox = RateScope::Mailbox(MailboxId::parse("1001").unwrap());
        assert_eq!(mailbox.key("signin"), "vp:{1001}:rate:signin");
        let address = RateScope::Address("127.0.0.1".parse().unwrap());
        assert_eq!(address.key("signin"), "vp:{addr:127.0.0.1}:rate:signin");
        let v6 = RateScope::Address("::1".parse().unwrap());
        assert_eq!(v6.key("admin"), "vp:{addr:::1}:rate:admin");
    }
}
