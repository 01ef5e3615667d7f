//! The message index against a real Redis (save, folders, counts, the three-step
//! delete, the atomic mailbox limit under concurrency), the message-waiting lamps
//! against the ARI simulator, and `voiceportal admin messages ...` through the
//! real binary.

use std::path::Path;
use std::process::Output;

use ari_sim::{SimConfig, Simulator};
use chrono::{DateTime, Duration as TimeDelta, Utc};
use voiceportal::ari::AriClient;
use voiceportal::config::{Config, RedisConfig};
use voiceportal::domain::MailboxId;
use voiceportal::notify::mwi::Mwi;
use voiceportal::store::Store;
use voiceportal::store::mailboxes::MailboxRecord;
use voiceportal::store::messages::{
    Folder, Message, MessageCounts, MessageId, MessageState, SaveOutcome, message_recording,
};

use crate::support::app::{spawn_app, test_config};
use crate::support::redis::TestRedis;

pub(crate) fn mbox(n: &str) -> MailboxId {
    MailboxId::parse(n).unwrap()
}

pub(crate) async fn store(redis: &TestRedis) -> Store {
    Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap()
}

pub(crate) async fn create_mailbox(store: &Store, n: &str, timezone: &str) {
    let mut record = MailboxRecord::new(mbox(n));
    record.timezone = timezone.into();
    assert_eq!(
        store.create_mailbox(&record, None).await.unwrap(),
        voiceportal::store::mailboxes::Created::Created
    );
}

/// A message received `ago` before now, with a known id suffix.
pub(crate) fn message(m: &str, ago: TimeDelta, suffix: u32, caller: &str) -> Message {
    let received = DateTime::from_timestamp_millis((Utc::now() - ago).timestamp_millis()).unwrap();
    Message {
        id: MessageId::with_suffix(received, suffix),
        mailbox: mbox(m),
        folder: Folder::New,
        caller_number: caller.into(),
        caller_name: if caller.is_empty() {
            String::new()
        } else {
            format!("Phone {caller}")
        },
        received,
        duration_secs: 4,
        recorded_on: String::new(),
    }
}

fn counts(new: u32, old: u32) -> MessageCounts {
    MessageCounts { new, old }
}

async fn saved(store: &Store, msg: &Message) -> MessageCounts {
    match store.save_message(msg, 100).await.unwrap() {
        SaveOutcome::Saved(c) => c,
        other => panic!("not saved: {other:?}"),
    }
}

