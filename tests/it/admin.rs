//! `voiceportal admin ...` through the real binary against a real Redis, plus the
//! `Admin` API directly: provisioning, first-use PINs, resets, unlocks, the portal
//! passcode, and the promises every admin action keeps (bad input changes
//! nothing, every change is audited with its actor, no PIN is ever shown or
//! stored in clear).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Output, Stdio};

use redis::Commands;
use voiceportal::admin::{Admin, AdminError, MailboxFields};
use voiceportal::config::{Config, RedisConfig, Secret};
use voiceportal::domain::{HashCost, MailboxId, Pin, PinHasher, PinRejection};
use voiceportal::store::Store;
use voiceportal::store::lockout::{LockSubject, LockoutPolicy, Reservation};
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::messages::{Folder, Message, MessageId};

use crate::support::redis::TestRedis;

const PEPPER: &str = "admin-test-pepper";
const ACTOR: &str = "test-admin";

/// One run of the binary: `stdin` is piped (and closed) when given, else /dev/null.
fn vp(redis: &TestRedis, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = crate::support::voiceportal_command();
    command.arg("admin").args(args);
    command
        .env("VOICEPORTAL__REDIS__URL", &redis.url)
        .env("VOICEPORTAL__SECURITY__PEPPER", PEPPER)
        .env("VOICEPORTAL__SECURITY__HASH__MEMORY_KIB", "64")
        .env("VOICEPORTAL__SECURITY__HASH__ITERATIONS", "1")
        .env("USER", ACTOR)
        .env_remove("SUDO_USER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = command.spawn().expect("run voiceportal");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(redis: &TestRedis, args: &[&str], stdin: Option<&str>) -> String {
    let out = vp(redis, args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs and expects failure with exit status 1 and nothing on stdout; returns stderr.
fn fails(redis: &TestRedis, args: &[&str], stdin: Option<&str>) -> String {
    let out = vp(redis, args, stdin);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: {}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    text(&out.stderr)
}

/// Every key with its serialized value: equal dumps mean nothing changed.
fn dump(redis: &TestRedis) -> BTreeMap<String, Vec<u8>> {
    let mut conn = redis.connection();
    let keys: Vec<String> = conn.keys("*").unwrap();
    keys.into_iter()
        .map(|key| {
            let value: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut conn).unwrap();
            (key, value)
        })
        .collect()
}

/// The audit stream as raw text, one line per entry with every field it has
/// (`actor=... action=... detail=... target=...`).
fn audit_stream(redis: &TestRedis) -> String {
    let mut conn = redis.connection();
    let entries: redis::streams::StreamRangeReply = conn.xrange_all("vp:audit").unwrap();
    let mut out = String::new();
    for entry in &entries.ids {
        let mut fields: Vec<&String> = entry.map.keys().collect();
        fields.sort();
        for field in fields {
            let value: String = entry.get(field).unwrap_or_default();
            out.push_str(&format!("{field}={value} "));
        }
        out.push('\n');
    }
    out
}

async fn store(redis: &TestRedis) -> Store {
    Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .unwrap()
}

fn hasher() -> PinHasher {
    PinHasher::new(&Secret::new(PEPPER), &HashCost::fast_for_tests()).unwrap()
}

fn id(n: &str) -> MailboxId {
    MailboxId::parse(n).unwrap()
}

fn pin(p: &str) -> Pin {
    Pin::parse(p).unwrap()
}

/// The mailbox's PIN hash verifies `p`.
async fn has_pin(store: &Store, mailbox: &str, p: &str) -> bool {
    let hash = store.pin_hash(&id(mailbox)).await.unwrap().unwrap();
    hasher().verify(&pin(p), &hash)
}

async fn lock(store: &Store, subject: &LockSubject) {
    let policy = LockoutPolicy::default();
    for _ in 0..policy.max_failed_attempts {
        let Reservation::Granted(token) = store.reserve_attempt(subject, &policy).await.unwrap()
        else {
            panic!("attempt not granted");
        };
        store
            .finish_attempt(subject, token, false, &policy)
            .await
            .unwrap();
    }
    assert!(store.lock_status(subject).await.unwrap().locked);
}

#[tokio::test]
async fn mailbox_create_update_list_show_delete() {
    let redis = TestRedis::fresh();
    let out = ok(
        &redis,
        &[
            "mailbox",
            "create",
            "1001",
            "--name",
            "Alice Martin",
            "--email",
            "alice@example.org",
            "--language",
            "fr_CA",
            "--timezone",
            "Europe/Paris",
        ],
        None,
    );
    assert!(out.starts_with("created mailbox 1001\n"), "{out}");
    assert!(out.contains("language       fr\n"), "{out}");
    ok(&redis, &["mailbox", "create", "999"], None);

    let list = ok(&redis, &["mailbox", "list"], None);
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert!(rows[0].starts_with("MAILBOX"), "{list}");
    assert!(rows[1].starts_with("999 "), "{list}");
    assert!(
        rows[2].starts_with("1001 ") && rows[2].ends_with("Alice Martin"),
        "{list}"
    );

    let out = ok(
        &redis,
        &[
            "mailbox", "update", "1001", "--email", "", "--name", "Alice M.",
        ],
        None,
    );
    assert!(out.starts_with("updated mailbox 1001\n"), "{out}");
    let show = ok(&redis, &["mailbox", "show", "1001"], None);
    for line in [
        "name           Alice M.",
        "e-mail         -",
        "language       fr",
        "time zone      Europe/Paris",
        "PIN            none yet",
        "strikes        0 of 4",
        "locked         no",
    ] {
        assert!(show.contains(line), "{line:?} not in\n{show}");
    }
    assert_eq!(ok(&redis, &["status", "1001"], None), show);

    // No Asterisk here: the mailbox is deleted, and the administrator is told
    // its recordings are left behind, and where.
    let deleted = ok(&redis, &["mailbox", "delete", "1001"], None);
    assert!(deleted.starts_with("deleted mailbox 1001\n"), "{deleted}");
    assert!(
        deleted.contains("warning: its recordings in Asterisk were not removed"),
        "{deleted}"
    );
    assert!(deleted.contains("voiceportal admin repair"), "{deleted}");
    let err = fails(&redis, &["mailbox", "show", "1001"], None);
    assert!(err.contains("mailbox 1001 does not exist"), "{err}");
    assert!(ok(&redis, &["mailbox", "list"], None).contains("999"));

    let log = ok(&redis, &["audit"], None);
    let actions: Vec<Vec<&str>> = log
        .lines()
        .map(|l| l.split_whitespace().skip(3).take(3).collect())
        .collect();
    assert_eq!(
        actions,
        [
            [ACTOR, "mailbox-create", "1001"],
            [ACTOR, "mailbox-create", "999"],
            [ACTOR, "mailbox-update", "1001"],
            [ACTOR, "mailbox-delete", "1001"],
        ],
        "{log}"
    );
    assert!(log.contains("fields=name,email"), "{log}");
    assert_eq!(
        ok(&redis, &["audit", "--count", "1"], None).lines().count(),
        1
    );
}

#[tokio::test]
async fn the_default_pin_applies_to_mailboxes_created_after_it() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    ok(&redis, &["mailbox", "create", "1001"], None);
    ok(&redis, &["default-pin", "set"], Some("582047\n"));

    let out = ok(&redis, &["mailbox", "create", "1002"], None);
    assert!(
        out.contains("PIN            org default PIN, must be changed at the next login"),
        "{out}"
    );
    let before = store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (before.pin_origin, before.must_change),
        (PinOrigin::None, false)
    );
    assert_eq!(store.pin_hash(&id("1001")).await.unwrap(), None);
    let after = store.mailbox(&id("1002")).await.unwrap().unwrap();
    assert_eq!(
        (after.pin_origin, after.must_change),
        (PinOrigin::Default, true)
    );
    assert!(has_pin(&store, "1002", "582047").await);
    let org = store.default_pin_hash().await.unwrap().unwrap();
    assert!(hasher().verify(&pin("582047"), &org));

    // A new default PIN leaves the mailbox created with the old one alone.
    ok(&redis, &["default-pin", "set"], Some("730516\n"));
    assert!(has_pin(&store, "1002", "582047").await);
    ok(&redis, &["default-pin", "clear"], None);
    assert_eq!(store.default_pin_hash().await.unwrap(), None);
    ok(&redis, &["mailbox", "create", "1003"], None);
    let third = store.mailbox(&id("1003")).await.unwrap().unwrap();
    assert_eq!(third.pin_origin, PinOrigin::None);
    assert!(has_pin(&store, "1002", "582047").await);
    let status = ok(&redis, &["status"], None);
    assert!(status.contains("org default PIN   not set"), "{status}");
}

