//! Issue 10, item 11: one Redis key of the wrong type spoils that entry only.
//! The owner still hears the other messages, callers still leave messages, the
//! key is logged and `admin repair` reports it and fixes what it may.

use ari_sim::{Dial, Heard};
use chrono::Utc;
use voiceportal::admin::Admin;
use voiceportal::admin::repair::repair;
use voiceportal::store::mailboxes::PinOrigin;

use crate::messages::client;
use crate::support::app::{TestApp, WAIT, spawn_app};
use crate::support::fixtures::{id, message, provision};
use crate::support::wait_beep;

fn redis(app: &TestApp) -> redis::Connection {
    redis::Client::open(app.config.redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn spoil(app: &TestApp, key: &str) {
    redis::cmd("SET")
        .arg(key)
        .arg("written by something else")
        .query::<()>(&mut redis(app))
        .unwrap();
}

/// Logs in from the owner's phone; returns what was heard up to the menu.
async fn login(app: &TestApp) -> ari_sim::Caller {
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("135790#").await;
    caller
}

#[tokio::test]
async fn a_message_key_of_the_wrong_type_spoils_only_that_message() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("135790", PinOrigin::User)), true).await;
    let mut saved = Vec::new();
    for hours in [5, 4, 3] {
        let received = Utc::now() - chrono::Duration::hours(hours);
        saved.push(message(&app, "1001", "0611111111", received, 3).await);
    }
    let bad_key = format!("vp:{{1001}}:msg:{}", saved[1].id);
    spoil(&app, &bad_key);

    // The owner hears of, and can play, the two good messages.
    let caller = login(&app).await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    assert!(
        caller.heard().contains(&Heard::Number("2".into())),
        "{:?}",
        caller.heard()
    );
    caller.press("1").await;
    caller.expect_sound("vm-repeat", WAIT).await;
    caller.press("6").await;
    caller.expect_sound("vm-repeat", WAIT).await;
    caller.press("#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
    let played: Vec<String> = caller
        .heard()
        .iter()
        .filter_map(|h| match h {
            Heard::Recording { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(played, [saved[0].recording(), saved[2].recording()]);

    // Callers still leave messages.
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], "0622222222");
    dial.context = "from-outside".into();
    let depositor = app.sim.dial(dial).await;
    wait_beep(&depositor).await;
    depositor.speak(2.0).await;
    depositor.hangup().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.sim.mailbox("1001@default") != Some((2, 1)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lamp {:?}",
            app.sim.mailbox("1001@default")
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Repair names the key, deletes it and indexes its audio afresh.
    let report = repair(&app.store, &client(&app.sim)).await.unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert!(report.damaged[0].contains(&bad_key), "{report:?}");
    assert_eq!(report.indexed, 1, "{report:?}");
    let all = app.store.all_messages(&id("1001")).await.unwrap();
    assert_eq!(all.len(), 4);
    let again = repair(&app.store, &client(&app.sim)).await.unwrap();
    assert!(again.damaged.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_lock_record_of_the_wrong_type_fails_closed_and_is_reported() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("135790", PinOrigin::User)), true).await;
    spoil(&app, "vp:{1001}:lock");

    // The locked message, not an apology; the mailbox is otherwise intact.
    let caller = login(&app).await;
    caller.expect_sound("voiceportal/pin-locked", WAIT).await;
    assert!(
        !caller
            .heard()
            .iter()
            .any(|h| matches!(h, Heard::Sound { name, .. } if name == "voiceportal/error"))
    );

    let report = repair(&app.store, &client(&app.sim)).await.unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert!(
        report.damaged[0].contains("vp:{1001}:lock") && report.damaged[0].contains("unlock"),
        "{report:?}"
    );

    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    admin.unlock("tester", "1001").await.unwrap();
    let caller = login(&app).await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller.hangup().await;
}
