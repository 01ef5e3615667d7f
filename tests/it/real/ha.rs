//! Issue 11, item 4, on the real Asterisk: two voiceportal instances in high
//! availability; the active one is killed (SIGKILL) while one caller is
//! leaving a message. The standby takes the application over, the caller hears
//! the apology and is hung up, the message is kept, and the next call works.

use std::process::{Child, Stdio};
use std::time::Duration;

use tokio::time::Instant;
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::Folder;

use super::pbx::Heard;
use super::phones::WAIT;
use super::{Stack, free_tcp_port};
use crate::support::fixtures::id;
use crate::support::voiceportal_command;

const PIN: &str = "482913";
const CONNECTED: &str = "ARI events websocket connected";

/// The second instance, killed when dropped.
struct Standby {
    child: Child,
    log: std::path::PathBuf,
}

impl Standby {
    fn start(stack: &Stack) -> Standby {
        let log = stack.folder("standby.log");
        let file = std::fs::File::create(&log).expect("the standby's log");
        let web = format!("127.0.0.1:{}", free_tcp_port("127.0.0.1"));
        let child = voiceportal_command()
            .envs(stack.service_env.iter().map(|(k, v)| (k, v)))
            .env("VOICEPORTAL__HA__INSTANCE_ID", "standby")
            .env("VOICEPORTAL__WEB__LISTEN", web)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("start the standby voiceportal");
        Standby { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// When the first log line containing `text` was written (its timestamp).
    fn logged_at(&self, text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let log = self.log();
        let line = log.lines().find(|l| l.contains(text))?;
        // Text logs may be coloured: the timestamp is the first token once the
        // escape sequences are gone.
        let mut plain = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        let stamp = plain.split_whitespace().next()?;
        chrono::DateTime::parse_from_rfc3339(stamp)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    async fn wait_log(&self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the standby never logged {text:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_killed_active_is_replaced_and_the_message_being_recorded_is_kept() {
    let Some(stack) = Stack::start_with(&[
        ("VOICEPORTAL__HA__ENABLED", "true"),
        ("VOICEPORTAL__HA__INSTANCE_ID", "active"),
    ])
    .await
    else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;
    let standby = Standby::start(&stack);
    standby
        .wait_log("standing by until this instance holds the lease", WAIT)
        .await;
    assert!(!standby.log().contains(CONNECTED));

    // Bob calls Alice, who is busy: Bob leaves a message.
    let rings_from = stack.phones.events.len();
    let reject = async {
        let ringing = stack.phones.ringing(rings_from, "1001").await;
        stack
            .phones
            .ari
            .delete(&format!("/channels/{ringing}?reason=busy"))
            .await
            .expect("reject the call as busy");
    };
    let (call, ()) = tokio::join!(stack.phones.dial("1002", "1001"), reject);
    let mut heard = Heard::of(&stack.observer, &call).await;
    heard.prompt("sound:vm-intro").await;
    heard.recording().await;

    // The active instance dies while Bob talks.
    let mut killed_at = None;
    let kill = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        stack.kill_service();
        killed_at = Some(chrono::Utc::now());
    };
    tokio::join!(call.say("sound:vm-intro"), kill);
    let killed_at = killed_at.expect("killed");
    standby.wait_log(CONNECTED, Duration::from_secs(20)).await;
    if let Some(connected_at) = standby.logged_at(CONNECTED) {
        eprintln!(
            "takeover on the real Asterisk: the standby's websocket connected {} ms after the SIGKILL",
            (connected_at - killed_at).num_milliseconds()
        );
    }
    // Bob hears the apology and is hung up.
    heard
        .prompt_within("sound:voiceportal/error", Duration::from_secs(30))
        .await;
    assert!(call.wait_hung_up(WAIT).await, "Bob was not hung up");

    // His message is kept, with his number, and Alice's lamp is lit.
    let deadline = Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let messages = stack
            .store
            .messages(&id("1001"), Folder::New)
            .await
            .unwrap();
        if !messages.is_empty() {
            break messages;
        }
        assert!(
            Instant::now() < deadline,
            "the message was lost; the standby's log:\n{}",
            standby.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].caller_number, "1002");
    assert!(messages[0].duration_secs >= 1, "{:?}", messages[0]);
    stack.phones.wait_lamp("1001", true).await;

    // Alice's next call is served by the new active instance.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.hang_up().await;
    stack.assert_no_missing_sounds();
}