#[tokio::test]
async fn reset_pin_with_a_temporary_pin_or_the_default_pin() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    ok(&redis, &["mailbox", "create", "1001"], None);
    let subject = LockSubject::Mailbox(id("1001"));
    lock(&store, &subject).await;

    // No default PIN and no temporary PIN: a precise error, nothing changed.
    let before = dump(&redis);
    let err = fails(&redis, &["reset-pin", "1001"], None);
    assert!(err.contains("no org default PIN is configured"), "{err}");
    assert_eq!(dump(&redis), before);

    let out = ok(
        &redis,
        &["reset-pin", "1001", "--temporary"],
        Some("640213\n"),
    );
    assert!(
        out.contains("PIN reset to a temporary PIN and unlocked"),
        "{out}"
    );
    let record = store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::Temporary, true)
    );
    assert!(has_pin(&store, "1001", "640213").await);
    let lock_status = store.lock_status(&subject).await.unwrap();
    assert_eq!((lock_status.locked, lock_status.strikes), (false, 0));

    ok(&redis, &["default-pin", "set"], Some("582047\n"));
    lock(&store, &subject).await;
    let out = ok(&redis, &["reset-pin", "1001"], None);
    assert!(out.contains("PIN reset to the org default PIN"), "{out}");
    let record = store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::Default, true)
    );
    assert!(has_pin(&store, "1001", "582047").await);
    assert!(!store.lock_status(&subject).await.unwrap().locked);

    let log = audit_stream(&redis);
    assert!(log.contains("pin=temporary unlocked"), "{log}");
    assert!(log.contains("pin=default unlocked"), "{log}");
}