#[tokio::test]
async fn save_list_move_and_count() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let m = mbox("1001");
    assert_eq!(store.message_counts(&m).await.unwrap(), counts(0, 0));

    let a = message("1001", TimeDelta::minutes(30), 1, "1002");
    let b = message("1001", TimeDelta::minutes(20), 2, "");
    let c = message("1001", TimeDelta::minutes(10), 3, "1003");
    // Saved out of order: listings still come oldest first.
    assert_eq!(saved(&store, &c).await, counts(1, 0));
    assert_eq!(saved(&store, &a).await, counts(2, 0));
    assert_eq!(saved(&store, &b).await, counts(3, 0));
    assert_eq!(
        store.messages(&m, Folder::New).await.unwrap(),
        vec![a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(store.message(&m, &a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(a.recording(), format!("voiceportal/1001/msg-{}", a.id));
    assert_eq!(a.recording(), message_recording(&m, &a.id));

    // A played message becomes old.
    assert_eq!(
        store.set_folder(&m, &b.id, Folder::Old).await.unwrap(),
        Some(counts(2, 1))
    );
    let mut old_b = b.clone();
    old_b.folder = Folder::Old;
    assert_eq!(
        store.messages(&m, Folder::Old).await.unwrap(),
        vec![old_b.clone()]
    );
    assert_eq!(
        store.messages(&m, Folder::New).await.unwrap(),
        vec![a.clone(), c.clone()]
    );
    assert_eq!(
        store.all_messages(&m).await.unwrap(),
        vec![a.clone(), old_b, c.clone()]
    );
    assert_eq!(store.message_counts(&m).await.unwrap(), counts(2, 1));

    // Unknown ids and mailboxes.
    let ghost = MessageId::with_suffix(Utc::now(), 99);
    assert_eq!(
        store.set_folder(&m, &ghost, Folder::Old).await.unwrap(),
        None
    );
    assert_eq!(store.message(&m, &ghost).await.unwrap(), None);
    assert_eq!(
        store.message_counts(&mbox("1009")).await.unwrap(),
        counts(0, 0)
    );
    assert!(
        store
            .messages(&mbox("1009"), Folder::New)
            .await
            .unwrap()
            .is_empty()
    );

    // Keys follow the documented layout, all under the mailbox's hash tag.
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("vp:{1001}:*")
        .query(&mut conn)
        .unwrap();
    assert!(keys.contains(&"vp:{1001}:msgs".to_owned()), "{keys:?}");
    assert!(
        keys.contains(&format!("vp:{{1001}}:msg:{}", a.id)),
        "{keys:?}"
    );
}

#[tokio::test]
async fn delete_leaves_a_tombstone_until_cleared() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let m = mbox("1001");
    let a = message("1001", TimeDelta::minutes(5), 1, "1002");
    let b = message("1001", TimeDelta::minutes(4), 2, "1002");
    saved(&store, &a).await;
    saved(&store, &b).await;
    store.set_folder(&m, &b.id, Folder::Old).await.unwrap();

    assert_eq!(
        store.message_state(&m, &a.id).await.unwrap(),
        MessageState::Indexed
    );
    assert_eq!(
        store.delete_message(&m, &a.id).await.unwrap(),
        Some(counts(0, 1))
    );
    assert_eq!(store.message(&m, &a.id).await.unwrap(), None);
    assert_eq!(
        store.message_state(&m, &a.id).await.unwrap(),
        MessageState::Tombstoned
    );
    let tombs = store.tombstones(&m).await.unwrap();
    assert_eq!(tombs.len(), 1);
    assert_eq!(tombs[0].0, a.id);
    let deleted_at = tombs[0].1.expect("dated with Redis' clock");
    assert!((Utc::now() - deleted_at).num_seconds().abs() < 60);
    // A second delete of the same message finds nothing.
    assert_eq!(store.delete_message(&m, &a.id).await.unwrap(), None);

    store.clear_tombstone(&m, &a.id).await.unwrap();
    assert!(store.tombstones(&m).await.unwrap().is_empty());
    assert_eq!(
        store.message_state(&m, &a.id).await.unwrap(),
        MessageState::Absent
    );
    // Clearing twice is harmless.
    store.clear_tombstone(&m, &a.id).await.unwrap();
    assert_eq!(store.message_counts(&m).await.unwrap(), counts(0, 1));
}

#[tokio::test]
async fn saving_into_a_missing_mailbox_indexes_nothing() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    let msg = message("1001", TimeDelta::zero(), 1, "1002");
    assert_eq!(
        store.save_message(&msg, 100).await.unwrap(),
        SaveOutcome::NoMailbox
    );
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn saving_an_indexed_message_again_refreshes_it_without_counting_twice() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let m = mbox("1001");
    // As repair would have indexed it: caller unknown; the owner then heard it.
    let mut recovered = message("1001", TimeDelta::minutes(1), 7, "");
    saved(&store, &recovered).await;
    store
        .set_folder(&m, &recovered.id, Folder::Old)
        .await
        .unwrap();
    recovered.caller_number = "1002".into();
    // Even a full mailbox accepts the deposit's own save of an indexed message.
    assert_eq!(
        store.save_message(&recovered, 1).await.unwrap(),
        SaveOutcome::Saved(counts(0, 1))
    );
    let stored = store.message(&m, &recovered.id).await.unwrap().unwrap();
    assert_eq!(stored.caller_number, "1002");
    assert_eq!(stored.folder, Folder::Old);
}

#[tokio::test]
async fn twenty_concurrent_deposits_are_all_kept() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let saves = (0..20u32).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let msg = message("1001", TimeDelta::zero(), i, "1002");
            store.save_message(&msg, 100).await.unwrap()
        })
    });
    let outcomes = futures_util::future::join_all(saves).await;
    let mut totals: Vec<u32> = outcomes
        .into_iter()
        .map(|o| match o.unwrap() {
            SaveOutcome::Saved(c) => c.total(),
            other => panic!("{other:?}"),
        })
        .collect();
    // Each save saw its own count: 1..=20, once each.
    totals.sort_unstable();
    assert_eq!(totals, (1..=20).collect::<Vec<u32>>());
    let m = mbox("1001");
    assert_eq!(store.message_counts(&m).await.unwrap(), counts(20, 0));
    assert_eq!(store.messages(&m, Folder::New).await.unwrap().len(), 20);
}

