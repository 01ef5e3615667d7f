//! Issue 10, item 5: a mailbox deleted while Asterisk could not be reached
//! leaves its recordings behind; a new mailbox of the same number must inherit
//! none of them (no old message re-indexed by repair, no old greeting played).

use ari_sim::Dial;
use chrono::Utc;
use voiceportal::admin::repair::repair;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::Folder;

use crate::messages::{client, temp_dir, text, vp};
use crate::support::app::{TestApp, WAIT, spawn_app};
use crate::support::fixtures::{id, message, provision};

/// An address where no Asterisk answers.
const NO_ASTERISK: &str = "http://127.0.0.1:1";

/// Mailbox 1001 with a greeting, a name, an indexed message and audio a crash
/// left unindexed, all old enough for repair to act on.
async fn old_mailbox(app: &TestApp) -> Vec<String> {
    provision(app, "1001", Some(("135790", PinOrigin::User)), true).await;
    app.sim
        .put_stored_recording("voiceportal/1001/unavail", 3.0);
    app.sim.put_stored_recording("voiceportal/1001/name", 1.0);
    let indexed = message(
        app,
        "1001",
        "0611111111",
        Utc::now() - chrono::Duration::hours(3),
        4,
    )
    .await;
    let orphan = voiceportal::store::messages::message_recording(
        &id("1001"),
        &voiceportal::store::messages::MessageId::generate(Utc::now() - chrono::Duration::hours(2)),
    );
    app.sim.put_stored_recording(&orphan, 5.0);
    vec![
        "voiceportal/1001/unavail".into(),
        "voiceportal/1001/name".into(),
        indexed.recording(),
        orphan,
    ]
}

fn old_audio_left(app: &TestApp) -> Vec<String> {
    app.sim
        .stored_recordings()
        .into_iter()
        .filter(|r| r.starts_with("voiceportal/1001/"))
        .collect()
}

async fn admin(app: &TestApp, ari: &str, args: &[&str]) -> std::process::Output {
    let dir = temp_dir("reuse");
    let out = vp(&app.config.redis.url, ari, &app.sim, &dir, args).await;
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[tokio::test]
async fn a_new_mailbox_of_a_deleted_number_inherits_no_audio() {
    let app = spawn_app().await;
    let old = old_mailbox(&app).await;

    let out = admin(&app, NO_ASTERISK, &["mailbox", "delete", "1001"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("warning"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(old_audio_left(&app).len(), old.len());

    // While the old recordings are there, the number cannot be reused.
    let out = admin(&app, NO_ASTERISK, &["mailbox", "create", "1001"]).await;
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("deleted while Asterisk could not be reached"),
        "{error}"
    );
    assert_eq!(app.store.mailbox(&id("1001")).await.unwrap(), None);

    // The service's repair removes them once Asterisk answers.
    let report = repair(&app.store, &client(&app.sim)).await.unwrap();
    assert_eq!(report.purged, old.len(), "{report:?}");
    assert_eq!(report.indexed, 0);
    assert!(
        old_audio_left(&app).is_empty(),
        "{:?}",
        old_audio_left(&app)
    );
    assert!(app.store.purges().await.unwrap().is_empty());

    let out = admin(&app, NO_ASTERISK, &["mailbox", "create", "1001"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = repair(&app.store, &client(&app.sim)).await.unwrap();
    assert_eq!(report.indexed, 0, "{report:?}");
    assert!(
        app.store
            .messages(&id("1001"), Folder::New)
            .await
            .unwrap()
            .is_empty()
    );

    // A caller hears the standard greeting, not the previous owner's.
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], "0612345678");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    caller.expect_sound("vm-intro", WAIT).await;
    caller.hangup().await;
    let heard = caller.heard();
    assert!(
        !heard
            .iter()
            .any(|h| matches!(h, ari_sim::Heard::Recording { .. })),
        "{heard:?}"
    );
    assert!(
        heard
            .iter()
            .any(|h| matches!(h, ari_sim::Heard::Sound { name, .. } if name == "vm-theperson"))
    );
}

#[tokio::test]
async fn creating_again_removes_the_old_recordings_first() {
    let app = spawn_app().await;
    let old = old_mailbox(&app).await;
    let out = admin(&app, NO_ASTERISK, &["mailbox", "delete", "1001"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = admin(&app, &app.sim.base_url(), &["mailbox", "create", "1001"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!(
            "removed {} recordings left in Asterisk",
            old.len()
        )),
        "{shown}"
    );
    assert!(old_audio_left(&app).is_empty());
    assert!(app.store.mailbox(&id("1001")).await.unwrap().is_some());
}
