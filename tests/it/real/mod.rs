//! Real calls through a real Asterisk 22: the PBX runs the configuration users copy
//! (`asterisk/`, rendered by `scripts/asterisk-config` on loopback ports chosen
//! here), voiceportal runs as its real binary, and the demo phones are a second
//! Asterisk on 127.0.0.2 (see `phones`), so every call is real SIP, RTP, RFC 4733
//! DTMF and MWI NOTIFY.
//!
//! The Asterisk installation comes from `scripts/build-asterisk`; `scripts/test`
//! builds it and names it in `VOICEPORTAL_TEST_ASTERISK`. Without it these tests
//! say why on one line and do nothing. They run one at a time (a stack is two
//! Asterisks, a service and real-time audio): `scripts/test` runs them in a
//! separate, single-threaded pass, and a lock keeps them apart anyway.

mod ari;
mod asterisk;
mod calls;
mod faults;
mod fidelity;
mod ha;
mod login_burst;
mod migration;
mod old_voicemail;
mod pbx;
mod phones;
mod receptionist;
mod servers;
mod web_signin;

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use voiceportal::config::{Config, Secret};
use voiceportal::domain::HashCost;
use voiceportal::store::Store;
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use crate::support::fixtures::{id, provision_record};
use crate::support::redis::TestRedis;
use crate::support::voiceportal_command;
use asterisk::Asterisk;
use pbx::{Heard, Observer};
use phones::{PhoneCall, Phones, PhonesConfig};

/// The variable naming the Asterisk installation the tests run.
const INSTALLATION: &str = "VOICEPORTAL_TEST_ASTERISK";
const PEPPER: &str = "real-test-pepper";
pub(crate) const ARI_PASSWORD: &str = "real-test-ari";
const DEMO_PHONES: [&str; 3] = ["1001", "1002", "1003"];

/// The installation, or None after saying on one line why the test does nothing.
fn installation() -> Option<PathBuf> {
    match std::env::var_os(INSTALLATION) {
        Some(prefix) => {
            let prefix = PathBuf::from(prefix);
            assert!(
                prefix.join("sbin/asterisk").exists(),
                "{INSTALLATION}={} holds no sbin/asterisk",
                prefix.display()
            );
            Some(prefix)
        }
        None => {
            eprintln!(
                "SKIPPED: real-Asterisk test: {INSTALLATION} is not set \
                 (scripts/test builds Asterisk with scripts/build-asterisk and sets it)"
            );
            None
        }
    }
}

fn one_at_a_time() -> &'static Mutex<()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(()))
}

pub(crate) fn free_tcp_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

