//! The first flow through the whole service: `Stasis(voiceportal,portal)` asks for a
//! mailbox and a PIN and says goodbye; bad entry points get an apology.

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
async fn portal_asks_mailbox_then_pin_then_says_goodbye() {
    let app = spawn_app().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("vm-login", WAIT).await;
    caller.press("1001#").await;
    caller.expect_sound("vm-password", WAIT).await;
    caller.press("1234#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert_eq!(caller.state(), "Up", "the call was answered");
    assert!(app.sim.live_channels().is_empty());
}

#[tokio::test]
async fn a_silent_caller_is_reprompted_then_dismissed() {
    let app = spawn_app_with_short_timers().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert_eq!(
        sounds(&caller.heard()),
        ["vm-login", "vm-login", "vm-login", "vm-goodbye"]
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
            ["an-error-has-occurred", "vm-goodbye"],
            "{args:?}"
        );
    }
}