#[tokio::test]
async fn set_temp_pin_keeps_the_lock_and_unlock_clears_it() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    ok(&redis, &["mailbox", "create", "1001"], None);
    let subject = LockSubject::Mailbox(id("1001"));
    lock(&store, &subject).await;
    let show = ok(&redis, &["status", "1001"], None);
    assert!(show.contains("strikes        4 of 4"), "{show}");
    assert!(
        show.contains("locked         yes, until an administrator unlocks it"),
        "{show}"
    );

    let out = ok(&redis, &["set-temp-pin", "1001"], Some("640213\n"));
    assert!(out.contains("temporary PIN set"), "{out}");
    assert!(out.contains("note: mailbox 1001 is locked"), "{out}");
    assert!(has_pin(&store, "1001", "640213").await);
    assert!(store.lock_status(&subject).await.unwrap().locked);

    let out = ok(&redis, &["unlock", "1001"], None);
    assert_eq!(out, "mailbox 1001: unlocked, strikes 0\n");
    let status = store.lock_status(&subject).await.unwrap();
    assert_eq!((status.locked, status.strikes), (false, 0));
    // Unlocking keeps the PIN.
    assert!(has_pin(&store, "1001", "640213").await);
    let record = store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(record.pin_origin, PinOrigin::Temporary);
    assert!(audit_stream(&redis).contains("was_locked=true strikes=4"));

    // Not locked: no note.
    let out = ok(&redis, &["set-temp-pin", "1001"], Some("731542\n"));
    assert!(!out.contains("note:"), "{out}");
}

