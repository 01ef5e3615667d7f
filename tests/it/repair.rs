//! Repair against a real Redis and the ARI simulator: each disagreement a crash
//! can leave between the message index and Asterisk's recordings, the guards
//! that keep repair away from calls in progress, idempotence, and the runs at
//! start-up and through `voiceportal admin repair`.

use std::time::Duration;

use ari_sim::{Dial, SimConfig, Simulator};
use chrono::{Duration as TimeDelta, Utc};
use voiceportal::admin::repair::{RepairOptions, RepairReport, repair, repair_with};
use voiceportal::ari::RecordParams;
use voiceportal::notify::email::Notifier;
use voiceportal::store::messages::{Folder, MessageCounts, MessageState, SaveOutcome};

use crate::messages::{audit, client, create_mailbox, mbox, message, store, temp_dir, text, vp};
use crate::support::app::{WAIT, spawn_app};
use crate::support::bare_app;
use crate::support::redis::TestRedis;

async fn setup() -> (TestRedis, voiceportal::store::Store, Simulator) {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    create_mailbox(&store, "1001", "UTC").await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    (redis, store, sim)
}

/// The three kinds of fix a pass makes: (indexed, tombstones cleared, dangling removed).
fn fixes(indexed: usize, tombstones: usize, dangling: usize) -> (usize, usize, usize) {
    (indexed, tombstones, dangling)
}

fn fixes_of(r: &RepairReport) -> (usize, usize, usize) {
    (r.indexed, r.tombstones_cleared, r.dangling_removed)
}

#[tokio::test]
async fn audio_left_by_a_crash_before_indexing_is_indexed_as_new() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    // The deposit recorded (7 s of speech), then died before `save_message`.
    let lost = message("1001", TimeDelta::hours(1), 0xabc, "1002");
    sim.put_stored_recording(&lost.recording(), 7.4);
    // Recordings that are not messages are none of repair's business.
    sim.put_stored_recording("voiceportal/1001/name", 2.0);
    sim.put_stored_recording("voiceportal/1001/msg-not-an-id", 2.0);
    sim.put_stored_recording("elsewhere/recording", 2.0);

    let first = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&first), fixes(1, 0, 0), "{first:?}");
    assert_eq!(first.changed, vec![mbox("1001")]);
    assert_eq!(first.failed, 0);
    let m = mbox("1001");
    let found = store.message(&m, &lost.id).await.unwrap().expect("indexed");
    assert_eq!(found.folder, Folder::New);
    assert_eq!(found.received, lost.received);
    assert_eq!(found.duration_secs, 7);
    assert_eq!(found.caller_number, "");
    assert_eq!(found.caller_name, "");
    assert_eq!(
        store.message_counts(&m).await.unwrap(),
        MessageCounts { new: 1, old: 0 }
    );

    // Idempotent: a second pass finds nothing to do and changes nothing.
    let second = repair(&store, &ari).await.unwrap();
    assert_eq!(second, RepairReport::default());
    assert_eq!(store.message(&m, &lost.id).await.unwrap(), Some(found));
    assert_eq!(sim.stored_recordings().len(), 4);
}

#[tokio::test]
async fn recent_audio_is_left_to_its_deposit() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    // Recorded a minute ago: the caller may be choosing "1 send, 3 re-record".
    let reviewing = message("1001", TimeDelta::minutes(1), 1, "");
    sim.put_stored_recording(&reviewing.recording(), 3.0);
    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 0, 0));
    assert_eq!(r.skipped_recent, 1);
    assert_eq!(
        store
            .message_state(&mbox("1001"), &reviewing.id)
            .await
            .unwrap(),
        MessageState::Absent
    );
    // With no grace at all it would be taken.
    let options = RepairOptions {
        now: Utc::now(),
        grace: Duration::ZERO,
    };
    let r = repair_with(&store, &ari, options, &Notifier::disabled())
        .await
        .unwrap();
    assert_eq!(fixes_of(&r), fixes(1, 0, 0));
}