#[tokio::test]
async fn a_full_mailbox_refuses_atomically() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let saves = (0..10u32).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let msg = message("1001", TimeDelta::zero(), i, "1002");
            store.save_message(&msg, 5).await.unwrap()
        })
    });
    let outcomes: Vec<SaveOutcome> = futures_util::future::join_all(saves)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let kept = outcomes
        .iter()
        .filter(|o| matches!(o, SaveOutcome::Saved(_)))
        .count();
    let refused = outcomes.iter().filter(|o| **o == SaveOutcome::Full).count();
    assert_eq!((kept, refused), (5, 5), "{outcomes:?}");
    let m = mbox("1001");
    assert_eq!(store.message_counts(&m).await.unwrap(), counts(5, 0));
    // Nothing of the refused ones was written: 5 index entries, 5 hashes.
    let mut conn = redis.connection();
    let hashes: Vec<String> = redis::cmd("KEYS")
        .arg("vp:{1001}:msg:*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(hashes.len(), 5);
    let indexed: u32 = redis::cmd("ZCARD")
        .arg("vp:{1001}:msgs")
        .query(&mut conn)
        .unwrap();
    assert_eq!(indexed, 5);
    // Old messages count towards the limit too.
    let first = &store.messages(&m, Folder::New).await.unwrap()[0];
    store.set_folder(&m, &first.id, Folder::Old).await.unwrap();
    let late = message("1001", TimeDelta::zero(), 100, "1002");
    assert_eq!(
        store.save_message(&late, 5).await.unwrap(),
        SaveOutcome::Full
    );
}

pub(crate) fn client(sim: &Simulator) -> AriClient {
    AriClient::new(&test_config(sim, &TestRedis::unused()).ari).unwrap()
}

