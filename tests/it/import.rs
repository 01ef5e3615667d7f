//! Migration from app_voicemail: a spool and voicemail.conf built in
//! app_voicemail's real formats (odd cases included: a message without its .txt,
//! a .txt without audio, unicode names, Windows line endings, a context with
//! `#include`, wav49 and gsm audio), imported into a service whose simulated
//! Asterisk reads the same recordings directory; then checked in Redis, on disk,
//! on the lamps, in what an owner hears, and for PINs that must never show.

use std::path::Path;

use ari_sim::{Caller, Dial, Heard, SimConfig};
use redis::Commands;
use voiceportal::admin::Admin;
use voiceportal::admin::import::{ImportError, ImportOptions, ImportReport, Outcome, PinImport};
use voiceportal::admin::messages::Asterisk;
use voiceportal::domain::{Pin, PinHasher};
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::{Folder, Message};

use crate::support::app::{TestApp, WAIT, spawn_app_with};
use crate::support::app_voicemail::{Tree, audio, message, message_txt};
use crate::support::fixtures::id;
use crate::support::logs;
use crate::support::redis::TestRedis;
use crate::support::{voiceportal_command, wait_beep};

/// PINs long enough that they cannot turn up by chance in a path or an id.
const PIN_1001: &str = "7391582";
const PIN_1002: &str = "2580466";
const PIN_1004: &str = "8642097";
/// In the spool's secret.conf (`passwordlocation=spooldir`), not voicemail.conf.
const PIN_1006: &str = "6402719";

/// The office app_voicemail leaves behind (see the module doc for the odd cases).
fn office(tree: &Tree) {
    tree.write(
        "voicemail.conf",
        format!(
            "; voicemail.conf as the administrator left it\n\
             [general]\nformat=wav49|gsm|wav\nserveremail=asterisk\ntz=european\n\
             \n[zonemessages]\n\
             european=Europe/Paris|'vm-received' a d b 'digits/at' HM\n\
             eastern=America/New_York|'vm-received' Q 'digits/at' IMp\n\
             \n[default]\n\
             1001 => {PIN_1001},Zoë Ørsted,zoe@example.org,,tz=eastern|attach=yes\n\
             1002 => -{PIN_1002},Jean-François Müller,,,language=fr\n\
             #include \"voicemail-sales.conf\"\n\
             1009 => ,Broken Mail,not-an-email\n\
             1006 => 1111,Secret Keeper,,,passwordlocation=spooldir\n\
             \n[other]\n1001 => 5555,Another company\n"
        )
        .as_bytes(),
    );
    // Windows line endings, and a line Asterisk would refuse.
    tree.write(
        "voicemail-sales.conf",
        format!(
            "1003 => -,Sales desk\r\n1004 => {PIN_1004},Ann Lee\r\nbad line without equals\r\n"
        )
        .as_bytes(),
    );

    let m1001 = tree.mailbox("default", "1001");
    let inbox = m1001.join("INBOX");
    message(
        &inbox,
        0,
        Some(&message_txt(
            "1001",
            "\"Zoë Ørsted\" <0612345678>",
            "1764000902",
            "3",
            Some("1764000902-00000000"),
        )),
        3.0,
        &["WAV", "gsm", "wav"],
    );
    // Written on Windows, no msg_id (an older Asterisk), wav49 and gsm only.
    let crlf = message_txt("1001", "0698765432", "1764001000", "4", None).replace('\n', "\r\n");
    message(&inbox, 1, Some(&crlf), 4.0, &["WAV", "gsm"]);
    // Audio without its .txt.
    message(&inbox, 2, None, 2.0, &["gsm"]);
    let old = m1001.join("Old");
    message(
        &old,
        0,
        Some(&message_txt(
            "1001",
            "\"Bob\" <1002>",
            "1763900000",
            "5",
            Some("1763900000-00000001"),
        )),
        5.0,
        &["wav"],
    );
    // A .txt whose audio is gone.
    message(
        &old,
        1,
        Some(&message_txt(
            "1001",
            "Unknown",
            "1763900100",
            "2",
            Some("1763900100-00000002"),
        )),
        0.0,
        &[],
    );
    message(
        &m1001.join("Family"),
        0,
        Some(&message_txt(
            "1001",
            "Mum <0611111111>",
            "1763800000",
            "6",
            Some("1763800000-00000003"),
        )),
        6.0,
        &["wav"],
    );
    message(
        &m1001.join("Deleted"),
        0,
        Some(&message_txt(
            "1001",
            "x <1>",
            "1763700000",
            "1",
            Some("1763700000-00000004"),
        )),
        1.0,
        &["wav"],
    );
    audio(&m1001.join("unavail"), 2.0, &["WAV", "gsm", "wav"]);
    audio(&m1001.join("busy"), 1.5, &["gsm"]);
    audio(&m1001.join("greet"), 1.0, &["wav"]);

    let m1002 = tree.mailbox("default", "1002");
    message(
        &m1002.join("INBOX"),
        0,
        Some(&message_txt(
            "1002",
            "Jérôme <0700000000>",
            "yesterday",
            "abc",
            Some("1-2"),
        )),
        3.0,
        &["wav"],
    );
    tree.write(
        "spool/default/1006/secret.conf",
        format!("[general]\npassword={PIN_1006}\n").as_bytes(),
    );
    // A mailbox directory with no mailbox in voicemail.conf.
    message(
        &tree.mailbox("default", "1005").join("INBOX"),
        0,
        Some(&message_txt("1005", "x", "1763000000", "1", None)),
        1.0,
        &["wav"],
    );
}

