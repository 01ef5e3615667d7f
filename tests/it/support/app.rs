//! The service under test, built through the production path (`App::build`) and
//! pointed at the ARI simulator and a fresh Redis database.

use std::time::Duration;

use ari_sim::{SimConfig, Simulator};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use voiceportal::access::Access;
use voiceportal::app::App;
use voiceportal::config::{Config, RedisConfig, Secret};
use voiceportal::domain::HashCost;
use voiceportal::store::Store;

use super::redis::TestRedis;
use super::redis_proxy::RedisProxy;

/// How long tests wait for something the service should do promptly.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub sim: Simulator,
    pub config: Config,
    pub store: Store,
    /// The running instance's PIN checks; replaced on restart.
    access: Option<Access>,
    /// `http://127.0.0.1:<port>` of the running instance's web server.
    pub web_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A simulator with default settings and the service connected to it.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(SimConfig::default(), |_| {}).await
}

pub async fn spawn_app_with(sim_config: SimConfig, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(sim_config, &TestRedis::fresh(), tweak).await
}

/// The service reaching its fresh Redis through a proxy the test can stall or
/// take down; the test's own store is connected directly.
pub async fn spawn_app_behind_proxy(
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, RedisProxy) {
    let redis = TestRedis::fresh();
    let proxy = RedisProxy::start(&redis.url).await;
    let url = proxy.url.clone();
    let app = spawn_app_on(sim_config, &redis, move |config| {
        config.redis.url = url;
        tweak(config);
    })
    .await;
    (app, proxy)
}

/// A second service instance, with its own Asterisk, sharing `first`'s Redis.
pub async fn spawn_second_instance(first: &TestApp) -> TestApp {
    let redis = TestRedis {
        url: first.config.redis.url.clone(),
    };
    spawn_app_on(SimConfig::default(), &redis, |_| {}).await
}

/// A second service instance sharing `first`'s Redis, reaching it through a
/// proxy the test can take down.
pub async fn spawn_second_instance_behind_proxy(first: &TestApp) -> (TestApp, RedisProxy) {
    let redis = TestRedis {
        url: first.config.redis.url.clone(),
    };
    let proxy = RedisProxy::start(&redis.url).await;
    let url = proxy.url.clone();
    let app = spawn_app_on(SimConfig::default(), &redis, move |config| {
        config.redis.url = url;
    })
    .await;
    (app, proxy)
}

async fn spawn_app_on(
    sim_config: SimConfig,
    redis: &TestRedis,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_app_on_redis(sim_config, RedisConfig::single(redis.url.clone()), tweak).await
}

/// The service and the test's own store both on `redis` (e.g. a Sentinel group
/// or a Cluster); `tweak` may then point the service elsewhere.
pub async fn spawn_app_on_redis(
    sim_config: SimConfig,
    redis: RedisConfig,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let sim = Simulator::start(sim_config)
        .await
        .expect("start the ARI simulator");
    let mut config = test_config(&sim, &TestRedis::unused());
    config.redis = redis.clone();
    tweak(&mut config);
    // The test's own view of Redis is direct, even when the service goes
    // through a proxy (see `spawn_app_behind_proxy`), and it does not wait
    // for replicas: it checks what the service wrote, and a check must not
    // fail because a replica is still catching up after a failover.
    let mut direct = redis.clone();
    direct.wait_replicas = 0;
    let store = Store::connect(&direct)
        .await
        .expect("connect the test store");
    let mut app = TestApp {
        sim,
        config,
        store,
        access: None,
        web_url: String::new(),
        stop: None,
        task: None,
    };
    app.start().await;
    app
}

/// Production defaults, with the simulator's address and timers scaled to its
/// virtual time so the suite stays quick, yet generous enough for a loaded machine.
pub fn test_config(sim: &Simulator, redis: &TestRedis) -> Config {
    let sim_config = sim.config();
    let mut config = Config::default();
    config.ari.url = sim.base_url();
    config.ari.username = sim_config.username.clone();
    config.ari.password = Secret::new(sim_config.password.clone());
    config.ari.app = sim_config.app.clone();
    config.ari.reconnect_min = Duration::from_millis(20);
    config.ari.reconnect_max = Duration::from_millis(200);
    config.redis.url = redis.url.clone();
    config.call.first_digit_timeout = Duration::from_secs(2);
    config.call.inter_digit_timeout = Duration::from_secs(1);
    config.call.collect_timeout = Duration::from_secs(20);
    config.call.prompt_timeout = Duration::from_secs(5);
    config.call.record_grace = Duration::from_secs(2);
    config.call.hangup_grace = Duration::from_millis(500);
    config.security.pepper = Secret::new("test-pepper");
    // The simulator names a phone's channel like the lab: PJSIP/phone1001-...
    config.portal.own_phone_channel = "PJSIP/phone{number}".into();
    config.security.hash = HashCost::fast_for_tests();
    // Any free port: tests run in parallel, and the lead's own service may hold 8090.
    config.web.listen = "127.0.0.1:0".into();
    config
}

impl TestApp {
    /// Stored PINs verified by the running instance.
    pub fn verifications(&self) -> u64 {
        self.access.as_ref().map_or(0, Access::verifications)
    }

    /// Starts (or restarts) the service and waits until its websocket is connected.
    pub async fn start(&mut self) {
        let app = App::build(self.config.clone())
            .await
            .expect("build the app");
        self.access = Some(app.access().clone());
        if let Some(addr) = app.web_addr() {
            self.web_url = format!("http://{addr}");
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        self.stop = Some(stop_tx);
        self.task = Some(tokio::spawn(app.run(async {
            let _ = stop_rx.await;
        })));
        assert!(
            self.sim.wait_app_connected(WAIT).await,
            "the service did not connect its events websocket"
        );
    }

    /// Asks the service to stop, as SIGTERM does.
    pub fn request_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the service to have stopped by itself; false on timeout.
    pub async fn wait_stopped(&mut self, timeout: Duration) -> bool {
        match self.task.take() {
            Some(task) => tokio::time::timeout(timeout, task).await.is_ok(),
            None => true,
        }
    }

    /// Stops the service as a crash would: its call tasks vanish with it.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop = None;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
