//! E-mail notification end to end: the mailer downloads the audio from the ARI
//! simulator and talks SMTP to a real server (Python's smtpd), which saves what it
//! receives; the tests read those raw messages back.

use std::time::Duration;

use ari_sim::{SimConfig, Simulator};
use base64::Engine;
use chrono::{TimeZone, Utc};
use voiceportal::ari::AriClient;
use voiceportal::config::{AriConfig, Config, EmailConfig, RedisConfig, Secret, SmtpTls};
use voiceportal::domain::MailboxId;
use voiceportal::notify::email::{Mailer, Notifier};
use voiceportal::store::Store;
use voiceportal::store::mailboxes::MailboxRecord;
use voiceportal::store::messages::{Folder, Message, MessageId};

use crate::support::app::WAIT;
use crate::support::logs;
use crate::support::redis::TestRedis;
use crate::support::smtp::TestSmtp;

/// A mailer pointed at `smtp`'s port, plain text, with retries short enough for a
/// test.
fn email_config(port: u16) -> EmailConfig {
    EmailConfig {
        enabled: true,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        from: "Voice Portal <voiceportal@example.org>".into(),
        max_attempts: 50,
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        ..EmailConfig::default()
    }
}

fn ari_client(sim: &Simulator) -> AriClient {
    AriClient::new(&AriConfig {
        url: sim.base_url(),
        username: sim.config().username.clone(),
        password: Secret::new(sim.config().password.clone()),
        app: sim.config().app.clone(),
        request_timeout: Duration::from_secs(5),
        ..AriConfig::default()
    })
    .expect("ARI client")
}

async fn start(config: &EmailConfig) -> (Simulator, Notifier) {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("start the ARI simulator");
    let notifier =
        Mailer::spawn(config, ari_client(&sim), test_store().await).expect("start the mailer");
    (sim, notifier)
}

/// A store on a fresh database: the mail queue lives there.
async fn test_store() -> Store {
    Store::connect(&RedisConfig::single(TestRedis::fresh().url))
        .await
        .expect("connect the test store")
}

fn mailbox(number: &str, email: Option<&str>) -> MailboxRecord {
    let mut record = MailboxRecord::new(MailboxId::parse(number).unwrap());
    record.display_name = "Alice Martin".into();
    record.email = email.map(str::to_owned);
    record.timezone = "Europe/Paris".into();
    record
}

/// A message received on 5 March 2024 at 13:07 UTC, 14:07 in Paris.
fn message(mailbox: &MailboxRecord) -> Message {
    let received = Utc.with_ymd_and_hms(2024, 3, 5, 13, 7, 0).unwrap();
    Message {
        id: MessageId::with_suffix(received, 0x0a1b2c),
        mailbox: mailbox.id.clone(),
        folder: Folder::New,
        caller_number: "0612345678".into(),
        caller_name: "Bob Dupont".into(),
        received,
        duration_secs: 2,
        recorded_on: String::new(),
    }
}

