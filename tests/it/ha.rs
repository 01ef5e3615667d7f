//! Issue 11, item 4: high availability, on the simulator. Two real `voiceportal
//! serve` processes share one Redis and one (simulated) Asterisk; the lease in
//! Redis decides which one owns the Stasis application. The active one is
//! killed (SIGKILL: nothing of it runs any more), loses Redis, or stops in
//! order, and the other must take over, apologise to the callers left behind,
//! and keep the message that was being recorded.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use ari_sim::{CallEnd, Caller, CallerAudio, Dial, Heard, SimConfig, Simulator};
use tokio::time::Instant;
use voiceportal::config::RedisConfig;
use voiceportal::domain::HashCost;
use voiceportal::store::Store;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::Folder;

use crate::real::free_tcp_port;
use crate::support::app::WAIT;
use crate::support::fixtures::id;
use crate::support::redis::TestRedis;
use crate::support::redis_proxy::RedisProxy;
use crate::support::web::WebClient;
use crate::support::{voiceportal_command, wait_beep};
use crate::web_owner::ask_code;

const PEPPER: &str = "ha-test-pepper";
const CALLER: &str = "0612345678";
/// Patience for a takeover: the 5 s the issue allows, plus a loaded machine.
const TAKEOVER: Duration = Duration::from_secs(20);

/// One `voiceportal serve` process.
struct Instance {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
    web: String,
}

