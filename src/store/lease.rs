//! The high-availability lease: one key naming the instance that owns the ARI
//! application (see `ha`).
//!
//! Taken with `SET NX PX`, so at most one instance holds it; renewed and
//! released by scripts that compare the holder first, so an instance whose
//! lease lapsed can never extend or delete its successor's. The key has a hash
//! tag of its own, and each script touches that key only (Redis Cluster).

use std::time::Duration;

use super::keys::PREFIX;
use super::{Store, StoreError};

/// `vp:{ha:<app>}:owner`: one lease per ARI application name.
pub fn lease_key(app: &str) -> String {
    format!("{PREFIX}:{{ha:{app}}}:owner")
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Store {
    /// Takes the lease of `app` for `holder` if nobody holds it. True when taken.
    pub async fn acquire_lease(
        &self,
        app: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Option<String> = redis::cmd("SET")
            .arg(lease_key(app))
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(reply.is_some())
    }

    /// Extends the lease by `ttl` if `holder` still holds it. False when it
    /// does not (it lapsed, or another instance holds it now).
    pub async fn renew_lease(
        &self,
        app: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;
        let mut conn = self.conn.clone();
        redis::Script::new(RENEW)
            .key(lease_key(app))
            .arg(holder)
            .arg(millis(ttl))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|renewed| renewed == 1)
            .map_err(|e| self.error(e))
    }

    /// Gives the lease up if `holder` holds it, so a standby can take it at once.
    pub async fn release_lease(&self, app: &str, holder: &str) -> Result<bool, StoreError> {
        const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;
        let mut conn = self.conn.clone();
        redis::Script::new(RELEASE)
            .key(lease_key(app))
            .arg(holder)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|released| released == 1)
            .map_err(|e| self.error(e))
    }

    /// Who holds the lease of `app` now, if anyone (for tests and diagnostics).
    pub async fn lease_holder(&self, app: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET")
            .arg(lease_key(app))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_key_has_a_hash_tag_of_its_own() {
        assert_eq!(lease_key("voiceportal"), "vp:{ha:voiceportal}:owner");
    }
}
