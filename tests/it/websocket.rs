//! The events websocket going away and coming back, and a restart of the service
//! while calls are in Stasis: nobody is left in silence, new calls work.

use ari_sim::{CallEnd, Dial, Drop as WsDrop};

use crate::support::app::{WAIT, spawn_app};

#[tokio::test]
async fn a_dropped_websocket_is_restored_and_calls_go_on() {
    let app = spawn_app().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;

    app.sim.drop_websocket(WsDrop::Abort).await;
    // While the socket is down, Stasis() fails at once (the phone gets 603).
    let refused = app.sim.dial(Dial::portal("1002")).await;
    if !app.sim.app_connected() {
        assert!(refused.stasis_failed());
    }
    assert!(app.sim.wait_app_connected(WAIT).await, "no reconnection");

    // The call that lived through the gap still works.
    caller.press("1001#").await;
    caller.expect_sound("voiceportal/enter-pin", WAIT).await;
    caller.press("1234#").await;
    caller.expect_sound("vm-goodbye", WAIT).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));

    // New calls work after the reconnection.
    let next = app.sim.dial(Dial::portal("1003")).await;
    assert!(!next.stasis_failed());
    next.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    next.hangup().await;
}

#[tokio::test]
async fn a_close_frame_drop_reconnects_too() {
    let app = spawn_app().await;
    app.sim.drop_websocket(WsDrop::CloseFrame).await;
    assert!(app.sim.wait_app_connected(WAIT).await, "no reconnection");
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    caller.hangup().await;
}

#[tokio::test]
async fn calls_orphaned_by_a_crash_hear_an_apology_after_restart() {
    let mut app = spawn_app().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;

    app.stop().await;
    app.start().await;

    // The restarted service finds the channel in its application with no task for
    // it: apology, then hang-up.
    caller.expect_sound("voiceportal/error", WAIT).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
    assert!(app.sim.live_channels().is_empty());
}

#[tokio::test]
async fn a_caller_who_hangs_up_during_the_gap_is_forgotten() {
    let app = spawn_app().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    app.sim.drop_websocket(WsDrop::Abort).await;
    // The hang-up events are lost with the socket.
    caller.hangup().await;
    assert!(app.sim.wait_app_connected(WAIT).await, "no reconnection");
    // Reconciliation tells the task its call is gone; it sends nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let after_hangup: Vec<_> = app
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains(&caller.channel_id()) && r.status == 404)
        .collect();
    assert!(after_hangup.len() <= 1, "{after_hangup:?}");
    let next = app.sim.dial(Dial::portal("1002")).await;
    next.expect_sound("voiceportal/enter-mailbox", WAIT).await;
}

/// SIGTERM: the call in progress goes on to its end, a new call hears an apology,
/// and the service stops once the last call is over.
#[tokio::test]
async fn shutdown_drains_calls_in_progress() {
    let mut app = crate::support::app::spawn_app_with(Default::default(), |c| {
        c.call.shutdown_grace = std::time::Duration::from_secs(30);
    })
    .await;
    let mut dial = Dial::portal("1001");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;

    app.request_shutdown();
    let late = app.sim.dial(Dial::portal("1002")).await;
    late.expect_sound("voiceportal/error", WAIT).await;
    assert!(matches!(
        late.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));

    // The first caller is still served.
    caller.press("1001#").await;
    caller.expect_sound("voiceportal/enter-pin", WAIT).await;
    caller.hangup().await;
    assert!(
        app.wait_stopped(WAIT).await,
        "the service did not stop after its last call"
    );
}

/// Calls still there at the end of the grace period hear an apology.
#[tokio::test]
async fn shutdown_grace_ends_with_an_apology() {
    let mut app = crate::support::app::spawn_app_with(Default::default(), |c| {
        c.call.shutdown_grace = std::time::Duration::from_millis(300);
    })
    .await;
    let mut dial = Dial::portal("1001");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    app.request_shutdown();
    assert!(app.wait_stopped(WAIT).await);
    caller.expect_sound("voiceportal/error", WAIT).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));
}

/// A caller who hangs up during the recording while the service is stopping
/// still has the message saved before the service exits: the stop waits for the
/// call's work, not just for its channel.
#[tokio::test]
async fn shutdown_waits_for_a_message_to_be_saved() {
    use voiceportal::store::mailboxes::PinOrigin;
    use voiceportal::store::messages::Folder;

    let mut app = crate::support::app::spawn_app().await;
    crate::support::fixtures::provision(&app, "1001", Some(("135790", PinOrigin::User)), false)
        .await;
    let mut dial = Dial::new(&["deposit", "1001", "NOANSWER"], "0612345678");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    loop {
        match caller.next_heard(WAIT).await {
            Some(ari_sim::Heard::Beep) => break,
            Some(_) => continue,
            None => panic!("no beep: {:?}", caller.heard()),
        }
    }
    caller.speak(2.0).await;
    app.request_shutdown();
    caller.hangup().await;
    assert!(app.wait_stopped(WAIT).await, "the service did not stop");
    let saved = app
        .store
        .messages(&crate::support::fixtures::id("1001"), Folder::New)
        .await
        .unwrap();
    assert_eq!(saved.len(), 1, "the message was lost in the stop");
}

/// The end of a prompt lost in a websocket gap: after reconnecting, the call asks
/// Asterisk whether its playback is over instead of waiting for an event that
/// will never come, and goes on.
#[tokio::test]
async fn a_prompt_end_lost_in_a_gap_is_recovered() {
    let mut sim = ari_sim::SimConfig::default();
    sim.sound_lengths
        .insert("voiceportal/enter-mailbox".into(), 0.2);
    let app = crate::support::app::spawn_app_with(sim, |c| {
        c.ari.reconnect_min = std::time::Duration::from_millis(300);
        c.ari.reconnect_max = std::time::Duration::from_millis(300);
        c.call.prompt_timeout = std::time::Duration::from_secs(30);
    })
    .await;
    let mut dial = Dial::portal("1001");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    app.sim.drop_websocket(WsDrop::Abort).await;
    assert!(app.sim.wait_app_connected(WAIT).await, "no reconnection");
    // Without the check the call would sit for `prompt_timeout` (30 s); with it,
    // the first-digit timer runs out and the prompt is repeated well before.
    caller.expect_sound("voiceportal/enter-mailbox", WAIT).await;
    assert!(
        app.sim
            .request_log()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("/playbacks/")),
        "the call never checked its playback after the gap"
    );
    caller.hangup().await;
}
