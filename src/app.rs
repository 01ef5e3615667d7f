//! Wiring: `App::build(config)` connects everything once; `run` serves calls until
//! shutdown. Tests build the app through this same path.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::access::{Access, AccessError};
use crate::admin::messages::{Asterisk, MessageAdminError};
use crate::admin::{Admin, AdminError, repair};
use crate::ari::websocket::StreamItem;
use crate::ari::{AriClient, AriError, websocket};
use crate::call::{Ended, Router};
use crate::config::Config;
use crate::flows::{self, Flows};
use crate::ha::{LeaseKeeper, Role, RoleCell, instance_id, takeover};
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
    /// Standby or active under `[ha]`; single otherwise.
    role: RoleCell,
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
        let role = RoleCell::new(if config.ha.enabled {
            Role::Standby
        } else {
            Role::Single
        });
        let courier = PhoneCourier::new(&config, client.clone(), role.clone());
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
            role,
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

    /// Serves calls until `shutdown` completes. Under `[ha]`, only while this
    /// instance holds the lease (see `ha`); it stands by the rest of the time.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
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
        // The queue's jobs are claimed under a lease in Redis, so the e-mail
        // workers of a standby are harmless, and ready at a takeover.
        let notifier =
            match Mailer::spawn(&self.config.email, self.client.clone(), self.store.clone()) {
                Ok(notifier) => notifier,
                Err(e) => {
                    warn!(error = %e, "e-mail notification off: cannot start the mailer");
                    Notifier::disabled()
                }
            };
        // One publisher of lamps for the flows, the repair and the follower,
        // so the follower skips the changes this instance made itself.
        let mwi = Mwi::new(self.client.clone(), &self.config.portal.mwi_context);
        let ari_connected = Arc::new(AtomicBool::new(false));
        let (stopping_tx, stopping_rx) = watch::channel(false);
        let _web = self.web.take().and_then(|listener| {
            self.start_web(
                listener,
                notifier.clone(),
                ari_connected.clone(),
                stopping_rx,
            )
        });
        let handler = Arc::new(Flows {
            config: self.config.clone(),
            store: self.store.clone(),
            access: self.access.clone(),
            mwi: mwi.clone(),
            notifier: notifier.clone(),
            courier: self.courier.clone(),
        });
        // The web server stops taking requests when the stop begins, like the
        // router stops taking calls.
        let shutdown = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        }
        .shared();
        let term = Term {
            app: &self,
            handler,
            notifier,
            mwi,
            ari_connected,
        };
        if !self.config.ha.enabled {
            // Message repair and the lamps, before serving when Asterisk
            // answers (so the first caller finds a consistent mailbox), then
            // every `repair.interval` for as long as we serve, so that what a
            // crash or a Redis outage left behind is finished without anyone
            // asking. Never fails the start: see `admin::repair::pass`.
            let first_pass = if reachable {
                term.repair_pass().await
            } else {
                repair::PassOutcome::AsteriskUnreachable
            };
            term.serve(term.maintenance(None, first_pass), shutdown, None)
                .await;
        } else {
            self.run_highly_available(&term, shutdown).await;
        }
        info!("voiceportal stopped");
    }

    /// Standby until the lease is ours, active until it is lost (then standby
    /// again) or until `shutdown`, which gives the lease back.
    async fn run_highly_available(
        &self,
        term: &Term<'_>,
        shutdown: futures_util::future::Shared<impl Future<Output = ()>>,
    ) {
        let keeper = LeaseKeeper::new(&self.config, self.store.clone(), &instance_id(&self.config));
        info!(instance = %keeper.holder(), ttl = ?self.config.ha.lease_ttl,
            "high availability: standing by until this instance holds the lease");
        loop {
            self.role.set(Role::Standby);
            let valid_until = tokio::select! {
                valid_until = keeper.acquire() => valid_until,
                () = shutdown.clone() => return,
            };
            let took_over = Utc::now();
            self.role.set(Role::Active);
            let hold = keeper.clone();
            let (lost_tx, lost_rx) = watch::channel(false);
            let holding = AbortOnDrop(tokio::spawn(async move {
                hold.hold(valid_until).await;
                let _ = lost_tx.send(true);
            }));
            let ended = term
                .serve(
                    term.maintenance(Some(took_over), repair::PassOutcome::Complete),
                    shutdown.clone(),
                    Some(lost_rx),
                )
                .await;
            drop(holding);
            if ended == Ended::Stopped {
                keeper.release().await;
                return;
            }
            if shutdown.peek().is_some() {
                return;
            }
        }
    }

    /// The web server, when `[web] enabled`.
    fn start_web(
        &self,
        listener: WebListener,
        notifier: Notifier,
        ari_connected: Arc<AtomicBool>,
        stopping: watch::Receiver<bool>,
    ) -> Option<AbortOnDrop> {
        let asterisk = match Asterisk::new(&self.config.ari, &self.config.portal.mwi_context) {
            Ok(asterisk) => asterisk,
            Err(e) => {
                warn!(error = %e, "web portals off: cannot set up the ARI client");
                return None;
            }
        };
        let parts = WebParts {
            config: self.config.clone(),
            admin: self.admin.clone(),
            access: self.access.clone(),
            asterisk,
            courier: self.courier.clone(),
            notifier,
            ari_connected,
            role: self.role.clone(),
        };
        let mut stopping = stopping;
        let stopped = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        Some(AbortOnDrop(tokio::spawn(web::serve(
            listener,
            Web::new(parts),
            stopped,
        ))))
    }
}

