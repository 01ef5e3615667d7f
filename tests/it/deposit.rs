//! Leaving a message, as SPEC.md tells it: greetings, keys during the greeting,
//! recording and review, hang-up, too short, mailbox full, many callers at once,
//! message-waiting lamps.

use std::time::Duration;

use ari_sim::{CallEnd, Caller, Dial, Heard, SimConfig};
use voiceportal::config::OperatorConfig;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::{Folder, Message};

use crate::support::app::{TestApp, WAIT, spawn_app, spawn_app_with};
use crate::support::fixtures::{id, provision};

/// A mailbox with PIN 135790 and no recorded name.
async fn mailbox(app: &TestApp, number: &str) {
    provision(app, number, Some(("135790", PinOrigin::User)), false).await;
}

/// Someone calls extension `number`, which does not answer (or is busy).
async fn caller_for(app: &TestApp, number: &str, status: &str) -> Caller {
    let mut dial = Dial::new(&["deposit", number, status], "0612345678");
    dial.context = "from-outside".into();
    app.sim.dial(dial).await
}

fn label(heard: &Heard) -> String {
    match heard {
        Heard::Sound { name, .. } => name.clone(),
        Heard::Recording { name } => format!("recording:{name}"),
        Heard::Digits(d) => format!("digits:{d}"),
        Heard::Number(n) => format!("number:{n}"),
        Heard::Beep => "BEEP".into(),
        other => format!("{other:?}"),
    }
}

fn heard(caller: &Caller) -> Vec<String> {
    caller.heard().iter().map(label).collect()
}

/// Waits, in order, for the next item called `what` (`BEEP`, `recording:` prefix
/// allowed with a trailing `*`).
async fn wait_for(caller: &Caller, what: &str) {
    loop {
        match caller.next_heard(WAIT).await {
            Some(h) => {
                let l = label(&h);
                let hit = match what.strip_suffix('*') {
                    Some(prefix) => l.starts_with(prefix),
                    None => l == what,
                };
                if hit {
                    return;
                }
            }
            None => panic!("never heard {what}; heard {:?}", heard(caller)),
        }
    }
}

async fn hung_up_by_app(caller: &Caller) {
    let end = caller.wait_end(WAIT).await;
    assert!(
        matches!(end, Some(CallEnd::HungUpByApp { .. })),
        "{end:?} after {:?}",
        heard(caller)
    );
}

async fn messages(app: &TestApp, number: &str) -> Vec<Message> {
    app.store.messages(&id(number), Folder::New).await.unwrap()
}

fn greeting_of(heard: &[String]) -> Vec<String> {
    heard
        .iter()
        .take_while(|h| *h != "vm-intro")
        .cloned()
        .collect()
}

#[tokio::test]
async fn greetings_by_preference() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;

    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "vm-intro").await;
    caller.hangup().await;
    assert_eq!(
        greeting_of(&heard(&caller)),
        ["vm-theperson", "digits:1001", "vm-isunavail"]
    );

    let caller = caller_for(&app, "1001", "BUSY").await;
    wait_for(&caller, "vm-intro").await;
    caller.hangup().await;
    assert_eq!(
        greeting_of(&heard(&caller)),
        ["vm-theperson", "digits:1001", "vm-isonphone"]
    );

    app.sim.put_stored_recording("voiceportal/1001/name", 1.0);
    app.store
        .set_name_recorded(&id("1001"), true)
        .await
        .unwrap();
    let caller = caller_for(&app, "1001", "BUSY").await;
    wait_for(&caller, "vm-intro").await;
    caller.hangup().await;
    assert_eq!(
        greeting_of(&heard(&caller)),
        ["recording:voiceportal/1001/name", "vm-isonphone"]
    );

    app.sim
        .put_stored_recording("voiceportal/1001/unavail", 2.0);
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "vm-intro").await;
    caller.hangup().await;
    assert_eq!(
        greeting_of(&heard(&caller)),
        ["recording:voiceportal/1001/unavail"]
    );

    app.sim.put_stored_recording("voiceportal/1001/busy", 2.0);
    let caller = caller_for(&app, "1001", "BUSY").await;
    wait_for(&caller, "vm-intro").await;
    caller.hangup().await;
    assert_eq!(
        greeting_of(&heard(&caller)),
        ["recording:voiceportal/1001/busy"]
    );

    app.sim.put_stored_recording("voiceportal/1001/temp", 2.0);
    for status in ["BUSY", "NOANSWER"] {
        let caller = caller_for(&app, "1001", status).await;
        wait_for(&caller, "vm-intro").await;
        caller.hangup().await;
        assert_eq!(
            greeting_of(&heard(&caller)),
            ["recording:voiceportal/1001/temp"]
        );
    }
    // Nobody left a message: each hung up before the beep.
    assert!(messages(&app, "1001").await.is_empty());
}

