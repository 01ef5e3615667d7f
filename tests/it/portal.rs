//! Portal login, lockout and first use, as SPEC.md tells them, through the whole
//! service against the simulator and a real Redis.

use ari_sim::{CallEnd, Caller, Dial, Heard};
use voiceportal::domain::{Pin, PinHasher};
use voiceportal::store::lockout::LockSubject;
use voiceportal::store::mailboxes::PinOrigin;

use crate::support::app::{TestApp, WAIT, spawn_app};
use crate::support::fixtures::{id, provision as mailbox};
use crate::support::wait_beep;

const PIN: &str = "135790";

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

/// The new-PIN prompt, the PIN twice, and its acceptance.
async fn choose_pin(caller: &Caller, pin: &str) {
    hear(caller, "voiceportal/enter-new-pin").await;
    caller.press(&format!("{pin}#")).await;
    hear(caller, "voiceportal/reenter-new-pin").await;
    caller.press(&format!("{pin}#")).await;
    hear(caller, "voiceportal/pin-changed").await;
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
    // The unknown number collects strikes exactly like the real one, so its lock
    // gives nothing away either; no mailbox is created.
    assert_eq!(strikes(&app, "1001").await, (3, false));
    assert_eq!(strikes(&app, "4242").await, (3, false));
    assert_eq!(app.store.mailbox(&id("4242")).await.unwrap(), None);
    let mut locked = Vec::new();
    for number in ["1001", "4242"] {
        let caller = from_outside(&app).await;
        hear(&caller, "voiceportal/enter-mailbox").await;
        caller.press(&format!("{number}#")).await;
        hear(&caller, "voiceportal/enter-pin").await;
        caller.press("246802#").await;
        hear(&caller, "voiceportal/pin-locked").await;
        ended(&caller).await;
        locked.push(sounds(&caller));
    }
    assert_eq!(locked[0], locked[1]);
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
    // The temporary PIN itself cannot be kept as the new one.
    caller.press("864200#").await;
    hear(&caller, "voiceportal/pin-recent").await;
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
    choose_pin(&caller, "917355").await;
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
    choose_pin(&caller, "917355").await;
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

/// Twenty callers guess at one mailbox at the same time: the lock holds, and no
/// more than `max_failed_attempts` PINs are ever verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_guessers_get_at_most_four_verifications() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let guesses = (0..20).map(|n| {
        let app = &app;
        async move {
            let caller = from_outside(app).await;
            hear(&caller, "voiceportal/enter-mailbox").await;
            caller.press("1001#").await;
            hear(&caller, "voiceportal/enter-pin").await;
            caller.press(&format!("{:06}#", 200_000 + n)).await;
            caller.wait_end(WAIT * 3).await;
            sounds(&caller)
        }
    });
    let heard = futures_util::future::join_all(guesses).await;
    assert!(
        app.verifications() <= 4,
        "{} verifications",
        app.verifications()
    );
    assert_eq!(strikes(&app, "1001").await, (4, true));
    let locked = heard
        .iter()
        .filter(|s| s.contains(&"pin-locked".to_string()))
        .count();
    assert!(locked >= 1, "{heard:?}");
}