/// What serving the application needs, for one term as its owner (the whole
/// run without `[ha]`).
struct Term<'a> {
    app: &'a App,
    handler: Arc<Flows>,
    notifier: Notifier,
    mwi: Mwi,
    ari_connected: Arc<AtomicBool>,
}

impl Term<'_> {
    async fn repair_pass(&self) -> repair::PassOutcome {
        let app = self.app;
        repair::pass(
            &app.store,
            &app.client,
            &self.mwi,
            &self.notifier,
            &app.config,
        )
        .await
    }

    /// The maintenance that must run on the owner only: after a takeover
    /// (`took_over`), the previous owner's deposits are adopted and repaired at
    /// once; then a repair pass every `repair.interval`. Meanwhile, the lamp
    /// changes made through the other Asterisk servers sharing this Redis are
    /// applied to this one (`Mwi::follow`).
    fn maintenance(
        &self,
        took_over: Option<chrono::DateTime<Utc>>,
        first: repair::PassOutcome,
    ) -> impl Future<Output = ()> + Send + 'static {
        let app = self.app;
        let (store, client, config) = (app.store.clone(), app.client.clone(), app.config.clone());
        let notifier = self.notifier.clone();
        let mwi = self.mwi.clone();
        let follower = mwi.clone().follow(store.clone());
        let repair = async move {
            let first = match took_over {
                Some(at) => {
                    takeover::adopt_deposits(&store, &client, at).await;
                    repair::pass(&store, &client, &mwi, &notifier, &config).await
                }
                None => first,
            };
            repair::periodic(store, client, mwi, notifier, config, first).await;
        };
        async move {
            tokio::join!(follower, repair);
        }
    }

    /// Owns the application: websocket, router and `maintenance`, until
    /// `shutdown` (the calls drain first) or until `lost` turns true (the
    /// websocket is closed at once, then the calls hear the apology).
    async fn serve(
        &self,
        maintenance: impl Future<Output = ()> + Send + 'static,
        shutdown: impl Future<Output = ()>,
        lost: Option<watch::Receiver<bool>>,
    ) -> Ended {
        let app = self.app;
        let _maintenance = AbortOnDrop(tokio::spawn(maintenance));
        let (socket_tx, socket_rx) = mpsc::unbounded_channel();
        // Dropping the guard stops the websocket, also when this future is dropped.
        let socket = AbortOnDrop(tokio::spawn(websocket::run(
            app.config.ari.clone(),
            socket_tx,
        )));
        let (items_tx, items_rx) = mpsc::unbounded_channel();
        let _watch = AbortOnDrop(tokio::spawn(watch_connection(
            socket_rx,
            items_tx,
            self.ari_connected.clone(),
        )));
        let lost = async move {
            match lost {
                // A keeper that is gone cannot vouch for the lease either.
                Some(mut lost) => drop(lost.wait_for(|lost| *lost).await),
                None => std::future::pending().await,
            }
        }
        .shared();
        // In a task of its own, not in the router's loop (which may be busy
        // apologising): the websocket closes the moment the lease is lost, so
        // the next owner's socket is never taken back by this one's
        // reconnection.
        let connected = self.ari_connected.clone();
        let role = app.role.clone();
        let closing = lost.clone();
        let _closer = AbortOnDrop(tokio::spawn(async move {
            closing.await;
            drop(socket);
            connected.store(false, Ordering::Relaxed);
            role.set(Role::Standby);
        }));
        let router = Router::new(
            app.client.clone(),
            app.config.ari.app.clone(),
            app.config.call.clone(),
            self.handler.clone(),
            flows::apology(),
        );
        router.run_until(items_rx, shutdown, lost).await
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
