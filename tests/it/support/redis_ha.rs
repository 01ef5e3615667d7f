//! Real Redis deployments beyond one server, on loopback ports: a Cluster of
//! three masters with one replica each, and a Sentinel group (one master, two
//! replicas, three sentinels). Every process is killed when its handle drops
//! (and, through the parent-death signal, when the test process dies).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use voiceportal::config::{RedisConfig, RedisMode, Secret};

/// Long enough for a failover on a loaded machine.
const SETTLE: Duration = Duration::from_secs(60);

pub const MASTER_NAME: &str = "vpmaster";

/// Every server and sentinel requires it, so the service's passwords are
/// exercised too.
pub const PASSWORD: &str = "ha-secret-17";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{name} is not installed: run `apt-get install redis-server redis-sentinel` (scripts/test does it for you)"
    );
}

/// One redis-server (or sentinel) process.
struct Process {
    pid: Option<u32>,
    port: u16,
    args: Vec<String>,
    binary: PathBuf,
}

impl Process {
    fn spawn(binary: PathBuf, port: u16, args: Vec<String>) -> Process {
        let mut process = Process {
            pid: None,
            port,
            args,
            binary,
        };
        process.start();
        process
    }

    /// Starts the process from a thread that waits for it, so the parent-death
    /// signal (tied to that thread) fires only when the process is gone anyway
    /// or the test process dies.
    fn start(&mut self) {
        let (tx, rx) = std::sync::mpsc::channel();
        let binary = self.binary.clone();
        let args = self.args.clone();
        std::thread::spawn(move || {
            let mut command = Command::new(binary);
            command
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to
            // SIGKILL the child when this thread ends.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            match command.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Some(child.id()));
                    let _ = child.wait();
                }
                Err(_) => {
                    let _ = tx.send(None);
                }
            }
        });
        self.pid = rx.recv().ok().flatten();
        assert!(self.pid.is_some(), "could not start {:?}", self.binary);
        wait_ping(self.port);
    }

    /// SIGKILL: no chance to save, to hand over or to say goodbye.
    fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            // SAFETY: plain kill(2) on a child this harness started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && ping(self.port) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn url(port: u16) -> String {
    format!("redis://:{PASSWORD}@127.0.0.1:{port}")
}

fn connection(port: u16) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(url(port))?;
    client.get_connection_with_timeout(Duration::from_secs(2))
}

fn ping(port: u16) -> bool {
    connection(port)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

fn wait_ping(port: u16) {
    wait_until(&format!("redis on port {port} answers"), || ping(port));
}

pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    cmd.query(&mut connection(port)?)
}

fn work_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vp-test-{kind}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("a work dir");
    dir
}

fn server_args(port: u16, dir: &Path) -> Vec<String> {
    vec![
        "--requirepass".into(),
        PASSWORD.into(),
        "--masterauth".into(),
        PASSWORD.into(),
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
    ]
}

