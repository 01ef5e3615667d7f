//! Issue 10, items 1, 8 and 12: a message survives Redis stalling or going away
//! while it is saved, and the service dying while it is recorded, with its
//! caller, its lamp and its e-mail; e-mail notifications wait in Redis (bounded)
//! and go out several at a time.

use std::time::Duration;

use ari_sim::{Caller, Dial, SimConfig};
use voiceportal::config::{Config, EmailConfig, SmtpTls};
use voiceportal::notify::email::Notifier;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::{Folder, Message};

use crate::support::app::{TestApp, WAIT, spawn_app_behind_proxy, spawn_app_with};
use crate::support::fixtures::{id, provision};
use crate::support::smtp::TestSmtp;
use crate::support::wait_beep;

const CALLER: &str = "0612345678";

fn email(port: u16) -> EmailConfig {
    EmailConfig {
        enabled: true,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        from: "voiceportal@example.org".into(),
        max_attempts: 1000,
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        smtp_timeout: Duration::from_secs(1),
        ..EmailConfig::default()
    }
}

/// Short leases and passes, so that recovery happens within a test's patience.
fn quick_recovery(config: &mut Config, smtp_port: u16) {
    config.email = email(smtp_port);
    config.deposit.lease = Duration::from_millis(600);
    config.repair.interval = Duration::from_secs(1);
}

async fn mailbox(app: &TestApp) {
    provision(app, "1001", Some(("135790", PinOrigin::User)), true).await;
    let mut record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    record.email = Some("alice@example.com".into());
    app.store.update_mailbox(&record).await.unwrap();
}

async fn caller(app: &TestApp) -> Caller {
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], CALLER);
    dial.context = "from-outside".into();
    app.sim.dial(dial).await
}

async fn saved(app: &TestApp) -> Vec<Message> {
    app.store.messages(&id("1001"), Folder::New).await.unwrap()
}

