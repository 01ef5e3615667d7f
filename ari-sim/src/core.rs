//! State shared by the HTTP routes, the websocket, the channel tasks and the
//! test-facing handles.
//!
//! One mutex guards the registry maps. It is only held for short, synchronous
//! updates (never across an `.await`), and events are pushed to the socket
//! queue while it is held, so events come out in the order they were made.

use crate::channel::Channel;
use crate::clock::Clock;
use crate::config::SimConfig;
use crate::json::Obj;
use crate::mailboxes::Mailboxes;
use crate::media::Playback;
use crate::reaction::Reactions;
use crate::recording::LiveRecording;
use crate::stored::Stored;
use crate::ws::Apps;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Asterisk's id in every event (the lab's value).
pub(crate) const ASTERISK_ID: &str = "00:00:00:00:00:01";

/// One HTTP request as the simulator answered it, for test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path including the query string, exactly as sent (e.g.
    /// `/ari/channels/1.2/play?media=sound:x`).
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
}

/// Everything that is shared, behind one `Arc`.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: SimConfig,
    pub(crate) clock: Clock,
    state: Mutex<State>,
    /// Bumped whenever an app socket connects or goes away.
    pub(crate) conn_tx: watch::Sender<u64>,
    /// Bumped whenever the app originates a call.
    pub(crate) originate_tx: watch::Sender<u64>,
    /// Becomes true when the last `Simulator` handle is dropped.
    pub(crate) shutdown_tx: watch::Sender<bool>,
    /// Reaction times of the app (event -> its next command on the channel).
    pub(crate) reactions: Reactions,
    /// Events sent to an app socket so far.
    pub(crate) events_sent: AtomicU64,
}

/// The registries.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) apps: Apps,
    /// Channels that exist (in Stasis or alive outside it), by id.
    pub(crate) channels: HashMap<String, Arc<Channel>>,
    /// Playbacks that are queued or playing, by id.
    pub(crate) playbacks: HashMap<String, Arc<Playback>>,
    /// Recordings that are queued or running, by name.
    pub(crate) recordings: HashMap<String, Arc<LiveRecording>>,
    pub(crate) stored: Stored,
    pub(crate) mailboxes: Mailboxes,
    /// Tiny dialplan: (context, exten) => Stasis args.
    pub(crate) routes: HashMap<(String, String), Vec<String>>,
    pub(crate) log: Vec<LoggedRequest>,
    /// Originated calls not yet taken by the test (`Simulator::wait_originated`).
    pub(crate) ringing: Vec<crate::originate::Ringing>,
    /// Counter for channel names and ids.
    pub(crate) seq: u64,
}

impl Core {
    pub(crate) fn new(config: SimConfig) -> Core {
        let clock = Clock::new(config.speed);
        let mut state = State::default();
        if let Some(dir) = &config.recordings_dir {
            state.stored = Stored::on_disk(dir.clone());
        }
        Core {
            config,
            clock,
            state: Mutex::new(state),
            conn_tx: watch::Sender::new(0),
            originate_tx: watch::Sender::new(0),
            shutdown_tx: watch::Sender::new(false),
            reactions: Reactions::default(),
            events_sent: AtomicU64::new(0),
        }
    }

    /// Locks the registries. A panic elsewhere while holding the lock leaves
    /// the data usable, so poisoning is ignored rather than propagated.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Sends an event to the socket that currently owns `app`; with no owner
    /// the event is lost, as with a real Asterisk whose app is deactivated.
    pub(crate) fn emit(&self, app: &str, event: String) {
        self.events_sent.fetch_add(1, Ordering::Relaxed);
        let st = self.lock();
        st.apps.send(app, event);
    }

    /// Builds an event: `pre` fields, then `type` and `timestamp`, then `post`
    /// fields, then `asterisk_id` and `application` (Asterisk's key order).
    pub(crate) fn event(
        &self,
        app: &str,
        kind: &str,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) -> String {
        let mut obj = Obj::new();
        for (k, v) in pre {
            obj = obj.raw(k, v);
        }
        obj = obj
            .str("type", kind)
            .str("timestamp", &self.clock.timestamp());
        for (k, v) in post {
            obj = obj.raw(k, v);
        }
        obj.str("asterisk_id", ASTERISK_ID)
            .str("application", app)
            .finish()
    }

    /// Builds and sends an event in one go.
    pub(crate) fn send_event(
        &self,
        app: &str,
        kind: &str,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) {
        let ev = self.event(app, kind, pre, post);
        self.emit(app, ev);
    }

    /// Resolves once the simulator shuts down.
    pub(crate) async fn until_shutdown(&self) {
        let mut rx = self.shutdown_tx.subscribe();
        // The guard returned by `wait_for` is dropped in this statement, so
        // the future stays `Send`.
        let _ = rx.wait_for(|down| *down).await.is_ok();
    }

    /// Whether the simulator is shutting down.
    pub(crate) fn is_shutdown(&self) -> bool {
        *self.shutdown_tx.borrow()
    }
}