#[tokio::test]
async fn interrupted_deletes_are_finished_never_resurrected() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    let m = mbox("1001");
    // Deleted (step 1), then the crash: the audio is still there.
    let half_deleted = message("1001", TimeDelta::hours(2), 1, "1002");
    sim.put_stored_recording(&half_deleted.recording(), 3.0);
    store.save_message(&half_deleted, 100).await.unwrap();
    store
        .delete_message(&m, &half_deleted.id)
        .await
        .unwrap()
        .unwrap();
    // Deleted through step 2: the audio is gone, only the tombstone is left.
    let nearly_deleted = message("1001", TimeDelta::hours(2), 2, "1002");
    store.save_message(&nearly_deleted, 100).await.unwrap();
    store
        .delete_message(&m, &nearly_deleted.id)
        .await
        .unwrap()
        .unwrap();
    // A kept message is untouched.
    let kept = message("1001", TimeDelta::hours(2), 3, "1002");
    sim.put_stored_recording(&kept.recording(), 3.0);
    store.save_message(&kept, 100).await.unwrap();

    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 2, 0), "{r:?}");
    assert!(store.tombstones(&m).await.unwrap().is_empty());
    assert!(!sim.stored_recordings().contains(&half_deleted.recording()));
    assert_eq!(
        store.message_state(&m, &half_deleted.id).await.unwrap(),
        MessageState::Absent
    );
    assert_eq!(
        store.messages(&m, Folder::New).await.unwrap(),
        vec![kept.clone()]
    );
    assert!(sim.stored_recordings().contains(&kept.recording()));
    assert_eq!(repair(&store, &ari).await.unwrap(), RepairReport::default());
}

#[tokio::test]
async fn entries_whose_audio_is_gone_are_removed_after_the_grace() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    let m = mbox("1001");
    let lost_audio = message("1001", TimeDelta::hours(1), 1, "1002");
    store.save_message(&lost_audio, 100).await.unwrap();
    store
        .set_folder(&m, &lost_audio.id, Folder::Old)
        .await
        .unwrap();
    // Being saved right now (its audio may not be listed yet): left alone.
    let fresh = message("1001", TimeDelta::seconds(5), 2, "1002");
    store.save_message(&fresh, 100).await.unwrap();

    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 0, 1), "{r:?}");
    assert_eq!(store.message(&m, &lost_audio.id).await.unwrap(), None);
    assert!(store.message(&m, &fresh.id).await.unwrap().is_some());
    assert_eq!(
        store.message_counts(&m).await.unwrap(),
        MessageCounts { new: 1, old: 0 }
    );
    assert_eq!(
        fixes_of(&repair(&store, &ari).await.unwrap()),
        fixes(0, 0, 0)
    );
}

/// With several Asterisk servers, audio missing here but recorded on another
/// server means this one does not see the shared folder: the message stays.
#[tokio::test]
async fn entries_recorded_on_another_asterisk_are_never_removed_for_missing_audio() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    let m = mbox("1001");
    let here = ari.asterisk_id().await.unwrap();
    assert!(!here.is_empty());
    let mut elsewhere = message("1001", TimeDelta::hours(1), 1, "1002");
    elsewhere.recorded_on = "02:00:00:00:00:99".into();
    let mut lost_here = message("1001", TimeDelta::hours(1), 2, "1003");
    lost_here.recorded_on = here.clone();
    for msg in [&elsewhere, &lost_here] {
        store.save_message(msg, 100).await.unwrap();
    }

    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 0, 1), "{r:?}");
    assert_eq!(r.skipped_elsewhere, 1);
    assert_eq!(
        store.messages(&m, Folder::New).await.unwrap(),
        vec![elsewhere.clone()]
    );
    // Repair is steady: the next pass counts it again and removes nothing.
    let again = repair(&store, &ari).await.unwrap();
    assert_eq!(
        (fixes_of(&again), again.skipped_elsewhere),
        (fixes(0, 0, 0), 1)
    );
}