/// Waits until the message is indexed, its lamp lit and its e-mail received;
/// returns the message and the mail.
async fn delivered(app: &TestApp, smtp: &TestSmtp) -> (Message, String) {
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        let messages = saved(app).await;
        let lamp = app.sim.mailbox("1001@default");
        let mails = smtp.received();
        if messages.len() == 1 && lamp == Some((0, 1)) && mails.len() == 1 {
            return (messages[0].clone(), mails[0].clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages {messages:?}, lamp {lamp:?}, mails {}",
            mails.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Item 1: Redis stalls for several seconds (longer than the few quick retries
/// there were) right when the caller sends: the caller is told the message is
/// saved, and once Redis answers again the message is indexed, the lamp lit and
/// the e-mail sent, all of it by the deposit itself.
#[tokio::test]
async fn a_redis_stall_while_saving_loses_neither_message_nor_lamp_nor_email() {
    let smtp = TestSmtp::start();
    let port = smtp.port();
    let (app, proxy) =
        spawn_app_behind_proxy(SimConfig::default(), move |c| c.email = email(port)).await;
    mailbox(&app).await;
    let caller = caller(&app).await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    proxy.stall();
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        saved(&app).await.is_empty(),
        "indexed through a stalled Redis?"
    );
    proxy.resume();
    let (message, mail) = delivered(&app, &smtp).await;
    assert_eq!(message.caller_number, CALLER);
    assert!(mail.contains(CALLER), "{mail}");
}

/// Item 1: Redis is away for longer than the deposit keeps trying: the periodic
/// repair of `serve` finishes the job once Redis is back, with the caller ID the
/// deposit recorded before the audio existed.
#[tokio::test]
async fn a_redis_outage_longer_than_the_retries_is_finished_by_the_periodic_repair() {
    let smtp = TestSmtp::start();
    let port = smtp.port();
    let (app, proxy) = spawn_app_behind_proxy(SimConfig::default(), move |c| {
        quick_recovery(c, port);
        c.deposit.index_retry_for = Duration::from_secs(1);
    })
    .await;
    mailbox(&app).await;
    let caller = caller(&app).await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    proxy.take_down();
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
    caller.wait_end(WAIT).await;
    // Longer than the deposit's retries and its lease: it has given up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(saved(&app).await.is_empty());
    proxy.resume();
    let (message, mail) = delivered(&app, &smtp).await;
    assert_eq!(message.caller_number, CALLER);
    assert!(message.duration_secs >= 1, "{message:?}");
    assert!(mail.contains(CALLER), "{mail}");
}

/// Item 8: the service dies while a message is being recorded; the caller goes
/// on talking and hangs up. Restarted, the service indexes it within a lease and
/// a repair interval (not ten minutes), with its caller ID, lamp and e-mail.
#[tokio::test]
async fn a_message_recorded_while_the_service_died_is_recovered_with_its_caller() {
    let smtp = TestSmtp::start();
    let port = smtp.port();
    let mut app = spawn_app_with(SimConfig::default(), move |c| quick_recovery(c, port)).await;
    mailbox(&app).await;
    let caller = caller(&app).await;
    wait_beep(&caller).await;
    caller.speak(1.0).await;
    app.stop().await;
    caller.speak(2.0).await;
    caller.hangup().await;
    app.start().await;
    let (message, mail) = delivered(&app, &smtp).await;
    assert_eq!(message.caller_number, CALLER);
    assert!(mail.contains(CALLER), "{mail}");
    // The deposit's record is gone once the e-mail is queued.
    let mut conn = redis::Client::open(app.config.redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let left: usize = redis::cmd("HLEN")
        .arg("vp:{1001}:deposits")
        .query(&mut conn)
        .unwrap();
    assert_eq!(left, 0);
}

/// Item 12: a notification the mail server could not take yet is kept in Redis
/// and sent by the restarted service.
#[tokio::test]
async fn unsent_notifications_survive_a_restart() {
    let mut smtp = TestSmtp::reserve();
    let port = smtp.port();
    let mut app = spawn_app_with(SimConfig::default(), move |c| c.email = email(port)).await;
    mailbox(&app).await;
    let caller = caller(&app).await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.hangup().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.store.mail_queue_len().await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no job queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
    smtp.launch();
    app.start().await;
    let mails = smtp.wait_received(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(CALLER));
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.store.mail_queue_len().await.unwrap() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "job never removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Item 12: the queue is bounded: past `email.queue_max` a notification is
/// dropped (and logged), never piled up.
#[tokio::test]
async fn the_notification_queue_is_bounded() {
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    mailbox(&app).await;
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    let config = EmailConfig {
        queue_max: 2,
        ..email(1)
    };
    let notifier = Notifier::queue_only(&config, app.store.clone());
    for n in 0..5 {
        let message = crate::support::fixtures::message(
            &app,
            "1001",
            CALLER,
            chrono::Utc::now() - chrono::Duration::minutes(n),
            2,
        )
        .await;
        notifier.message_saved(&record, &message).await.unwrap();
    }
    assert_eq!(app.store.mail_queue_len().await.unwrap(), 2);
}

/// Item 12: a mail server that accepts connections and never answers holds up
/// one worker per mail, not the whole queue: `email.concurrency` mails are
/// being sent at the same time.
#[tokio::test]
async fn mails_are_sent_concurrently_up_to_the_limit() {
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tarpit.local_addr().unwrap().port();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in tarpit.incoming().flatten() {
            held.push(stream);
            if accepted_tx.send(held.len()).is_err() {
                return;
            }
        }
    });
    let app = spawn_app_with(SimConfig::default(), move |c| {
        c.email = EmailConfig {
            concurrency: 3,
            smtp_timeout: Duration::from_secs(60),
            ..email(port)
        };
    })
    .await;
    mailbox(&app).await;
    for _ in 0..4 {
        let caller = caller(&app).await;
        wait_beep(&caller).await;
        caller.speak(2.0).await;
        caller.hangup().await;
    }
    let mut open = 0;
    while open < 3 {
        open = tokio::time::timeout(WAIT, accepted.recv())
            .await
            .expect("fewer than 3 mails in flight at once")
            .expect("tarpit stopped");
    }
    // None of them has been answered, so all three are in flight together, and
    // all four notifications are still in the queue (the fourth waits for a
    // free worker).
    assert_eq!(open, 3);
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.store.mail_queue_len().await.unwrap() != 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every job queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
