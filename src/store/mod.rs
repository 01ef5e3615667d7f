//! Redis persistence. Every key of one mailbox shares the hash tag `{<mailbox>}` so
//! the data model works unchanged on Redis Cluster, and anything that must be atomic
//! is one Lua script (see `keys`).

pub mod accounts;
pub mod audit;
pub mod connection;
pub mod damage;
pub mod deposits;
pub mod imports;
pub mod keys;
pub mod lamps;
pub mod lease;
pub mod lockout;
pub mod mailboxes;
pub mod mailq;
pub mod messages;
pub mod sessions;
pub mod settings;
pub mod signin;
pub mod throttle;
pub mod tokens;

use crate::config::RedisConfig;
use connection::Connection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis could not be reached or answered with an error. The URL is masked
    /// (in Sentinel and Cluster modes: the addresses, never a password).
    #[error("redis at {url} failed: {source}")]
    Redis {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    /// A key holds a value of the wrong type (written by hand or by another
    /// program): what needs it cannot work until `admin repair` fixes it.
    #[error("redis key {key} has the wrong type; run `voiceportal admin repair`")]
    Damaged { key: String },
}

/// A cheap-to-clone handle on the Redis connection (one server, Sentinel or
/// Cluster: see `connection`). It reconnects by itself; a command issued while
/// Redis is away fails with `StoreError::Redis`.
#[derive(Clone)]
pub struct Store {
    conn: Connection,
    masked_url: String,
}

impl Store {
    /// Connects, so that a wrong URL or a stopped server is reported at start-up.
    pub async fn connect(config: &RedisConfig) -> Result<Store, StoreError> {
        let masked_url = Connection::describe(config);
        let conn = Connection::open(config)
            .await
            .map_err(|source| StoreError::Redis {
                url: masked_url.clone(),
                source,
            })?;
        let store = Store { conn, masked_url };
        if !store.conn.is_cluster() {
            store.move_legacy_mail_queue().await?;
        }
        Ok(store)
    }

    /// Round trip to Redis: used at start-up and by health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// The Redis type of a key (`none` when it does not exist).
    pub async fn key_type(&self, key: &str) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("TYPE")
            .arg(key)
            .query_async::<String>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }

    /// Whether a key is of type `kind`, or absent.
    pub(crate) async fn has_type(&self, key: &str, kind: &str) -> Result<bool, StoreError> {
        let found = self.key_type(key).await?;
        Ok(found == kind || found == "none")
    }

    fn damaged(&self, key: String) -> StoreError {
        StoreError::Damaged { key }
    }

    fn error(&self, source: redis::RedisError) -> StoreError {
        crate::metrics::METRICS.redis_error();
        StoreError::Redis {
            url: self.masked_url.clone(),
            source,
        }
    }
}