/// One MIME entity: its header block (unfolded) and its decoded body.
pub struct Entity {
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Entity {
    pub fn parse(raw: &str) -> Entity {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let mut entity = Entity {
            headers,
            body: Vec::new(),
        };
        entity.body = match entity.header("content-transfer-encoding") {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .expect("valid base64"),
            Some("quoted-printable") => decode_quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        entity
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 text")
    }

    /// The parts of a multipart entity (raw, to be parsed in turn).
    pub fn parts(&self) -> Vec<Entity> {
        let content_type = self.header("content-type").unwrap_or_default();
        let boundary = content_type
            .split_once("boundary=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(b, _)| b.to_owned())
            .expect("a multipart boundary");
        let body = String::from_utf8_lossy(&self.body).into_owned();
        let delimiter = format!("--{boundary}");
        body.split(&delimiter)
            .skip(1)
            .filter(|part| !part.starts_with("--"))
            .map(|part| Entity::parse(part.trim_start_matches('\n')))
            .collect()
    }
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).expect("QP escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Checks a WAV is what a telephone recording should be: RIFF/WAVE, PCM,
/// 8000 Hz mono 16-bit, with samples.
fn assert_telephone_wav(wav: &[u8]) {
    assert!(wav.len() > 44, "too short for a WAV: {} bytes", wav.len());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let u16_at = |at: usize| u16::from_le_bytes([wav[at], wav[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([wav[at], wav[at + 1], wav[at + 2], wav[at + 3]]);
    let mut at = 12;
    let mut format = None;
    let mut data_len = None;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32_at(at + 4) as usize;
        if id == b"fmt " {
            format = Some((
                u16_at(at + 8),
                u16_at(at + 10),
                u32_at(at + 12),
                u16_at(at + 22),
            ));
        } else if id == b"data" {
            data_len = Some(len);
        }
        at += 8 + len + len % 2;
    }
    // (PCM, channels, sample rate, bits per sample)
    assert_eq!(format, Some((1, 1, 8000, 16)));
    assert!(data_len.is_some_and(|n| n > 0), "no samples: {data_len:?}");
}

#[tokio::test]
async fn mail_has_subject_local_time_and_the_wav() {
    let smtp = TestSmtp::start();
    let (sim, notifier) = start(&email_config(smtp.port())).await;
    let owner = mailbox("1001", Some("alice@example.com"));
    let msg = message(&owner);
    assert_eq!(msg.recording(), "voiceportal/1001/msg-1709644020000-0a1b2c");
    sim.put_stored_recording(&msg.recording(), 2.0);

    notifier.message_saved(&owner, &msg).await.unwrap();

    let received = smtp.wait_received(1, WAIT).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = Entity::parse(&received[0]);
    assert_eq!(
        mail.header("subject"),
        Some("New voicemail from 0612345678 in mailbox 1001")
    );
    assert_eq!(
        mail.header("to"),
        Some("\"Alice Martin\" <alice@example.com>")
    );
    assert_eq!(
        mail.header("from"),
        Some("\"Voice Portal\" <voiceportal@example.org>")
    );
    assert_eq!(
        mail.header("message-id"),
        Some("<voicemail.1001.1709644020000-0a1b2c@example.org>")
    );
    assert!(
        mail.header("content-type")
            .is_some_and(|t| t.starts_with("multipart/mixed")),
        "{:?}",
        mail.header("content-type")
    );

    let parts = mail.parts();
    assert_eq!(parts.len(), 2);
    let text = parts[0].text();
    assert!(
        parts[0]
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        parts[0].headers
    );
    for expected in [
        "Mailbox:  1001 Alice Martin",
        "From:     0612345678 Bob Dupont",
        // 13:07 UTC in the mailbox's zone, Europe/Paris.
        "Received: 2024-03-05 14:07 CET",
        "Length:   0:02",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("could not be attached"), "{text}");

    let audio = &parts[1];
    assert_eq!(audio.header("content-type"), Some("audio/wav"));
    assert_eq!(
        audio.header("content-disposition"),
        Some("attachment; filename=\"msg-1709644020000-0a1b2c.wav\"")
    );
    assert_telephone_wav(&audio.body);
    assert_eq!(
        Some(audio.body.clone()),
        sim.stored_recording_file(&msg.recording()),
        "the attachment is the stored recording, byte for byte"
    );
}

#[tokio::test]
async fn a_missing_recording_is_said_in_the_body() {
    let smtp = TestSmtp::start();
    let (_sim, notifier) = start(&email_config(smtp.port())).await;
    let owner = mailbox("1002", Some("alice@example.com"));

    // No stored recording: ARI answers 404.
    notifier
        .message_saved(&owner, &message(&owner))
        .await
        .unwrap();

    let received = smtp.wait_received(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let mail = Entity::parse(&received[0]);
    assert!(
        mail.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        mail.header("content-type")
    );
    let text = mail.text();
    assert!(text.contains("could not be attached"), "{text}");
    assert!(text.contains("Received: 2024-03-05 14:07 CET"), "{text}");
}

#[tokio::test]
async fn mail_is_retried_until_the_server_comes_up() {
    logs::start_capture();
    let mut smtp = TestSmtp::reserve();
    let (sim, notifier) = start(&email_config(smtp.port())).await;
    let owner = mailbox("1003", Some("alice@example.com"));
    let msg = message(&owner);
    sim.put_stored_recording(&msg.recording(), 1.0);

    // Nothing listens yet: the call must not wait for the mail server.
    notifier.message_saved(&owner, &msg).await.unwrap();
    let failed_twice = wait_for_log(WAIT, |line| {
        line.contains("mailbox=1003") && line.contains("attempt=2") && line.contains("WARN")
    })
    .await;
    assert!(failed_twice, "no second failed attempt was logged");
    assert!(smtp.received().is_empty());

    smtp.launch();
    let received = smtp.wait_received(1, WAIT).await;
    assert_eq!(received.len(), 1, "not delivered once the server was up");
    let parts = Entity::parse(&received[0]).parts();
    assert_telephone_wav(&parts[1].body);
}

#[tokio::test]
async fn no_address_or_disabled_means_no_mail() {
    let smtp = TestSmtp::start();
    let config = email_config(smtp.port());

    let disabled = Mailer::spawn(
        &EmailConfig {
            enabled: false,
            ..config.clone()
        },
        ari_client(&Simulator::start(SimConfig::default()).await.unwrap()),
        test_store().await,
    )
    .unwrap();
    assert!(!disabled.is_enabled());
    let someone = mailbox("1004", Some("alice@example.com"));
    disabled
        .message_saved(&someone, &message(&someone))
        .await
        .unwrap();
    Notifier::disabled()
        .message_saved(&someone, &message(&someone))
        .await
        .unwrap();

    let (_sim, notifier) = start(&config).await;
    assert!(notifier.is_enabled());
    let without = mailbox("1005", None);
    notifier
        .message_saved(&without, &message(&without))
        .await
        .unwrap();
    let blank = mailbox("1006", Some("  "));
    notifier
        .message_saved(&blank, &message(&blank))
        .await
        .unwrap();
    // Jobs are queued only for mailboxes with an address: this is the only one.
    let with = mailbox("1007", Some("owner7@example.com"));
    notifier
        .message_saved(&with, &message(&with))
        .await
        .unwrap();

    let received = smtp.wait_received(1, WAIT).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        received[0].contains("owner7@example.com"),
        "{}",
        received[0]
    );
    // Nothing more turns up afterwards either.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn the_smtp_password_never_shows() {
    logs::start_capture();
    const PASSWORD: &str = "smtp-Pa55word-never-shown";
    let smtp = TestSmtp::start();
    let config = EmailConfig {
        username: "vp-mailer".into(),
        password: Secret::new(PASSWORD),
        max_attempts: 2,
        ..email_config(smtp.port())
    };
    let (sim, notifier) = start(&config).await;
    let owner = mailbox("1008", Some("alice@example.com"));
    // Python's smtpd offers no AUTH: every attempt fails before any mail is sent.
    notifier
        .message_saved(&owner, &message(&owner))
        .await
        .unwrap();
    let gave_up = wait_for_log(WAIT, |line| {
        line.contains("mailbox=1008") && line.contains("giving up")
    })
    .await;
    assert!(gave_up, "the mailer did not give up after max_attempts");
    assert!(smtp.received().is_empty());

    let full = Config {
        email: config.clone(),
        ..Config::default()
    };
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0vp-mailer\0{PASSWORD}"));
    let shown = [
        logs::captured(),
        format!("{config:?}"),
        format!("{full:?}"),
        full.to_masked_toml(),
        format!("{notifier:?}"),
        format!(
            "{:?}",
            Mailer::new(&config, ari_client(&sim), test_store().await)
        ),
    ];
    for text in shown {
        assert!(!text.contains(PASSWORD), "password shown in:\n{text}");
        assert!(!text.contains(&plain), "AUTH PLAIN shown in:\n{text}");
    }
    assert!(full.to_masked_toml().contains("password = \"***\""));
}

#[test]
fn config_errors_name_the_key_and_the_problem() {
    let check = |tweak: &dyn Fn(&mut EmailConfig), key: &str, words: &[&str]| {
        let mut config = Config::default();
        tweak(&mut config.email);
        let err = config
            .validate()
            .expect_err(&format!("{key} should be refused"))
            .to_string();
        assert!(err.contains(&format!("`{key}`")), "{err}");
        for word in words {
            assert!(err.contains(word), "{word:?} missing from: {err}");
        }
    };
    check(
        &|e| e.subject = "Voicemail for {mailbox} from {callr}".into(),
        "email.subject",
        &[
            "unknown placeholder `{callr}`",
            "{caller_name}",
            "{duration}",
        ],
    );
    check(
        &|e| e.body = "Received {date".into(),
        "email.body",
        &["character 10", "never closed"],
    );
    check(&|e| e.body = "a } b".into(), "email.body", &["character 3"]);
    check(
        &|e| e.subject = "two\nlines".into(),
        "email.subject",
        &["single line"],
    );
    check(
        &|e| e.from = "voice portal".into(),
        "email.from",
        &["`voice portal` is not an e-mail address"],
    );
    check(&|e| e.smtp_port = 0, "email.smtp_port", &["1 to 65535"]);
    check(
        &|e| e.smtp_host = "mail server".into(),
        "email.smtp_host",
        &["`mail server`"],
    );
    check(
        &|e| e.username = "vp".into(),
        "email.password",
        &["set both or neither"],
    );
    check(
        &|e| {
            e.username = "vp".into();
            e.password = Secret::new("x");
            e.smtp_host = "smtp.example.org".into();
            e.tls = SmtpTls::None;
        },
        "email.tls",
        &["unencrypted"],
    );
    check(
        &|e| e.max_attempts = 0,
        "email.max_attempts",
        &["at least 1"],
    );
    check(
        &|e| e.retry_initial = Duration::from_secs(600),
        "email.retry_initial",
        &["email.retry_max"],
    );

    // Credentials in clear text are fine to a relay on this machine.
    let mut config = Config::default();
    config.email.username = "vp".into();
    config.email.password = Secret::new("x");
    config.email.tls = SmtpTls::None;
    config.validate().unwrap();
}

#[test]
fn config_file_section_is_read_and_checked() {
    let dir = std::env::temp_dir().join(format!("vp-email-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    let good = write(
        "good.toml",
        "[email]\nenabled = true\nsmtp_host = \"smtp.example.org\"\nsmtp_port = 587\n\
         tls = \"starttls\"\nusername = \"vp\"\npassword = \"pw\"\n\
         retry_initial = \"2s\"\nretry_max = \"1m\"\nsubject = \"{name}: {caller}\"\n",
    );
    let config = Config::load(Some(&good)).unwrap();
    assert!(config.email.enabled);
    assert_eq!(config.email.smtp_port, 587);
    assert_eq!(config.email.tls, SmtpTls::Starttls);
    assert_eq!(config.email.retry_initial, Duration::from_secs(2));
    assert_eq!(config.email.retry_max, Duration::from_secs(60));
    assert_eq!(config.email.max_attempts, 5);
    assert!(config.email.attach_audio);

    let unknown = write("unknown.toml", "[email]\nsmtp_server = \"x\"\n");
    let err = Config::load(Some(&unknown)).unwrap_err().to_string();
    assert!(err.contains("smtp_server"), "{err}");

    let bad_tls = write("tls.toml", "[email]\ntls = \"ssl\"\n");
    let err = Config::load(Some(&bad_tls)).unwrap_err().to_string();
    assert!(err.contains("ssl"), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until a captured log line matches.
async fn wait_for_log(timeout: Duration, matches: impl Fn(&str) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if logs::captured().lines().any(&matches) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
