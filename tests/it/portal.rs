//! Portal login, lockout and first use, as SPEC.md tells them, through the whole
//! service against the simulator and a real Redis.

use ari_sim::{CallEnd, Caller, Dial, Heard};
use voiceportal::domain::{MailboxId, Pin, PinHasher};
use voiceportal::store::lockout::LockSubject;
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use crate::support::app::{TestApp, WAIT, spawn_app};

const PIN: &str = "135790";

fn id(n: &str) -> MailboxId {
    MailboxId::parse(n).unwrap()
}

/// Provisions a mailbox with a PIN of the given origin (or none).
async fn mailbox(app: &TestApp, number: &str, pin: Option<(&str, PinOrigin)>, named: bool) {
    let mut record = MailboxRecord::new(id(number));
    record.name_recorded = named;
    app.store.create_mailbox(&record, None).await.unwrap();
    if let Some((pin, origin)) = pin {
        let hasher =
            PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
        let hash = hasher.hash(&Pin::parse(pin).unwrap()).unwrap();
        app.store
            .set_pin(&id(number), &hash, origin, 5)
            .await
            .unwrap();
    }
}

/// A call from an internal phone (trusted context, caller ID = extension).
async fn from_own_phone(app: &TestApp, number: &str) -> Caller {
    app.sim.dial(Dial::portal(number)).await
}

/// A call from outside: untrusted, so the mailbox number is always asked.
async fn from_outside(app: &TestApp) -> Caller {
    let mut dial = Dial::portal("0612345678");
    dial.context = "from-outside".into();
    app.sim.dial(dial).await
}

fn sounds(caller: &Caller) -> Vec<String> {
    caller
        .heard()
        .iter()
        .filter_map(|h| match h {
            Heard::Sound { name, .. } => Some(name.trim_start_matches("voiceportal/").to_owned()),
            _ => None,
        })
        .collect()
}

async fn hear(caller: &Caller, name: &str) {
    caller.expect_sound(name, WAIT).await;
}

async fn ended(caller: &Caller) {
    assert!(
        matches!(
            caller.wait_end(WAIT).await,
            Some(CallEnd::HungUpByApp { .. })
        ),
        "heard {:?}",
        sounds(caller)
    );
}

async fn strikes(app: &TestApp, number: &str) -> (u32, bool) {
    let status = app
        .store
        .lock_status(&LockSubject::Mailbox(id(number)))
        .await
        .unwrap();
    (status.strikes, status.locked)
}

#[tokio::test]
async fn correct_pin_from_own_phone() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{PIN}#")).await;
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;
    assert!(!sounds(&caller).contains(&"pin-incorrect".to_string()));
    assert_eq!(strikes(&app, "1001").await, (0, false));
}

#[tokio::test]
async fn wrong_then_right_resets_strikes() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("246802#").await;
    hear(&caller, "voiceportal/pin-incorrect").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{PIN}#")).await;
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;
    assert_eq!(strikes(&app, "1001").await, (0, false));
}

#[tokio::test]
async fn star_switches_to_the_mailbox_number_prompt() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    mailbox(&app, "1002", Some(("975313", PinOrigin::User)), true).await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("*").await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1002#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press("975313#").await;
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;
}

/// Three wrong PINs in one call, a fourth in the next: locked, and from then on
/// even the right PIN gets the locked message without being checked.
#[tokio::test]
async fn four_strikes_over_two_calls_lock() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let caller = from_own_phone(&app, "1001").await;
    for _ in 0..3 {
        hear(&caller, "voiceportal/enter-pin-or-star").await;
        caller.press("246802#").await;
        hear(&caller, "voiceportal/pin-incorrect").await;
    }
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;
    assert_eq!(strikes(&app, "1001").await, (3, false));

    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("246802#").await;
    hear(&caller, "voiceportal/pin-locked").await;
    ended(&caller).await;
    assert_eq!(strikes(&app, "1001").await, (4, true));

    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{PIN}#")).await;
    hear(&caller, "voiceportal/pin-locked").await;
    ended(&caller).await;
    assert_eq!(
        strikes(&app, "1001").await,
        (4, true),
        "a locked PIN was checked"
    );
}

