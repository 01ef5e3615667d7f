//! What a caller hears when a part goes away: voiceportal killed in the middle of
//! a call, voiceportal not running at all, Asterisk restarted under the service.

use voiceportal::store::mailboxes::PinOrigin;

use super::Stack;
use super::pbx::Observer;
use super::phones::{Phones, WAIT};

const PIN: &str = "482913";

#[tokio::test]
async fn a_call_held_by_a_killed_service_hears_the_apology_after_restart() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    let (call, mut heard) = stack.call_portal("1001").await;
    stack.kill_service();
    stack.start_service().await;
    heard.prompt("sound:voiceportal/error").await;
    assert!(
        call.wait_hung_up(WAIT).await,
        "the orphaned call was not hung up"
    );

    // The restarted service takes the next call as usual.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.hang_up().await;
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn with_the_service_down_the_dialplan_apologises() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack.kill_service();

    let log_before = stack.pbx.log().len();
    let call = stack.phones.dial("1001", "*98").await;
    assert!(
        call.wait_hung_up(WAIT).await,
        "the caller was left on a dead line"
    );
    let log = stack.pbx.log();
    let since = &log[log_before.min(log.len())..];
    assert!(
        since.contains("Playing 'voiceportal/error"),
        "the dialplan did not play the apology:\n{since}"
    );
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn after_an_asterisk_restart_the_service_reconnects_and_the_next_call_works() {
    let Some(mut stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    let connections = stack.service_connections();
    stack.pbx.stop().await;
    stack.pbx.start().await;
    stack.wait_service_connected(connections).await;
    // The test's own observer lost its socket with the old Asterisk, and the phones
    // register again.
    stack.observer = Observer::connect(&stack.pbx.ari()).await;
    Phones::wait_registered(&stack.pbx.ari(), &["1001"]).await;

    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    stack.assert_no_missing_sounds();
}
