//! The connection to Redis in each of the three deployments (`[redis] mode`):
//! one server, a Sentinel group, or a Cluster. The store modules only see
//! [`Connection`], which speaks `ConnectionLike` like a plain connection.
//!
//! - **Single**: redis-rs's `ConnectionManager`, which reconnects by itself.
//! - **Sentinel**: redis-rs's sentinel support only resolves the master once;
//!   [`SentinelConnection`] asks the sentinels again when the master it talks to
//!   goes away or turns out to be a replica (`READONLY`: the old master after a
//!   failover) or when a sentinel announces a new master (`+switch-master`),
//!   and retries a command once when that is safe: a read, or a
//!   write certainly not executed (refused connection, `READONLY`). So the
//!   first read after a failover (every call begins with reads) finds the new
//!   master; a write caught by the failover itself fails, as with any lost reply.
//! - **Cluster**: redis-rs's `ClusterConnection`, which follows `MOVED`/`ASK`,
//!   refreshes the slot map and reconnects by itself. Every script and
//!   multi-key command keeps to one hash slot (see `keys`).
//!
//! With `wait_replicas` set, every write is followed by `WAIT` on the node that
//! took it (see [`Durability`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline,
    RedisConnectionInfo, RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
};

use super::keys::hash_slot;
use crate::config::{RedisConfig, RedisMode, mask_url, parse_host_port};

/// Longest wait for a TCP connection to a Redis server or a sentinel
/// (redis-rs's default, which single mode always had).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest wait for an answer (redis-rs's default; plus `wait_timeout` when
/// writes wait for replicas): a Redis that stalls or vanished without closing
/// its connections must not leave a caller in silence.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// A cheap-to-clone connection to wherever the data lives.
#[derive(Clone)]
pub struct Connection {
    target: Target,
    durability: Durability,
}

#[derive(Clone)]
enum Target {
    Single(ConnectionManager),
    Sentinel(SentinelConnection),
    Cluster(ClusterConnection),
}

/// How many replicas must have a write before it counts as done.
#[derive(Clone, Copy)]
struct Durability {
    replicas: u32,
    timeout: Duration,
}

impl Connection {
    /// Connects in the configured mode, so a wrong address is reported at start-up.
    pub async fn open(config: &RedisConfig) -> RedisResult<Connection> {
        let response_timeout = if config.wait_replicas > 0 {
            RESPONSE_TIMEOUT + config.wait_timeout
        } else {
            RESPONSE_TIMEOUT
        };
        let target = match config.mode {
            RedisMode::Single => {
                let client = redis::Client::open(config.url.as_str())?;
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response_timeout));
                Target::Single(ConnectionManager::new_with_config(client, manager).await?)
            }
            RedisMode::Sentinel => {
                Target::Sentinel(SentinelConnection::open(config, response_timeout).await?)
            }
            RedisMode::Cluster => {
                let nodes = addresses(&config.nodes)?
                    .into_iter()
                    .map(|(host, port)| ConnectionAddr::Tcp(host, port));
                let mut builder = ClusterClientBuilder::new(nodes)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(response_timeout);
                if !config.password.expose().is_empty() {
                    builder = builder.password(config.password.expose());
                }
                Target::Cluster(builder.build()?.get_async_connection().await?)
            }
        };
        Ok(Connection {
            target,
            durability: Durability {
                replicas: config.wait_replicas,
                timeout: config.wait_timeout,
            },
        })
    }

    /// Where the data lives, for error messages: never a password.
    pub fn describe(config: &RedisConfig) -> String {
        match config.mode {
            RedisMode::Single => mask_url(&config.url),
            RedisMode::Sentinel => format!(
                "sentinel master {} via {}",
                config.master_name,
                config.sentinels.join(",")
            ),
            RedisMode::Cluster => format!("cluster {}", config.nodes.join(",")),
        }
    }

    /// Whether the data is spread over a Cluster (where keys of different
    /// hash slots can never be touched in one command).
    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    async fn send(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match &mut self.target {
            Target::Single(c) => c.req_packed_command(cmd).await,
            Target::Sentinel(c) => c.req_packed_command(cmd).await,
            Target::Cluster(c) => c.req_packed_command(cmd).await,
        }
    }

    async fn send_pipeline(
        &mut self,
        pipeline: &Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match &mut self.target {
            Target::Single(c) => c.req_packed_commands(pipeline, offset, count).await,
            Target::Sentinel(c) => c.req_packed_commands(pipeline, offset, count).await,
            Target::Cluster(c) => c.req_packed_commands(pipeline, offset, count).await,
        }
    }

    /// `WAIT` for the replicas after a write whose first key is `key`: on a
    /// Cluster, on the master of that key's slot (the connection that wrote).
    /// Fewer replicas than required by the timeout fails: the caller is not told
    /// "saved" for what one crash could take back.
    async fn wait_for_replicas(&mut self, key: Option<Vec<u8>>) -> RedisResult<()> {
        let Durability { replicas, timeout } = self.durability;
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let acknowledged = match (&mut self.target, key) {
            (Target::Cluster(cluster), Some(key)) => {
                let route = Route::new(hash_slot(&key), SlotAddr::Master);
                cluster
                    .route_command(
                        wait,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?
            }
            _ => self.send(&wait).await?,
        };
        let acknowledged: u32 = redis::from_redis_value(acknowledged)?;
        if acknowledged < replicas {
            crate::metrics::METRICS.redis_error();
            return Err(RedisError::from((
                ErrorKind::Io,
                "write not confirmed by enough replicas",
                format!(
                    "{acknowledged} of {replicas} replica(s) acknowledged within {} ms; the write may be lost in a failover",
                    timeout.as_millis()
                ),
            )));
        }
        Ok(())
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            check_one_slot(script_keys(cmd))?;
            let value = self.send(cmd).await?;
            if self.durability.replicas > 0 && is_write(cmd) {
                self.wait_for_replicas(first_key(cmd)).await?;
            }
            Ok(value)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            check_one_slot(pipeline.cmd_iter().filter_map(first_key).collect())?;
            let values = self.send_pipeline(pipeline, offset, count).await?;
            let first_write = pipeline.cmd_iter().find(|c| is_write(c));
            if let Some(cmd) = first_write.filter(|_| self.durability.replicas > 0) {
                self.wait_for_replicas(first_key(cmd)).await?;
            }
            Ok(values)
        })
    }

    fn get_db(&self) -> i64 {
        match &self.target {
            Target::Single(c) => c.get_db(),
            Target::Sentinel(_) | Target::Cluster(_) => 0,
        }
    }
}