#[tokio::test]
async fn a_message_with_review_is_saved_and_lights_the_lamp() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "BEEP").await;
    caller.speak(2.5).await;
    caller.press("#").await;
    wait_for(&caller, "vm-review").await;
    caller.press("2").await;
    wait_for(&caller, "recording:voiceportal/1001/msg-*").await;
    // 3 during the playback re-records: the first take is gone.
    caller.press("3").await;
    wait_for(&caller, "vm-intro").await;
    wait_for(&caller, "BEEP").await;
    caller.speak(3.0).await;
    caller.press("#").await;
    wait_for(&caller, "vm-review").await;
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
    hung_up_by_app(&caller).await;

    let saved = messages(&app, "1001").await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].caller_number, "0612345678");
    // Which Asterisk's recordings folder holds it (see `admin::repair`).
    assert_eq!(saved[0].recorded_on, "00:00:00:00:00:01");
    // 3 s spoken from the beep's start; the beep itself is not recorded.
    assert!((2..=4).contains(&saved[0].duration_secs), "{saved:?}");
    let stored: Vec<_> = app
        .sim
        .stored_recordings()
        .into_iter()
        .filter(|r| r.starts_with("voiceportal/1001/msg-"))
        .collect();
    assert_eq!(
        stored,
        [saved[0].recording()],
        "the first take was not deleted"
    );
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 1)));
}

#[tokio::test]
async fn a_hang_up_during_the_recording_sends_the_message() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "BEEP").await;
    caller.speak(2.0).await;
    caller.hangup().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while messages(&app, "1001").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "message lost");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 1)));
}

#[tokio::test]
async fn a_hang_up_during_the_review_sends_the_message() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "BEEP").await;
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.hangup().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while messages(&app, "1001").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "message lost");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_too_short_message_is_discarded() {
    // Virtual audio time runs fast: a long minimum keeps "too short" unambiguous.
    let app = spawn_app_with(SimConfig::default(), |c| {
        c.deposit.min_message = Duration::from_secs(3)
    })
    .await;
    mailbox(&app, "1001").await;
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "BEEP").await;
    caller.press("#").await;
    caller.expect_sound("vm-tooshort", WAIT).await;
    caller.hangup().await;
    caller.wait_end(WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(messages(&app, "1001").await.is_empty());
    assert!(
        !app.sim
            .stored_recordings()
            .iter()
            .any(|r| r.contains("/msg-")),
        "{:?}",
        app.sim.stored_recordings()
    );
}

#[tokio::test]
async fn pound_skips_to_the_beep_and_star_logs_the_owner_in() {
    let mut sim = SimConfig::default();
    sim.sound_lengths.insert("vm-intro".into(), 30.0);
    let app = spawn_app_with(sim, |_| {}).await;
    mailbox(&app, "1001").await;

    let caller = caller_for(&app, "1001", "NOANSWER").await;
    caller.expect_sound("vm-intro", WAIT).await;
    caller.press("#").await;
    wait_for(&caller, "BEEP").await;
    caller.hangup().await;

    let caller = caller_for(&app, "1001", "NOANSWER").await;
    caller.expect_sound("vm-theperson", WAIT).await;
    caller.press("*").await;
    caller.expect_sound("voiceportal/enter-pin", WAIT).await;
    caller.press("135790#").await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller.hangup().await;
}

#[tokio::test]
async fn zero_reaches_the_operator_only_when_configured() {
    let app = spawn_app_with(SimConfig::default(), |c| {
        c.deposit.operator = Some(OperatorConfig {
            context: "from-phones".into(),
            extension: "1000".into(),
            priority: 1,
        })
    })
    .await;
    mailbox(&app, "1001").await;
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    caller.expect_sound("vm-theperson", WAIT).await;
    caller.press("0").await;
    caller.expect_sound("pls-hold-while-try", WAIT).await;
    let end = caller.wait_end(WAIT).await;
    assert!(
        matches!(&end, Some(CallEnd::Continued { context, exten, .. }) if context == "from-phones" && exten == "1000"),
        "{end:?}"
    );

    let plain = spawn_app().await;
    mailbox(&plain, "1001").await;
    let caller = caller_for(&plain, "1001", "NOANSWER").await;
    caller.expect_sound("vm-theperson", WAIT).await;
    caller.press("0").await;
    wait_for(&caller, "BEEP").await;
    caller.hangup().await;
}

