//! Wiring: `App::build(config)` connects everything once; `run` serves calls until
//! shutdown. Tests build the app through this same path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::access::{Access, AccessError};
use crate::admin::messages::{Asterisk, MessageAdminError};
use crate::admin::{Admin, AdminError, repair};
use crate::ari::websocket::StreamItem;
use crate::ari::{AriClient, AriError, websocket};
use crate::call::Router;
use crate::config::Config;
use crate::flows::{self, Flows};
use crate::metrics::METRICS;
use crate::notify::email::{Mailer, Notifier};
use crate::notify::mwi::Mwi;
use crate::notify::signin::PhoneCourier;
use crate::store::{Store, StoreError};
use crate::web::{self, BindError, Web, WebListener, WebParts};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Ari(#[from] AriError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Asterisk(#[from] MessageAdminError),
    #[error(transparent)]
    Web(#[from] BindError),
}

pub struct App {
    config: Arc<Config>,
    client: AriClient,
    store: Store,
    access: Access,
    admin: Admin,
    courier: PhoneCourier,
    /// Bound here, so a port in use fails the start (and port 0 is known).
    web: Option<WebListener>,
}

impl App {
    /// Connects to Redis (a wrong URL or a stopped server fails here, clearly) and
    /// prepares the ARI client. Asterisk may come later: the websocket retries.
    pub async fn build(config: Config) -> Result<App, AppError> {
        let client = AriClient::new(&config.ari)?;
        let store = Store::connect(&config.redis).await?;
        store.ping().await?;
        let access = Access::new(&config, store.clone())?;
        let admin = Admin::new(&config, store.clone())?;
        let courier = PhoneCourier::new(&config, client.clone());
        let web = if config.web.enabled {
            Some(WebListener::bind(&config.web).await?)
        } else {
            None
        };
        Ok(App {
            config: Arc::new(config),
            client,
            store,
            access,
            admin,
            courier,
            web,
        })
    }

    /// Where the web server listens (`None` when `[web] enabled = false`).
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web
            .as_ref()
            .and_then(|l| axum::serve::Listener::local_addr(l).ok())
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
            mwi.clone(),
            notifier.clone(),
            self.config.clone(),
            first_pass,
        )));
        // Lamp changes made through the other Asterisk servers sharing this Redis.
        let _lamps = AbortOnDrop(tokio::spawn(mwi.clone().follow(self.store.clone())));
        let (socket_tx, socket_rx) = mpsc::unbounded_channel();
        // Dropping the guard stops the websocket, also when this future is dropped.
        let _socket = AbortOnDrop(tokio::spawn(websocket::run(
            self.config.ari.clone(),
            socket_tx,
        )));
        let ari_connected = Arc::new(AtomicBool::new(false));
        let (items_tx, items_rx) = mpsc::unbounded_channel();
        let _watch = AbortOnDrop(tokio::spawn(watch_connection(
            socket_rx,
            items_tx,
            ari_connected.clone(),
        )));
        let (stopping_tx, stopping_rx) = watch::channel(false);
        let _web = match self.web {
            Some(listener) => {
                let asterisk = Asterisk::new(&self.config.ari, &self.config.portal.mwi_context);
                match asterisk {
                    Ok(asterisk) => {
                        let parts = WebParts {
                            config: self.config.clone(),
                            admin: self.admin.clone(),
                            access: self.access.clone(),
                            asterisk,
                            courier: self.courier.clone(),
                            notifier: notifier.clone(),
                            ari_connected,
                        };
                        let mut stopping = stopping_rx;
                        let stopped = async move {
                            let _ = stopping.wait_for(|stop| *stop).await;
                        };
                        Some(AbortOnDrop(tokio::spawn(web::serve(
                            listener,
                            Web::new(parts),
                            stopped,
                        ))))
                    }
                    Err(e) => {
                        warn!(error = %e, "web portals off: cannot set up the ARI client");
                        None
                    }
                }
            }
            None => None,
        };
        let handler = Arc::new(Flows {
            config: self.config.clone(),
            store: self.store.clone(),
            access: self.access.clone(),
            mwi,
            notifier,
            courier: self.courier.clone(),
        });
        let router = Router::new(
            self.client.clone(),
            self.config.ari.app.clone(),
            self.config.call.clone(),
            handler,
            flows::apology(),
        );
        // The web server stops taking requests when the stop begins, like the
        // router stops taking calls.
        let shutdown = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        };
        router.run(items_rx, shutdown).await;
        info!("voiceportal stopped");
    }
}

/// Passes the websocket's items on to the router, noting on the way whether
/// the socket is connected (for `/readyz`) and counting reconnections.
async fn watch_connection(
    mut from_socket: mpsc::UnboundedReceiver<StreamItem>,
    to_router: mpsc::UnboundedSender<StreamItem>,
    connected: Arc<AtomicBool>,
) {
    while let Some(item) = from_socket.recv().await {
        match &item {
            StreamItem::Connected { reconnect } => {
                connected.store(true, Ordering::Relaxed);
                if *reconnect {
                    METRICS.websocket_reconnect();
                }
            }
            StreamItem::Disconnected { .. } => connected.store(false, Ordering::Relaxed),
            StreamItem::Event(_) => {}
        }
        if to_router.send(item).is_err() {
            return;
        }
    }
    connected.store(false, Ordering::Relaxed);
}

/// Aborts a background task when its owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