/// The service, its simulated Asterisk reading `tree`'s recordings directory.
async fn app_for(tree: &Tree) -> TestApp {
    let sim = SimConfig {
        recordings_dir: Some(tree.recordings()),
        ..SimConfig::default()
    };
    let recordings = tree.recordings();
    spawn_app_with(sim, move |c| c.import.recordings_dir = recordings).await
}

fn options(tree: &Tree, dry_run: bool) -> ImportOptions {
    ImportOptions {
        conf: tree.conf(),
        spool: tree.spool(),
        context: "default".into(),
        recordings_dir: tree.recordings(),
        dry_run,
    }
}

async fn import(app: &TestApp, options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    let asterisk = Asterisk::new(&app.config.ari, &app.config.portal.mwi_context).unwrap();
    admin
        .import_app_voicemail("test-admin", &asterisk, options)
        .await
}

async fn messages(app: &TestApp, number: &str) -> Vec<Message> {
    app.store.all_messages(&id(number)).await.unwrap()
}

fn outcome(report: &ImportReport, number: &str) -> voiceportal::admin::import::MailboxReport {
    report
        .mailboxes
        .iter()
        .find(|m| m.mailbox.as_str() == number)
        .unwrap_or_else(|| panic!("no mailbox {number} in {report}"))
        .clone()
}

/// Every value of every key of the test database, as text.
fn redis_dump(app: &TestApp) -> String {
    let redis = TestRedis {
        url: app.config.redis.url.clone(),
    };
    let mut conn = redis.connection();
    let keys: Vec<String> = conn.keys("*").unwrap();
    let mut dump = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
        let value: String = match kind.as_str() {
            "string" => conn.get(&key).unwrap(),
            "hash" => format!("{:?}", conn.hgetall::<_, Vec<String>>(&key).unwrap()),
            "set" => format!("{:?}", conn.smembers::<_, Vec<String>>(&key).unwrap()),
            "zset" => format!("{:?}", conn.zrange::<_, Vec<String>>(&key, 0, -1).unwrap()),
            "list" => format!("{:?}", conn.lrange::<_, Vec<String>>(&key, 0, -1).unwrap()),
            "stream" => format!(
                "{:?}",
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query::<redis::Value>(&mut conn)
                    .unwrap()
            ),
            _ => String::new(),
        };
        dump.push_str(&format!("{key} {value}\n"));
    }
    dump
}

fn wav_secs(path: &Path) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF", "{}", path.display());
    assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
    assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
    assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16);
    (bytes.len() - 44) as f64 / 16000.0
}