/// Commands that change nothing; anything else (scripts included) counts as a
/// write for `wait_replicas`.
const READ_ONLY: &[&[u8]] = &[
    b"PING",
    b"TYPE",
    b"EXISTS",
    b"GET",
    b"HGET",
    b"HGETALL",
    b"HMGET",
    b"HEXISTS",
    b"HLEN",
    b"ZRANGE",
    b"ZSCORE",
    b"ZCARD",
    b"ZREVRANGE",
    b"SMEMBERS",
    b"SISMEMBER",
    b"SCARD",
    b"LRANGE",
    b"XRANGE",
    b"XREVRANGE",
    b"XLEN",
    b"TTL",
    b"PTTL",
    b"SCAN",
    b"INFO",
    b"ROLE",
    b"WAIT",
    b"CLUSTER",
    b"EVALSHA_RO",
    b"EVAL_RO",
    b"SCRIPT",
    b"XREAD",
    b"MGET",
    b"STRLEN",
    b"HKEYS",
    b"HVALS",
    b"LLEN",
    b"LINDEX",
    b"ZCOUNT",
    b"ZRANK",
    b"ZRANGEBYSCORE",
    b"ZREVRANGEBYSCORE",
];

fn is_write(cmd: &Cmd) -> bool {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => !READ_ONLY.iter().any(|ro| name.eq_ignore_ascii_case(ro)),
        _ => true,
    }
}

/// The keys a script declares (`EVALSHA <sha> <numkeys> <keys>...`); none for
/// any other command.
fn script_keys(cmd: &Cmd) -> Vec<Vec<u8>> {
    let args = simple_args(cmd);
    let is_script = args.first().is_some_and(|name| {
        name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL")
    });
    let count = args
        .get(2)
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
    match count {
        Some(count) if is_script => args
            .iter()
            .skip(3)
            .take(count)
            .map(|k| k.to_vec())
            .collect(),
        _ => Vec::new(),
    }
}