/// Three masters, one replica each, slots split evenly.
pub struct TestCluster {
    nodes: Vec<Process>,
    dir: PathBuf,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.nodes.iter_mut().for_each(Process::kill);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestCluster {
    pub fn start() -> TestCluster {
        let dir = work_dir("cluster");
        let binary = binary("redis-server");
        let nodes: Vec<Process> = (0..6)
            .map(|i| {
                let port = free_port();
                let node_dir = dir.join(format!("node{i}"));
                std::fs::create_dir_all(&node_dir).expect("node dir");
                let mut args = server_args(port, &node_dir);
                args.extend(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-config-file",
                        "nodes.conf",
                    ]
                    .map(String::from),
                );
                Process::spawn(binary.clone(), port, args)
            })
            .collect();
        let mut create = Command::new(binary_cli());
        create.args(["--no-auth-warning", "-a", PASSWORD, "--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = TestCluster { nodes, dir };
        cluster.wait_healthy();
        // Writes wait for a replica: each master needs its replica in sync.
        for node in &cluster.nodes {
            if role(node.port).as_deref() == Some("master") {
                wait_until("every master has its replica in sync", || {
                    query::<String>(node.port, redis::cmd("INFO").arg("replication"))
                        .is_ok_and(|info| info.contains("state=online"))
                });
            }
        }
        cluster
    }

    /// The app's configuration: two seed nodes are enough, the rest is found.
    pub fn config(&self) -> RedisConfig {
        RedisConfig {
            mode: RedisMode::Cluster,
            nodes: self
                .nodes
                .iter()
                .take(2)
                .map(|n| format!("127.0.0.1:{}", n.port))
                .collect(),
            password: Secret::new(PASSWORD),
            ..RedisConfig::default()
        }
    }

    /// Every live node says the cluster is ok, and agrees that every slot has
    /// a master.
    pub fn wait_healthy(&self) {
        wait_until("the cluster is ok", || {
            self.nodes.iter().filter(|n| n.pid.is_some()).all(|n| {
                query::<String>(n.port, redis::cmd("CLUSTER").arg("INFO"))
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
        });
    }

    /// The port of the master currently serving `key`'s slot.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot: u16 = self.any(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key));
        // Each entry: start, end, [master ip, port, id], [replica ...]...
        let slots: Vec<Vec<redis::Value>> = self.any(redis::cmd("CLUSTER").arg("SLOTS"));
        for entry in slots {
            let number = |i: usize| -> u16 { redis::from_redis_value(entry[i].clone()).unwrap() };
            if (number(0)..=number(1)).contains(&slot) {
                let master: Vec<redis::Value> = redis::from_redis_value(entry[2].clone()).unwrap();
                return redis::from_redis_value(master[1].clone()).expect("a port");
            }
        }
        panic!("no master for slot {slot}");
    }

    /// The replica of the master on `port`.
    pub fn replica_of(&self, master: u16) -> u16 {
        let id: String = query(master, redis::cmd("CLUSTER").arg("MYID")).expect("CLUSTER MYID");
        for node in self.nodes.iter().filter(|n| n.pid.is_some()) {
            let role: Vec<redis::Value> = query(node.port, &redis::cmd("ROLE")).unwrap_or_default();
            let is_replica = role
                .first()
                .and_then(|r| redis::from_redis_value::<String>(r.clone()).ok())
                .is_some_and(|r| r == "slave");
            if is_replica {
                let mine: String = query(node.port, redis::cmd("CLUSTER").arg("MYID")).unwrap();
                let nodes: String = query(node.port, redis::cmd("CLUSTER").arg("NODES")).unwrap();
                let follows = nodes.lines().any(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    f.first() == Some(&mine.as_str()) && f.get(3) == Some(&id.as_str())
                });
                if follows {
                    return node.port;
                }
            }
        }
        panic!("the master on {master} has no replica");
    }

    /// A planned failover: the replica of the master on `master` takes over
    /// (`CLUSTER FAILOVER`, which waits for it to have every write).
    pub fn fail_over(&self, master: u16) -> u16 {
        let replica = self.replica_of(master);
        let _: String =
            query(replica, redis::cmd("CLUSTER").arg("FAILOVER")).expect("CLUSTER FAILOVER");
        wait_until("the replica is master", || {
            role(replica).as_deref() == Some("master")
        });
        self.wait_healthy();
        replica
    }

    /// A crash: SIGKILL the master on `port`. Returns its replica's port.
    pub fn kill_master(&mut self, port: u16) -> u16 {
        let replica = self.replica_of(port);
        self.node(port).kill();
        replica
    }

    /// After [`TestCluster::kill_master`]: waits for `replica` to be elected,
    /// then starts the dead node again (it comes back as a replica of the new
    /// master, so writes have a replica to wait for again).
    pub fn recover(&mut self, dead: u16, replica: u16) {
        wait_until("the replica is elected", || {
            role(replica).as_deref() == Some("master")
        });
        let port = dead;
        let node = self.node(port);
        node.start();
        wait_until("the old master follows the new one", || {
            role(port).as_deref() == Some("slave")
        });
        wait_until("the new master has its replica in sync", || {
            query::<String>(replica, redis::cmd("INFO").arg("replication"))
                .is_ok_and(|info| info.contains(&format!("port={port},state=online")))
        });
        self.wait_healthy();
    }

    fn node(&mut self, port: u16) -> &mut Process {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster")
    }

    fn any<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        self.nodes
            .iter()
            .filter(|n| n.pid.is_some())
            .find_map(|n| query(n.port, cmd).ok())
            .expect("a cluster node answers")
    }
}

fn binary_cli() -> PathBuf {
    binary("redis-cli")
}

/// `master` or `slave`, from `ROLE`.
pub fn role(port: u16) -> Option<String> {
    let role: Vec<redis::Value> = query(port, &redis::cmd("ROLE")).ok()?;
    redis::from_redis_value(role.first()?.clone()).ok()
}

/// One master, two replicas, three sentinels (quorum 2).
pub struct TestSentinels {
    servers: Vec<Process>,
    sentinels: Vec<Process>,
    dir: PathBuf,
}

impl Drop for TestSentinels {
    fn drop(&mut self) {
        self.sentinels.iter_mut().for_each(Process::kill);
        self.servers.iter_mut().for_each(Process::kill);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestSentinels {
    pub fn start() -> TestSentinels {
        let dir = work_dir("sentinel");
        let server = binary("redis-server");
        let sentinel = binary("redis-sentinel");
        let master_port = free_port();
        let mut servers = vec![Process::spawn(
            server.clone(),
            master_port,
            server_args(master_port, &made(dir.join("s0"))),
        )];
        for i in 1..3 {
            let port = free_port();
            let mut args = server_args(port, &made(dir.join(format!("s{i}"))));
            args.extend([
                "--replicaof".into(),
                "127.0.0.1".into(),
                master_port.to_string(),
            ]);
            servers.push(Process::spawn(server.clone(), port, args));
        }
        let sentinels = (0..3)
            .map(|i| {
                let port = free_port();
                let conf = dir.join(format!("sentinel{i}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {}\nrequirepass {PASSWORD}\n\
                         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                         sentinel auth-pass {MASTER_NAME} {PASSWORD}\n\
                         sentinel sentinel-pass {PASSWORD}\n\
                         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                         sentinel failover-timeout {MASTER_NAME} 5000\n\
                         sentinel parallel-syncs {MASTER_NAME} 2\n",
                        dir.display()
                    ),
                )
                .expect("write a sentinel config");
                Process::spawn(sentinel.clone(), port, vec![conf.display().to_string()])
            })
            .collect();
        let group = TestSentinels {
            servers,
            sentinels,
            dir,
        };
        group.wait_settled(master_port);
        group
    }

    pub fn config(&self) -> RedisConfig {
        RedisConfig {
            mode: RedisMode::Sentinel,
            sentinels: self
                .sentinels
                .iter()
                .map(|s| format!("127.0.0.1:{}", s.port))
                .collect(),
            master_name: MASTER_NAME.into(),
            password: Secret::new(PASSWORD),
            sentinel_password: Secret::new(PASSWORD),
            ..RedisConfig::default()
        }
    }

    /// The master's port, as the sentinels report it.
    pub fn master(&self) -> u16 {
        let addr: Vec<String> = self
            .sentinels
            .iter()
            .filter(|s| s.pid.is_some())
            .find_map(|s| {
                query(
                    s.port,
                    redis::cmd("SENTINEL")
                        .arg("GET-MASTER-ADDR-BY-NAME")
                        .arg(MASTER_NAME),
                )
                .ok()
            })
            .expect("a sentinel answers");
        addr[1].parse().expect("a port")
    }

    /// Every sentinel names `master`, which is master with every other live
    /// server replicating it, and knows both replicas and the other sentinels.
    fn wait_settled(&self, master: u16) {
        wait_until("the sentinel group is settled", || {
            let live = self.servers.iter().filter(|s| s.pid.is_some()).count();
            role(master).as_deref() == Some("master")
                && self.sentinels.iter().all(|s| {
                    let named: Option<Vec<String>> = query(
                        s.port,
                        redis::cmd("SENTINEL")
                            .arg("GET-MASTER-ADDR-BY-NAME")
                            .arg(MASTER_NAME),
                    )
                    .ok();
                    let info: Vec<std::collections::HashMap<String, String>> = query(
                        s.port,
                        redis::cmd("SENTINEL").arg("REPLICAS").arg(MASTER_NAME),
                    )
                    .unwrap_or_default();
                    let up = info
                        .iter()
                        .filter(|r| {
                            r.get("flags").is_some_and(|f| f == "slave")
                                && r.get("master-link-status").is_some_and(|l| l == "ok")
                        })
                        .count();
                    let sentinels: Vec<redis::Value> = query(
                        s.port,
                        redis::cmd("SENTINEL").arg("SENTINELS").arg(MASTER_NAME),
                    )
                    .unwrap_or_default();
                    named.is_some_and(|n| n.get(1) == Some(&master.to_string()))
                        && up == live - 1
                        && sentinels.len() == self.sentinels.len() - 1
                })
        });
    }

    /// A planned failover (`SENTINEL FAILOVER`); returns the new master's port.
    pub fn fail_over(&self) -> u16 {
        let old = self.master();
        let _: String = query(
            self.sentinels[0].port,
            redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME),
        )
        .expect("SENTINEL FAILOVER");
        wait_until("a new master is chosen", || self.master() != old);
        let new = self.master();
        self.wait_settled(new);
        new
    }

    /// A crash: SIGKILL the master (it stays dead). Returns its port.
    pub fn kill_master(&mut self) -> u16 {
        let old = self.master();
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.port == old)
            .expect("the master is one of ours");
        server.kill();
        old
    }

    /// After [`TestSentinels::kill_master`]: waits for the sentinels to
    /// promote a replica. Returns the new master's port.
    pub fn wait_promoted(&self, old: u16) -> u16 {
        wait_until("the sentinels promote a replica", || self.master() != old);
        let new = self.master();
        wait_until("the new master serves writes", || {
            role(new).as_deref() == Some("master")
        });
        // The other replica follows it (`wait_replicas = 1` needs one).
        wait_until("the new master has a replica in sync", || {
            query::<String>(new, redis::cmd("INFO").arg("replication"))
                .is_ok_and(|info| info.contains("state=online"))
        });
        new
    }
}

/// `path`, created.
fn made(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).expect("a work dir");
    path
}