#[tokio::test]
async fn imports_mailboxes_pins_greetings_and_messages_reporting_every_odd_file() {
    logs::start_capture();
    let tree = Tree::new("full");
    office(&tree);
    let app = app_for(&tree).await;
    let report = import(&app, &options(&tree, false)).await.unwrap();
    let shown = report.to_string();

    // Mailboxes: 1001 and 1002 from voicemail.conf, 1003 and 1004 from the
    // included file (Windows line endings), 1006 with its PIN in the spool, 1009
    // without its bad e-mail.
    for number in ["1001", "1002", "1003", "1004", "1006", "1009"] {
        assert_eq!(
            outcome(&report, number).outcome,
            Outcome::Imported,
            "{shown}"
        );
    }
    assert_eq!(report.mailboxes.len(), 6, "{shown}");
    let zoe = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(zoe.display_name, "Zoë Ørsted");
    assert_eq!(zoe.email.as_deref(), Some("zoe@example.org"));
    assert_eq!(zoe.timezone, "America/New_York");
    assert_eq!(zoe.language, "en");
    assert_eq!(
        (zoe.pin_origin, zoe.must_change),
        (PinOrigin::Temporary, true)
    );
    assert!(zoe.name_recorded);
    let jf = app.store.mailbox(&id("1002")).await.unwrap().unwrap();
    assert_eq!(jf.display_name, "Jean-François Müller");
    assert_eq!(
        (jf.language.as_str(), jf.timezone.as_str()),
        ("fr", "Europe/Paris")
    );
    assert_eq!(jf.pin_origin, PinOrigin::Temporary);
    let desk = app.store.mailbox(&id("1003")).await.unwrap().unwrap();
    assert_eq!(
        (desk.pin_origin, desk.must_change),
        (PinOrigin::None, false)
    );
    assert_eq!(outcome(&report, "1003").pin, PinImport::None);
    assert_eq!(
        app.store
            .mailbox(&id("1004"))
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Ann Lee"
    );
    assert_eq!(
        app.store.mailbox(&id("1009")).await.unwrap().unwrap().email,
        None
    );

    // Messages: INBOX (three, one converted from wav49 with a Windows .txt, one
    // without .txt) new; Old and Family old; Deleted not imported.
    let all = messages(&app, "1001").await;
    let new: Vec<&Message> = all.iter().filter(|m| m.folder == Folder::New).collect();
    let old: Vec<&Message> = all.iter().filter(|m| m.folder == Folder::Old).collect();
    assert_eq!((new.len(), old.len()), (3, 2), "{all:#?}");
    let first = all
        .iter()
        .find(|m| m.caller_number == "0612345678")
        .expect("INBOX/msg0000");
    assert_eq!(first.caller_name, "Zoë Ørsted");
    assert_eq!(first.received.timestamp(), 1_764_000_902);
    assert_eq!(first.duration_secs, 3);
    assert_eq!(first.folder, Folder::New);
    let windows = all
        .iter()
        .find(|m| m.caller_number == "0698765432")
        .unwrap();
    assert_eq!(
        (windows.duration_secs, windows.received.timestamp()),
        (4, 1_764_001_000)
    );
    let bob = all.iter().find(|m| m.caller_name == "Bob").unwrap();
    assert_eq!(
        (bob.caller_number.as_str(), bob.folder),
        ("1002", Folder::Old)
    );
    let no_txt = all.iter().find(|m| m.caller_number.is_empty()).unwrap();
    assert_eq!((no_txt.folder, no_txt.duration_secs), (Folder::New, 2));
    // 1002: origtime and duration malformed: the file's date, the audio's length.
    let jf_messages = messages(&app, "1002").await;
    assert_eq!(jf_messages.len(), 1);
    assert_eq!(jf_messages[0].duration_secs, 3);
    assert_eq!(jf_messages[0].caller_name, "Jérôme");

    // Audio: every message and greeting as the service records it.
    let dir = tree.recordings();
    for message in &all {
        let secs = wav_secs(&dir.join(format!("{}.wav", message.recording())));
        assert!(
            (secs - f64::from(message.duration_secs)).abs() < 0.1,
            "{secs}"
        );
    }
    assert!((wav_secs(&dir.join("voiceportal/1001/unavail.wav")) - 2.0).abs() < 0.1);
    assert!((wav_secs(&dir.join("voiceportal/1001/busy.wav")) - 1.5).abs() < 0.1);
    assert!((wav_secs(&dir.join("voiceportal/1001/name.wav")) - 1.0).abs() < 0.1);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        ["voiceportal"],
        "no staging or probe left behind"
    );
    // The same wav, copied byte for byte.
    assert_eq!(
        std::fs::read(dir.join("voiceportal/1001/name.wav")).unwrap(),
        std::fs::read(tree.spool().join("default/1001/greet.wav")).unwrap()
    );

    // Lamps, as the phones see them: (old, new).
    assert_eq!(app.sim.mailbox("1001@default"), Some((2, 3)));
    assert_eq!(app.sim.mailbox("1002@default"), Some((0, 1)));
    assert!(
        report.lamps.as_deref().unwrap_or("").contains("published"),
        "{shown}"
    );

    // Every odd case said, with its path and line.
    let conf = tree.conf().display().to_string();
    let sales = tree.root.join("voicemail-sales.conf").display().to_string();
    let spool = tree.spool().join("default").display().to_string();
    for expected in [
        format!("{sales}:3: expected `name = value`"),
        format!("{conf}:15: mailbox 1009: e-mail left out"),
        format!("{spool}/1001/INBOX/msg0002.gsm: msg0002 has no msg0002.txt"),
        format!("{spool}/1001/Old/msg0001.txt: a message without audio"),
        format!("{spool}/1001/Deleted: 1 message(s) deleted by their owner"),
        format!("{spool}/1002/INBOX/msg0000.txt:13: origtime \"yesterday\""),
        format!("{spool}/1002/INBOX/msg0000.txt:17: duration \"abc\""),
        format!("{spool}/1005: no mailbox \"1005\" in voicemail.conf [default]"),
    ] {
        assert!(
            shown.contains(&expected),
            "missing {expected:?} in:\n{shown}"
        );
    }

    // PINs: hashed, temporary, never shown, logged or stored in clear.
    let dump = redis_dump(&app);
    let logged = logs::captured();
    // passwordlocation=spooldir: the PIN of secret.conf.
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let keeper = app.store.pin_hash(&id("1006")).await.unwrap().unwrap();
    assert!(hasher.verify(&Pin::parse(PIN_1006).unwrap(), &keeper));
    assert!(!hasher.verify(&Pin::parse("1111").unwrap(), &keeper));
    for pin in [PIN_1001, PIN_1002, PIN_1004, PIN_1006] {
        assert!(!shown.contains(pin), "{pin} in the report");
        assert!(!dump.contains(pin), "{pin} in Redis");
        assert!(!logged.contains(pin), "{pin} in the logs");
    }
    assert!(dump.contains("$argon2id$"), "hashes are stored");
    let audit = app.store.audit_log(50).await.unwrap();
    let imports: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "import-mailbox")
        .collect();
    assert_eq!(imports.len(), 6);
    assert!(imports.iter().all(|e| e.actor == "test-admin"));
}