/// Two service instances (each with its own Asterisk) share one Redis: strikes
/// add up across them, and together they verify at most four PINs.
#[tokio::test]
async fn two_instances_share_strikes_and_the_lock() {
    let first = spawn_app().await;
    let second = crate::support::app::spawn_second_instance(&first).await;
    mailbox(&first, "1001", Some((PIN, PinOrigin::User)), true).await;
    for (n, app) in [&first, &second, &first, &second].into_iter().enumerate() {
        let caller = from_own_phone(app, "1001").await;
        hear(&caller, "voiceportal/enter-pin-or-star").await;
        caller.press("246802#").await;
        let expected = if n == 3 {
            "voiceportal/pin-locked"
        } else {
            "voiceportal/pin-incorrect"
        };
        hear(&caller, expected).await;
        caller.hangup().await;
    }
    let caller = from_own_phone(&second, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press(&format!("{PIN}#")).await;
    hear(&caller, "voiceportal/pin-locked").await;
    assert_eq!(first.verifications() + second.verifications(), 4);
    assert_eq!(strikes(&first, "1001").await, (4, true));
}

#[tokio::test]
async fn strikes_survive_a_service_restart() {
    let mut app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    let caller = from_own_phone(&app, "1001").await;
    for _ in 0..3 {
        hear(&caller, "voiceportal/enter-pin-or-star").await;
        caller.press("246802#").await;
        hear(&caller, "voiceportal/pin-incorrect").await;
    }
    ended(&caller).await;
    app.stop().await;
    app.start().await;
    assert_eq!(strikes(&app, "1001").await, (3, false));
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("246802#").await;
    hear(&caller, "voiceportal/pin-locked").await;
    assert_eq!(strikes(&app, "1001").await, (4, true));
}

async fn set_passcode(app: &TestApp, passcode: &str) {
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let hash = hasher.hash(&Pin::parse(passcode).unwrap()).unwrap();
    app.store.set_portal_passcode_hash(&hash).await.unwrap();
}

/// The portal's own number leads to the admin passcode and the greetings menu:
/// record greeting 1 (with review), listen to it, and the attendant entry point
/// plays it and hands the caller's key back to the dialplan.
#[tokio::test]
async fn admin_passcode_path_and_attendant() {
    let app = spawn_app().await;
    set_passcode(&app, "80241357").await;
    let caller = from_outside(&app).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller
        .press(&format!("{}#", app.config.portal.number))
        .await;
    hear(&caller, "voiceportal/enter-admin-passcode").await;
    caller.press("80241357#").await;
    hear(&caller, "voiceportal/enter-greeting-number").await;
    caller.press("1#").await;
    hear(&caller, "voiceportal/greeting-menu").await;
    caller.press("2").await;
    hear(&caller, "voiceportal/no-greeting").await;
    hear(&caller, "voiceportal/greeting-menu").await;
    caller.press("1").await;
    hear(&caller, "voiceportal/record-greeting").await;
    wait_beep(&caller).await;
    caller.speak(3.0).await;
    caller.press("#").await;
    hear(&caller, "vm-review").await;
    caller.press("1").await;
    hear(&caller, "voiceportal/greeting-menu").await;
    caller.press("#").await;
    hear(&caller, "vm-goodbye").await;
    ended(&caller).await;
    assert!(
        app.sim
            .stored_recordings()
            .contains(&"voiceportal/attendant/1".to_string())
    );

    let visitor = app
        .sim
        .dial(Dial::new(&["attendant", "1"], "0612345678"))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !visitor
        .heard()
        .iter()
        .any(|h| matches!(h, Heard::Recording { .. }))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "greeting not played"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    visitor.press("3").await;
    let end = visitor.wait_end(WAIT).await;
    assert!(matches!(end, Some(CallEnd::Continued { .. })), "{end:?}");
    assert_eq!(
        visitor.variables().get("VP_DIGIT").map(String::as_str),
        Some("3")
    );
}

#[tokio::test]
async fn attendant_without_greeting_apologises_and_continues() {
    let app = spawn_app().await;
    let visitor = app
        .sim
        .dial(Dial::new(&["attendant", "7"], "0612345678"))
        .await;
    hear(&visitor, "voiceportal/error").await;
    let end = visitor.wait_end(WAIT).await;
    assert!(matches!(end, Some(CallEnd::Continued { .. })), "{end:?}");
    assert_eq!(
        visitor.variables().get("VP_DIGIT").map(String::as_str),
        Some("")
    );
}

/// The admin passcode is no PIN: typed at a user's PIN prompt it is a wrong PIN,
/// and wrong passcodes lock the admin side on their own.
#[tokio::test]
async fn admin_passcode_is_a_wrong_pin_and_has_its_own_lock() {
    let app = spawn_app().await;
    mailbox(&app, "1001", Some((PIN, PinOrigin::User)), true).await;
    set_passcode(&app, "80241357").await;
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("80241357#").await;
    hear(&caller, "voiceportal/pin-incorrect").await;
    caller.hangup().await;
    assert_eq!(strikes(&app, "1001").await, (1, false));

    for call in 0..2 {
        let caller = from_outside(&app).await;
        hear(&caller, "voiceportal/enter-mailbox").await;
        caller
            .press(&format!("{}#", app.config.portal.number))
            .await;
        let attempts = if call == 0 { 3 } else { 1 };
        for attempt in 0..attempts {
            hear(&caller, "voiceportal/enter-admin-passcode").await;
            caller.press("11112222#").await;
            let expected = if call == 1 && attempt == 0 {
                "voiceportal/pin-locked"
            } else {
                "voiceportal/passcode-incorrect"
            };
            hear(&caller, expected).await;
        }
        ended(&caller).await;
    }
    let status = app
        .store
        .lock_status(&LockSubject::PortalPasscode)
        .await
        .unwrap();
    assert!(status.locked);
    // The mailbox's own strikes were not touched by the passcode guesses.
    assert_eq!(strikes(&app, "1001").await, (1, false));
}

/// A whole session with known PINs, at the most verbose log level: neither the
/// old PIN nor the new one appears anywhere in what the service logged.
#[tokio::test]
async fn pins_never_reach_the_logs() {
    crate::support::logs::start_capture();
    let app = spawn_app().await;
    mailbox(&app, "1001", Some(("583920", PinOrigin::Temporary)), true).await;
    let caller = from_outside(&app).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.press("1001#").await;
    hear(&caller, "voiceportal/enter-pin").await;
    caller.press("583920#").await;
    choose_pin(&caller, "749261").await;
    caller.hangup().await;
    ended_or_gone(&caller).await;

    let logs = crate::support::logs::captured();
    assert!(logs.contains("login"), "nothing was captured: {logs}");
    for secret in ["583920", "749261", "test-pepper"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    assert!(!logs.contains("$argon2"), "a hash leaked into the logs");
}

async fn ended_or_gone(caller: &Caller) {
    assert!(caller.wait_end(WAIT).await.is_some());
}

/// A locked mailbox, an admin reset to the org default PIN, then the owner's
/// forced set-up, where the default PIN itself is refused as the new PIN.
#[tokio::test]
async fn admin_reset_then_forced_setup_from_the_default_pin() {
    use voiceportal::admin::{Admin, MailboxFields};
    let app = spawn_app().await;
    let admin = Admin::new(&app.config, app.store.clone()).unwrap();
    admin
        .set_default_pin("tester", Some(Pin::parse("407719").unwrap()))
        .await
        .unwrap();
    admin
        .create_mailbox("tester", "1001", &MailboxFields::default())
        .await
        .unwrap();
    // Lock it with four wrong PINs.
    for _ in 0..2 {
        let caller = from_own_phone(&app, "1001").await;
        for _ in 0..2 {
            hear(&caller, "voiceportal/enter-pin-or-star").await;
            caller.press("246802#").await;
        }
        caller.hangup().await;
    }
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("407719#").await;
    hear(&caller, "voiceportal/pin-locked").await;

    admin.reset_pin("tester", "1001", None).await.unwrap();
    assert_eq!(strikes(&app, "1001").await, (0, false));
    let caller = from_own_phone(&app, "1001").await;
    hear(&caller, "voiceportal/enter-pin-or-star").await;
    caller.press("407719#").await;
    hear(&caller, "voiceportal/setup-required").await;
    hear(&caller, "voiceportal/enter-new-pin").await;
    caller.press("407719#").await;
    hear(&caller, "voiceportal/pin-not-allowed").await;
    choose_pin(&caller, "917355").await;
    hear(&caller, "vm-rec-name").await;
    caller.hangup().await;
    let record = app.store.mailbox(&id("1001")).await.unwrap().unwrap();
    assert_eq!(
        (record.pin_origin, record.must_change),
        (PinOrigin::User, false)
    );
}

/// A call running in a trusted context but not on the phone's own channel (sent
/// there by the dialplan, caller ID forged) is not "your own phone": it cannot
/// set up a mailbox that has no PIN.
#[tokio::test]
async fn own_phone_needs_the_phones_own_channel() {
    let app = spawn_app().await;
    mailbox(&app, "1001", None, false).await;
    let mut dial = Dial::portal("1001");
    dial.kind = ari_sim::ChannelKind::Local;
    let caller = app.sim.dial(dial).await;
    hear(&caller, "voiceportal/enter-mailbox").await;
    caller.hangup().await;
    assert!(!sounds(&caller).contains(&"setup-welcome".to_string()));
}