impl Instance {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// As a crash: nothing of the process runs any more.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// As `systemctl stop`: SIGTERM, then waits for the process to exit.
    async fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + WAIT * 3;
        while child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "{} did not stop", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_log(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{} never logged {text:?}; its log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `/readyz`: its status and role.
    async fn readyz(&self) -> (u16, String) {
        let response = WebClient::new(&self.web).get("/readyz").await;
        let role = response.json()["role"].as_str().unwrap_or("").to_owned();
        (response.status, role)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The simulator, Redis, and the instances of one test.
struct Pair {
    sim: Simulator,
    redis: TestRedis,
    store: Store,
    dir: PathBuf,
}

impl Pair {
    async fn start() -> Pair {
        // Real time: a takeover is measured in the same seconds as the prompts.
        let sim = Simulator::start(SimConfig {
            speed: 1.0,
            ..SimConfig::default()
        })
        .await
        .expect("start the simulator");
        let redis = TestRedis::fresh();
        let store = Store::connect(&RedisConfig::single(redis.url.clone()))
            .await
            .expect("connect the test store");
        let dir = std::env::temp_dir().join(format!(
            "vp-ha-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("the test directory");
        Pair {
            sim,
            redis,
            store,
            dir,
        }
    }

    /// Starts instance `name`, reaching Redis at `redis_url` (the test's
    /// Redis, or a proxy in front of it).
    async fn instance(&self, name: &'static str, redis_url: &str) -> Instance {
        self.instance_as(name, name, redis_url).await
    }

    /// Instance `name` with `ha.instance_id = id`.
    async fn instance_as(&self, name: &'static str, id: &str, redis_url: &str) -> Instance {
        let sim = self.sim.config();
        let hash = HashCost::fast_for_tests();
        let web = format!("127.0.0.1:{}", free_tcp_port("127.0.0.1"));
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let env = [
            ("VOICEPORTAL__ARI__URL", self.sim.base_url()),
            ("VOICEPORTAL__ARI__USERNAME", sim.username.clone()),
            ("VOICEPORTAL__ARI__PASSWORD", sim.password.clone()),
            ("VOICEPORTAL__ARI__APP", sim.app.clone()),
            ("VOICEPORTAL__ARI__RECONNECT_MIN", "20ms".into()),
            ("VOICEPORTAL__ARI__RECONNECT_MAX", "200ms".into()),
            ("VOICEPORTAL__REDIS__URL", redis_url.to_owned()),
            ("VOICEPORTAL__SECURITY__PEPPER", PEPPER.into()),
            (
                "VOICEPORTAL__SECURITY__HASH__MEMORY_KIB",
                hash.memory_kib.to_string(),
            ),
            (
                "VOICEPORTAL__SECURITY__HASH__ITERATIONS",
                hash.iterations.to_string(),
            ),
            ("VOICEPORTAL__WEB__LISTEN", web.clone()),
            ("VOICEPORTAL__HA__ENABLED", "true".into()),
            ("VOICEPORTAL__HA__INSTANCE_ID", id.into()),
            ("VOICEPORTAL__LOG__FILTER", "info,voiceportal=debug".into()),
        ];
        let child = voiceportal_command()
            .envs(env)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("start voiceportal");
        let instance = Instance {
            name,
            child: Some(child),
            log,
            web: format!("http://{web}"),
        };
        instance
            .wait_log("web portals and API listening", WAIT)
            .await;
        instance
    }

    /// The instance holding the lease, per Redis (its name, without the
    /// random suffix of its lease value).
    async fn holder(&self) -> Option<String> {
        let value = self
            .store
            .lease_holder(&self.sim.config().app)
            .await
            .expect("read the lease")?;
        let (name, nonce) = value.split_once('#').expect("<instance>#<nonce>");
        assert_eq!(nonce.len(), 8, "{value}");
        Some(name.to_owned())
    }

    async fn wait_holder(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.holder().await.as_deref() != Some(name) {
            assert!(
                Instant::now() < deadline,
                "{name} never took the lease (holder {:?})",
                self.holder().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many events websockets were ever opened on the simulator.
    fn connections(&self) -> usize {
        self.sim
            .request_log()
            .iter()
            .filter(|r| r.path.starts_with("/ari/events"))
            .count()
    }

    async fn wait_connections(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.connections() < count || !self.sim.app_connected() {
            assert!(
                Instant::now() < deadline,
                "{} websocket connections, waiting for {count}",
                self.connections()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `a` active (connected), then `b` started as its standby.
    async fn active_and_standby(&self, a_redis: &str) -> (Instance, Instance) {
        let a = self.instance("a", a_redis).await;
        self.wait_holder("a", WAIT).await;
        self.wait_connections(1, WAIT).await;
        let b = self.instance("b", &self.redis.url).await;
        b.wait_log("standing by until this instance holds the lease", WAIT)
            .await;
        (a, b)
    }

    async fn mailbox(&self) {
        let mut record = voiceportal::store::mailboxes::MailboxRecord::new(id("1001"));
        record.name_recorded = false;
        let mut config = voiceportal::config::Config::default();
        config.security.pepper = voiceportal::config::Secret::new(PEPPER);
        config.security.hash = HashCost::fast_for_tests();
        crate::support::fixtures::provision_record(
            &self.store,
            &config,
            &record,
            Some(("135790", PinOrigin::User)),
        )
        .await;
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the caller has heard the apology, then the hang-up by the app.
async fn apologised_and_hung_up(caller: &Caller) {
    caller.expect_sound("voiceportal/error", TAKEOVER).await;
    assert_eq!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { cause: 16 }),
        "heard {:?}",
        caller.heard()
    );
}

fn heard_sound(caller: &Caller, name: &str) -> bool {
    caller
        .heard()
        .iter()
        .any(|h| matches!(h, Heard::Sound { name: n, .. } if n == name))
}

#[tokio::test]
async fn only_the_lease_holder_connects_and_an_orderly_stop_hands_over_at_once() {
    let pair = Pair::start().await;
    pair.mailbox().await;
    let (mut a, b) = pair.active_and_standby(&pair.redis.url).await;
    // Several renewals and standby tries later, still one socket, one owner.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pair.connections(), 1);
    assert_eq!(pair.holder().await.as_deref(), Some("a"));
    assert!(!b.log().contains("ARI events websocket connected"));
    assert_eq!(a.readyz().await, (200, "active".into()));
    assert_eq!(b.readyz().await, (503, "standby".into()));
    let metrics = WebClient::new(&b.web).get("/metrics").await.body;
    assert!(metrics.contains("voiceportal_ha_active 0"), "{metrics}");

    // Phone sign-in: the standby refuses to place the call (its answer would
    // reach the active instance, which does not hold the code); the active
    // places it.
    ask_code(&mut WebClient::new(&b.web), "1001").await;
    b.wait_log("high-availability standby", WAIT).await;
    assert!(
        !pair
            .sim
            .request_log()
            .iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/ari/channels")),
        "the standby placed a call"
    );
    ask_code(&mut WebClient::new(&a.web), "1001").await;
    let ringing = pair.sim.wait_originated(WAIT).await;
    assert!(ringing.is_some(), "the active did not call the phone");

    a.terminate().await;
    assert!(
        a.log().contains("lease released for the standby"),
        "{}",
        a.log()
    );
    pair.wait_holder("b", TAKEOVER).await;
    pair.wait_connections(2, TAKEOVER).await;
    assert_eq!(b.readyz().await, (200, "active".into()));
    // A call goes to the new owner.
    let caller = pair.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
}

/// Two instances given the same `ha.instance_id` by mistake still never both
/// own the application: each lease value is the instance's own.
#[tokio::test]
async fn two_instances_with_the_same_name_never_both_connect() {
    let pair = Pair::start().await;
    let first = pair.instance_as("first", "same", &pair.redis.url).await;
    pair.wait_connections(1, WAIT).await;
    let second = pair.instance_as("second", "same", &pair.redis.url).await;
    second
        .wait_log("standing by until this instance holds the lease", WAIT)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pair.connections(), 1);
    assert!(first.log().contains("ARI events websocket connected"));
    assert!(!second.log().contains("ARI events websocket connected"));
}

#[tokio::test]
async fn a_killed_active_is_replaced_and_its_caller_hears_the_apology() {
    let pair = Pair::start().await;
    pair.mailbox().await;
    let (mut a, b) = pair.active_and_standby(&pair.redis.url).await;
    let caller = pair.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;

    let killed = Instant::now();
    a.kill();
    pair.wait_connections(2, TAKEOVER).await;
    eprintln!(
        "takeover: the standby's websocket connected {:?} after SIGKILL",
        killed.elapsed()
    );
    assert_eq!(pair.holder().await.as_deref(), Some("b"));
    apologised_and_hung_up(&caller).await;
    assert!(
        b.log()
            .contains("channel in our application with no call task")
    );

    // The new owner serves the next call.
    let next = pair.sim.dial(Dial::portal("1001")).await;
    next.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    next.hangup().await;
}

#[tokio::test]
async fn a_message_recorded_when_the_active_is_killed_is_kept() {
    killed_during_a_deposit(false).await;
}

/// Killed while the caller reviews the message (recorded, not yet indexed):
/// the caller is hung up, which sends, as a hang-up does.
#[tokio::test]
async fn a_message_in_review_when_the_active_is_killed_is_kept() {
    killed_during_a_deposit(true).await;
}

async fn killed_during_a_deposit(in_review: bool) {
    let pair = Pair::start().await;
    pair.mailbox().await;
    let (mut a, b) = pair.active_and_standby(&pair.redis.url).await;
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], CALLER);
    dial.context = "from-outside".into();
    let caller = pair.sim.dial(dial).await;
    wait_beep(&caller).await;
    caller.set_audio(CallerAudio::Talking);
    tokio::time::sleep(Duration::from_secs(2)).await;
    if in_review {
        caller.set_audio(CallerAudio::Silence);
        caller.press("#").await;
        caller.expect_sound("vm-review", WAIT).await;
    }

    a.kill();
    pair.wait_connections(2, TAKEOVER).await;
    // The new owner stops the recording if it still runs, apologises, hangs up.
    apologised_and_hung_up(&caller).await;
    let deadline = Instant::now() + WAIT;
    let message = loop {
        let messages = pair.store.messages(&id("1001"), Folder::New).await.unwrap();
        let lamp = pair.sim.mailbox("1001@default");
        if messages.len() == 1 && lamp == Some((0, 1)) {
            break messages[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "messages {messages:?}, lamp {lamp:?}; b's log:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(message.caller_number, CALLER);
    assert!(message.duration_secs >= 1, "{message:?}");
    // Adopted at the takeover: indexed long before the dead deposit's lease
    // (30 s) lapsed.
    assert!(
        b.log()
            .contains("takeover: deposits of the previous instance adopted"),
        "{}",
        b.log()
    );
    assert_eq!(
        b.log().contains("takeover: stopped a message"),
        !in_review,
        "{}",
        b.log()
    );
    let deposits: usize = redis::cmd("HLEN")
        .arg("vp:{1001}:deposits")
        .query(&mut pair.redis.connection())
        .unwrap();
    assert_eq!(deposits, 0);
}

#[tokio::test]
async fn an_active_that_loses_redis_lets_go_and_the_standby_takes_over() {
    loses_redis(false).await;
}

/// Redis frozen for the active one (its requests held, unanswered): the same,
/// and when the held requests finally reach Redis they change nothing.
#[tokio::test]
async fn an_active_whose_redis_stalls_lets_go_and_the_standby_takes_over() {
    loses_redis(true).await;
}

async fn loses_redis(stall: bool) {
    let pair = Pair::start().await;
    pair.mailbox().await;
    let proxy = RedisProxy::start(&pair.redis.url).await;
    let (a, b) = pair.active_and_standby(&proxy.url).await;
    let caller = pair.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;

    if stall {
        proxy.stall();
    } else {
        proxy.take_down();
    }
    a.wait_log("giving the application up", TAKEOVER).await;
    pair.wait_holder("b", TAKEOVER).await;
    pair.wait_connections(2, TAKEOVER).await;
    // A's caller hears the apology (from a as it lets go, or from b).
    apologised_and_hung_up(&caller).await;
    assert!(heard_sound(&caller, "vm-goodbye"), "{:?}", caller.heard());

    // A never takes the application back, even with Redis again.
    proxy.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pair.connections(), 2);
    assert_eq!(pair.holder().await.as_deref(), Some("b"));
    // A stands by: it did not take its loss of the lease for a stop and exit.
    assert!(
        std::net::TcpStream::connect(a.web.trim_start_matches("http://")).is_ok(),
        "A stopped instead of standing by; its log:\n{}",
        a.log()
    );
    assert_eq!(a.readyz().await.1, "standby");
    let next = pair.sim.dial(Dial::portal("1001")).await;
    next.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    assert!(b.log().contains("took the lease"));
}

/// The lease's scripts: an instance never extends or removes a lease that is
/// not its own (one whose lease lapsed and was taken meanwhile, say).
#[tokio::test]
async fn an_instance_never_renews_or_releases_another_instances_lease() {
    let redis = TestRedis::fresh();
    let store = Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap();
    let ttl = Duration::from_secs(30);
    assert!(store.acquire_lease("vp", "a", ttl).await.unwrap());
    assert!(!store.acquire_lease("vp", "b", ttl).await.unwrap());
    assert!(!store.renew_lease("vp", "b", ttl).await.unwrap());
    assert!(!store.release_lease("vp", "b").await.unwrap());
    assert_eq!(
        store.lease_holder("vp").await.unwrap().as_deref(),
        Some("a")
    );
    // Another application name is another lease.
    assert!(store.acquire_lease("other", "b", ttl).await.unwrap());

    assert!(store.renew_lease("vp", "a", ttl).await.unwrap());
    assert!(store.release_lease("vp", "a").await.unwrap());
    assert_eq!(store.lease_holder("vp").await.unwrap(), None);
    // A lease that lapsed cannot be renewed: it must be taken again.
    assert!(!store.renew_lease("vp", "a", ttl).await.unwrap());
    assert!(store.acquire_lease("vp", "b", ttl).await.unwrap());
    assert!(!store.release_lease("vp", "a").await.unwrap());
    assert_eq!(
        store.lease_holder("vp").await.unwrap().as_deref(),
        Some("b")
    );
}
