//! A real `redis-server`, started once per test process on a free loopback port.
//! Each test gets its own logical database, flushed before use, so tests run in
//! parallel without seeing each other's keys.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Enough databases for every test of one run to have its own.
const DATABASES: u32 = 2048;

struct Server {
    port: u16,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(1);

/// A fresh, empty logical database of the shared test server.
pub struct TestRedis {
    pub url: String,
}

impl TestRedis {
    pub fn fresh() -> TestRedis {
        let server = SERVER.get_or_init(start_server);
        let db = NEXT_DB.fetch_add(1, Ordering::SeqCst);
        assert!(db < DATABASES, "more tests than test databases");
        let url = format!("redis://127.0.0.1:{}/{db}", server.port);
        let client = redis::Client::open(url.as_str()).expect("redis url");
        let mut conn = client.get_connection().expect("connect to test redis");
        redis::cmd("FLUSHDB")
            .query::<()>(&mut conn)
            .expect("flush test db");
        TestRedis { url }
    }

    /// An address for tests that need a config but no Redis at all.
    pub fn unused() -> TestRedis {
        TestRedis {
            url: "redis://127.0.0.1:1/0".into(),
        }
    }

    /// A plain synchronous connection, for assertions on raw keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect to test redis")
    }
}

fn redis_binary() -> String {
    for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!(
        "redis-server is not installed: run `apt-get install redis-server` \
         (scripts/test does it for you)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts the server from a thread that lives as long as the test process, so the
/// parent-death signal set below kills redis-server when the tests end.
fn start_server() -> Server {
    let binary = redis_binary();
    for _ in 0..5 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("vp-test-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis work dir");
        let binary = binary.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut command = Command::new(&binary);
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--databases", &DATABASES.to_string()])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to send
            // SIGKILL to the child when this (never-ending) thread's process dies.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn();
            let started = child.is_ok();
            let _ = tx.send(started);
            if let Ok(mut child) = child {
                let _ = child.wait();
            }
        });
        if !rx.recv().unwrap_or(false) {
            continue;
        }
        if wait_ready(port) {
            return Server { port };
        }
    }
    panic!("could not start redis-server on a loopback port");
}

fn wait_ready(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let url = format!("redis://127.0.0.1:{port}/0");
    while Instant::now() < deadline {
        if let Ok(mut conn) = redis::Client::open(url.as_str()).and_then(|c| c.get_connection())
            && redis::cmd("PING").query::<String>(&mut conn).is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
