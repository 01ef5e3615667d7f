//! The REST client against the simulator: every error kind a caller acts on, and
//! the stored-recording and mailbox calls.

use std::time::Duration;

use ari_sim::{Dial, SimConfig, Simulator};
use voiceportal::ari::{AriClient, AriErrorKind, PlaybackControl};
use voiceportal::config::{AriConfig, Secret};

use crate::support::bare_app;

async fn sim_and_client() -> (Simulator, AriClient) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let client = AriClient::new(&ari_config(&sim, &sim.config().password)).unwrap();
    (sim, client)
}

fn ari_config(sim: &Simulator, password: &str) -> AriConfig {
    AriConfig {
        url: sim.base_url(),
        username: sim.config().username.clone(),
        password: Secret::new(password),
        app: sim.config().app.clone(),
        request_timeout: Duration::from_secs(5),
        ..AriConfig::default()
    }
}

#[tokio::test]
async fn ping_and_application() {
    let (sim, client) = sim_and_client().await;
    assert_eq!(client.ping().await.unwrap().ping, "pong");
    // An application exists only while a websocket holds it.
    let err = client.application(&sim.config().app).await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::NotFound);
    let _ws = bare_app(&sim).await;
    let app = client.application(&sim.config().app).await.unwrap();
    assert!(app.channel_ids.is_empty());
}

#[tokio::test]
async fn wrong_credentials_and_no_server_are_told_apart() {
    let (sim, _) = sim_and_client().await;
    let client = AriClient::new(&ari_config(&sim, "wrong")).unwrap();
    let err = client.ping().await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::Unauthorized);
    assert!(!err.to_string().contains("wrong"), "password leaked: {err}");

    let nobody = AriConfig {
        url: "http://127.0.0.1:1".into(),
        ..ari_config(&sim, "x")
    };
    let err = AriClient::new(&nobody).unwrap().ping().await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::Transport);
}

#[tokio::test]
async fn operations_on_a_hung_up_channel_mean_the_call_is_gone() {
    let (sim, client) = sim_and_client().await;
    // Nobody serves the app here: connect a bare websocket so Stasis() succeeds.
    let _ws = bare_app(&sim).await;
    let caller = sim.dial(Dial::portal("1001")).await;
    caller.hangup().await;
    let id = caller.channel_id();
    let err = client.answer(&id).await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::CallGone);
    assert_eq!(err.message, "Channel not found");
    let err = client
        .play(&id, "p1", &["sound:vm-login".into()], None)
        .await
        .unwrap_err();
    assert!(err.is_call_gone());
}

#[tokio::test]
async fn playback_errors_keep_asterisks_message() {
    let (sim, client) = sim_and_client().await;
    let _ws = bare_app(&sim).await;
    let caller = sim.dial(Dial::portal("1001")).await;
    let id = caller.channel_id();
    let playback = client
        .play(
            &id,
            "pb-1",
            &["sound:vm-login".into(), "sound:vm-password".into()],
            Some("en"),
        )
        .await
        .unwrap();
    assert_eq!(playback.id, "pb-1");
    let err = client
        .control_playback("pb-1", PlaybackControl::Pause)
        .await;
    assert!(err.is_ok());
    client.stop_playback("pb-1").await.unwrap();
    let err = client.stop_playback("pb-1").await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::NotFound);
    assert_eq!(err.message, "Playback not found");
    caller.hangup().await;
}

#[tokio::test]
async fn stored_recordings_copy_download_delete() {
    let (sim, client) = sim_and_client().await;
    sim.put_stored_recording("vp/1001/msg-1", 2.0);
    let stored = client.stored_recording("vp/1001/msg-1").await.unwrap();
    assert_eq!(stored.name, "vp/1001/msg-1");
    let wav = client
        .download_stored_recording("vp/1001/msg-1")
        .await
        .unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    client
        .copy_stored_recording("vp/1001/msg-1", "vp/1001/msg-2")
        .await
        .unwrap();
    let err = client
        .copy_stored_recording("vp/1001/msg-1", "vp/1001/msg-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind, AriErrorKind::Conflict);
    let names: Vec<_> = client
        .stored_recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(names.contains(&"vp/1001/msg-2".to_string()), "{names:?}");
    client
        .delete_stored_recording("vp/1001/msg-1")
        .await
        .unwrap();
    let err = client.stored_recording("vp/1001/msg-1").await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::NotFound);
    assert_eq!(err.message, "Recording not found");
}

#[tokio::test]
async fn mailboxes_put_get_delete() {
    let (sim, client) = sim_and_client().await;
    client.put_mailbox("1001@default", 1, 2).await.unwrap();
    let mailbox = client.mailbox("1001@default").await.unwrap();
    assert_eq!((mailbox.old_messages, mailbox.new_messages), (1, 2));
    assert_eq!(sim.mailbox("1001@default"), Some((1, 2)));
    assert_eq!(client.mailboxes().await.unwrap().len(), 1);
    client.delete_mailbox("1001@default").await.unwrap();
    let err = client.mailbox("1001@default").await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::NotFound);
    let err = client.delete_mailbox("1001@default").await.unwrap_err();
    assert_eq!(err.kind, AriErrorKind::NotFound);
}
