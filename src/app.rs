//! Wiring: `App::build(config)` connects everything once; `run` serves calls until
//! shutdown. Tests build the app through this same path.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::access::{Access, AccessError};
use crate::admin::repair;
use crate::ari::{AriClient, AriError, websocket};
use crate::call::Router;
use crate::config::Config;
use crate::flows::{self, Flows};
use crate::notify::email::{Mailer, Notifier};
use crate::notify::mwi::Mwi;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Ari(#[from] AriError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Access(#[from] AccessError),
}

pub struct App {
    config: Arc<Config>,
    client: AriClient,
    store: Store,
    access: Access,
}

impl App {
    /// Connects to Redis (a wrong URL or a stopped server fails here, clearly) and
    /// prepares the ARI client. Asterisk may come later: the websocket retries.
    pub async fn build(config: Config) -> Result<App, AppError> {
        let client = AriClient::new(&config.ari)?;
        let store = Store::connect(&config.redis).await?;
        store.ping().await?;
        let access = Access::new(&config, store.clone())?;
        Ok(App {
            config: Arc::new(config),
            client,
            store,
            access,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// PIN checks of this instance (its verification count is worth watching).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Serves calls until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let reachable = match self.client.ping().await {
            Ok(_) => {
                info!(url = %self.config.ari.url, app = %self.config.ari.app, "Asterisk ARI reachable");
                true
            }
            Err(e) => {
                warn!(url = %self.config.ari.url, error = %e,
                "Asterisk ARI not reachable yet (is Asterisk running, with http.conf enabled and ari.conf user `{}`?); retrying",
                self.config.ari.username);
                false
            }
        };
        let notifier =
            match Mailer::spawn(&self.config.email, self.client.clone(), self.store.clone()) {
                Ok(notifier) => notifier,
                Err(e) => {
                    warn!(error = %e, "e-mail notification off: cannot start the mailer");
                    Notifier::disabled()
                }
            };
        // Message repair and the lamps, before serving when Asterisk answers (so
        // the first caller finds a consistent mailbox), then every
        // `repair.interval` for as long as we serve, so that what a crash or a
        // Redis outage left behind is finished without anyone asking. Never
        // fails the start: see `admin::repair::pass`.
        let mwi = Mwi::new(self.client.clone(), &self.config.portal.mwi_context);
        let first_pass = if reachable {
            repair::pass(&self.store, &self.client, &mwi, &notifier, &self.config).await
        } else {
            repair::PassOutcome::AsteriskUnreachable
        };
        let _maintenance = AbortOnDrop(tokio::spawn(repair::periodic(
            self.store.clone(),
            self.client.clone(),
            mwi,
            notifier.clone(),
            self.config.clone(),
            first_pass,
        )));
        let (items_tx, items_rx) = mpsc::unbounded_channel();
        // Dropping the guard stops the websocket, also when this future is dropped.
        let _socket = AbortOnDrop(tokio::spawn(websocket::run(
            self.config.ari.clone(),
            items_tx,
        )));
        let handler = Arc::new(Flows {
            config: self.config.clone(),
            store: self.store.clone(),
            access: self.access.clone(),
            mwi: Mwi::new(self.client.clone(), &self.config.portal.mwi_context),
            notifier,
        });
        let router = Router::new(
            self.client.clone(),
            self.config.ari.app.clone(),
            self.config.call.clone(),
            handler,
            flows::apology(),
        );
        router.run(items_rx, shutdown).await;
        info!("voiceportal stopped");
    }
}

/// Aborts a background task when its owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