fn free_udp_port(host: &str) -> u16 {
    UdpSocket::bind((host, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// Two blocks of 100 RTP ports, one per Asterisk, somewhere in 20000-59999; the
/// blocks of one test process never overlap (a test may start a second site).
fn rtp_blocks() -> ((u16, u16), (u16, u16)) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    let slot = NEXT
        .get_or_init(|| AtomicU16::new(rand::random::<u16>() % 200))
        .fetch_add(1, Ordering::Relaxed)
        % 200;
    let base = 20_000 + 200 * slot;
    ((base, base + 99), (base + 100, base + 199))
}

/// The PBX, the phones, Redis and voiceportal, for one test.
pub struct Stack {
    /// The Asterisk installation every instance runs.
    pub prefix: PathBuf,
    pub pbx: Asterisk,
    /// The phones' Asterisk, kept running for the whole test.
    _phones_asterisk: Asterisk,
    pub phones: Phones,
    pub observer: Observer,
    pub store: Store,
    pub config: Config,
    /// voiceportal's web portals and API.
    pub web_url: String,
    /// The service's environment (its whole configuration).
    service_env: Vec<(String, String)>,
    /// The running service, if any (shared so a test can kill it mid-call).
    service: std::sync::Mutex<Option<Child>>,
    dir: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Stack {
    /// Everything started and connected, or None (said why) without an
    /// installation.
    pub async fn start() -> Option<Stack> {
        Stack::start_with(&[]).await
    }

    /// As `start`, with more settings for the service (`VOICEPORTAL__...`).
    pub async fn start_with(extra_env: &[(&str, &str)]) -> Option<Stack> {
        Stack::start_configured(HashCost::fast_for_tests(), extra_env).await
    }

    /// [`Stack::start`] with PINs hashed at `hash` (the service and the store).
    pub async fn start_with_hash(hash: HashCost) -> Option<Stack> {
        Stack::start_configured(hash, &[]).await
    }

    async fn start_configured(hash: HashCost, extra_env: &[(&str, &str)]) -> Option<Stack> {
        let prefix = installation()?;
        let turn = one_at_a_time().lock().await;
        let dir = std::env::temp_dir().join(format!(
            "vp-real-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let (pbx_rtp, phones_rtp) = rtp_blocks();
        let pbx_sip = free_udp_port("127.0.0.1");
        let pbx_http = free_tcp_port("127.0.0.1");
        let passwords: Vec<(&str, String)> = DEMO_PHONES
            .iter()
            .map(|n| (*n, format!("phone-{n}-{}", rand::random::<u32>())))
            .collect();

        let pbx_state = dir.join("pbx");
        render_pbx(&prefix, &pbx_state, pbx_sip, pbx_http, pbx_rtp, &passwords);
        let mut pbx = Asterisk::new(
            &prefix,
            &pbx_state,
            format!("http://127.0.0.1:{pbx_http}"),
            ARI_PASSWORD,
        );
        pbx.start().await;

        let phones_state = dir.join("phones");
        let phones_http = free_tcp_port("127.0.0.2");
        PhonesConfig {
            host: "127.0.0.2",
            prefix: &prefix,
            state: &phones_state,
            pbx_data: &pbx_state.join("data"),
            pbx_sip,
            sip: free_udp_port("127.0.0.2"),
            http: phones_http,
            rtp: phones_rtp,
            ari_password: ARI_PASSWORD,
            phones: &passwords,
        }
        .write();
        let mut phones_asterisk = Asterisk::new(
            &prefix,
            &phones_state,
            format!("http://127.0.0.2:{phones_http}"),
            ARI_PASSWORD,
        );
        phones_asterisk.start().await;

        let redis = TestRedis::fresh();
        let mut config = Config::default();
        config.redis.url = redis.url.clone();
        config.security.pepper = Secret::new(PEPPER);
        config.security.hash = hash;
        let store = Store::connect(&config.redis)
            .await
            .expect("connect the test store");
        let hash = &config.security.hash;
        let web_url = format!("http://127.0.0.1:{}", free_tcp_port("127.0.0.1"));
        let service_env = vec![
            (
                "VOICEPORTAL__WEB__LISTEN".into(),
                web_url.trim_start_matches("http://").to_owned(),
            ),
            ("VOICEPORTAL__ARI__URL".into(), pbx.http.clone()),
            ("VOICEPORTAL__ARI__PASSWORD".into(), ARI_PASSWORD.into()),
            ("VOICEPORTAL__ARI__RECONNECT_MAX".into(), "1s".into()),
            ("VOICEPORTAL__REDIS__URL".into(), redis.url.clone()),
            ("VOICEPORTAL__SECURITY__PEPPER".into(), PEPPER.into()),
            (
                "VOICEPORTAL__SECURITY__HASH__MEMORY_KIB".into(),
                hash.memory_kib.to_string(),
            ),
            (
                "VOICEPORTAL__SECURITY__HASH__ITERATIONS".into(),
                hash.iterations.to_string(),
            ),
            (
                "VOICEPORTAL__LOG__FILTER".into(),
                "info,voiceportal=debug".into(),
            ),
        ];

        let mut service_env = service_env;
        service_env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let phones = Phones::connect(phones_asterisk.ari()).await;
        let observer = Observer::connect(&pbx.ari()).await;
        let stack = Stack {
            prefix,
            pbx,
            _phones_asterisk: phones_asterisk,
            phones,
            observer,
            store,
            config,
            web_url,
            service_env,
            service: std::sync::Mutex::new(None),
            dir,
            _turn: turn,
        };
        stack.start_service().await;
        Phones::wait_registered(&stack.pbx.ari(), &DEMO_PHONES).await;
        Some(stack)
    }

    /// Starts voiceportal (its real binary) and waits until Asterisk has its app.
    pub async fn start_service(&self) {
        assert!(
            self.service.lock().expect("service").is_none(),
            "voiceportal is already running"
        );
        let connections = self.service_connections();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.service_log_path())
            .expect("voiceportal's log file");
        let child = voiceportal_command()
            .envs(self.service_env.iter().map(|(k, v)| (k, v)))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start voiceportal");
        *self.service.lock().expect("service") = Some(child);
        self.wait_service_connected(connections).await;
    }

    /// How many times voiceportal has connected its events websocket so far (its
    /// log says so each time). Asterisk's `GET /applications/voiceportal` is no
    /// proof: an app whose socket died stays listed while it still has channels.
    pub fn service_connections(&self) -> usize {
        self.service_log()
            .matches("ARI events websocket connected")
            .count()
    }

    /// Waits until voiceportal has connected its events websocket more than
    /// `before` times.
    pub async fn wait_service_connected(&self, before: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.service_connections() <= before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "voiceportal did not connect to Asterisk; its log:\n{}",
                self.service_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The running voiceportal's process id.
    pub fn service_pid(&self) -> Option<u32> {
        self.service
            .lock()
            .expect("service")
            .as_ref()
            .map(Child::id)
    }

    /// Kills voiceportal as a crash would (SIGKILL).
    pub fn kill_service(&self) {
        let child = self.service.lock().expect("service").take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn service_log_path(&self) -> PathBuf {
        self.dir.join("voiceportal.log")
    }

    pub fn service_log(&self) -> String {
        std::fs::read_to_string(self.service_log_path()).unwrap_or_default()
    }

    /// Runs `voiceportal admin ...` against this stack, with `stdin` as its input
    /// (PINs are read there); returns its standard output.
    pub fn admin(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = voiceportal_command()
            .envs(self.service_env.iter().map(|(k, v)| (k, v)))
            .arg("admin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run voiceportal admin");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        let output = child.wait_with_output().expect("voiceportal admin");
        assert!(
            output.status.success(),
            "voiceportal admin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates mailbox `number` in `language`, with `pin` from `origin` (or none),
    /// its name recorded or not.
    pub async fn mailbox(
        &self,
        number: &str,
        language: &str,
        pin: Option<(&str, PinOrigin)>,
        named: bool,
    ) {
        let mut record = MailboxRecord::new(id(number));
        record.language = language.into();
        record.name_recorded = named;
        provision_record(&self.store, &self.config, &record, pin).await;
    }

    /// Phone `from` dials `*98` and, being its owner's own phone, is asked for
    /// the PIN: the call, and what it hears from there on.
    pub async fn call_portal(&self, from: &str) -> (PhoneCall<'_>, Heard<'_>) {
        let call = self.phones.dial(from, "*98").await;
        let mut heard = Heard::of(&self.observer, &call).await;
        heard.prompt("sound:voiceportal/enter-pin-or-star").await;
        (call, heard)
    }

    /// Fails the test when Asterisk could not find a sound it was asked to play:
    /// every prompt the service uses must exist, in every language.
    pub fn assert_no_missing_sounds(&self) {
        let log = self.pbx.log();
        let missing: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("does not exist in any format")
                    || (l.contains("Unable to open") && l.contains("(format"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "Asterisk could not find sounds:\n{}",
            missing.join("\n")
        );
    }

    /// A folder of this test's own, for another instance or scratch files.
    pub fn folder(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The PBX's recordings folder.
    pub fn recordings(&self) -> PathBuf {
        self.pbx.state.join("spool/recording")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.kill_service();
        if std::thread::panicking() {
            eprintln!(
                "the failed test's Asterisk logs, service log and recordings are in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The PBX's instance, made by the same script as the local stack's.
fn render_pbx(
    prefix: &Path,
    state: &Path,
    sip: u16,
    http: u16,
    rtp: (u16, u16),
    passwords: &[(&str, String)],
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/asterisk-config");
    let mut command = Command::new(script);
    command
        .arg("--prefix")
        .arg(prefix)
        .arg("--state")
        .arg(state)
        .env("VP_SIP_BIND", "127.0.0.1")
        .env("VP_SIP_PORT", sip.to_string())
        .env("VP_HTTP_BIND", "127.0.0.1")
        .env("VP_HTTP_PORT", http.to_string())
        .env("VP_RTP_START", rtp.0.to_string())
        .env("VP_RTP_END", rtp.1.to_string())
        .env("VP_ARI_PASSWORD", ARI_PASSWORD);
    for (number, password) in passwords {
        command.env(format!("VP_PHONE_{number}_PASSWORD"), password);
    }
    let output = command.output().expect("run scripts/asterisk-config");
    assert!(
        output.status.success(),
        "scripts/asterisk-config failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads a 16-bit PCM WAV's samples and returns their RMS level (0..32768).
pub fn rms(wav: &[u8]) -> f64 {
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .map(|at| &wav[(at + 8).min(wav.len())..])
        .unwrap_or_default();
    let samples: Vec<f64> = data
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
}