#[tokio::test]
async fn a_full_mailbox_records_nothing() {
    let app = spawn_app_with(SimConfig::default(), |c| c.deposit.max_messages = 2).await;
    mailbox(&app, "1001").await;
    for n in 0..2 {
        let received = chrono::Utc::now() - chrono::Duration::minutes(10 - n);
        crate::support::fixtures::message(&app, "1001", "100", received, 3).await;
    }
    let caller = caller_for(&app, "1001", "NOANSWER").await;
    caller.expect_sound("vm-mailboxfull", WAIT).await;
    hung_up_by_app(&caller).await;
    assert!(!heard(&caller).contains(&"BEEP".to_string()));
    assert_eq!(messages(&app, "1001").await.len(), 2);
}

#[tokio::test]
async fn unknown_mailbox_gets_an_apology() {
    let app = spawn_app().await;
    let caller = caller_for(&app, "4242", "NOANSWER").await;
    caller.expect_sound("voiceportal/error", WAIT).await;
    hung_up_by_app(&caller).await;
}

#[tokio::test]
async fn the_owner_calling_their_own_extension_logs_in() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;
    let caller = app
        .sim
        .dial(Dial::new(&["deposit", "1001", "NOANSWER"], "1001"))
        .await;
    caller.expect_sound("voiceportal/enter-pin", WAIT).await;
    caller.hangup().await;
}

/// Twenty callers leave a message in one mailbox at the same time: all are kept
/// and the counts are right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_messages_are_all_kept() {
    let app = spawn_app().await;
    mailbox(&app, "1001").await;
    let callers = (0..20).map(|n| {
        let app = &app;
        async move {
            let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], &format!("06000000{n:02}"));
            dial.context = "from-outside".into();
            let caller = app.sim.dial(dial).await;
            wait_for(&caller, "BEEP").await;
            caller.speak(2.0).await;
            caller.press("#").await;
            caller.expect_sound("vm-review", WAIT * 2).await;
            caller.press("1").await;
            caller.expect_sound("vm-msgsaved", WAIT * 2).await;
            caller.wait_end(WAIT * 2).await
        }
    });
    let ends = futures_util::future::join_all(callers).await;
    assert!(
        ends.iter()
            .all(|e| matches!(e, Some(CallEnd::HungUpByApp { .. }))),
        "{ends:?}"
    );
    let saved = messages(&app, "1001").await;
    assert_eq!(saved.len(), 20);
    let mut numbers: Vec<_> = saved.iter().map(|m| m.caller_number.clone()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20);
    let counts = app.store.message_counts(&id("1001")).await.unwrap();
    assert_eq!((counts.new, counts.old), (20, 0));
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 20)));
}

/// With e-mail on, the owner gets the message as a WAV attachment; the call does
/// not wait for it.
#[tokio::test]
async fn the_owner_gets_an_email_with_the_recording() {
    use voiceportal::config::SmtpTls;

    let smtp = crate::support::smtp::TestSmtp::start();
    let port = smtp.port();
    let app = spawn_app_with(SimConfig::default(), move |c| {
        c.email.enabled = true;
        c.email.smtp_host = "127.0.0.1".into();
        c.email.smtp_port = port;
        c.email.tls = SmtpTls::None;
        c.email.retry_initial = Duration::from_millis(20);
        c.email.retry_max = Duration::from_millis(100);
    })
    .await;
    mailbox(&app, "1001").await;
    let mut record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    record.email = Some("alice@example.org".into());
    app.store.update_mailbox(&record).await.unwrap();

    let caller = caller_for(&app, "1001", "NOANSWER").await;
    wait_for(&caller, "BEEP").await;
    caller.speak(2.0).await;
    caller.hangup().await;

    let mail = smtp.wait_received(1, WAIT).await;
    let mail = crate::email::Entity::parse(&mail[0]);
    assert!(
        mail.header("to")
            .unwrap_or_default()
            .contains("alice@example.org")
    );
    let wav = mail
        .parts()
        .into_iter()
        .find(|p| {
            p.header("content-type")
                .is_some_and(|t| t.starts_with("audio/wav"))
        })
        .expect("a WAV attachment");
    assert_eq!(&wav.body[..4], b"RIFF");
    assert_eq!(&wav.body[8..12], b"WAVE");
    let rate = u32::from_le_bytes([wav.body[24], wav.body[25], wav.body[26], wav.body[27]]);
    assert_eq!(rate, 8000);
    assert!(wav.body.len() > 44, "empty recording attached");
}