/// What the real-Asterisk test does with app_voicemail's own spool: the owner
/// logs in with the old PIN, is made to change it, and hears the messages.
#[tokio::test]
async fn the_owner_logs_in_with_the_old_pin_changes_it_and_hears_the_messages() {
    let tree = Tree::new("login");
    office(&tree);
    let app = app_for(&tree).await;
    import(&app, &options(&tree, false)).await.unwrap();
    let mut dial = Dial::portal("0612345678");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    caller.press("1001#").await;
    caller.expect_sound("voiceportal/enter-pin", WAIT).await;
    caller.press(&format!("{PIN_1001}#")).await;
    caller
        .expect_sound("voiceportal/setup-required", WAIT)
        .await;
    caller.expect_sound("voiceportal/enter-new-pin", WAIT).await;
    caller.press("947152#").await;
    caller
        .expect_sound("voiceportal/reenter-new-pin", WAIT)
        .await;
    caller.press("947152#").await;
    caller.expect_sound("voiceportal/pin-changed", WAIT).await;
    caller.expect_sound("vm-rec-name", WAIT).await;
    wait_beep(&caller).await;
    caller.speak(1.5).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-youhave", WAIT).await;
    let new = messages(&app, "1001").await;
    let mut inbox: Vec<&Message> = new.iter().filter(|m| m.folder == Folder::New).collect();
    inbox.sort_by_key(|m| m.received);
    // 1 plays the first new message (msg0000), 6 the next (msg0001).
    caller.expect_sound("vm-onefor", WAIT).await;
    caller.press("1").await;
    wait_for_recording(&caller, &inbox[0].recording()).await;
    caller.expect_sound("vm-next", WAIT).await;
    caller.press("6").await;
    wait_for_recording(&caller, &inbox[1].recording()).await;
    assert_eq!(inbox[0].caller_number, "0612345678");
    assert_eq!(inbox[1].caller_number, "0698765432");
    caller.hangup().await;
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::User, false)
    );

    // Importing again never puts the old PIN back over the owner's.
    let again = import(&app, &options(&tree, false)).await.unwrap();
    assert_eq!(outcome(&again, "1001").pin, PinImport::Kept);
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::User, false)
    );
}