/// From outside, an unknown mailbox and a known one with a wrong PIN sound the same.
#[tokio::test]
async fn unknown_mailbox_sounds_like_a_wrong_pin() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let mut heard = Vec::new();
    for number in ["1001", "4242"] {
        let caller = from_outside(&app).await;
        for _ in 0..3 {
            hear(&caller, "voiceportal/enter-mailbox").await;
            caller.press(&format!("{number}#")).await;
            hear(&caller, "voiceportal/enter-pin").await;
            caller.press("246802#").await;
            hear(&caller, "voiceportal/pin-incorrect").await;
        }
        ended(&caller).await;
        heard.push(sounds(&caller));
    }
    assert_eq!(heard[0], heard[1]);
    // The unknown number left nothing behind in Redis.
    assert_eq!(strikes(&app, "4242").await, (0, false));
    assert_eq!(app.store.mailbox(&id("4242")).await.unwrap(), None);
}

/// A temporary PIN set by an admin, used via *98 from another phone: forced
/// set-up, with a refused PIN and its spoken reason, then the name with review.
#[tokio::test]
async fn temporary_pin_leads_to_forced_setup() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some(("864200", PinOrigin::Temporary)), false).await;
    let caller = from_outside(&app).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1001#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press("864200#").await;
    hear(&caller, "voiceportal/setup-required").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("111111#").await;
    hear(&caller, "voiceportal/pin-repeated-digit").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("123456#").await;
    hear(&caller, "voiceportal/pin-sequence").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("5").await;
    caller.press("#").await;
    hear(&caller, "voiceportal/pin-too-short").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("917355#").await;
    hear(&caller, "voiceportal/reenter-new-pin").await;
    caller.press("917355#").await;
    hear(&caller, "voiceportal/pin-changed").await;
    hear(&caller, "vm-rec-name").await;
    wait_beep(&caller).await;
    caller.speak(2.0).await;
    caller.press("#").await;
    hear(&caller, "vm-review").await;
    caller.press("1").await;
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;

    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(record.pin_origin, PinOrigin::User);
    assert!(!record.must_change);
    assert!(record.name_recorded);
    assert!(
        app.sim
            .stored_recordings()
            .contains(&"voiceportal/1001/name".to_string())
    );

    // The new PIN works; the temporary one no longer does.
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("917355#").await;
    hear(&caller, "vm-goodbye").await;
    assert!(!sounds(&caller).contains(&"setup-required".to_string()));
}

#[tokio::test]
async fn owner_with_pin_but_no_name_records_it() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), false).await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{PIN}#")).await;
    hear(&caller, "vm-rec-name").await;
    wait_beep(&caller).await;
    caller.speak(1.5).await;
    caller.press("#").await;
    hear(&caller, "vm-review").await;
    caller.press("1").await;
    hear(&caller, "vm-goodbye").await;
    assert!(!sounds(&caller).contains(&"setup-required".to_string()));
    assert!(
        app.store
            .mailbox(&id("1001"))
            .await
            .unwrap()
            .unwrap()
            .name_recorded
    );
}

#[tokio::test]
async fn no_pin_from_own_phone_goes_straight_to_setup() {
    let app = spawn_app().await;
    mailbox(&app, "1001", None, false).await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/setup-welcome").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("917355#").await;
    hear(&caller, "voiceportal/reenter-new-pin").await;
    caller.press("917355#").await;
    hear(&caller, "vm-rec-name").await;
    wait_beep(&caller).await;
    caller.speak(1.5).await;
    caller.press("#").await;
    hear(&caller, "vm-review").await;
    caller.press("1").await;
    hear(&caller, "voiceportal/setup-offer-greeting").await;
    caller.press("#").await;
    hear(&caller, "voiceportal/setup-complete").await;
    ended(&caller).await;
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(record.pin_origin, PinOrigin::User);

    // From outside, a mailbox with no PIN cannot be entered at all.
    mailbox(&app, "1002", None, false).await;
    let caller = from_outside(&app).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1002#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press("#").await;
    hear(&caller, "voiceportal/pin-incorrect").await;
}

async fn wait_beep(caller: &Caller) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if caller.heard().iter().any(|h| matches!(h, Heard::Beep)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no beep; heard {:?}", caller.heard());
}
