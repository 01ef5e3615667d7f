//! A real SMTP server for the e-mail tests: Python's standard-library `smtpd`
//! (`smtp_server.py` next to this file), one per test, on a free loopback port. It
//! saves every message it accepts as a file in the test's own temporary directory,
//! and `received` reads them back as raw RFC 5322 text.
//!
//! A test can also pick the port first and start the server later
//! (`reserve` then `launch`), to show that mail is retried until a server appears.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/support/smtp_server.py"
);

/// How long the server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// One Python SMTP server (or, after `reserve`, the place for one).
pub struct TestSmtp {
    port: u16,
    /// Holds `mail/` (one file per message) and the server's `stderr.log`.
    dir: PathBuf,
    child: Option<Child>,
}

impl TestSmtp {
    /// A server that accepts connections now.
    pub fn start() -> TestSmtp {
        let mut last = String::new();
        // A free port can be taken by someone else before Python binds it; another
        // port then does.
        for _ in 0..5 {
            let mut smtp = TestSmtp::reserve();
            match smtp.try_launch() {
                Ok(()) => return smtp,
                Err(reason) => last = reason,
            }
        }
        panic!("could not start the test SMTP server: {last}");
    }

    /// A free loopback port and an empty directory, with no server yet: connections
    /// are refused until `launch`.
    pub fn reserve() -> TestSmtp {
        let dir = std::env::temp_dir().join(format!(
            "vp-test-smtp-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mail")).expect("create the SMTP test directory");
        TestSmtp {
            port: free_port(),
            dir,
            child: None,
        }
    }

    /// Starts the server on the reserved port and waits until it greets.
    pub fn launch(&mut self) {
        if let Err(reason) = self.try_launch() {
            panic!("could not start the test SMTP server: {reason}");
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far, oldest first, as the client sent it (line
    /// ends as Python's smtpd stores them: `\n`).
    pub fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("mail")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    /// Waits until at least `count` messages arrived; returns them all, or what
    /// there is at the deadline.
    pub async fn wait_received(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn try_launch(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the test SMTP server already runs");
        let child = spawn(self.port, &self.dir)?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let stderr =
                    std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
                return Err(format!(
                    "python3 {SCRIPT} exited ({status}): {}",
                    stderr.trim()
                ));
            }
            if greets(&address) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "nothing answered on {address} within {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True once something on `address` sends an SMTP greeting (`220 ...`).
fn greets(address: &SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("220")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// What the spawner answers: the child, or why there is none, with "python3 is
/// missing" kept apart because no retry can help it.
enum Spawned {
    Child(Child),
    NoPython(String),
    Failed(String),
}

type SpawnRequest = (u16, PathBuf, mpsc::Sender<Spawned>);

/// Children are forked by one thread that lives as long as the test process:
/// the parent-death signal set below fires when the *thread* that forked ends, so
/// forking from a test's own thread would kill the server when that test's thread
/// finishes, and forking from here kills it only with the whole process.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("smtp-spawner".into())
            .spawn(move || {
                // Never ends: the sender lives in a static.
                for (port, dir, reply) in rx {
                    let _ = reply.send(spawn_here(port, &dir));
                }
            })
            .expect("start the SMTP spawner thread");
        Mutex::new(tx)
    })
}

fn spawn(port: u16, dir: &Path) -> Result<Child, String> {
    let (reply, result) = mpsc::channel();
    spawner()
        .lock()
        .map_err(|_| "the SMTP spawner lock is poisoned".to_owned())?
        .send((port, dir.to_owned(), reply))
        .map_err(|_| "the SMTP spawner thread is gone".to_owned())?;
    match result.recv() {
        Ok(Spawned::Child(child)) => Ok(child),
        Ok(Spawned::NoPython(reason)) => panic!("{reason}"),
        Ok(Spawned::Failed(reason)) => Err(reason),
        Err(_) => Err("the SMTP spawner thread is gone".to_owned()),
    }
}

fn spawn_here(port: u16, dir: &Path) -> Spawned {
    let stderr = match std::fs::File::create(dir.join("stderr.log")) {
        Ok(file) => file,
        Err(e) => {
            return Spawned::Failed(format!("cannot create {}/stderr.log: {e}", dir.display()));
        }
    };
    let mut command = Command::new("python3");
    command
        .arg(SCRIPT)
        .arg(port.to_string())
        .arg(dir.join("mail"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the
    // child when the forking thread (the spawner, which lives as long as the test
    // process) dies.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    match command.spawn() {
        Ok(child) => Spawned::Child(child),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Spawned::NoPython(format!(
            "python3 is not installed: the e-mail tests run Python's standard-library \
             SMTP server ({SCRIPT}); run `apt-get install python3` (Python 3.11, \
             which still has the smtpd module)"
        )),
        Err(e) => Spawned::Failed(format!("cannot run python3 {SCRIPT}: {e}")),
    }
}