#[tokio::test]
async fn the_portal_passcode_has_its_own_hash_and_lock() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    let status = ok(&redis, &["status"], None);
    assert!(status.contains("portal number     8500"), "{status}");
    assert!(status.contains("portal passcode   not set"), "{status}");

    ok(&redis, &["default-pin", "set"], Some("582047\n"));
    lock(&store, &LockSubject::PortalPasscode).await;
    let before = dump(&redis);
    let err = fails(&redis, &["portal-passcode", "set"], Some("582047\n"));
    assert!(err.contains("must be different"), "{err}");
    // The portal's number inside the passcode is refused like a mailbox number.
    let err = fails(&redis, &["portal-passcode", "set"], Some("850017\n"));
    assert!(err.contains("mailbox number"), "{err}");
    assert_eq!(dump(&redis), before);

    let out = ok(&redis, &["portal-passcode", "set"], Some("90317264\n"));
    assert_eq!(out, "portal passcode set and unlocked\n");
    let hash = store.portal_passcode_hash().await.unwrap().unwrap();
    assert!(hasher().verify(&pin("90317264"), &hash));
    let lock = store
        .lock_status(&LockSubject::PortalPasscode)
        .await
        .unwrap();
    assert_eq!((lock.locked, lock.strikes), (false, 0));
    let status = ok(&redis, &["status"], None);
    assert!(status.contains("portal passcode   set"), "{status}");
    assert!(status.contains("passcode locked   no"), "{status}");

    // And the other way round: the default PIN may not become the passcode.
    let err = fails(&redis, &["default-pin", "set"], Some("90317264\n"));
    assert!(err.contains("must be different"), "{err}");
}

/// Bad input of every kind, with the stdin given and the message expected. The
/// set-up before it: mailboxes 1001 and 1002, org default PIN 582047.
#[rustfmt::skip]
const BAD_INPUTS: &[(&[&str], Option<&str>, &str)] = &[
    (&["mailbox", "show", "4242"], None, "mailbox 4242 does not exist"),
    (&["mailbox", "delete", "4242"], None, "mailbox 4242 does not exist"),
    (&["mailbox", "update", "4242", "--name", "X"], None, "does not exist"),
    (&["unlock", "4242"], None, "mailbox 4242 does not exist"),
    (&["reset-pin", "4242"], None, "mailbox 4242 does not exist"),
    (&["set-temp-pin", "4242"], Some("640213\n"), "does not exist"),
    (&["reset-pin", "4242", "--temporary"], Some("640213\n"), "does not exist"),
    (&["mailbox", "create", "10a1"], None, "invalid mailbox number: a mailbox number has digits only"),
    (&["mailbox", "create", ""], None, "cannot be empty"),
    (&["mailbox", "create", "111111111111111111111"], None, "at most 20 digits"),
    (&["unlock", "1{1}"], None, "invalid mailbox number"),
    (&["mailbox", "create", "1001"], None, "mailbox 1001 already exists"),
    (&["mailbox", "create", "8500"], None, "voice portal's own number"),
    (&["mailbox", "create", "1003", "--language", "de"], None, "invalid language: unsupported language \"de\""),
    (&["mailbox", "create", "1003", "--timezone", "Mars/Olympus"], None, "unknown time zone \"Mars/Olympus\""),
    (&["mailbox", "create", "1003", "--email", "alice"], None, "\"alice\" is not an e-mail address"),
    (&["mailbox", "create", "1003", "--name", "a\u{7}b"], None, "invalid display name"),
    (&["mailbox", "update", "1001", "--timezone", "europe/paris"], None, "unknown time zone"),
    (&["mailbox", "update", "1001", "--name", "Bob", "--language", "xx"], None, "invalid language"),
    (&["mailbox", "update", "1001"], None, "nothing to change"),
    (&["set-temp-pin", "1001"], Some("123456\n"), "PIN refused: the PIN cannot be a run of consecutive digits"),
    (&["set-temp-pin", "1001"], Some("4821\n"), "PIN refused: the PIN is too short: it needs at least 6 digits"),
    (&["set-temp-pin", "1001"], Some("777777\n"), "single digit repeated"),
    (&["set-temp-pin", "1001"], Some("610019\n"), "mailbox number"),
    (&["set-temp-pin", "1001"], Some("58a047\n"), "digits 0 to 9 only"),
    (&["set-temp-pin", "1001"], Some("582047\n"), "the organisation's default PIN"),
    (&["set-temp-pin", "1001"], Some(""), "no PIN on standard input"),
    (&["set-temp-pin", "1001"], Some("\n640213\n"), "no PIN on standard input"),
    (&["reset-pin", "1001", "--temporary"], Some("482913482913482\n"), "too long"),
    (&["reset-pin", "1001", "--temporary"], Some("582047\n"), "default PIN"),
    (&["reset-pin", "1001", "--temporary"], None, "no PIN on standard input"),
    (&["default-pin", "set"], Some("654321\n"), "consecutive digits"),
    (&["default-pin", "set"], Some("12\n"), "too short"),
    (&["portal-passcode", "set"], Some("000000\n"), "single digit repeated"),
];

