//! Two Asterisk servers, each with its own voiceportal, sharing one Redis and one
//! recordings folder (the supported layout, docs/SCALING.md): a message left
//! through one server is heard by its owner calling through the other, the lamp
//! follows on both, and the lockout holds across them.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use voiceportal::store::mailboxes::PinOrigin;

use super::asterisk::Asterisk;
use super::pbx::{Heard, Observer};
use super::phones::{Phones, PhonesConfig, WAIT};
use super::{
    ARI_PASSWORD, DEMO_PHONES, Stack, free_tcp_port, free_udp_port, render_pbx, rms, rtp_blocks,
};
use crate::support::voiceportal_command;

const PIN: &str = "482913";

/// A second site: its own PBX (sharing the first one's recordings folder), its
/// own phones on 127.0.0.3 and its own voiceportal, on the stack's Redis.
struct Site {
    pbx: Asterisk,
    _phones_asterisk: Asterisk,
    phones: Phones,
    observer: Observer,
    service: Child,
    log: PathBuf,
}

impl Site {
    async fn start(stack: &Stack) -> Site {
        let dir = stack.folder("site-b");
        let (pbx_rtp, phones_rtp) = rtp_blocks();
        let pbx_sip = free_udp_port("127.0.0.1");
        let pbx_http = free_tcp_port("127.0.0.1");
        let passwords: Vec<(&str, String)> = DEMO_PHONES
            .iter()
            .map(|n| (*n, format!("phone-b-{n}-{}", rand::random::<u32>())))
            .collect();
        let pbx_state = dir.join("pbx");
        render_pbx(
            &stack.prefix,
            &pbx_state,
            pbx_sip,
            pbx_http,
            pbx_rtp,
            &passwords,
        );
        // The shared recordings folder: in production a network or cluster file
        // system mounted at this place on every server.
        let recordings = pbx_state.join("spool/recording");
        std::fs::remove_dir_all(&recordings).expect("the second PBX's own recordings folder");
        std::os::unix::fs::symlink(stack.recordings(), &recordings)
            .expect("share the recordings folder");
        let mut pbx = Asterisk::new(
            &stack.prefix,
            &pbx_state,
            format!("http://127.0.0.1:{pbx_http}"),
            ARI_PASSWORD,
        );
        pbx.start().await;

        let phones_state = dir.join("phones");
        let phones_http = free_tcp_port("127.0.0.3");
        PhonesConfig {
            host: "127.0.0.3",
            prefix: &stack.prefix,
            state: &phones_state,
            pbx_data: &pbx_state.join("data"),
            pbx_sip,
            sip: free_udp_port("127.0.0.3"),
            http: phones_http,
            rtp: phones_rtp,
            ari_password: ARI_PASSWORD,
            phones: &passwords,
        }
        .write();
        let mut phones_asterisk = Asterisk::new(
            &stack.prefix,
            &phones_state,
            format!("http://127.0.0.3:{phones_http}"),
            ARI_PASSWORD,
        );
        phones_asterisk.start().await;
        let phones = Phones::connect(phones_asterisk.ari()).await;
        let observer = Observer::connect(&pbx.ari()).await;

        // Its voiceportal: the first one's configuration, but this PBX.
        let log = dir.join("voiceportal.log");
        let web = format!("127.0.0.1:{}", free_tcp_port("127.0.0.1"));
        let env = stack.service_env.iter().map(|(k, v)| match k.as_str() {
            "VOICEPORTAL__ARI__URL" => (k.clone(), pbx.http.clone()),
            "VOICEPORTAL__WEB__LISTEN" => (k.clone(), web.clone()),
            _ => (k.clone(), v.clone()),
        });
        let out = std::fs::File::create(&log).expect("the second voiceportal's log");
        let service = voiceportal_command()
            .envs(env)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start the second voiceportal");
        let site = Site {
            pbx,
            _phones_asterisk: phones_asterisk,
            phones,
            observer,
            service,
            log,
        };
        site.wait_connected().await;
        Phones::wait_registered(&site.pbx.ari(), &DEMO_PHONES).await;
        site
    }

    async fn wait_connected(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains("ARI events websocket connected") {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the second voiceportal did not connect; its log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}

#[tokio::test]
async fn a_message_left_through_one_server_is_heard_through_the_other() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    let site = Site::start(&stack).await;
    stack
        .mailbox("1001", "en", Some((PIN, PinOrigin::User)), true)
        .await;

    // Bob calls Alice through the first server; she is busy; he leaves a message.
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
    heard.prompt("sound:vm-intro").await;
    heard.recording().await;
    call.say("sound:vm-intro").await;
    call.press("#").await;
    heard.prompt("sound:vm-review").await;
    call.press("1").await;
    heard.prompt("sound:vm-msgsaved").await;
    assert!(call.wait_hung_up(WAIT).await);

    // Her phone's lamp lights on both servers.
    stack.phones.wait_lamp("1001", true).await;
    site.phones.wait_lamp("1001", true).await;

    // Alice calls through the second server and hears Bob's voice.
    let call = site.phones.dial("1001", "*98").await;
    let mut heard = Heard::of(&site.observer, &call).await;
    heard.prompt("sound:voiceportal/enter-pin-or-star").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:vm-youhave").await;
    call.press("1").await;
    heard
        .prompt_within("recording:voiceportal/1001/msg-", Duration::from_secs(45))
        .await;
    let played = call.listen(2).await;
    assert!(
        rms(&played) > 200.0,
        "Alice heard silence through the second server"
    );
    call.press("7").await;
    heard.prompt("sound:vm-deleted").await;
    call.press("#").await;
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    site.phones.wait_lamp("1001", false).await;
    stack.phones.wait_lamp("1001", false).await;

    // Three wrong PINs through the first server, a fourth through the second:
    // locked on both.
    let call = stack.phones.dial("1001", "*98").await;
    let mut heard = Heard::of(&stack.observer, &call).await;
    for _ in 0..3 {
        heard.prompt("sound:voiceportal/enter-pin-or-star").await;
        call.press("111111#").await;
        heard.prompt("sound:voiceportal/pin-incorrect").await;
    }
    heard.prompt("sound:vm-goodbye").await;
    assert!(call.wait_hung_up(WAIT).await);
    let call = site.phones.dial("1001", "*98").await;
    let mut heard = Heard::of(&site.observer, &call).await;
    heard.prompt("sound:voiceportal/enter-pin-or-star").await;
    call.press("222222#").await;
    heard.prompt("sound:voiceportal/pin-locked").await;
    assert!(call.wait_hung_up(WAIT).await);
    let (call, mut heard) = stack.call_portal("1001").await;
    call.press(&format!("{PIN}#")).await;
    heard.prompt("sound:voiceportal/pin-locked").await;
    assert!(call.wait_hung_up(WAIT).await);
    stack.assert_no_missing_sounds();
}