#[tokio::test]
async fn audio_of_unknown_mailboxes_is_left_alone() {
    let (redis, store, sim) = setup().await;
    let ari = client(&sim);
    let stray = message("1009", TimeDelta::hours(1), 1, "");
    sim.put_stored_recording(&stray.recording(), 3.0);
    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 0, 0));
    assert_eq!(r.skipped_no_mailbox, 1);
    assert!(sim.stored_recordings().contains(&stray.recording()));
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("vp:{1009}:*")
        .query(&mut conn)
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn a_recording_in_progress_is_skipped_until_it_ends() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    let _events = bare_app(&sim).await;
    let caller = sim.dial(Dial::new(&["deposit", "1001"], "1002")).await;
    // An old id, so only the live check can hold repair back.
    let recording = message("1001", TimeDelta::hours(1), 1, "1002");
    let name = recording.recording();
    ari.record(
        &caller.channel_id(),
        &RecordParams {
            name: &name,
            format: "wav",
            max_duration_secs: 0,
            max_silence_secs: 0,
            if_exists: "fail",
            beep: false,
            terminate_on: "none",
        },
    )
    .await
    .unwrap();
    caller.speak(30.0).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !sim.stored_recordings().contains(&name) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "recording never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ari.live_recording(&name).await.is_ok());

    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(0, 0, 0));
    assert_eq!(r.skipped_live, 1);

    ari.stop_recording(&name).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while ari.live_recording(&name).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "recording never ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = repair(&store, &ari).await.unwrap();
    assert_eq!(fixes_of(&r), fixes(1, 0, 0));
    caller.hangup().await;
}

#[tokio::test]
async fn a_deposit_saving_after_repair_keeps_one_message() {
    let (_redis, store, sim) = setup().await;
    let ari = client(&sim);
    let m = mbox("1001");
    let slow = message("1001", TimeDelta::hours(1), 1, "1002");
    sim.put_stored_recording(&slow.recording(), 3.0);
    assert_eq!(
        fixes_of(&repair(&store, &ari).await.unwrap()),
        fixes(1, 0, 0)
    );
    // The deposit's own save arrives late: same message, better envelope.
    assert_eq!(
        store.save_message(&slow, 100).await.unwrap(),
        SaveOutcome::Saved(MessageCounts { new: 1, old: 0 })
    );
    let found = store.message(&m, &slow.id).await.unwrap().unwrap();
    assert_eq!(found.caller_number, "1002");
}

#[tokio::test]
async fn start_up_repairs_before_serving_and_lights_the_lamp() {
    let mut app = spawn_app().await;
    app.stop().await;
    create_mailbox(&app.store, "1001", "UTC").await;
    let lost = message("1001", TimeDelta::hours(1), 5, "");
    app.sim.put_stored_recording(&lost.recording(), 4.0);
    app.start().await;
    let m = mbox("1001");
    let found = app
        .store
        .message(&m, &lost.id)
        .await
        .unwrap()
        .expect("indexed at start-up");
    assert_eq!(found.duration_secs, 4);
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 1)));
}

#[tokio::test]
async fn admin_repair_prints_its_report_and_is_audited() {
    let (redis, store, sim) = setup().await;
    let lost = message("1001", TimeDelta::hours(1), 9, "");
    sim.put_stored_recording(&lost.recording(), 2.0);
    let dir = temp_dir("repair");
    let out = vp(&redis.url, &sim.base_url(), &sim, &dir, &["repair"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("orphaned audio indexed                 1\n"),
        "{shown}"
    );
    assert!(
        shown.contains("mailboxes changed                      1001\n"),
        "{shown}"
    );
    assert!(
        store
            .message(&mbox("1001"), &lost.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(sim.mailbox("1001@default"), Some((0, 1)));
    let entries = audit(&store).await;
    assert!(
        entries
            .iter()
            .any(|e| e.starts_with("msg-admin repair messages indexed=1 ")),
        "{entries:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