/// Refuses a script, or a pipeline, whose keys are in different hash slots, in
/// every mode: a Redis Cluster would refuse it (`CROSSSLOT`), and refusing it
/// on one server too lets every test find one.
fn check_one_slot(keys: Vec<Vec<u8>>) -> RedisResult<()> {
    let mut slots = keys.iter().map(|k| (k, hash_slot(k)));
    let Some((first, slot)) = slots.next() else {
        return Ok(());
    };
    match slots.find(|(_, other)| *other != slot) {
        None => Ok(()),
        Some((key, _)) => Err(RedisError::from((
            ErrorKind::Server(ServerErrorKind::CrossSlot),
            "keys of one atomic step in different hash slots",
            format!(
                "{} and {}",
                String::from_utf8_lossy(first),
                String::from_utf8_lossy(key)
            ),
        ))),
    }
}

fn simple_args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .filter_map(|a| match a {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect()
}

/// The first key of a command, which decides its slot on a Cluster: after
/// `EVALSHA <sha> <numkeys>` for a script, else the first argument.
fn first_key(cmd: &Cmd) -> Option<Vec<u8>> {
    let args = simple_args(cmd);
    let name = args.first()?;
    let is_script = name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVAL");
    let index = if is_script { 3 } else { 1 };
    args.get(index).map(|k| k.to_vec())
}

fn addresses(list: &[String]) -> RedisResult<Vec<(String, u16)>> {
    list.iter()
        .map(|a| {
            parse_host_port(a).map_err(|reason| {
                RedisError::from((ErrorKind::InvalidClientConfig, "bad address", reason))
            })
        })
        .collect()
}

/// A connection to the master of a Sentinel group that follows failovers.
#[derive(Clone)]
pub struct SentinelConnection {
    shared: Arc<SentinelShared>,
}

struct SentinelShared {
    /// Asks the sentinels; one resolution at a time.
    sentinels: tokio::sync::Mutex<SentinelClient>,
    /// The connection to the master as last resolved; `None` after a failure,
    /// so the next command resolves again.
    master: Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelConnection {
    async fn open(config: &RedisConfig, response_timeout: Duration) -> RedisResult<Self> {
        let sentinels: Vec<ConnectionAddr> = addresses(&config.sentinels)?
            .into_iter()
            .map(|(host, port)| ConnectionAddr::Tcp(host, port))
            .collect();
        let mut builder = SentinelClientBuilder::new(
            sentinels.clone(),
            &config.master_name,
            SentinelServerType::Master,
        )?;
        if !config.password.expose().is_empty() {
            builder = builder.set_client_to_redis_password(config.password.expose());
        }
        if !config.sentinel_password.expose().is_empty() {
            builder = builder.set_client_to_sentinel_password(config.sentinel_password.expose());
        }
        let connection = SentinelConnection {
            shared: Arc::new(SentinelShared {
                sentinels: tokio::sync::Mutex::new(builder.build()?),
                master: Mutex::new(None),
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response_timeout)),
            }),
        };
        connection.master().await?;
        for sentinel in sentinels {
            let mut info = RedisConnectionInfo::default();
            if !config.sentinel_password.expose().is_empty() {
                info = info.set_password(config.sentinel_password.expose());
            }
            let info = sentinel.into_connection_info()?.set_redis_settings(info);
            tokio::spawn(watch_switches(
                Arc::downgrade(&connection.shared),
                info,
                config.master_name.clone(),
            ));
        }
        Ok(connection)
    }

    /// The current master's connection, asking the sentinels if there is none.
    async fn master(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let mut sentinels = self.shared.sentinels.lock().await;
        // Another task may have resolved it while this one waited.
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let client = sentinels.async_get_client().await?;
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.shared.config)
            .await?;
        *self.lock_master() = Some(conn.clone());
        Ok(conn)
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.lock_master().clone()
    }

    fn lock_master(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        lock(&self.shared.master)
    }

    /// Sends `request` to the master. A failure that says the master is gone
    /// or is no longer master drops the connection (the next command asks the
    /// sentinels); when the command certainly did not run, it is retried once.
    async fn run(&self, request: Request<'_>) -> RedisResult<Reply> {
        // A read may be sent again whatever happened to the first try; a write
        // only when it certainly did not run.
        let rerunnable = match request {
            Request::Cmd(cmd) => !is_write(cmd),
            Request::Pipeline(pipeline, ..) => !pipeline.cmd_iter().any(is_write),
        };
        let mut retried = false;
        loop {
            let mut conn = match self.master().await {
                Ok(conn) => conn,
                Err(e) if !retried && e.is_connection_refusal() => {
                    self.forget();
                    retried = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let outcome = match request {
                Request::Cmd(cmd) => conn.req_packed_command(cmd).await.map(Reply::One),
                Request::Pipeline(pipeline, offset, count) => conn
                    .req_packed_commands(pipeline, offset, count)
                    .await
                    .map(Reply::Many),
            };
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(e) if master_moved(&e) => {
                    self.forget();
                    if retried || !(rerunnable || not_executed(&e)) {
                        return Err(e);
                    }
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn forget(&self) {
        *self.lock_master() = None;
    }
}

/// Listens to one sentinel's `+switch-master` announcements and drops the
/// connection to the old master as soon as the sentinels have chosen a new one:
/// the next command then goes to the new master without first failing on the
/// old one. Reconnects to the sentinel after a failure; ends with the store.
async fn watch_switches(
    shared: std::sync::Weak<SentinelShared>,
    sentinel: redis::ConnectionInfo,
    master_name: String,
) {
    use futures_util::StreamExt;
    let prefix = format!("{master_name} ");
    let address = sentinel.addr().to_string();
    let mut failing = false;
    loop {
        let subscribed = async {
            let client = redis::Client::open(sentinel.clone())?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            Ok::<_, RedisError>(pubsub)
        }
        .await;
        match subscribed {
            Ok(mut pubsub) => {
                failing = false;
                let mut messages = pubsub.on_message();
                loop {
                    let message =
                        tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    match message {
                        Ok(Some(message)) => {
                            let payload: String = message.get_payload().unwrap_or_default();
                            if payload.starts_with(&prefix) {
                                tracing::warn!(sentinel = %address, announcement = %payload,
                                    "redis sentinel: the master changed");
                                *lock(&shared.master) = None;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {}
                    }
                }
            }
            // Said once per outage: the sentinel may be down for a while.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(sentinel = %address, %error,
                    "redis sentinel: cannot listen for master changes; retrying every second");
            }
            Err(_) => {}
        }
        if shared.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn lock(
    master: &Mutex<Option<MultiplexedConnection>>,
) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
    // A panic while holding this lock cannot leave the Option half-written.
    master
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Clone, Copy)]
enum Request<'a> {
    Cmd(&'a Cmd),
    Pipeline(&'a Pipeline, usize, usize),
}

enum Reply {
    One(Value),
    Many(Vec<Value>),
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.run(Request::Cmd(cmd)).await? {
                Reply::One(value) => Ok(value),
                Reply::Many(mut values) => Ok(values.pop().unwrap_or(Value::Nil)),
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.run(Request::Pipeline(pipeline, offset, count)).await? {
                Reply::Many(values) => Ok(values),
                Reply::One(value) => Ok(vec![value]),
            }
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// The master this connection talks to has died or been demoted.
fn master_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || not_executed(e)
}

/// The server refused the command without running it: a replica rejects
/// writes (`READONLY`), a refused connection sent nothing.
fn not_executed(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) || e.is_connection_refusal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_writes() {
        assert!(!is_write(redis::cmd("HGETALL").arg("k")));
        assert!(!is_write(redis::cmd("zscore").arg("k").arg("m")));
        assert!(is_write(redis::cmd("XADD").arg("k")));
        assert!(is_write(redis::cmd("EVALSHA").arg("abc").arg(1).arg("k")));
    }

    #[test]
    fn a_script_across_slots_is_refused() {
        let across = redis::cmd("EVALSHA")
            .arg("abc")
            .arg(2)
            .arg("vp:{1001}:box")
            .arg("vp:mailboxes")
            .arg("1001")
            .clone();
        let err = check_one_slot(script_keys(&across)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server(ServerErrorKind::CrossSlot));
        assert!(err.to_string().contains("vp:mailboxes"), "{err}");
        let within = redis::cmd("EVALSHA")
            .arg("abc")
            .arg(2)
            .arg("vp:{1001}:box")
            .arg("vp:{1001}:purged")
            .arg("vp:mailboxes")
            .clone();
        check_one_slot(script_keys(&within)).unwrap();
    }

    #[test]
    fn the_first_key_of_a_script_follows_the_key_count() {
        let script = redis::cmd("EVALSHA")
            .arg("abc")
            .arg(2)
            .arg("vp:{1001}:box")
            .arg("vp:{1001}:purged")
            .clone();
        assert_eq!(first_key(&script).as_deref(), Some(&b"vp:{1001}:box"[..]));
        let xadd = redis::cmd("XADD").arg("vp:audit").arg("*").clone();
        assert_eq!(first_key(&xadd).as_deref(), Some(&b"vp:audit"[..]));
    }
}
