//! The virtual receptionist, as SPEC.md tells it: the company greeting (stock
//! until recorded), an extension typed and the call continuing in the dialplan,
//! one-key options, the operator, unknown extensions, silence, per-greeting
//! settings, malformed configuration; and the whole path of a caller from
//! outside: receptionist, the extension rings unanswered, the greeting, `*`, PIN,
//! mailbox menu.

use std::time::Duration;

use ari_sim::{CallEnd, Caller, Dial, Heard, SimConfig};
use voiceportal::config::Config;
use voiceportal::domain::receptionist::{Destination, GreetingConfig};
use voiceportal::domain::{Pin, PinHasher};
use voiceportal::store::mailboxes::PinOrigin;

use crate::support::app::{TestApp, WAIT, spawn_app_with};
use crate::support::fixtures::provision;
use crate::support::{voiceportal_command, wait_beep};

fn dest(context: &str, extension: &str) -> Destination {
    Destination {
        context: context.into(),
        extension: extension.into(),
        priority: 1,
    }
}

/// Options 1 (sales) and 9 (support), `0` the operator, 2000 a listed extension,
/// greeting 2 with its own context and no options.
fn office(config: &mut Config) {
    let receptionist = &mut config.receptionist;
    receptionist.operator = Some(dest("operator", "s"));
    receptionist.extensions = vec!["2000".into()];
    receptionist.options.insert("1".into(), dest("sales", "s"));
    receptionist
        .options
        .insert("9".into(), dest("support", "s"));
    receptionist.greetings.insert(
        "2".into(),
        GreetingConfig {
            extension_context: Some("night-extensions".into()),
            options: Some(Default::default()),
            ..GreetingConfig::default()
        },
    );
}

/// The office with mailboxes 1001 and 1002.
async fn office_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(SimConfig::default(), |c| {
        office(c);
        tweak(c);
    })
    .await;
    for number in ["1001", "1002"] {
        provision(&app, number, Some(("135790", PinOrigin::User)), true).await;
    }
    app
}

/// A caller from outside reaching the receptionist.
async fn call(app: &TestApp, args: &[&str]) -> Caller {
    let mut dial = Dial::new(args, "0612345678");
    dial.context = "from-outside".into();
    dial.exten = "8000".into();
    app.sim.dial(dial).await
}

