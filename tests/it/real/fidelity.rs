//! Behaviour of a real Asterisk that the simulator must copy, checked here against
//! the real one (and in `ari-sim`'s own tests against the simulator).

use std::time::Duration;

use super::Stack;

/// An app stays listed by `GET /applications/{app}` only while a socket owns it
/// or a channel is still in it: once its socket is gone and it holds no channel,
/// Asterisk forgets it (404).
#[tokio::test]
async fn an_app_without_socket_or_channel_is_forgotten() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    let ari = stack.pbx.ari();
    let socket = ari.events("fidelity-probe", false).await;
    ari.get("/applications/fidelity-probe")
        .await
        .expect("the app is listed while its socket is open");
    drop(socket);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ari.get("/applications/fidelity-probe").await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Asterisk still lists an app with no socket and no channel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
