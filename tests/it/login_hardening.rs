//! Issue 10, the login side: PIN entries end on `#` (item 3), guesses at
//! numbers that are not mailboxes leave records that expire (item 4), the org
//! default PIN only from the owner's phone and never testable from a PIN change
//! (item 6), and two set-ups on one PIN cannot both change it (item 10).

use std::time::Duration;

use ari_sim::{CallEnd, Caller, Dial, Heard};
use voiceportal::access::{Access, Login, Origin};
use voiceportal::admin::{Admin, MailboxFields};
use voiceportal::domain::{Pin, PinHasher};
use voiceportal::store::lockout::LockSubject;
use voiceportal::store::mailboxes::PinOrigin;

use crate::support::app::{TestApp, WAIT, spawn_app, spawn_app_with};
use crate::support::fixtures::{id, provision};
use crate::support::redis::TestRedis;

const TWELVE: &str = "482913570264";
const DEFAULT_PIN: &str = "407719";

async fn hear(caller: &Caller, name: &str) {
    caller.expect_sound(name, WAIT).await;
}

fn sounds(caller: &Caller) -> Vec<String> {
    caller
        .heard()
        .iter()
        .filter_map(|h| match h {
            Heard::Sound { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

async fn strikes(app: &TestApp, number: &str) -> (u32, bool) {
    let status = app
        .store
        .lock_status(&LockSubject::Mailbox(id(number)))
        .await
        .unwrap();
    (status.strikes, status.locked)
}

fn from_outside(app: &TestApp) -> Dial {
    let mut dial = Dial::portal("0612345678");
    dial.context = "from-outside".into();
    let _ = app;
    dial
}

/// Whether `pin` is the mailbox's PIN now.
async fn pin_is(app: &TestApp, number: &str, pin: &str) -> bool {
    let hash = app.store.pin_hash(&id(number)).await.unwrap().unwrap();
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    hasher.verify(&Pin::parse(pin).unwrap(), &hash)
}

/// Item 3: a PIN of the maximum length followed by `#` is one entry; the `#` is
/// not left over to exit the menu at once.
#[tokio::test]
async fn a_pin_of_maximum_length_then_pound_logs_in_and_stays_in_the_menu() {
    let app = spawn_app().await;
    provision(&app, "1001", Some((TWELVE, PinOrigin::User)), true).await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{TWELVE}#")).await;
    hear(&caller, "vm-youhave").await;
    // The menu is offered, and the call waits for a key.
    hear(&caller, "vm-opts").await;
    assert!(
        !sounds(&caller).contains(&"vm-goodbye".to_string()),
        "the # of the PIN left the menu: {:?}",
        sounds(&caller)
    );
    caller.press("#").await;
    hear(&caller, "vm-goodbye").await;
    assert_eq!(strikes(&app, "1001").await, (0, false));
}

/// Item 3: a new PIN of the maximum length, with `#`, can be confirmed.
#[tokio::test]
async fn a_new_pin_of_maximum_length_can_be_confirmed() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("864200", PinOrigin::Temporary)), true).await;
    let caller = app.sim.dial(from_outside(&app)).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1001#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press("864200#").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press(&format!("{TWELVE}#")).await;
    hear(&caller, "voiceportal/reenter-new-pin").await;
    caller.press(&format!("{TWELVE}#")).await;
    hear(&caller, "voiceportal/pin-changed").await;
    caller.hangup().await;
    assert!(pin_is(&app, "1001", TWELVE).await);
    assert!(!sounds(&caller).contains(&"voiceportal/pin-mismatch".to_string()));
}

/// Item 3: with the policy's maximum lowered below an existing PIN, the PIN still
/// opens its mailbox at no cost; an entry longer than any PIN is one wrong entry
/// (no PIN is checked, so no strike), and nothing of it spills into the next
/// prompt.
#[tokio::test]
async fn long_entries_cost_one_strike_at_most() {
    let app = spawn_app_with(ari_sim::SimConfig::default(), |c| {
        c.pin_policy.max_length = 8;
    })
    .await;
    provision(&app, "1001", Some((TWELVE, PinOrigin::User)), true).await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{}#", "1".repeat(25))).await;
    hear(&caller, "voiceportal/pin-incorrect").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    assert_eq!(strikes(&app, "1001").await, (0, false));
    caller.press(&format!("{TWELVE}#")).await;
    hear(&caller, "vm-youhave").await;
    assert_eq!(strikes(&app, "1001").await, (0, false));
    let incorrect = sounds(&caller)
        .iter()
        .filter(|s| *s == "voiceportal/pin-incorrect")
        .count();
    assert_eq!(incorrect, 1, "{:?}", sounds(&caller));
    caller.hangup().await;
}

/// Item 4: every guess at a number that is not a mailbox leaves a lock record
/// that locks like a real one while it lives, but expires; after many guesses
/// Redis holds nothing of them.
#[tokio::test]
async fn guesses_at_unknown_numbers_leave_no_lasting_keys() {
    let redis = TestRedis::fresh();
    let sim = ari_sim::Simulator::start(ari_sim::SimConfig::default())
        .await
        .unwrap();
    let mut config = crate::support::app::test_config(&sim, &redis);
    config.lockout.unknown_mailbox_ttl = Duration::from_secs(1);
    let store = voiceportal::store::Store::connect(&config.redis)
        .await
        .unwrap();
    let access = Access::new(&config, store.clone()).unwrap();
    let wrong = Pin::parse("246802").unwrap();
    let mut conn = redis.connection();
    let keys = |conn: &mut redis::Connection| -> Vec<String> {
        redis::cmd("KEYS").arg("vp:*").query(conn).unwrap()
    };
    assert!(keys(&mut conn).is_empty());
    for n in 0..60 {
        let number = id(&format!("77{n:03}"));
        let outcome = access
            .login(&number, &wrong, Origin::Elsewhere)
            .await
            .unwrap();
        assert_eq!(outcome, Login::Denied);
    }
    // One number guessed to the limit locks, as a real mailbox would.
    let target = id("77000");
    for _ in 0..3 {
        access
            .login(&target, &wrong, Origin::Elsewhere)
            .await
            .unwrap();
    }
    assert_eq!(
        access
            .login(&target, &wrong, Origin::Elsewhere)
            .await
            .unwrap(),
        Login::Locked
    );
    let found = keys(&mut conn);
    assert_eq!(found.len(), 60, "{found:?}");
    for key in &found {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        assert!(ttl > 0 && ttl <= 1000, "{key} has no expiry ({ttl})");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while !keys(&mut conn).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "records of unknown numbers never expired: {:?}",
            keys(&mut conn)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A mailbox created on a number guessed before keeps its record for good.
    let victim = id("77001");
    access
        .login(&victim, &wrong, Origin::Elsewhere)
        .await
        .unwrap();
    let mut record = voiceportal::store::mailboxes::MailboxRecord::new(victim.clone());
    record.name_recorded = true;
    store.create_mailbox(&record, None).await.unwrap();
    access
        .login(&victim, &wrong, Origin::Elsewhere)
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg("vp:{77001}:lock")
        .query(&mut conn)
        .unwrap();
    assert_eq!(ttl, -1, "a real mailbox's strikes must not expire");
    let status = store
        .lock_status(&LockSubject::Mailbox(victim))
        .await
        .unwrap();
    assert_eq!(status.strikes, 2);
}

async fn with_default_pin(app: &TestApp) -> Admin {
    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    admin
        .set_default_pin("tester", Some(Pin::parse(DEFAULT_PIN).unwrap()))
        .await
        .unwrap();
    admin
        .create_mailbox("tester", "1001", &MailboxFields::default())
        .await
        .unwrap();
    admin
}

/// Item 6: the org default PIN is a wrong PIN from anywhere but the owner's own
/// phone (a strike, the same prompts), and opens set-up from the owner's phone.
#[tokio::test]
async fn the_default_pin_opens_a_mailbox_only_from_its_owners_phone() {
    let app = spawn_app().await;
    with_default_pin(&app).await;
    let caller = app.sim.dial(from_outside(&app)).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1001#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press(&format!("{DEFAULT_PIN}#")).await;
    hear(&caller, "voiceportal/pin-incorrect").await;
    caller.hangup().await;
    assert!(!sounds(&caller).contains(&"voiceportal/setup-required".to_string()));
    assert_eq!(strikes(&app, "1001").await, (1, false));

    let caller = app.sim.dial(Dial::portal("1001")).await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{DEFAULT_PIN}#")).await;
    hear(&caller, "voiceportal/setup-required").await;
    caller.hangup().await;
    assert_eq!(strikes(&app, "1001").await, (0, false));
}

/// Item 6: the setting documented in the README restores "from any phone".
#[tokio::test]
async fn the_default_pin_from_any_phone_when_configured() {
    let app = spawn_app_with(ari_sim::SimConfig::default(), |c| {
        c.portal.default_pin_from_any_phone = true;
    })
    .await;
    with_default_pin(&app).await;
    let caller = app.sim.dial(from_outside(&app)).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1001#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press(&format!("{DEFAULT_PIN}#")).await;
    hear(&caller, "voiceportal/setup-required").await;
    caller.hangup().await;
}

/// Item 6: an owner with their own PIN who tries the org default PIN as a new
/// PIN is not told it is the default PIN, and each such try is a strike: the
/// PIN change is no free oracle for guessing the default PIN.
#[tokio::test]
async fn trying_the_default_pin_as_a_new_pin_is_unsaid_and_costs_strikes() {
    let app = spawn_app().await;
    with_default_pin(&app).await;
    provision(&app, "1002", Some(("135790", PinOrigin::User)), true).await;
    let caller = app.sim.dial(Dial::portal("1002")).await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("135790#").await;
    hear(&caller, "vm-opts").await;
    caller.press("0").await;
    hear(&caller, "voiceportal/mailbox-options").await;
    caller.press("5").await;
    for strike in 1..=3 {
        hear(&caller, "voiceportal/enter-new-pin").await;
        caller.press(&format!("{DEFAULT_PIN}#")).await;
        hear(&caller, "voiceportal/pin-not-allowed").await;
        assert_eq!(strikes(&app, "1002").await, (strike, false));
    }
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press(&format!("{DEFAULT_PIN}#")).await;
    hear(&caller, "voiceportal/pin-locked").await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert_eq!(strikes(&app, "1002").await, (4, true));
    assert!(pin_is(&app, "1002", "135790").await);
    assert!(
        sounds(&caller)
            .iter()
            .all(|s| !s.contains("pin-default") && s != "voiceportal/reenter-new-pin"),
        "{:?}",
        sounds(&caller)
    );
}

/// Item 10: two calls in forced set-up on the same temporary PIN: the first to
/// confirm wins, the second hears that the PIN was changed meanwhile and its PIN
/// is not stored.
#[tokio::test]
async fn two_setups_on_one_temporary_pin_cannot_both_change_it() {
    let app = spawn_app().await;
    provision(&app, "1001", Some(("864200", PinOrigin::Temporary)), true).await;
    let mut callers = Vec::new();
    for _ in 0..2 {
        let caller = app.sim.dial(from_outside(&app)).await;
        hear(&caller, "voiceportal/enter-mailbox").await;
        caller.press("1001#").await;
        hear(&caller, "voiceportal/enter-pin").await;
        caller.press("864200#").await;
        hear(&caller, "voiceportal/enter-new-pin").await;
        callers.push(caller);
    }
    let (first, second) = (&callers[0], &callers[1]);
    first.press("917355#").await;
    hear(first, "voiceportal/reenter-new-pin").await;
    first.press("917355#").await;
    hear(first, "voiceportal/pin-changed").await;

    second.press("620481#").await;
    hear(second, "voiceportal/reenter-new-pin").await;
    second.press("620481#").await;
    hear(second, "voiceportal/pin-changed-meanwhile").await;
    assert!(matches!(
        second.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert!(!sounds(second).contains(&"voiceportal/pin-changed".to_string()));
    first.hangup().await;
    assert!(pin_is(&app, "1001", "917355").await);
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::User, false)
    );
}

/// Also: "no input: reprompt" (SPEC) says why the prompt comes again.
#[tokio::test]
async fn silence_hears_no_input_before_each_reprompt() {
    let app = spawn_app().await;
    let caller = app.sim.dial(from_outside(&app)).await;
    hear(&caller, "vm-goodbye").await;
    let heard = sounds(&caller);
    assert_eq!(
        heard,
        [
            "voiceportal/enter-mailbox",
            "voiceportal/no-input",
            "voiceportal/enter-mailbox",
            "voiceportal/no-input",
            "voiceportal/enter-mailbox",
            "vm-goodbye",
        ],
        "{heard:?}"
    );
}