#[tokio::test]
async fn bad_input_is_refused_precisely_and_changes_nothing() {
    let redis = TestRedis::fresh();
    ok(
        &redis,
        &["mailbox", "create", "1001", "--name", "Alice"],
        None,
    );
    ok(&redis, &["default-pin", "set"], Some("582047\n"));
    ok(&redis, &["mailbox", "create", "1002"], None);
    for (args, stdin, expected) in BAD_INPUTS {
        let before = dump(&redis);
        let err = fails(&redis, args, *stdin);
        assert!(
            err.starts_with("voiceportal: ") && err.contains(expected),
            "{args:?}: expected {expected:?} in {err:?}"
        );
        assert_eq!(dump(&redis), before, "{args:?} changed Redis");
        if let Some(input) = stdin {
            let secret = input.trim();
            if !secret.is_empty() {
                assert!(!err.contains(secret), "{args:?} printed the PIN: {err}");
            }
        }
    }
}

#[tokio::test]
async fn no_pin_is_ever_printed_or_audited() {
    let redis = TestRedis::fresh();
    let pins = ["582047", "640213", "731542", "90317264", "815093"];
    let mut shown = String::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let out = vp(&redis, args, stdin);
        shown.push_str(&text(&out.stdout));
        shown.push_str(&text(&out.stderr));
    };
    run(&["default-pin", "set"], Some("582047\n"));
    run(&["mailbox", "create", "1001"], None);
    run(&["reset-pin", "1001", "--temporary"], Some("640213\n"));
    run(&["set-temp-pin", "1001"], Some("731542\n"));
    run(&["reset-pin", "1001"], None);
    run(&["portal-passcode", "set"], Some("90317264\n"));
    run(&["default-pin", "set"], Some("815093\n"));
    run(&["set-temp-pin", "1001"], Some("815093\n"));
    run(&["default-pin", "clear"], None);
    run(&["status", "1001"], None);
    run(&["status"], None);
    run(&["mailbox", "list"], None);
    run(&["audit", "--count", "100"], None);
    assert!(shown.contains("org default PIN cleared"), "{shown}");

    let audit = audit_stream(&redis);
    let mut conn = redis.connection();
    let mut everything = audit.clone();
    for key in conn.keys::<_, Vec<String>>("*").unwrap() {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
        let value = match kind.as_str() {
            "hash" => format!("{:?}", conn.hgetall::<_, Vec<String>>(&key).unwrap()),
            "list" => format!("{:?}", conn.lrange::<_, Vec<String>>(&key, 0, -1).unwrap()),
            "set" => format!("{:?}", conn.smembers::<_, Vec<String>>(&key).unwrap()),
            _ => String::new(),
        };
        everything.push_str(&value);
    }
    for secret in pins.iter().chain([&PEPPER]) {
        assert!(!shown.contains(secret), "{secret} printed:\n{shown}");
        assert!(
            !everything.contains(secret),
            "{secret} stored:\n{everything}"
        );
    }
    // Eight changes succeeded (the temporary PIN equal to the default was refused).
    let by_actor = audit
        .lines()
        .filter(|l| l.starts_with("action=") && l.contains(&format!("actor={ACTOR} ")))
        .count();
    assert_eq!(by_actor, 8, "every change audited with its actor:\n{audit}");
}

