//! The mailbox menu after login: counts, play with envelope, new becomes old,
//! previous/next/repeat, delete/undelete applied on leaving, save, folders,
//! playback controls, mailbox options, lamps after each change.

use std::time::Duration;

use ari_sim::{Caller, Dial, Heard};
use chrono::Utc;
use voiceportal::domain::{Pin, PinHasher};
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};
use voiceportal::store::messages::{Folder, Message, MessageId};

use crate::support::app::{TestApp, WAIT, spawn_app};
use crate::support::fixtures::{id, message, provision};

/// Mailbox 1001 (PIN 135790, name recorded) holding `new` new messages of 4 s.
async fn mailbox_with(app: &TestApp, new: usize) -> Vec<Message> {
    provision(app, "1001", Some(("135790", PinOrigin::User)), true).await;
    let mut saved = Vec::new();
    for n in 0..new {
        let received = Utc::now() - chrono::Duration::minutes(30 - n as i64);
        saved.push(message(app, "1001", &format!("06000000{n:02}"), received, 4).await);
    }
    saved
}

/// Owner's phone, PIN, up to the main menu.
async fn logged_in(app: &TestApp) -> Caller {
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("135790#").await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller
}

async fn wait_recording(caller: &Caller, name: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let count = caller
            .heard()
            .iter()
            .filter(|h| matches!(h, Heard::Recording { name: n } if n == name))
            .count();
        if count > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never played: {:?}",
            caller.heard()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn counts(app: &TestApp) -> (u32, u32) {
    let c = app.store.message_counts(&id("1001")).await.unwrap();
    (c.new, c.old)
}

#[tokio::test]
async fn play_next_and_new_becomes_old() {
    let app = spawn_app().await;
    let messages = mailbox_with(&app, 2).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-received", WAIT).await;
    wait_recording(&caller, &messages[0].recording()).await;
    caller.expect_sound("vm-repeat", WAIT).await;
    assert_eq!(counts(&app).await, (1, 1));
    assert_eq!(app.sim.mailbox("1001@default"), Some((1, 1)));
    caller.press("6").await;
    wait_recording(&caller, &messages[1].recording()).await;
    caller.expect_sound("vm-repeat", WAIT).await;
    assert_eq!(counts(&app).await, (0, 2));
    caller.press("6").await;
    caller.expect_sound("vm-nomore", WAIT).await;
    caller.press("4").await;
    caller.expect_sound("vm-repeat", WAIT).await;
    caller.press("#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
    assert_eq!(app.sim.mailbox("1001@default"), Some((2, 0)));
}

#[tokio::test]
async fn delete_undelete_and_deletions_applied_on_leaving() {
    let app = spawn_app().await;
    let messages = mailbox_with(&app, 3).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    wait_recording(&caller, &messages[0].recording()).await;
    caller.press("7").await;
    caller.expect_sound("vm-deleted", WAIT).await;
    caller.expect_sound("vm-undelete", WAIT).await;
    caller.press("7").await;
    caller.expect_sound("vm-undeleted", WAIT).await;
    caller.press("6").await;
    wait_recording(&caller, &messages[1].recording()).await;
    caller.press("7").await;
    caller.expect_sound("vm-deleted", WAIT).await;
    // Nothing is deleted before the caller leaves.
    assert_eq!(
        app.store
            .messages(&id("1001"), Folder::Old)
            .await
            .unwrap()
            .len(),
        2
    );
    // Leaving by hanging up applies it too.
    caller.hangup().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while app
        .sim
        .stored_recordings()
        .contains(&messages[1].recording())
    {
        assert!(tokio::time::Instant::now() < deadline, "audio not deleted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left: Vec<_> = app
        .store
        .messages(&id("1001"), Folder::Old)
        .await
        .unwrap()
        .into_iter()
        .chain(app.store.messages(&id("1001"), Folder::New).await.unwrap())
        .map(|m| m.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&messages[1].id));
    assert_eq!(app.sim.mailbox("1001@default"), Some((1, 1)));
}

#[tokio::test]
async fn save_and_change_folder() {
    let app = spawn_app().await;
    let messages = mailbox_with(&app, 2).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-received", WAIT).await;
    caller.press("9").await; // a menu key during the envelope stops it and acts
    caller.expect_sound("vm-saved", WAIT).await;
    assert_eq!(counts(&app).await, (1, 1));
    caller.press("2").await;
    caller.expect_sound("vm-changeto", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-Old", WAIT).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    wait_recording(&caller, &messages[0].recording()).await;
    caller.hangup().await;
}

#[tokio::test]
async fn playback_keys_rewind_forward_pause() {
    let app = spawn_app().await;
    mailbox_with(&app, 1).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !caller
        .heard()
        .iter()
        .any(|h| matches!(h, Heard::Recording { .. }))
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    caller.press("0").await;
    caller.press("0").await;
    caller.press("*").await;
    caller.press("#").await;
    caller.expect_sound("vm-repeat", WAIT).await;
    let controls: Vec<String> = app
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/control"))
        .map(|r| r.path.split("operation=").nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(controls, ["pause", "unpause", "reverse", "forward"]);
    caller.hangup().await;
}

#[tokio::test]
async fn no_messages_then_options_temporary_greeting() {
    let app = spawn_app().await;
    mailbox_with(&app, 0).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-no", WAIT).await;
    caller.expect_sound("vm-opts", WAIT).await;
    caller.press("0").await;
    caller
        .expect_sound("voiceportal/mailbox-options", WAIT)
        .await;
    caller.press("4").await;
    caller.expect_sound("vm-tempgreeting", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-rec-temp", WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !caller.heard().iter().any(|h| matches!(h, Heard::Beep)) {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.press("1").await;
    caller
        .expect_sound("voiceportal/mailbox-options", WAIT)
        .await;
    assert!(
        app.sim
            .stored_recordings()
            .contains(&"voiceportal/1001/temp".to_string())
    );
    caller.press("4").await;
    caller.expect_sound("vm-tempgreeting2", WAIT).await;
    caller.press("2").await;
    caller.expect_sound("vm-tempremoved", WAIT).await;
    assert!(
        !app.sim
            .stored_recordings()
            .contains(&"voiceportal/1001/temp".to_string())
    );
    caller.press("*").await;
    caller.expect_sound("vm-opts", WAIT).await;
    caller.press("#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
}

#[tokio::test]
async fn change_pin_from_the_options_follows_the_policy() {
    let app = spawn_app().await;
    mailbox_with(&app, 0).await;
    let caller = logged_in(&app).await;
    caller.expect_sound("vm-opts", WAIT).await;
    caller.press("0").await;
    caller
        .expect_sound("voiceportal/mailbox-options", WAIT)
        .await;
    caller.press("5").await;
    caller.expect_sound("voiceportal/enter-new-pin", WAIT).await;
    caller.press("135790#").await; // the current PIN is in the history
    caller.expect_sound("voiceportal/pin-recent", WAIT).await;
    caller.expect_sound("voiceportal/enter-new-pin", WAIT).await;
    caller.press("917355#").await;
    caller
        .expect_sound("voiceportal/reenter-new-pin", WAIT)
        .await;
    caller.press("917355#").await;
    caller.expect_sound("voiceportal/pin-changed", WAIT).await;
    caller.hangup().await;

    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("917355#").await;
    caller.expect_sound("vm-youhave", WAIT).await;
}

/// The envelope speaks the mailbox's language and time zone: a French mailbox in
/// Paris hears "14 heures 7" for a message received at 13:07 UTC in winter.
#[tokio::test]
async fn envelope_in_the_mailbox_language_and_time_zone() {
    let app = spawn_app().await;
    let mut record = MailboxRecord::new(id("1001"));
    record.name_recorded = true;
    record.language = "fr".into();
    record.timezone = "Europe/Paris".into();
    app.store.create_mailbox(&record, None).await.unwrap();
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let hash = hasher.hash(&Pin::parse("135790").unwrap()).unwrap();
    app.store
        .set_pin(&id("1001"), &hash, PinOrigin::User, 5)
        .await
        .unwrap();
    let received = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 3, 5, 13, 7, 0).unwrap();
    let message = Message {
        id: MessageId::generate(received),
        mailbox: id("1001"),
        folder: Folder::New,
        caller_number: "0612345678".into(),
        caller_name: String::new(),
        received,
        duration_secs: 2,
        recorded_on: String::new(),
    };
    app.sim.put_stored_recording(&message.recording(), 2.0);
    app.store.save_message(&message, 100).await.unwrap();

    let caller = logged_in(&app).await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    wait_recording(&caller, &message.recording()).await;
    caller.hangup().await;
    let heard = caller.heard();
    let after_received: Vec<String> = heard
        .iter()
        .skip_while(|h| !matches!(h, Heard::Sound { name, .. } if name == "vm-received"))
        .take(8)
        .map(|h| match h {
            Heard::Sound { name, .. } => name.clone(),
            Heard::Number(n) => format!("number:{n}"),
            Heard::Digits(d) => format!("digits:{d}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        after_received,
        [
            "vm-received",
            "digits/day-2",
            "number:5",
            "digits/mon-2",
            "digits/at",
            "number:14",
            "hours",
            "number:7"
        ],
        "{heard:?}"
    );
    // Every prompt after login was played in French.
    assert!(
        heard
            .iter()
            .skip_while(|h| !matches!(h, Heard::Sound { name, .. } if name == "vm-youhave"))
            .all(|h| !matches!(h, Heard::Sound { lang, .. } if lang != "fr")),
        "{heard:?}"
    );
}
