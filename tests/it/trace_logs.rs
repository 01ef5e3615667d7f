//! Issue 10, item 7: the real binary, every target at `trace`, a login with a
//! known PIN: neither the PIN, nor its digits as DTMF events, nor the ARI
//! password (plain or in the Basic authorization header) reaches the log.

use std::process::Stdio;
use std::time::Duration;

use ari_sim::{Dial, SimConfig, Simulator};
use base64::Engine;
use voiceportal::domain::{HashCost, Pin, PinHasher};
use voiceportal::store::Store;
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use crate::support::app::WAIT;
use crate::support::fixtures::id;
use crate::support::redis::TestRedis;
use crate::support::voiceportal_command;

const PIN: &str = "583920";
const ARI_PASSWORD: &str = "ari-pw-Zq81x";
const PEPPER: &str = "pepper-Tr4ce";

#[tokio::test]
async fn nothing_secret_is_logged_at_trace_for_any_target() {
    let redis = TestRedis::fresh();
    let sim = Simulator::start(SimConfig {
        password: ARI_PASSWORD.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let store = Store::connect(&voiceportal::config::RedisConfig::single(redis.url.clone()))
        .await
        .unwrap();
    let mut record = MailboxRecord::new(id("1001"));
    record.name_recorded = true;
    store.create_mailbox(&record, None).await.unwrap();
    let hasher = PinHasher::new(
        &voiceportal::config::Secret::new(PEPPER),
        &HashCost::default(),
    )
    .unwrap();
    let hash = hasher.hash(&Pin::parse(PIN).unwrap()).unwrap();
    store
        .set_pin(&id("1001"), &hash, PinOrigin::User, 5)
        .await
        .unwrap();

    let log_path = std::env::temp_dir().join(format!(
        "vp-trace-{}-{}.log",
        std::process::id(),
        rand::random::<u32>()
    ));
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = voiceportal_command()
        .arg("serve")
        .env("RUST_LOG", "trace")
        .env("VOICEPORTAL__LOG__FILTER", "trace")
        .env("VOICEPORTAL__ARI__URL", sim.base_url())
        .env("VOICEPORTAL__ARI__USERNAME", &sim.config().username)
        .env("VOICEPORTAL__ARI__PASSWORD", ARI_PASSWORD)
        .env("VOICEPORTAL__REDIS__URL", &redis.url)
        .env("VOICEPORTAL__SECURITY__PEPPER", PEPPER)
        .env(
            "VOICEPORTAL__PORTAL__OWN_PHONE_CHANNEL",
            "PJSIP/phone{number}",
        )
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("start voiceportal serve");
    assert!(
        sim.wait_app_connected(WAIT * 3).await,
        "serve never connected"
    );

    let caller = sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press(&format!("{PIN}#")).await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller.press("#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
    caller.wait_end(WAIT).await;

    // SAFETY: plain kill(2) on the child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + WAIT * 3;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);

    // Our own code logs at debug and below; trace lines come only from libraries,
    // which are held back, so debug lines show the filter was open.
    assert!(
        logs.contains("DEBUG"),
        "verbose logging was not on:\n{logs}"
    );
    assert!(logs.contains("login"), "the login was not logged:\n{logs}");
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{ARI_PASSWORD}", sim.config().username));
    for secret in [PIN, ARI_PASSWORD, basic.as_str(), PEPPER, "$argon2"] {
        assert!(!logs.contains(secret), "{secret} reached the log");
    }
    assert!(
        !logs.contains("ChannelDtmfReceived"),
        "DTMF events (PIN digits) reached the log"
    );
}
