//! The call runtime alone: the real websocket reader and router, with a scripted
//! handler instead of the flows, so each `Call` primitive is tested over the wire.

use std::future::pending;
use std::sync::Arc;

use ari_sim::{SimConfig, Simulator};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use voiceportal::ari::{AriClient, websocket};
use voiceportal::call::{Call, CallHandler, Router};
use voiceportal::config::Config;

use super::app::{WAIT, test_config};
use super::redis::TestRedis;

/// What the script does with each call; its result is reported to the test.
pub type Script = for<'a> fn(&'a mut Call) -> BoxFuture<'a, String>;

struct ScriptHandler {
    script: Script,
    results: mpsc::UnboundedSender<String>,
}

impl CallHandler for ScriptHandler {
    async fn handle(&self, call: &mut Call) {
        let result = (self.script)(call).await;
        let _ = self.results.send(result);
    }
}

pub struct Probe {
    pub sim: Simulator,
    results: mpsc::UnboundedReceiver<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_probe(script: Script) -> Probe {
    spawn_probe_with(SimConfig::default(), |_| {}, script).await
}

pub async fn spawn_probe_with(
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut Config),
    script: Script,
) -> Probe {
    let sim = Simulator::start(sim_config)
        .await
        .expect("start the ARI simulator");
    let mut config = test_config(&sim, &TestRedis::unused());
    tweak(&mut config);
    let client = AriClient::new(&config.ari).expect("ARI client");
    let (results_tx, results) = mpsc::unbounded_channel();
    let handler = Arc::new(ScriptHandler {
        script,
        results: results_tx,
    });
    let (items_tx, items_rx) = mpsc::unbounded_channel();
    let router = Router::new(
        client,
        config.ari.app.clone(),
        config.call.clone(),
        handler,
        voiceportal::flows::apology(),
    );
    let tasks = vec![
        tokio::spawn(websocket::run(config.ari.clone(), items_tx)),
        tokio::spawn(router.run(items_rx, pending())),
    ];
    assert!(
        sim.wait_app_connected(WAIT).await,
        "runtime did not connect"
    );
    Probe {
        sim,
        results,
        tasks,
    }
}

impl Probe {
    /// The next script result.
    pub async fn result(&mut self) -> String {
        tokio::time::timeout(WAIT, self.results.recv())
            .await
            .expect("the script did not finish in time")
            .expect("runtime stopped")
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