#[tokio::test]
async fn mwi_publish_sets_the_lamp_and_survives_an_absent_asterisk() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mwi = Mwi::new(client(&sim), "default");
    assert_eq!(mwi.name(&mbox("1001")), "1001@default");
    mwi.publish(&mbox("1001"), counts(2, 1)).await;
    assert_eq!(sim.mailbox("1001@default"), Some((1, 2)));
    mwi.publish(&mbox("1001"), counts(0, 3)).await;
    assert_eq!(sim.mailbox("1001@default"), Some((3, 0)));

    // Nothing listens there: logged, not returned, not a panic.
    let mut config = Config::default();
    config.ari.url = "http://127.0.0.1:1".into();
    config.ari.request_timeout = std::time::Duration::from_secs(2);
    let nowhere = Mwi::new(AriClient::new(&config.ari).unwrap(), "default");
    nowhere.publish(&mbox("1001"), counts(1, 0)).await;
    assert!(
        nowhere
            .try_publish(&mbox("1001"), counts(1, 0))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn start_up_republishes_every_lamp_and_turns_off_deleted_mailboxes() {
    let mut app = spawn_app().await;
    app.stop().await;
    create_mailbox(&app.store, "1001", "UTC").await;
    create_mailbox(&app.store, "1002", "UTC").await;
    let m = mbox("1001");
    let a = message("1001", TimeDelta::minutes(3), 1, "1002");
    let b = message("1001", TimeDelta::minutes(2), 2, "1003");
    let c = message("1001", TimeDelta::minutes(1), 3, "1003");
    for msg in [&a, &b, &c] {
        // Audio too, so the start-up repair finds nothing to change.
        app.sim.put_stored_recording(&msg.recording(), 2.0);
        saved(&app.store, msg).await;
    }
    app.store.set_folder(&m, &a.id, Folder::Old).await.unwrap();
    // Lamps left over: a deleted mailbox of ours, and another context's.
    let ari = client(&app.sim);
    ari.put_mailbox("1999@default", 0, 4).await.unwrap();
    ari.put_mailbox("1999@elsewhere", 0, 4).await.unwrap();
    ari.put_mailbox("1001@default", 0, 0).await.unwrap();

    app.start().await;
    assert_eq!(app.sim.mailbox("1001@default"), Some((1, 2)));
    assert_eq!(app.sim.mailbox("1002@default"), Some((0, 0)));
    assert_eq!(app.sim.mailbox("1999@default"), None);
    assert_eq!(app.sim.mailbox("1999@elsewhere"), Some((0, 4)));
}

/// `voiceportal admin <args>` against a Redis and an ARI (the simulator's credentials), run from `dir`.
pub(crate) async fn vp(
    redis_url: &str,
    ari_url: &str,
    sim: &Simulator,
    dir: &Path,
    args: &[&str],
) -> Output {
    let sim_config = sim.config();
    let mut command = crate::support::voiceportal_command();
    command.arg("admin").args(args);
    let mut command = tokio::process::Command::from(command);
    command
        .current_dir(dir)
        .env("VOICEPORTAL__REDIS__URL", redis_url)
        .env("VOICEPORTAL__ARI__URL", ari_url)
        .env("VOICEPORTAL__ARI__USERNAME", &sim_config.username)
        .env("VOICEPORTAL__ARI__PASSWORD", &sim_config.password)
        .env("VOICEPORTAL__ARI__REQUEST_TIMEOUT", "3s")
        .env("VOICEPORTAL__SECURITY__HASH__MEMORY_KIB", "64")
        .env("VOICEPORTAL__SECURITY__HASH__ITERATIONS", "1")
        .env("USER", "msg-admin")
        .env_remove("SUDO_USER");
    command.output().await.expect("run voiceportal")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vp-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn audit(store: &Store) -> Vec<String> {
    store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {} {}", e.actor, e.action, e.target, e.detail))
        .collect()
}

#[tokio::test]
async fn admin_cli_lists_downloads_and_deletes_messages() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let ari_url = sim.base_url();
    create_mailbox(&store, "1001", "Europe/Paris").await;
    let m = mbox("1001");
    let received = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
    let a = Message {
        id: MessageId::with_suffix(received, 0xa1),
        mailbox: m.clone(),
        folder: Folder::Old,
        caller_number: "1002".into(),
        caller_name: "Bob".into(),
        received,
        duration_secs: 3,
        recorded_on: String::new(),
    };
    let b = Message {
        id: MessageId::with_suffix(received + TimeDelta::minutes(1), 0xb2),
        received: received + TimeDelta::minutes(1),
        folder: Folder::New,
        caller_number: String::new(),
        caller_name: String::new(),
        ..a.clone()
    };
    for msg in [&a, &b] {
        sim.put_stored_recording(&msg.recording(), 3.0);
        saved(&store, msg).await;
    }
    let dir = temp_dir("messages");

    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "list", "1001"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing.starts_with("mailbox 1001: 1 new, 1 old (times in Europe/Paris)\n"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!(
            "{}  old     2023-11-14 23:13:20 CET  0:03      Bob <1002>\n",
            a.id
        )),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("{}  new     2023-11-14 23:14:20 CET", b.id)),
        "{listing}"
    );

    // Download: the WAV as Asterisk stores it, under the default name.
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "download", "1001", a.id.as_str()],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = dir.join(format!("1001-{}.wav", a.id));
    let wav = std::fs::read(&file).unwrap();
    assert_eq!(Some(wav.clone()), sim.stored_recording_file(&a.recording()));
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    assert_eq!(wav.len(), 44 + 3 * 16_000);
    // An existing file is not replaced without --force; --output picks another.
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "download", "1001", a.id.as_str()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exists already"),
        "{}",
        text(&out.stderr)
    );
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &[
            "messages",
            "download",
            "1001",
            a.id.as_str(),
            "--output",
            "copy.wav",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join("copy.wav")).unwrap(), wav);
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "download", "1001", a.id.as_str(), "--force"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Delete: index, audio and lamp.
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "delete", "1001", a.id.as_str()],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 new, 0 old left"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(store.message(&m, &a.id).await.unwrap(), None);
    assert!(store.tombstones(&m).await.unwrap().is_empty());
    assert!(!sim.stored_recordings().contains(&a.recording()));
    assert!(sim.stored_recordings().contains(&b.recording()));
    assert_eq!(sim.mailbox("1001@default"), Some((0, 1)));

    // Precise errors.
    let cases: [(&[&str], &str); 5] = [
        (
            &["messages", "delete", "1001", a.id.as_str()],
            "mailbox 1001 has no message",
        ),
        (
            &["messages", "download", "1001", "12-zz"],
            "is not a message id",
        ),
        (&["messages", "list", "1009"], "mailbox 1009 does not exist"),
        (
            &["messages", "download", "1009", b.id.as_str()],
            "mailbox 1009 does not exist",
        ),
        (&["messages", "list", "10x1"], "invalid mailbox number"),
    ];
    for (args, expected) in cases {
        let out = vp(&redis.url, &ari_url, &sim, &dir, args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    // Audio missing on the Asterisk side.
    let c = Message {
        id: MessageId::with_suffix(received + TimeDelta::minutes(2), 0xc3),
        received: received + TimeDelta::minutes(2),
        ..b.clone()
    };
    saved(&store, &c).await;
    let out = vp(
        &redis.url,
        &ari_url,
        &sim,
        &dir,
        &["messages", "download", "1001", c.id.as_str()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing from Asterisk"),
        "{}",
        text(&out.stderr)
    );

    let entries = audit(&store).await;
    let expected = [
        format!("msg-admin message-download 1001 {}", a.id),
        format!("msg-admin message-delete 1001 id={}", a.id),
    ];
    for line in expected {
        assert!(entries.contains(&line), "{line} not in {entries:?}");
    }
    // Listing is a read: not audited (issue 10).
    assert!(
        !entries.iter().any(|e| e.contains("messages-list")),
        "{entries:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_cli_names_an_unreachable_asterisk() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    create_mailbox(&store, "1001", "UTC").await;
    let msg = message("1001", TimeDelta::minutes(1), 1, "1002");
    saved(&store, &msg).await;
    let dir = temp_dir("unreachable");
    // A port nobody listens on.
    let dead = format!("http://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    for args in [
        vec!["messages", "download", "1001", msg.id.as_str()],
        vec!["messages", "delete", "1001", msg.id.as_str()],
        vec!["repair"],
    ] {
        let out = vp(&redis.url, &dead, &sim, &dir, &args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("cannot reach Asterisk ARI at {dead}")),
            "{args:?}: {err}"
        );
    }
    // The delete got as far as the index: the message left the mailbox, and its
    // audio is marked for repair, which the error said.
    assert_eq!(store.message(&mbox("1001"), &msg.id).await.unwrap(), None);
    assert_eq!(store.tombstones(&mbox("1001")).await.unwrap().len(), 1);
    // The listing needs Redis only.
    let out = vp(&redis.url, &dead, &sim, &dir, &["messages", "list", "1001"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Wrong credentials are named as such.
    let mut command = tokio::process::Command::from(crate::support::voiceportal_command());
    let out = command
        .args(["admin", "repair"])
        .env("VOICEPORTAL__REDIS__URL", &redis.url)
        .env("VOICEPORTAL__ARI__URL", sim.base_url())
        .env("VOICEPORTAL__ARI__USERNAME", "intruder")
        .env("VOICEPORTAL__ARI__PASSWORD", "wrong")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("refused user \"intruder\""),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Deleting a mailbox removes its recordings in Asterisk (name, greetings,
/// messages) and turns its lamp off; other mailboxes' recordings stay.
#[tokio::test]
async fn deleting_a_mailbox_removes_its_audio_and_lamp() {
    let app = crate::support::app::spawn_app().await;
    for number in ["1001", "1002"] {
        app.store
            .create_mailbox(&MailboxRecord::new(mbox(number)), None)
            .await
            .unwrap();
        app.sim
            .put_stored_recording(&format!("voiceportal/{number}/name"), 1.0);
        app.sim.put_stored_recording(
            &format!("voiceportal/{number}/msg-1795530404401-752a53"),
            2.0,
        );
    }
    app.sim.put_stored_recording("voiceportal/10010/name", 1.0);
    let mwi = voiceportal::notify::mwi::Mwi::new(
        voiceportal::ari::AriClient::new(&app.config.ari).unwrap(),
        "default",
    );
    mwi.publish(&mbox("1001"), MessageCounts { new: 1, old: 0 })
        .await;
    let dir = temp_dir("delete-mailbox");
    let out = vp(
        &app.config.redis.url,
        &app.sim.base_url(),
        &app.sim,
        &dir,
        &["mailbox", "delete", "1001"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("removed 2 recordings"),
        "{}",
        text(&out.stdout)
    );
    let left = app.sim.stored_recordings();
    assert!(
        !left.iter().any(|r| r.starts_with("voiceportal/1001/")),
        "{left:?}"
    );
    assert!(left.contains(&"voiceportal/1002/name".to_string()));
    assert!(left.contains(&"voiceportal/10010/name".to_string()));
    assert_eq!(app.sim.mailbox("1001@default"), None);
    let _ = std::fs::remove_dir_all(&dir);
}
