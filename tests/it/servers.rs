//! Several Asterisk servers, each with its own voiceportal, sharing one Redis
//! (docs/SCALING.md): a lamp changed through one server is set on the others.
//! Strikes and the lock shared across instances are in `portal.rs`; the real
//! two-Asterisk test, with a shared recordings folder, is `real::servers`.

use std::time::Duration;

use ari_sim::{Dial, Heard};
use voiceportal::store::mailboxes::PinOrigin;

use crate::support::app::{
    TestApp, WAIT, spawn_app, spawn_second_instance, spawn_second_instance_behind_proxy,
};
use crate::support::fixtures::provision;

/// Someone leaves a 2-second message for `number` through `app`'s Asterisk.
async fn leave_message(app: &TestApp, number: &str) {
    let mut dial = Dial::new(&["deposit", number, "NOANSWER"], "0612345678");
    dial.context = "from-outside".into();
    let caller = app.sim.dial(dial).await;
    loop {
        match caller.next_heard(WAIT).await {
            Some(Heard::Beep) => break,
            Some(_) => {}
            None => panic!("no beep; heard {:?}", caller.heard()),
        }
    }
    caller.speak(2.0).await;
    caller.press("#").await;
    caller.expect_sound("vm-review", WAIT).await;
    caller.press("1").await;
    caller.expect_sound("vm-msgsaved", WAIT).await;
}

/// Waits until `app`'s Asterisk shows `counts` (old, new) for `name`.
async fn wait_lamp(app: &TestApp, name: &str, counts: (u32, u32)) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.sim.mailbox(name) != Some(counts) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} shows {:?}, not {counts:?}",
            app.sim.mailbox(name)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_message_left_through_one_server_lights_the_lamp_on_every_server() {
    let first = spawn_app().await;
    let second = spawn_second_instance(&first).await;
    provision(&first, "1001", Some(("135790", PinOrigin::User)), false).await;

    leave_message(&first, "1001").await;
    wait_lamp(&first, "1001@default", (0, 1)).await;
    wait_lamp(&second, "1001@default", (0, 1)).await;

    leave_message(&second, "1001").await;
    wait_lamp(&second, "1001@default", (0, 2)).await;
    wait_lamp(&first, "1001@default", (0, 2)).await;
}

#[tokio::test]
async fn a_server_that_lost_redis_republishes_the_lamps_it_missed() {
    let first = spawn_app().await;
    let (second, proxy) = spawn_second_instance_behind_proxy(&first).await;
    provision(&first, "1001", Some(("135790", PinOrigin::User)), false).await;

    // The second service cannot reach Redis while a message arrives through the
    // first: its lamp is put right once Redis answers again.
    proxy.take_down();
    leave_message(&first, "1001").await;
    wait_lamp(&first, "1001@default", (0, 1)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(second.sim.mailbox("1001@default"), None);
    proxy.resume();
    wait_lamp(&second, "1001@default", (0, 1)).await;
}