async fn wait_for_recording(caller: &Caller, name: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !caller
        .heard()
        .iter()
        .any(|h| matches!(h, Heard::Recording { name: n } if n == name))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never played: {:?}",
            caller.heard()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_second_run_duplicates_nothing_and_brings_what_came_since() {
    let tree = Tree::new("again");
    office(&tree);
    let app = app_for(&tree).await;
    import(&app, &options(&tree, false)).await.unwrap();
    let before = messages(&app, "1001").await;
    let files_before: Vec<_> = walk(&tree.recordings());

    let again = import(&app, &options(&tree, false)).await.unwrap();
    assert_eq!(messages(&app, "1001").await, before);
    assert_eq!(walk(&tree.recordings()), files_before);
    let m = outcome(&again, "1001");
    assert_eq!(
        (m.created, m.pin, m.already_imported),
        (false, PinImport::Kept, 5)
    );
    assert_eq!((m.new_messages, m.old_messages), (0, 0));
    assert!(m.greetings.is_empty(), "greetings it has are kept");

    // Meanwhile, in app_voicemail: the owner listened to INBOX/msg0000 (moved to
    // Old, same msg_id), a new message came, and in voiceportal the owner deleted
    // the Family message.
    let m1001 = tree.spool().join("default/1001");
    for ext in ["txt", "wav", "WAV", "gsm"] {
        std::fs::rename(
            m1001.join(format!("INBOX/msg0000.{ext}")),
            m1001.join(format!("Old/msg0002.{ext}")),
        )
        .unwrap();
    }
    message(
        &m1001.join("INBOX"),
        3,
        Some(&message_txt(
            "1001",
            "New <0655555555>",
            "1764100000",
            "2",
            Some("1764100000-00000009"),
        )),
        2.0,
        &["wav"],
    );
    let family = before.iter().find(|m| m.caller_name == "Mum").unwrap();
    app.store
        .delete_message(&id("1001"), &family.id)
        .await
        .unwrap();
    app.store
        .clear_tombstone(&id("1001"), &family.id)
        .await
        .unwrap();
    std::fs::remove_file(
        tree.recordings()
            .join(format!("{}.wav", family.recording())),
    )
    .unwrap();

    let third = import(&app, &options(&tree, false)).await.unwrap();
    let m = outcome(&third, "1001");
    assert_eq!(
        (m.new_messages, m.old_messages, m.already_imported),
        (1, 0, 5),
        "{third}"
    );
    let after = messages(&app, "1001").await;
    assert_eq!(after.len(), before.len(), "one new, one deleted");
    assert!(after.iter().any(|m| m.caller_number == "0655555555"));
    assert!(
        !after.iter().any(|m| m.caller_name == "Mum"),
        "a deleted message stays deleted"
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn dry_run_reports_and_writes_nothing() {
    let tree = Tree::new("dry");
    office(&tree);
    let app = app_for(&tree).await;
    let report = import(&app, &options(&tree, true)).await.unwrap();
    let m = outcome(&report, "1001");
    assert_eq!(m.outcome, Outcome::WouldImport);
    assert_eq!(
        (m.new_messages, m.old_messages, m.pin),
        (3, 2, PinImport::Temporary)
    );
    assert_eq!(m.greetings, ["busy", "name", "unavail"]);
    assert_eq!(m.converted, 3, "msg0001 (wav49), msg0002 and busy (gsm)");
    assert!(
        report.to_string().contains("would be imported (dry run"),
        "{report}"
    );
    assert!(app.store.mailbox_ids().await.unwrap().is_empty());
    assert!(walk(&tree.recordings()).is_empty());
    assert_eq!(app.sim.mailbox("1001@default"), None);
}

/// A mailbox whose audio cannot be converted is not imported at all (no record,
/// no file); the others are; once fixed, it comes in on the next run.
#[tokio::test]
async fn a_mailbox_is_never_half_imported() {
    let tree = Tree::new("half");
    office(&tree);
    let broken = tree.spool().join("default/1004/INBOX");
    message(
        &broken,
        0,
        Some(&message_txt("1004", "a <1>", "1764000000", "1", Some("a"))),
        1.0,
        &["wav"],
    );
    message(
        &broken,
        1,
        Some(&message_txt("1004", "b <2>", "1764000100", "1", Some("b"))),
        1.0,
        &["g729"],
    );
    let app = app_for(&tree).await;
    let report = import(&app, &options(&tree, false)).await.unwrap();
    let m = outcome(&report, "1004");
    assert!(
        matches!(m.outcome, Outcome::Failed(ref why) if why.contains("msg0001.g729")),
        "{report}"
    );
    assert!(app.store.mailbox(&id("1004")).await.unwrap().is_none());
    assert!(!tree.recordings().join("voiceportal/1004").exists());
    assert_eq!(outcome(&report, "1001").outcome, Outcome::Imported);
    assert_eq!(report.failed(), 1);

    std::fs::remove_file(broken.join("msg0001.g729")).unwrap();
    crate::support::app_voicemail::audio(&broken.join("msg0001"), 1.0, &["ulaw"]);
    let report = import(&app, &options(&tree, false)).await.unwrap();
    assert_eq!(
        outcome(&report, "1004").outcome,
        Outcome::Imported,
        "{report}"
    );
    assert_eq!(messages(&app, "1004").await.len(), 2);
    assert_eq!(outcome(&report, "1001").already_imported, 5);
}

/// A recordings directory Asterisk does not read would import audio nobody can
/// hear: refused before anything is written.
#[tokio::test]
async fn a_recordings_directory_asterisk_does_not_see_is_refused() {
    let tree = Tree::new("wrongdir");
    office(&tree);
    let app = app_for(&tree).await;
    let elsewhere = tree.root.join("not-asterisk");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut options = options(&tree, false);
    options.recordings_dir = elsewhere.clone();
    let err = import(&app, &options).await.unwrap_err().to_string();
    assert!(
        err.contains("Asterisk does not see") && err.contains("--recordings-dir"),
        "{err}"
    );
    assert!(app.store.mailbox_ids().await.unwrap().is_empty());
    assert!(walk(&elsewhere).is_empty());

    options.recordings_dir = tree.root.join("missing");
    let err = import(&app, &options).await.unwrap_err().to_string();
    assert!(
        err.contains("missing") && err.contains("recordings directory"),
        "{err}"
    );
    options.recordings_dir = tree.recordings();
    options.context = "sales".into();
    let err = import(&app, &options).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "voicemail.conf has no context [sales]; its contexts: default, other"
    );
}

/// The command line: the report on stdout, nothing secret anywhere, exit status
/// 1 with a reason when it cannot run.
#[tokio::test]
async fn the_command_line_reports_and_never_prints_a_pin() {
    let tree = Tree::new("cli");
    office(&tree);
    let app = app_for(&tree).await;
    let config = tree.write(
        "voiceportal.toml",
        format!(
            "[ari]\nurl = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n\n[redis]\nurl = \"{}\"\n\n\
             [security]\npepper = \"test-pepper\"\n[security.hash]\nmemory_kib = 64\niterations = 1\n\n\
             [import]\nrecordings_dir = \"{}\"\n",
            app.config.ari.url,
            app.config.ari.username,
            app.config.ari.password.expose(),
            app.config.redis.url,
            tree.recordings().display()
        )
        .as_bytes(),
    );
    let run = |extra: &[&str]| {
        let mut command = voiceportal_command();
        command
            .arg("--config")
            .arg(&config)
            .args(["admin", "import", "app-voicemail", "--conf"])
            .arg(tree.conf())
            .arg("--spool")
            .arg(tree.spool())
            .args(extra)
            .env("USER", "cli-admin");
        command.output().unwrap()
    };
    let dry = run(&["--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        out.contains("mailbox 1001: would import (new mailbox, temporary PIN (must change))"),
        "{out}"
    );
    assert!(app.store.mailbox_ids().await.unwrap().is_empty());

    let real = run(&[]);
    let out = String::from_utf8_lossy(&real.stdout).into_owned();
    let err = String::from_utf8_lossy(&real.stderr).into_owned();
    assert!(real.status.success(), "{out}{err}");
    assert!(out.contains("mailbox 1001: imported (new mailbox, temporary PIN (must change)); messages: 3 new, 2 old"), "{out}");
    assert!(out.contains("6 mailbox(es) imported"), "{out}");
    for pin in [PIN_1001, PIN_1002, PIN_1004, PIN_1006] {
        assert!(!out.contains(pin) && !err.contains(pin), "{pin} shown");
    }
    let audit = app.store.audit_log(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "import-mailbox" && e.actor == "cli-admin")
    );

    let missing = run(&["--context", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no context [nope]"));
}
