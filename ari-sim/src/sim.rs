//! The `Simulator` handle: starts the server and drives calls.

use crate::audio::{CallerAudio, Timeline};
use crate::caller::{CallEnd, Caller, ChannelKind, Dial};
use crate::channel::{self, ChanInner, Channel, Dialplan, Party, Phase, Snapshot};
use crate::config::SimConfig;
use crate::core::{Core, LoggedRequest};
use crate::stored::StoredRec;
use crate::ws::Drop as WsDrop;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A change made to a `StasisStart` before it is sent.
type StartEdit = Box<dyn FnOnce(&mut serde_json::Value) + Send>;

/// A running simulated Asterisk. Clones share the server; dropping the last
/// clone stops it (sockets closed, channel tasks ended).
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Running>,
}

#[derive(Debug)]
struct Running {
    core: Arc<Core>,
    addr: SocketAddr,
}

impl std::ops::Drop for Running {
    fn drop(&mut self) {
        self.core.shutdown_tx.send_replace(true);
    }
}

impl Simulator {
    /// Binds 127.0.0.1 on a free port and starts serving ARI.
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let core = Arc::new(Core::new(config));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = crate::http::router(core.clone());
        let core2 = core.clone();
        tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<crate::ws::ConnHandle>(),
            )
            .with_graceful_shutdown(async move { core2.until_shutdown().await });
            if let Err(err) = serve.await {
                tracing::warn!(%err, "ARI simulator server stopped");
            }
        });
        Ok(Simulator {
            inner: Arc::new(Running { core, addr }),
        })
    }

    fn core(&self) -> &Arc<Core> {
        &self.inner.core
    }

    /// `http://127.0.0.1:PORT`; ARI lives under `/ari`, the events websocket
    /// at `ws://127.0.0.1:PORT/ari/events?app=..&api_key=user:pass`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> &SimConfig {
        &self.core().config
    }

    /// Whether an events websocket currently owns the configured app.
    pub fn app_connected(&self) -> bool {
        self.core().lock().apps.is_active(&self.config().app)
    }

    /// Waits until an events websocket owns the app.
    pub async fn wait_app_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut rx = self.core().conn_tx.subscribe();
        loop {
            if self.app_connected() {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return self.app_connected();
            }
        }
    }

    /// A call enters `Stasis(app, args...)`. Without a connected app socket
    /// it fails at once (`stasis_failed()`), as Asterisk does.
    pub async fn dial(&self, dial: Dial) -> Caller {
        self.dial_edited(dial, None).await
    }

    /// Like [`Simulator::dial`], but the `StasisStart` event is changed by
    /// `edit` before it is sent (e.g. a field removed), to test how the app
    /// copes with events it does not expect. The call is otherwise normal.
    pub async fn dial_with_start_edit(
        &self,
        dial: Dial,
        edit: impl FnOnce(&mut serde_json::Value) + Send + 'static,
    ) -> Caller {
        self.dial_edited(dial, Some(Box::new(edit))).await
    }

    async fn dial_edited(&self, dial: Dial, edit: Option<StartEdit>) -> Caller {
        let core = self.core().clone();
        let app = core.config.app.clone();
        let now = core.clock.now_ms();
        let (seq, active) = {
            let mut st = core.lock();
            st.seq += 1;
            (st.seq, st.apps.is_active(&app))
        };
        let (id, name, protocol_id, connected) = match dial.kind {
            ChannelKind::Sip => (
                format!("{}.{}", core.clock.epoch_secs(), seq),
                format!("PJSIP/phone{}-{:08x}", dial.caller_number, seq),
                uuid(),
                Party {
                    name: String::new(),
                    number: String::new(),
                },
            ),
            ChannelKind::Local => (
                format!("sim-local-{}-{seq};2", core.clock.epoch_secs()),
                format!("Local/{}@{}-{:08x};2", dial.exten, dial.context, seq),
                String::new(),
                Party {
                    name: dial.caller_name.clone(),
                    number: dial.caller_number.clone(),
                },
            ),
        };
        let snap = Snapshot {
            id: id.clone(),
            name,
            state: "Ring".to_string(),
            protocol_id,
            caller: Party {
                name: dial.caller_name.clone(),
                number: dial.caller_number.clone(),
            },
            connected,
            accountcode: String::new(),
            dialplan: Dialplan {
                context: dial.context.clone(),
                exten: dial.exten.clone(),
                priority: 2,
                app_name: "Stasis".to_string(),
                app_data: channel::app_data(&app, &dial.args),
            },
            creationtime: core.clock.timestamp_at(now),
            language: dial.language.clone(),
        };
        let inner = ChanInner {
            snap,
            phase: if active { Phase::Stasis } else { Phase::Gone },
            hangup: None,
            variables: HashMap::new(),
            heard: Vec::new(),
            end: if active {
                None
            } else {
                Some(CallEnd::Rejected)
            },
            audio: Timeline::new(now, CallerAudio::Silence),
            dtmf: Vec::new(),
        };
        let (chan, rx) = Channel::new(id.clone(), app, dial.kind, inner);
        if !active {
            return Caller::new(core, chan, true);
        }
        core.lock().channels.insert(id, chan.clone());
        tokio::spawn(channel::run(core.clone(), chan.clone(), rx));
        match edit {
            Some(edit) => chan.stasis_start_edited(&core, &dial.args, edit),
            None => chan.stasis_start(&core, &dial.args),
        }
        Caller::new(core, chan, false)
    }

    /// Waits for the next call the app originated (`POST /channels`), oldest
    /// first: the phone rings until the test answers or declines it.
    pub async fn wait_originated(&self, timeout: Duration) -> Option<crate::Ringing> {
        crate::originate::next_ringing(self.core(), timeout).await
    }

    /// Drops the app's websocket from the server side; events meanwhile are
    /// lost. Returns when the app has been deactivated.
    pub async fn drop_websocket(&self, how: WsDrop) {
        let app = self.config().app.clone();
        let dropped = self.core().lock().apps.drop_owner(&app, how);
        if dropped {
            self.core().conn_tx.send_modify(|n| *n += 1);
        }
    }

    /// Tiny dialplan: `continue` to (context, exten) re-enters Stasis with
    /// `args` (a new StasisStart on the same channel).
    pub fn add_route(&self, context: &str, exten: &str, args: &[&str]) {
        let args = args.iter().map(|a| (*a).to_string()).collect();
        self.core()
            .lock()
            .routes
            .insert((context.to_string(), exten.to_string()), args);
    }

    /// Mailbox state set through `PUT /mailboxes`: (old, new).
    pub fn mailbox(&self, name: &str) -> Option<(u32, u32)> {
        self.core().lock().mailboxes.get(name)
    }

    /// Names of stored recordings.
    pub fn stored_recordings(&self) -> Vec<String> {
        self.core().lock().stored.names()
    }

    /// Length of a stored recording in (virtual) seconds.
    pub fn stored_recording_secs(&self, name: &str) -> Option<f64> {
        self.core()
            .lock()
            .stored
            .get(name)
            .map(|r| r.len_ms() as f64 / 1000.0)
    }

    /// Bytes of a stored recording's file (a WAV for format `wav`).
    pub fn stored_recording_file(&self, name: &str) -> Option<Vec<u8>> {
        self.core().lock().stored.get(name).map(|r| r.file_bytes())
    }

    /// Adds a stored recording of `secs` of speech, as if recorded earlier.
    pub fn put_stored_recording(&self, name: &str, secs: f64) {
        let rec = StoredRec::speech("wav", crate::clock::secs_to_ms(secs));
        self.core().lock().stored.put(name, rec);
    }

    /// Ids of the channels currently in Stasis.
    pub fn live_channels(&self) -> Vec<String> {
        let chans: Vec<Arc<Channel>> = self.core().lock().channels.values().cloned().collect();
        let mut ids: Vec<String> = chans
            .iter()
            .filter(|c| c.phase() == Phase::Stasis)
            .map(|c| c.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The app's reaction times since the last call, in arrival order: for each
    /// REST command on a channel (or its playback or recording) that followed an
    /// event about that channel, the real time from sending the event to
    /// receiving the command. Later commands without a new event are not counted.
    pub fn take_reaction_times(&self) -> Vec<Duration> {
        self.core().reactions.take()
    }

    /// How many events the simulator has emitted to the app so far (those lost
    /// for want of a connected socket included).
    pub fn events_sent(&self) -> u64 {
        self.core()
            .events_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every HTTP request answered so far.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.core().lock().log.clone()
    }

    /// Real time that `secs` virtual seconds take at the configured speed.
    pub fn real_duration(&self, secs: f64) -> Duration {
        self.core()
            .clock
            .real_duration(crate::clock::secs_to_ms(secs))
    }
}

/// A random version-4 UUID in the usual text form.
pub(crate) fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let v = u128::from_be_bytes(b);
    let v = (v & !(0xf << 76)) | (0x4 << 76); // version 4
    let v = (v & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let h = format!("{v:032x}");
    // `h` is exactly 32 ASCII hex digits, so these slices are in bounds.
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
