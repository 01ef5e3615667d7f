//! Issue 10, item 2: a caller ID is outside text. Whatever it holds (commas,
//! colons, slashes, spaces, other scripts), the owner hears it as digits or as
//! "an unknown caller", never as another media item, and no media URI the
//! service sends carries it.

use ari_sim::{Dial, Heard};
use chrono::Utc;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::Folder;

use crate::support::app::{WAIT, spawn_app};
use crate::support::fixtures::{id, message, provision};
use crate::support::wait_beep;

const HOSTILE: [&str; 6] = [
    "0612,recording:voiceportal/1002/unavail",
    "0612:sound:vm-goodbye",
    "06/../1002/unavail",
    "06 12 34",
    "٠٦١٢٣٤",
    "0612,digits:999",
];

/// Every message's envelope says "unknown caller" (none of these is a number),
/// and nothing but our own prompts and the messages is played.
#[tokio::test]
async fn hostile_caller_ids_are_never_played_as_media() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("135790", PinOrigin::User)), true).await;
    provision(&app, "1002", Some(("246813", PinOrigin::User)), true).await;
    app.sim
        .put_stored_recording("voiceportal/1002/unavail", 3.0);
    let mut saved = Vec::new();
    for (n, caller_id) in HOSTILE.iter().enumerate() {
        let received = Utc::now() - chrono::Duration::minutes(30 - n as i64);
        saved.push(message(&app, "1001", caller_id, received, 2).await);
    }
    // One honest international number, said without its `+`.
    saved.push(message(&app, "1001", "+33612345678", Utc::now(), 2).await);

    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("135790#").await;
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    for _ in 1..saved.len() {
        caller.expect_sound("vm-repeat", WAIT).await;
        caller.press("6").await;
    }
    caller.expect_sound("vm-repeat", WAIT).await;
    caller.press("#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;

    let heard = caller.heard();
    let recordings: Vec<&String> = heard
        .iter()
        .filter_map(|h| match h {
            Heard::Recording { name } => Some(name),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = saved.iter().map(|m| m.recording()).collect();
    assert_eq!(
        recordings,
        expected.iter().collect::<Vec<_>>(),
        "heard {heard:?}"
    );
    let unknown = heard
        .iter()
        .filter(|h| matches!(h, Heard::Sound { name, .. } if name == "vm-unknown-caller"))
        .count();
    assert_eq!(unknown, HOSTILE.len(), "{heard:?}");
    let digits: Vec<&String> = heard
        .iter()
        .filter_map(|h| match h {
            Heard::Digits(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(digits, [&"33612345678".to_string()], "{heard:?}");
    for media in played_media(&app.sim) {
        for hostile in ["1002", "..", "digits:999", " ", "٠"] {
            assert!(
                !media.contains(hostile),
                "{hostile} reached a media URI: {media}"
            );
        }
    }
}

/// The `media=` value of every play request, decoded.
fn played_media(sim: &ari_sim::Simulator) -> Vec<String> {
    sim.request_log()
        .iter()
        .filter_map(|r| {
            let (_, query) = r.path.split_once("media=")?;
            let raw = query.split('&').next()?;
            Some(
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8_lossy()
                    .replace('+', " "),
            )
        })
        .collect()
}

/// A deposit from such a caller ID keeps it as text for listings and e-mails,
/// and the deposit itself plays nothing of it.
#[tokio::test]
async fn a_deposit_from_a_hostile_caller_id_keeps_it_as_text_only() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("135790", PinOrigin::User)), false).await;
    app.sim
        .put_stored_recording("voiceportal/1002/unavail", 3.0);
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], HOSTILE[0]);
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
    let saved = app.store.messages(&id("1001"), Folder::New).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].caller_number, HOSTILE[0]);
    assert!(
        !caller
            .heard()
            .iter()
            .any(|h| matches!(h, Heard::Recording { name } if name.contains("1002"))),
        "{:?}",
        caller.heard()
    );
}
