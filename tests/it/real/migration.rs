//! Switching from app_voicemail: messages left with Asterisk's own `VoiceMail()`
//! are imported, and the owner logs in to voiceportal with the PIN they had, is
//! made to change it, and hears both messages.

use std::path::Path;
use std::time::Duration;

use voiceportal::domain::MailboxId;
use voiceportal::store::mailboxes::PinOrigin;

use super::old_voicemail::OldVoicemail;
use super::phones::WAIT;
use super::{ARI_PASSWORD, Stack, free_tcp_port, rms};

/// app_voicemail's configuration as an installation of today has it: PINs in
/// clear, several formats per message.
const VOICEMAIL_CONF: &str = "[general]\nformat = wav49|gsm|wav\nmaxsecs = 60\n\n\
                              [default]\n1001 => 4829,Alice Martin,alice@example.com\n";

#[tokio::test]
async fn messages_left_with_app_voicemail_are_imported_and_heard_with_the_old_pin() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    let mut old = OldVoicemail::start(
        &stack.prefix,
        &stack.folder("app_voicemail"),
        &stack.pbx.state.join("data"),
        free_tcp_port("127.0.0.1"),
        ARI_PASSWORD,
        VOICEMAIL_CONF,
    )
    .await;
    old.leave_message("1001", "\"Bob\" <1002>", "sound:vm-intro")
        .await;
    old.leave_message("1001", "\"Chloe\" <1003>", "sound:vm-intro")
        .await;
    old.asterisk.stop().await;
    let inbox = old.spool().join("default/1001/INBOX");
    assert!(
        inbox.join("msg0001.txt").exists(),
        "app_voicemail did not keep two messages in {}",
        inbox.display()
    );

    let recordings = stack.recordings();
    let report = stack.admin(
        &[
            "import",
            "app-voicemail",
            "--conf",
            path(&old.voicemail_conf()),
            "--spool",
            path(&old.spool()),
            "--recordings-dir",
            path(&recordings),
        ],
        "",
    );
    assert!(
        !report.contains("4829"),
        "the import showed the PIN: {report}"
    );
    let record = stack
        .store
        .mailbox(&MailboxId::parse("1001").unwrap())
        .await
        .unwrap()
        .expect("mailbox 1001 imported");
    assert_eq!(record.pin_origin, PinOrigin::Temporary);
    assert!(record.must_change);
    stack.phones.wait_lamp("1001", true).await;

    // Alice, from her own phone, with the PIN she had in app_voicemail.
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press("4829#").await;
    heard.prompt("sound:voiceportal/setup-required").await;
    heard.prompt("sound:voiceportal/enter-new-pin").await;
    call.press("582914#").await;
    heard.prompt("sound:voiceportal/reenter-new-pin").await;
    call.press("582914#").await;
    heard.prompt("sound:voiceportal/pin-changed").await;
    heard.record_name(&call).await;
    heard.prompt("sound:vm-youhave").await;
    // Both messages, each heard as speech.
    for key in ["1", "6"] {
        call.press(key).await;
        heard
            .prompt_within("recording:voiceportal/1001/msg-", Duration::from_secs(45))
            .await;
        let played = call.listen(2).await;
        assert!(rms(&played) > 200.0, "an imported message plays as silence");
    }
    call.hang_up().await;
    assert!(call.wait_hung_up(WAIT).await);
    stack.assert_no_missing_sounds();
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