/// The API directly, with the policy switches the binary tests leave at default.
#[tokio::test]
async fn the_admin_api_applies_the_configured_policy() {
    let redis = TestRedis::fresh();
    let store = store(&redis).await;
    let mut config = Config::default();
    config.security.pepper = Secret::new(PEPPER);
    config.security.hash = HashCost::fast_for_tests();
    config.pin_policy.forbid_default_pin = false;
    config.pin_policy.min_length = 4;
    let admin = Admin::new(&config, store.clone()).unwrap();

    admin
        .set_default_pin("ops", Some(pin("5820")))
        .await
        .unwrap();
    let fields = MailboxFields {
        display_name: Some("Bob".into()),
        timezone: Some("America/New_York".into()),
        ..MailboxFields::default()
    };
    let record = admin.create_mailbox("ops", "2001", &fields).await.unwrap();
    assert_eq!(record.pin_origin, PinOrigin::Default);
    assert_eq!(record.timezone, "America/New_York");
    // With forbid_default_pin off, a temporary PIN may equal the default PIN.
    let status = admin
        .set_temp_pin("ops", "2001", pin("5820"))
        .await
        .unwrap();
    assert_eq!(status.record.pin_origin, PinOrigin::Temporary);
    assert!(matches!(
        admin.set_temp_pin("ops", "2001", pin("482")).await,
        Err(AdminError::PinRejected(PinRejection::TooShort { min: 4 }))
    ));
    assert!(matches!(
        admin
            .create_mailbox("ops", "2001", &MailboxFields::default())
            .await,
        Err(AdminError::MailboxExists(_))
    ));
    assert!(matches!(
        admin.reset_pin("ops", "7", None).await,
        Err(AdminError::UnknownMailbox(_))
    ));
    let list = admin.list_mailboxes().await.unwrap();
    assert_eq!(list.len(), 1);
    let log = admin.audit_log(10).await.unwrap();
    let seen: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ops", "default-pin-set"),
            ("ops", "mailbox-create"),
            ("ops", "set-temp-pin")
        ]
    );
    assert_eq!(log[2].detail, "pin=temporary");
}

/// Issue 10, Also: `--json` for status, mailbox list and messages list, with
/// stable field names, message counts, and must_change for a mailbox that has
/// no PIN yet; none of these reads writes an audit entry.
#[tokio::test]
async fn json_outputs_for_scripts_and_reads_are_not_audited() {
    let redis = TestRedis::fresh();
    ok(
        &redis,
        &["mailbox", "create", "1001", "--name", "Alice"],
        None,
    );
    ok(&redis, &["mailbox", "create", "1002"], None);
    let store = store(&redis).await;
    for (minutes, folder) in [(30, Folder::New), (20, Folder::New), (10, Folder::Old)] {
        let received = chrono::Utc::now() - chrono::Duration::minutes(minutes);
        let message = Message {
            id: MessageId::generate(received),
            mailbox: id("1001"),
            folder,
            caller_number: "0612345678".into(),
            caller_name: "Bob".into(),
            received,
            duration_secs: 7,
            recorded_on: String::new(),
        };
        store.save_message(&message, 100).await.unwrap();
    }
    let audit_before = audit_stream(&redis);

    let status: serde_json::Value =
        serde_json::from_str(&ok(&redis, &["status", "1001", "--json"], None)).unwrap();
    assert_eq!(status["mailbox"], "1001");
    assert_eq!(status["name"], "Alice");
    assert_eq!(status["email"], serde_json::Value::Null);
    assert_eq!(status["pin_origin"], "none");
    assert_eq!(status["must_change"], true, "no PIN yet: one must be set");
    assert_eq!(status["name_recorded"], false);
    assert_eq!(status["strikes"], 0);
    assert_eq!(status["locked"], false);
    assert_eq!(status["new_messages"], 2);
    assert_eq!(status["old_messages"], 1);

    let list: serde_json::Value =
        serde_json::from_str(&ok(&redis, &["mailbox", "list", "--json"], None)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], status);
    assert_eq!(list[1]["mailbox"], "1002");
    assert_eq!(list[1]["new_messages"], 0);

    let messages: serde_json::Value =
        serde_json::from_str(&ok(&redis, &["messages", "list", "1001", "--json"], None)).unwrap();
    assert_eq!(messages["mailbox"], "1001");
    assert_eq!(messages["new_messages"], 2);
    assert_eq!(messages["old_messages"], 1);
    let items = messages["messages"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["folder"], "old");
    assert_eq!(items[0]["caller_number"], "0612345678");
    assert_eq!(items[0]["duration_secs"], 7);
    assert!(items[0]["received"].as_str().unwrap().ends_with("+00:00"));

    let portal: serde_json::Value =
        serde_json::from_str(&ok(&redis, &["status", "--json"], None)).unwrap();
    assert_eq!(portal["portal_number"], "8500");
    assert_eq!(portal["passcode_set"], false);

    let text_list = ok(&redis, &["mailbox", "list"], None);
    assert!(text_list.contains("NEW"), "{text_list}");
    assert_eq!(audit_stream(&redis), audit_before, "a read was audited");
}

