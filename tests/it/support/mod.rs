pub mod app;
pub mod app_voicemail;
pub mod fixtures;
pub mod logs;
pub mod probe;
pub mod redis;
pub mod redis_ha;
pub mod redis_proxy;
pub mod smtp;
pub mod web;
pub mod webdriver;

use ari_sim::Simulator;
use futures_util::StreamExt;

/// An events websocket for the simulator's app with nobody behind it, so calls can
/// enter Stasis while a test drives ARI by hand. Frames are read (and dropped) in the
/// background, as Asterisk closes sockets that do not read. Dropping the handle
/// closes the socket.
pub async fn bare_app(sim: &Simulator) -> tokio::task::JoinHandle<()> {
    let config = sim.config();
    let url = format!(
        "{}/ari/events?app={}&api_key={}:{}",
        sim.base_url().replacen("http://", "ws://", 1),
        config.app,
        config.username,
        config.password
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect a bare app websocket");
    let reader = tokio::spawn(async move {
        let (_sink, mut stream) = socket.split();
        while stream.next().await.is_some() {}
    });
    assert!(sim.wait_app_connected(app::WAIT).await);
    reader
}

/// The `voiceportal` binary with none of the developer's own `VOICEPORTAL*`
/// settings leaking in: each test gives exactly the environment it means.
pub fn voiceportal_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_voiceportal"));
    command.env_remove("VOICEPORTAL_CONFIG");
    for (key, _) in std::env::vars() {
        if key.starts_with("VOICEPORTAL__") {
            command.env_remove(key);
        }
    }
    command
}

/// Waits until the caller has heard a recording's beep (anywhere so far).
pub async fn wait_beep(caller: &ari_sim::Caller) {
    let deadline = tokio::time::Instant::now() + app::WAIT;
    while tokio::time::Instant::now() < deadline {
        if caller
            .heard()
            .iter()
            .any(|h| matches!(h, ari_sim::Heard::Beep))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no beep; heard {:?}", caller.heard());
}
