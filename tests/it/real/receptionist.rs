//! The company number: the virtual receptionist rings the extension typed, and
//! after no answer the owner presses `*` during their own greeting to log in, as
//! an owner calling in from outside does.

use std::time::Duration;

use voiceportal::store::mailboxes::PinOrigin;

use super::Stack;
use super::pbx::Heard;
use super::phones::WAIT;

const PIN: &str = "482913";

#[tokio::test]
async fn receptionist_rings_the_extension_then_star_at_the_greeting_logs_the_owner_in() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    let rings_from = stack.phones.events.len();
    let call = stack.phones.dial("1002", "8000").await;
    let mut heard = Heard::of(&stack.observer, &call).await;
    heard.prompt("sound:voiceportal/receptionist-welcome").await;
    call.press("1001").await;
    heard.prompt("sound:pls-hold-while-try").await;
    // Alice's phone rings; nobody answers it for the dialplan's 20 s.
    stack.phones.ringing(rings_from, "1001").await;
    heard
        .prompt_within("sound:vm-isunavail", Duration::from_secs(40))
        .await;
    call.press("*").await;
    heard.prompt("sound:voiceportal/enter-pin").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    stack.assert_no_missing_sounds();
}
