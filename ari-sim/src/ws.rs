//! The events websocket (`/ari/events?app=NAME`) and app ownership.
//!
//! Asterisk keeps one owner socket per app name: a second socket takes the
//! app over and the old one gets `ApplicationReplaced`, stays open and hears
//! nothing more. When the owner goes away (close frame, reset, or a write that
//! takes longer than `websocket_write_timeout`) the app is deactivated: events
//! are dropped, never replayed, and new calls into `Stasis()` fail at once.

use crate::core::Core;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How the simulator drops the app's websocket (`Simulator::drop_websocket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// A websocket close frame, then the TCP connection is closed normally.
    CloseFrame,
    /// The TCP connection is reset: no close frame, no FIN.
    Abort,
}

/// What the socket task is asked to do.
#[derive(Debug)]
pub(crate) enum Out {
    Event(String),
    Close(Drop),
}

/// A duplicate of the connection's socket, taken when the connection was
/// accepted, so that the socket can be reset (SO_LINGER 0) instead of closed.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle(Option<Arc<socket2::Socket>>);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ConnHandle
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        // Asterisk's HTTP server disables Nagle's algorithm; without this, small
        // event writes wait ~40 ms for the peer's delayed ACK.
        let _ = stream.io().set_nodelay(true);
        let dup = socket2::SockRef::from(stream.io()).try_clone().ok();
        ConnHandle(dup.map(Arc::new))
    }
}

/// Registered apps and open event sockets.
#[derive(Debug, Default)]
pub(crate) struct Apps {
    /// App name => socket id owning it (None: registered but deactivated).
    owners: BTreeMap<String, Option<u64>>,
    sockets: HashMap<u64, mpsc::UnboundedSender<Out>>,
    next_id: u64,
}

impl Apps {
    /// Sends an event to the owner of `app`, if any.
    pub(crate) fn send(&self, app: &str, event: String) {
        let owner = self.owners.get(app).copied().flatten();
        if let Some(tx) = owner.and_then(|id| self.sockets.get(&id)) {
            // A closed queue means the socket task is ending: the event is
            // lost, exactly like an event sent to a deactivated app.
            let _ = tx.send(Out::Event(event));
        }
    }

    /// Registers a new socket as owner of `names`. `replaced` builds the
    /// `ApplicationReplaced` event sent to a previous owner.
    fn connect(
        &mut self,
        names: &[String],
        tx: mpsc::UnboundedSender<Out>,
        replaced: impl Fn(&str) -> String,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        for name in names {
            let old = self.owners.insert(name.clone(), Some(id)).flatten();
            if let Some(old_tx) = old.and_then(|old| self.sockets.get(&old)) {
                let _ = old_tx.send(Out::Event(replaced(name)));
            }
        }
        self.sockets.insert(id, tx);
        id
    }

    /// Forgets socket `id`; apps it still owned are deactivated.
    fn disconnect(&mut self, id: u64) {
        self.sockets.remove(&id);
        for owner in self.owners.values_mut() {
            if *owner == Some(id) {
                *owner = None;
            }
        }
    }

    /// Whether an events socket currently owns `app`.
    pub(crate) fn is_active(&self, app: &str) -> bool {
        matches!(self.owners.get(app), Some(Some(_)))
    }

    /// Whether `app` was ever registered (listed while deactivated only as long as
    /// a channel is still in it: see `http::misc`).
    pub(crate) fn exists(&self, app: &str) -> bool {
        self.owners.contains_key(app)
    }

    /// Names of all registered apps.
    pub(crate) fn names(&self) -> Vec<String> {
        self.owners.keys().cloned().collect()
    }

    /// Asks the owner socket of `app` to go away, and deactivates the app at
    /// once so that nothing more is sent to it. Returns false with no owner.
    pub(crate) fn drop_owner(&mut self, app: &str, how: Drop) -> bool {
        let Some(Some(id)) = self.owners.get(app).cloned() else {
            return false;
        };
        if let Some(tx) = self.sockets.get(&id) {
            let _ = tx.send(Out::Close(how));
        }
        self.disconnect(id);
        true
    }
}

/// Registers the socket and serves it until it closes.
pub(crate) async fn serve_socket(
    core: Arc<Core>,
    ws: WebSocket,
    names: Vec<String>,
    conn: ConnHandle,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let id = {
        let mut st = core.lock();
        // ApplicationReplaced puts `application` before `asterisk_id`.
        let replaced = |app: &str| {
            crate::json::Obj::new()
                .str("type", "ApplicationReplaced")
                .str("timestamp", &core.clock.timestamp())
                .str("application", app)
                .str("asterisk_id", crate::core::ASTERISK_ID)
                .finish()
        };
        st.apps.connect(&names, tx, replaced)
    };
    core.conn_tx.send_modify(|n| *n += 1);
    tracing::debug!(?names, id, "events socket connected");
    run_socket(&core, ws, rx, conn).await;
    core.lock().apps.disconnect(id);
    core.conn_tx.send_modify(|n| *n += 1);
    tracing::debug!(id, "events socket gone");
}

async fn run_socket(
    core: &Core,
    mut ws: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Out>,
    conn: ConnHandle,
) {
    let limit = core.config.ws_write_timeout;
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Event(text)) => {
                    let write = tokio::time::timeout(limit, ws.send(Message::Text(text.into()))).await;
                    if !matches!(write, Ok(Ok(()))) {
                        // Asterisk closes a socket whose write exceeds
                        // websocket_write_timeout; the app is deactivated.
                        tracing::debug!("events socket write failed or timed out; closing");
                        reset(ws, conn);
                        return;
                    }
                }
                Some(Out::Close(Drop::CloseFrame)) => {
                    let frame = CloseFrame { code: 1000, reason: "".into() };
                    let _ = tokio::time::timeout(limit, ws.send(Message::Close(Some(frame)))).await;
                    return;
                }
                Some(Out::Close(Drop::Abort)) | None => {
                    reset(ws, conn);
                    return;
                }
            },
            msg = ws.recv() => match msg {
                // Pings are answered by the websocket layer while reading.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = core.until_shutdown() => return,
        }
    }
}

/// Closes the connection with a TCP reset: SO_LINGER 0 on our duplicate of
/// the socket, then both descriptors are closed, ours last.
fn reset(ws: WebSocket, conn: ConnHandle) {
    if let Some(sock) = &conn.0 {
        let _ = sock.set_linger(Some(Duration::ZERO));
    }
    std::mem::drop(ws);
    std::mem::drop(conn);
}
