//! Entry points: a silent caller is dismissed politely; bad Stasis arguments get an
//! apology, never silence.

use ari_sim::{CallEnd, Dial, Heard};

use crate::support::app::{WAIT, spawn_app};

fn sounds(heard: &[Heard]) -> Vec<String> {
    heard
        .iter()
        .filter_map(|h| match h {
            Heard::Sound { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_silent_caller_is_reprompted_then_dismissed() {
    let app = spawn_app_with_short_timers().await;
    let mut dial = Dial::portal("1001");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert_eq!(
        sounds(&caller.heard()),
        [
            "voiceportal/enter-mailbox",
            "voiceportal/no-input",
            "voiceportal/enter-mailbox",
            "voiceportal/no-input",
            "voiceportal/enter-mailbox",
            "vm-goodbye"
        ]
    );
}

async fn spawn_app_with_short_timers() -> crate::support::app::TestApp {
    crate::support::app::spawn_app_with(Default::default(), |c| {
        c.call.first_digit_timeout = std::time::Duration::from_millis(200);
    })
    .await
}

#[tokio::test]
async fn bad_stasis_arguments_get_an_apology_not_silence() {
    let app = spawn_app().await;
    for args in [
        vec!["dance"],
        vec![],
        vec!["deposit", "10x1"],
        vec!["login"],
    ] {
        let caller = app.sim.dial(Dial::new(&args, "1001")).await;
        assert!(
            matches!(
                caller.wait_end(WAIT).await,
                Some(CallEnd::HungUpByApp { .. })
            ),
            "{args:?}"
        );
        assert_eq!(
            sounds(&caller.heard()),
            ["voiceportal/error", "vm-goodbye"],
            "{args:?}"
        );
    }
}

/// Issue 10, item 9: a StasisStart missing a field the service does not use is
/// still a call: the caller is served, not left waiting in silence.
#[tokio::test]
async fn a_stasis_start_missing_an_unused_field_is_served() {
    let app = spawn_app().await;
    let mut dial = Dial::portal("0612345678");
    dial.context = "from-outside".into();
    let caller = app
        .sim
        .dial_with_start_edit(dial, |event| {
            if let Some(object) = event.as_object_mut() {
                object.remove("timestamp");
            }
            if let Some(channel) = event.get_mut("channel").and_then(|c| c.as_object_mut()) {
                channel.remove("creationtime");
                channel.insert("caller".into(), serde_json::json!("garbled"));
            }
        })
        .await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    caller.hangup().await;
}

/// Item 9: one whose arguments cannot be read still gets a call task: the
/// apology, then the hang-up.
#[tokio::test]
async fn a_stasis_start_with_unreadable_arguments_gets_an_apology() {
    let app = spawn_app().await;
    let caller = app
        .sim
        .dial_with_start_edit(Dial::portal("1001"), |event| {
            if let Some(object) = event.as_object_mut() {
                object.insert("args".into(), serde_json::json!({"not": "a list"}));
            }
        })
        .await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert_eq!(sounds(&caller.heard()), ["voiceportal/error", "vm-goodbye"]);
}
