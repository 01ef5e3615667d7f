//! What a person does with a phone: log in from their own phone, get locked out
//! and reset, set up a temporary PIN from another phone, leave a message and
//! listen to it with the lamp going on and off, and hear French prompts.

use std::time::Duration;

use voiceportal::domain::MailboxId;
use voiceportal::store::mailboxes::PinOrigin;

use super::pbx::Heard;
use super::phones::WAIT;
use super::{Stack, rms};

const PIN: &str = "482913";

#[tokio::test]
async fn own_phone_login_reaches_the_menu() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    heard.prompt("sound:vm-no").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await, "the portal did not hang up");
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn four_wrong_pins_over_two_calls_lock_until_an_admin_resets() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    // First call: three wrong PINs, then goodbye.
    let call = stack.phones.dial("1001", "*98").await;
    let mut heard = Heard::of(&stack.observer, &call).await;
    for _ in 0..3 {
        heard.prompt("sound:voiceportal/enter-pin-or-star").await;
        call.press("111111#").await;
        heard.prompt("sound:voiceportal/pin-incorrect").await;
    }
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);

    // Second call: the fourth wrong PIN locks.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press("222222#").await;
    heard.prompt("sound:voiceportal/pin-locked").await;
    assert!(call.wait_hung_up(WAIT).await);

    // Locked: even the right PIN hears the lock.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:voiceportal/pin-locked").await;
    assert!(call.wait_hung_up(WAIT).await);

    // The administrator resets the PIN to a temporary one; the owner logs in with
    // it and must choose a new PIN.
    stack.admin(&["reset-pin", "1001", "--temporary"], "735194\n");
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press("735194#").await;
    heard.prompt("sound:voiceportal/setup-required").await;
    call.hang_up().await;
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn temporary_pin_from_another_phone_goes_through_forced_set_up() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack.mailbox("1001", "en", None, false).await;
    stack.admin(&["set-temp-pin", "1001"], "735194\n");

    // Bob's phone (1002, no mailbox of its own) dials *98 for Alice's mailbox.
    let call = stack.phones.dial("1002", "*98").await;
    let mut heard = Heard::of(&stack.observer, &call).await;
    heard.prompt("sound:voiceportal/enter-mailbox").await;
    call.press("1001#").await;
    heard.prompt("sound:voiceportal/enter-pin").await;
    call.press("735194#").await;
    heard.prompt("sound:voiceportal/setup-required").await;
    heard.prompt("sound:voiceportal/enter-new-pin").await;
    call.press("582914#").await;
    heard.prompt("sound:voiceportal/reenter-new-pin").await;
    call.press("582914#").await;
    heard.prompt("sound:voiceportal/pin-changed").await;
    heard.record_name(&call).await;
    heard.prompt("sound:voiceportal/recording-saved").await;
    heard.prompt("sound:vm-youhave").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);

    let record = stack
        .store
        .mailbox(&MailboxId::parse("1001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.pin_origin, PinOrigin::User);
    assert!(!record.must_change);
    assert!(record.name_recorded);
    let name = std::fs::read(stack.recordings().join("voiceportal/1001/name.wav"))
        .expect("the recorded name");
    assert!(rms(&name) > 200.0, "the name is silence");
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn a_spoken_message_lights_the_lamp_is_heard_and_deleted() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;
    stack.phones.wait_lamp("1001", false).await;

    // Bob calls Alice; her phone is busy, so Bob reaches her voicemail.
    let rings_from = stack.phones.events.len();
    let reject = async {
        let ringing = stack.phones.ringing(rings_from, "1001").await;
        stack
            .phones
            .ari
            .delete(&format!("/channels/{ringing}?reason=busy"))
            .await
            .expect("reject the call as busy");
    };
    let (call, ()) = tokio::join!(stack.phones.dial("1002", "1001"), reject);
    let mut heard = Heard::of(&stack.observer, &call).await;
    heard.prompt("sound:vm-isonphone").await;
    heard.prompt("sound:vm-intro").await;
    heard.recording().await;
    call.say("sound:vm-intro").await;
    call.press("#").await;
    heard.prompt("sound:vm-review").await;
    call.press("1").await;
    heard.prompt("sound:vm-msgsaved").await;
    assert!(call.wait_hung_up(WAIT).await);

    // The stored message is Bob's voice, not silence.
    let folder = stack.recordings().join("voiceportal/1001");
    let message = std::fs::read_dir(&folder)
        .expect("Alice's recordings")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("msg-"))
        .expect("a message file");
    let audio = std::fs::read(message.path()).unwrap();
    let seconds = audio.len() as f64 / 16_000.0;
    assert!(seconds > 2.0, "the message is only {seconds:.1} s");
    assert!(rms(&audio) > 200.0, "the message is silence");
    stack.phones.wait_lamp("1001", true).await;

    // Alice listens from her phone, hears the message, deletes it.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.press("1").await;
    // The envelope (number, date and time, caller) is read slowly first.
    heard
        .prompt_within("recording:voiceportal/1001/msg-", Duration::from_secs(45))
        .await;
    let played = call.listen(2).await;
    assert!(
        rms(&played) > 200.0,
        "Alice heard silence instead of the message"
    );
    call.press("7").await;
    heard.prompt("sound:vm-deleted").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    stack.phones.wait_lamp("1001", false).await;
    // The index goes first (the lamp follows it), the audio right after.
    let messages_left = || {
        std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("msg-"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while messages_left() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deleted message's audio is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.assert_no_missing_sounds();
}

#[tokio::test]
async fn a_french_mailbox_hears_french_prompts() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1003", "fr", Some((PIN, PinOrigin::User)), true)
        .await;

    let call = stack.phones.dial("1003", "*98").await;
    let mut heard = Heard::of(&stack.observer, &call).await;
    let prompt = heard.prompt("sound:voiceportal/enter-pin-or-star").await;
    assert_eq!(prompt["language"], "fr", "{prompt}");
    call.press(&format!("{PIN}#")).await;
    let prompt = heard.prompt("sound:vm-youhave").await;
    assert_eq!(prompt["language"], "fr", "{prompt}");
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    assert!(
        stack
            .pbx
            .log()
            .contains("Playing 'voiceportal/enter-pin-or-star.slin' (language 'fr')"),
        "Asterisk did not play the French prompt file"
    );
    stack.assert_no_missing_sounds();
}