fn label(heard: &Heard) -> String {
    match heard {
        Heard::Sound { name, .. } => name.trim_start_matches("voiceportal/").to_owned(),
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

/// Waits, in order, for the next item labelled `what`.
async fn hear(caller: &Caller, what: &str) {
    loop {
        match caller.next_heard(WAIT).await {
            Some(h) if label(&h) == what => return,
            Some(_) => {}
            None => panic!("never heard {what}; heard {:?}", heard(caller)),
        }
    }
}

/// The call left Stasis for `context`,`exten`,1.
async fn continued_to(caller: &Caller, context: &str, exten: &str) {
    let end = caller.wait_end(WAIT).await;
    assert_eq!(
        end,
        Some(CallEnd::Continued {
            context: context.into(),
            exten: exten.into(),
            priority: 1
        }),
        "heard {:?}",
        heard(caller)
    );
}

async fn hung_up_by_app(caller: &Caller) {
    let end = caller.wait_end(WAIT).await;
    assert!(
        matches!(end, Some(CallEnd::HungUpByApp { .. })),
        "{end:?}; heard {:?}",
        heard(caller)
    );
}

#[tokio::test]
async fn stock_greeting_then_a_typed_extension_rings_in_the_dialplan() {
    let app = office_app(|_| {}).await;
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    hear(&caller, "receptionist-operator").await;
    // 1 is also an option, but 1001 starts with it: the receptionist waits for
    // more, and 1001 is complete the moment it is typed (no # needed).
    caller.press("1001").await;
    hear(&caller, "pls-hold-while-try").await;
    continued_to(&caller, "receptionist-extensions", "1001").await;

    // A listed extension, ended with #.
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("2000#").await;
    continued_to(&caller, "receptionist-extensions", "2000").await;
}

#[tokio::test]
async fn one_key_options_and_the_operator() {
    let app = office_app(|_| {}).await;
    // No extension starts with 9: it acts at once.
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("9").await;
    hear(&caller, "pls-hold-while-try").await;
    continued_to(&caller, "support", "s").await;

    // 1 could start 1001: it is the option once # confirms it...
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("1#").await;
    continued_to(&caller, "sales", "s").await;

    // ... or once the caller stops typing.
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("1").await;
    continued_to(&caller, "sales", "s").await;

    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("0").await;
    hear(&caller, "pls-hold-while-try").await;
    continued_to(&caller, "operator", "s").await;
}

#[tokio::test]
async fn unknown_extension_is_said_and_asked_again_three_times_then_the_operator() {
    let app = office_app(|_| {}).await;
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("1999#").await;
    hear(&caller, "no-such-extension").await;
    hear(&caller, "receptionist-welcome").await;
    // A mistake, then the right extension on the second try.
    caller.press("1002").await;
    continued_to(&caller, "receptionist-extensions", "1002").await;

    let caller = call(&app, &["receptionist"]).await;
    for _ in 0..3 {
        hear(&caller, "receptionist-welcome").await;
        caller.press("55#").await;
        hear(&caller, "no-such-extension").await;
    }
    hear(&caller, "pls-hold-while-try").await;
    continued_to(&caller, "operator", "s").await;
    let said = heard(&caller)
        .iter()
        .filter(|h| *h == "no-such-extension")
        .count();
    assert_eq!(said, 3, "{:?}", heard(&caller));
}

#[tokio::test]
async fn without_an_operator_unknown_extensions_and_0_end_with_goodbye() {
    let app = office_app(|c| c.receptionist.operator = None).await;
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    for _ in 0..3 {
        caller.press("0#").await;
        hear(&caller, "no-such-extension").await;
    }
    hear(&caller, "vm-goodbye").await;
    hung_up_by_app(&caller).await;
    assert!(!heard(&caller).contains(&"receptionist-operator".to_string()));
}

#[tokio::test]
async fn silence_is_reprompted_then_the_operator_or_goodbye() {
    let short = |c: &mut Config| c.call.first_digit_timeout = Duration::from_millis(200);
    let app = office_app(short).await;
    let caller = call(&app, &["receptionist"]).await;
    continued_to(&caller, "operator", "s").await;
    let welcomes = heard(&caller)
        .iter()
        .filter(|h| *h == "receptionist-welcome")
        .count();
    assert_eq!(welcomes, 3, "{:?}", heard(&caller));

    let app = office_app(|c| {
        short(c);
        c.receptionist.operator = None;
    })
    .await;
    let caller = call(&app, &["receptionist"]).await;
    hung_up_by_app(&caller).await;
    assert_eq!(
        heard(&caller),
        [
            "receptionist-welcome",
            "no-input",
            "receptionist-welcome",
            "no-input",
            "receptionist-welcome",
            "vm-goodbye"
        ]
    );
}

#[tokio::test]
async fn recorded_greeting_and_per_greeting_settings() {
    let app = office_app(|_| {}).await;
    app.sim.put_stored_recording("voiceportal/attendant/1", 6.0);
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "recording:voiceportal/attendant/1").await;
    caller.press("1001").await;
    continued_to(&caller, "receptionist-extensions", "1001").await;
    assert!(!heard(&caller).contains(&"receptionist-welcome".to_string()));

    // Greeting 2: its own context, no options (9 is an unknown extension there),
    // the operator inherited.
    let caller = call(&app, &["receptionist", "2"]).await;
    hear(&caller, "receptionist-welcome").await;
    hear(&caller, "receptionist-operator").await;
    caller.press("9#").await;
    hear(&caller, "no-such-extension").await;
    caller.press("1001").await;
    continued_to(&caller, "night-extensions", "1001").await;
}

/// A receptionist configuration that is wrong stops the service before the first
/// call, naming the key; wrong Stasis arguments get an apology, never silence.
#[tokio::test]
async fn malformed_configuration_is_refused_and_malformed_arguments_apologise() {
    let dir = std::env::temp_dir().join(format!("vp-receptionist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, expected) in [
        (
            "[receptionist.options]\n\"12\" = { context = \"sales\", extension = \"s\" }\n",
            "receptionist`: options: key \"12\"",
        ),
        (
            "[receptionist.options]\n\"0\" = { context = \"x\", extension = \"s\" }\n",
            "operator",
        ),
        (
            "[receptionist]\nextensions = [\"12a\"]\n",
            "receptionist`: extensions",
        ),
        (
            "[receptionist.greetings.main]\nextension_context = \"x\"\n",
            "greetings.main",
        ),
        (
            "[receptionist]\noperator = { context = \"op\" }\n",
            "extension",
        ),
        ("[receptionist]\nno_such_key = 1\n", "no_such_key"),
    ] {
        let path = dir.join("bad.toml");
        std::fs::write(&path, file).unwrap();
        let out = voiceportal_command()
            .arg("--config")
            .arg(&path)
            .arg("check-config")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was accepted");
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let app = office_app(|_| {}).await;
    for args in [
        vec!["receptionist", "main"],
        vec!["receptionist", "12345"],
        vec!["receptionist", "1", "2"],
    ] {
        let caller = call(&app, &args).await;
        hung_up_by_app(&caller).await;
        assert_eq!(heard(&caller), ["error", "vm-goodbye"], "{args:?}");
    }
}

/// `#` alone at the portal's greeting number is the company greeting; listening
/// to it before it is recorded plays what callers hear meanwhile; once recorded,
/// the receptionist plays it.
#[tokio::test]
async fn the_company_greeting_is_recorded_through_the_portal() {
    let app = office_app(|_| {}).await;
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash).unwrap();
    let hash = hasher.hash(&Pin::parse("80241357").unwrap()).unwrap();
    app.store.set_portal_passcode_hash(&hash).await.unwrap();

    let admin = call(&app, &["portal"]).await;
    hear(&admin, "enter-mailbox").await;
    admin.press(&format!("{}#", app.config.portal.number)).await;
    hear(&admin, "enter-admin-passcode").await;
    admin.press("80241357#").await;
    hear(&admin, "enter-greeting-number").await;
    admin.press("#").await;
    hear(&admin, "greeting").await;
    hear(&admin, "number:1").await;
    hear(&admin, "greeting-menu").await;
    admin.press("2").await;
    hear(&admin, "no-greeting").await;
    hear(&admin, "standard-greeting-plays").await;
    hear(&admin, "receptionist-welcome").await;
    hear(&admin, "receptionist-operator").await;
    hear(&admin, "greeting-menu").await;
    admin.press("1").await;
    hear(&admin, "record-greeting").await;
    wait_beep(&admin).await;
    admin.speak(4.0).await;
    admin.press("#").await;
    hear(&admin, "vm-review").await;
    admin.press("1").await;
    hear(&admin, "greeting-menu").await;
    admin.press("#").await;
    hung_up_by_app(&admin).await;

    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "recording:voiceportal/attendant/1").await;
    caller.hangup().await;
}

/// SPEC's way for an owner to listen "from any phone": call the company number,
/// type the own extension, let it ring unanswered, press `*` during the
/// greeting, PIN, mailbox menu.
#[tokio::test]
async fn from_outside_receptionist_extension_no_answer_star_pin_menu() {
    let app = office_app(|_| {}).await;
    // The dialplan of receptionist-extensions: Dial() unanswered, then deposit
    // with DIALSTATUS (what asterisk/extensions.conf does).
    app.sim.add_route(
        "receptionist-extensions",
        "1001",
        &["deposit", "1001", "NOANSWER"],
    );
    let caller = call(&app, &["receptionist"]).await;
    hear(&caller, "receptionist-welcome").await;
    caller.press("1001").await;
    hear(&caller, "pls-hold-while-try").await;
    hear(&caller, "vm-isunavail").await;
    caller.press("*").await;
    hear(&caller, "enter-pin").await;
    caller.press("135790#").await;
    hear(&caller, "vm-youhave").await;
    caller.hangup().await;
    let record = app
        .store
        .mailbox(&crate::support::fixtures::id("1001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.pin_origin, PinOrigin::User);
}