/// Administrator accounts and API tokens are made with the CLI: passwords read
/// from standard input (never an argument) and stored hashed; a token printed
/// once, listed by name only, and revocable.
#[test]
fn web_accounts_and_api_tokens_from_the_cli() {
    let redis = TestRedis::fresh();
    let password = "a long enough password";
    let out = ok(
        &redis,
        &["account", "create", "Alice"],
        Some(&format!("{password}\n")),
    );
    assert_eq!(out, "created administrator account alice\n");
    assert!(
        fails(
            &redis,
            &["account", "create", "alice"],
            Some(&format!("{password}\n"))
        )
        .contains("already exists")
    );
    assert!(
        fails(&redis, &["account", "create", "bob"], Some("short\n"))
            .contains("at least 12 characters")
    );
    assert!(
        fails(
            &redis,
            &["account", "create", "bob!"],
            Some(&format!("{password}\n"))
        )
        .contains("invalid name")
    );
    let list = ok(&redis, &["account", "list"], None);
    assert!(list.contains("alice") && list.contains("NAME"), "{list}");
    ok(&redis, &["account", "unlock", "alice"], None);
    ok(
        &redis,
        &["account", "password", "alice"],
        Some("another long password\n"),
    );
    assert!(
        fails(
            &redis,
            &["account", "password", "zed"],
            Some("another long password\n")
        )
        .contains("no administrator account zed")
    );

    let token = ok(&redis, &["token", "create", "provisioning"], None);
    let token = token.trim();
    assert!(token.starts_with("vpt_") && token.len() == 47, "{token}");
    let tokens = ok(&redis, &["token", "list"], None);
    assert!(
        tokens.contains("provisioning") && !tokens.contains(&token[4..]),
        "{tokens}"
    );
    assert!(fails(&redis, &["token", "create", "provisioning"], None).contains("already exists"));
    ok(&redis, &["token", "revoke", "provisioning"], None);
    assert!(fails(&redis, &["token", "revoke", "provisioning"], None).contains("no API token"));
    ok(&redis, &["account", "delete", "alice"], None);
    assert_eq!(
        ok(&redis, &["account", "list"], None),
        "no administrator accounts\n"
    );

    // Nothing secret in Redis or in the audit log.
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut conn).unwrap();
        let dump = String::from_utf8_lossy(&dump);
        assert!(
            !dump.contains(password) && !dump.contains(&token[4..]),
            "{key}"
        );
    }
    let audit = ok(&redis, &["audit", "--count", "50"], None);
    for action in [
        "account-create",
        "account-password",
        "account-unlock",
        "token-create",
        "token-revoke",
        "account-delete",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    assert!(!audit.contains(password) && !audit.contains(&token[4..]));
}
