//! The service on a real Redis Sentinel group and a real Redis Cluster, through
//! failovers: calls keep working after each, and nothing acknowledged before is
//! lost (strikes, the lock, messages, the audit trail). Both run with
//! `wait_replicas = 1`, so every acknowledged write is on a replica too.
//!
//! The mailbox numbers are chosen so that, on the Cluster, the mailbox whose
//! master is killed holds the strikes, the lock and the messages.

use std::time::{Duration, Instant};

use tokio::task::block_in_place;

use ari_sim::{CallEnd, Caller, Dial, Heard, SimConfig};
use voiceportal::admin::Admin;
use voiceportal::config::RedisConfig;
use voiceportal::store::lockout::LockSubject;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::Folder;

use crate::support::app::{TestApp, WAIT, spawn_app_on_redis};
use crate::support::fixtures::{id, provision};
use crate::support::redis_ha::{MASTER_NAME, PASSWORD, TestCluster, TestSentinels};

const PIN: &str = "135790";
const WRONG: &str = "246802";

fn durable(mut config: RedisConfig) -> RedisConfig {
    config.wait_replicas = 1;
    config.wait_timeout = Duration::from_secs(5);
    config
}

async fn spawn(redis: RedisConfig) -> TestApp {
    let app = spawn_app_on_redis(SimConfig::default(), redis, |_| {}).await;
    provision(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    provision(&app, "1002", Some((PIN, PinOrigin::User)), true).await;
    app
}

fn sounds(caller: &Caller) -> Vec<String> {
    caller
        .heard()
        .iter()
        .filter_map(|h| match h {
            Heard::Sound { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

async fn ended(caller: &Caller) {
    let end = caller.wait_end(WAIT).await;
    assert!(
        matches!(end, Some(CallEnd::HungUpByApp { .. })),
        "{end:?} after {:?}",
        sounds(caller)
    );
}

/// One call from the owner's phone entering `pins` one after the other, each
/// answered by `answer`.
async fn log_in(app: &TestApp, pins: &[&str], answers: &[&str]) {
    let caller = app.sim.dial(Dial::portal("1001")).await;
    for (pin, answer) in pins.iter().zip(answers) {
        caller
            .expect_sound("voiceportal/enter-pin-or-star", WAIT)
            .await;
        caller.press(&format!("{pin}#")).await;
        caller.expect_sound(answer, WAIT).await;
    }
    ended(&caller).await;
}

/// Someone leaves mailbox 1001 a message of about two seconds.
async fn deposit(app: &TestApp) {
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], "0612345678");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    crate::support::wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
    ended(&caller).await;
}

async fn strikes(app: &TestApp) -> (u32, bool) {
    let status = app
        .store
        .lock_status(&LockSubject::Mailbox(id("1001")))
        .await
        .unwrap();
    (status.strikes, status.locked)
}

async fn message_count(app: &TestApp) -> usize {
    app.store
        .messages(&id("1001"), Folder::New)
        .await
        .unwrap()
        .len()
}

async fn audited(app: &TestApp) -> Vec<(String, String)> {
    app.store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.target))
        .collect()
}

/// Before any failover: three strikes, a message, an audited admin action.
async fn before(app: &TestApp) {
    log_in(
        app,
        &[WRONG, WRONG, WRONG],
        &[
            "voiceportal/pin-incorrect",
            "voiceportal/pin-incorrect",
            "voiceportal/pin-incorrect",
        ],
    )
    .await;
    assert_eq!(strikes(app).await, (3, false));
    deposit(app).await;
    assert_eq!(message_count(app).await, 1);
    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    admin.unlock("tester", "1002").await.unwrap();
    assert_eq!(
        audited(app).await,
        [("unlock".to_owned(), "1002".to_owned())]
    );
}

/// After a first failover: the strikes survived, so one more wrong PIN locks;
/// a second message is kept.
async fn after_first(app: &TestApp, audit_before: usize) {
    assert_eq!(
        strikes(app).await,
        (3, false),
        "strikes lost in the failover"
    );
    assert_eq!(
        message_count(app).await,
        1,
        "a message lost in the failover"
    );
    assert_eq!(audited(app).await.len(), audit_before, "audit lost");
    log_in(app, &[WRONG], &["voiceportal/pin-locked"]).await;
    assert_eq!(strikes(app).await, (4, true));
    deposit(app).await;
    assert_eq!(message_count(app).await, 2);
}

/// After a crash of the master: the lock held (even the right PIN is refused
/// unchecked), both messages are there, the audit too; an administrator's
/// unlock (audited) lets the owner in again.
async fn after_crash(app: &TestApp, audit_before: usize) {
    assert_eq!(strikes(app).await, (4, true), "the lock was lost");
    assert_eq!(message_count(app).await, 2, "a message was lost");
    assert_eq!(audited(app).await.len(), audit_before, "audit lost");
    log_in(app, &[PIN], &["voiceportal/pin-locked"]).await;
    deposit(app).await;
    assert_eq!(message_count(app).await, 3);
    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    admin.unlock("tester", "1001").await.unwrap();
    assert_eq!(audited(app).await.len(), audit_before + 1);
    log_in(app, &[PIN], &["vm-goodbye"]).await;
    assert_eq!(strikes(app).await, (0, false));
}

/// How long after a SIGKILL of the master the store reads again (printed with
/// `--nocapture`: measured, not asserted).
async fn time_to_read_again(app: &TestApp, what: &str, killed: Instant) {
    while app.store.mailbox(&id("1001")).await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "{what}: reads again {} ms after the master's SIGKILL",
        killed.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_sentinel_failovers_and_lose_nothing() {
    crate::support::logs::start_capture();
    let mut group = block_in_place(TestSentinels::start);
    let app = spawn(durable(group.config())).await;
    before(&app).await;
    let audit = audited(&app).await.len();

    let first = group.master();
    let second = block_in_place(|| group.fail_over());
    assert_ne!(first, second);
    after_first(&app, audit).await;
    // The sentinels' announcement reached the store (it reconnects before a
    // command has to fail on the old master).
    let logs = crate::support::logs::captured();
    assert!(
        logs.contains(&format!(
            "{MASTER_NAME} 127.0.0.1 {first} 127.0.0.1 {second}"
        )),
        "{logs}"
    );

    let killed = Instant::now();
    let dead = block_in_place(|| group.kill_master());
    assert_eq!(dead, second);
    time_to_read_again(&app, "sentinel", killed).await;
    let third = block_in_place(|| group.wait_promoted(dead));
    assert_ne!(second, third);
    after_crash(&app, audit).await;
    assert!(!crate::support::logs::captured().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_cluster_failovers_and_lose_nothing() {
    let mut cluster = block_in_place(TestCluster::start);
    let app = spawn(durable(cluster.config())).await;
    before(&app).await;
    let audit = audited(&app).await.len();

    // The master holding mailbox 1001 hands over; then its successor crashes.
    let first = cluster.master_of("vp:{1001}:box");
    let second = block_in_place(|| cluster.fail_over(first));
    after_first(&app, audit).await;

    let killed = Instant::now();
    let third = block_in_place(|| cluster.kill_master(second));
    assert_eq!(
        third, first,
        "the first master, a replica since, takes over"
    );
    time_to_read_again(&app, "cluster", killed).await;
    // Writes wait for a replica: the dead node comes back as one.
    block_in_place(|| cluster.recover(second, third));
    after_crash(&app, audit).await;
}

/// With `wait_replicas` above what the deployment has, a write is refused
/// with a clear error (its data may stay, like any write whose answer is
/// lost), and reads go on.
#[tokio::test]
async fn a_write_no_replica_confirms_fails_clearly() {
    let redis = crate::support::redis::TestRedis::fresh();
    let mut config = RedisConfig::single(redis.url.clone());
    config.wait_replicas = 1;
    config.wait_timeout = Duration::from_millis(50);
    let store = voiceportal::store::Store::connect(&config).await.unwrap();
    let err = store
        .audit("tester", "unlock", "1001", "")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("0 of 1 replica(s) acknowledged within 50 ms"),
        "{err}"
    );
    assert_eq!(store.audit_log(10).await.unwrap().len(), 1);
    assert!(store.mailbox(&id("1001")).await.unwrap().is_none());
}

/// A mail queue left by a version before the `{mail}` hash tag is moved to
/// its new keys when the store connects, so no notification is lost.
#[tokio::test]
async fn a_legacy_mail_queue_is_moved_on_start() {
    let redis = crate::support::redis::TestRedis::fresh();
    let mut raw = redis.connection();
    let _: () = redis::cmd("HSET")
        .arg("vp:mail:jobs")
        .arg("1001/7")
        .arg("{\"job\":1}")
        .query(&mut raw)
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg("vp:mail:due")
        .arg(0)
        .arg("1001/7")
        .query(&mut raw)
        .unwrap();
    let store = voiceportal::store::Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap();
    match store.claim_mail(Duration::from_secs(60)).await.unwrap() {
        voiceportal::store::mailq::Claim::Job(job) => {
            assert_eq!(
                (job.id.as_str(), job.body.as_str()),
                ("1001/7", "{\"job\":1}")
            );
        }
        other => panic!("the legacy job is gone: {other:?}"),
    }
    let old: bool = redis::cmd("EXISTS")
        .arg("vp:mail:jobs")
        .query(&mut raw)
        .unwrap();
    assert!(!old);
}
