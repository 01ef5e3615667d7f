//! A real Asterisk process: the installation `scripts/build-asterisk` made, started
//! as `asterisk -f -C <instance>/etc/asterisk.conf` from an instance folder of its
//! own, on loopback ports chosen for the test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::ari::Ari;

pub struct Asterisk {
    pub prefix: PathBuf,
    /// The instance folder: etc/, data/, spool/, log/, lib/, run/.
    pub state: PathBuf,
    pub http: String,
    pub ari_user: String,
    pub ari_password: String,
    child: Option<Child>,
}

impl Asterisk {
    pub fn new(prefix: &Path, state: &Path, http: String, ari_password: &str) -> Asterisk {
        Asterisk {
            prefix: prefix.into(),
            state: state.into(),
            http,
            ari_user: "voiceportal".into(),
            ari_password: ari_password.into(),
            child: None,
        }
    }

    /// The running Asterisk's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn ari(&self) -> Ari {
        Ari::new(&self.http, &self.ari_user, &self.ari_password)
    }

    fn config(&self) -> PathBuf {
        self.state.join("etc/asterisk.conf")
    }

    /// Starts Asterisk and waits until ARI answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "Asterisk is already running");
        let console = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("log/console.log"))
            .expect("Asterisk's console log");
        let mut command = Command::new(self.prefix.join("sbin/asterisk"));
        command
            .arg("-f")
            .arg("-C")
            .arg(self.config())
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("console log"))
            .stderr(console);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill
        // Asterisk should the test process die without dropping this handle.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(command.spawn().expect("start asterisk"));
        let ari = self.ari();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while ari.get("/asterisk/ping").await.is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "Asterisk exited at start-up ({status}); its console:\n{}",
                    self.console()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Asterisk's ARI did not answer within 30 s; its console:\n{}",
                self.console()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Asterisk the way an administrator does (`core stop now`).
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(self.prefix.join("sbin/asterisk"))
            .arg("-C")
            .arg(self.config())
            .args(["-rx", "core stop now"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for _ in 0..100 {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Asterisk's log file (logger.conf: messages.log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("log/messages.log")).unwrap_or_default()
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.state.join("log/console.log")).unwrap_or_default()
    }
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
