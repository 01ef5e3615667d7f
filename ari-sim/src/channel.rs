//! A channel in (or after) Stasis, and its command queue.
//!
//! As in Asterisk, play, record, DTMF and continue are queued and run one
//! after another by the channel's own task; the HTTP request that queued them
//! returns at once. Answer and set-variable go through the same queue but the
//! HTTP request waits for them, so `POST /answer` blocks behind a playback.
//!
//! A hang-up marks the channel gone (so REST calls get 404 at once), emits
//! the hang-up events, then lets the task finish what is queued in failure
//! mode (each queued playback gives Started + Finished{failed}) before the
//! final `StasisEnd`.

use crate::audio::{CallerAudio, Timeline};
use crate::caller::{CallEnd, ChannelKind, Heard};
use crate::core::Core;
use crate::http::ApiError;
use crate::json::quote;
use crate::media::Playback;
use crate::reaction::Pending;
use crate::recording::LiveRecording;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// Where the channel is, as far as the app is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// In the Stasis app: REST operations work.
    Stasis,
    /// Alive, but left Stasis through `/continue`: operations give 409.
    Outside,
    /// Hung up: operations give 404.
    Gone,
}

/// Who hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HangupBy {
    Caller,
    App { cause: u32 },
}

/// Caller-id style party.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Party {
    pub(crate) name: String,
    pub(crate) number: String,
}

/// Dialplan location.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Dialplan {
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: u32,
    pub(crate) app_name: String,
    pub(crate) app_data: String,
}

/// The channel JSON exactly as ARI shows it (field order matters to no
/// parser, but it is kept identical to the traces).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) protocol_id: String,
    pub(crate) caller: Party,
    pub(crate) connected: Party,
    pub(crate) accountcode: String,
    pub(crate) dialplan: Dialplan,
    pub(crate) creationtime: String,
    pub(crate) language: String,
}

/// Mutable channel state.
#[derive(Debug)]
pub(crate) struct ChanInner {
    pub(crate) snap: Snapshot,
    pub(crate) phase: Phase,
    /// Set once the hang-up events went out; running media then fails.
    pub(crate) hangup: Option<HangupBy>,
    pub(crate) variables: HashMap<String, String>,
    pub(crate) heard: Vec<Heard>,
    pub(crate) end: Option<CallEnd>,
    pub(crate) audio: Timeline,
    /// DTMF received from the caller: (virtual ms, digit).
    pub(crate) dtmf: Vec<(u64, char)>,
}

/// Queued work for the channel task.
#[derive(Debug)]
pub(crate) enum Command {
    Play(Arc<Playback>),
    Record(Arc<LiveRecording>),
    Answer(oneshot::Sender<Result<(), ApiError>>),
    SetVar {
        name: String,
        value: String,
        reply: oneshot::Sender<()>,
    },
    /// DTMF sent *to* the caller: only takes time on the queue.
    SendDtmf {
        total_ms: u64,
    },
    Continue {
        context: String,
        exten: String,
        priority: u32,
    },
    /// Last command after a hang-up.
    End {
        in_stasis: bool,
    },
}

/// One channel.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) kind: ChannelKind,
    /// Wakes whatever the channel task is waiting on (media control, DTMF,
    /// audio changes, hang-up). A stored permit means no wake-up is lost.
    pub(crate) wake: Notify,
    inner: Mutex<ChanInner>,
    /// Bumped on every change a `Caller` may wait for.
    pub(crate) watch: watch::Sender<u64>,
    /// The last event about this channel not yet followed by a command.
    pub(crate) reaction: Pending,
    cmd_tx: mpsc::UnboundedSender<Command>,
}

impl Channel {
    /// Creates the channel and returns the receiving end of its queue.
    pub(crate) fn new(
        id: String,
        app: String,
        kind: ChannelKind,
        inner: ChanInner,
    ) -> (Arc<Channel>, mpsc::UnboundedReceiver<Command>) {
        let (cmd_tx, rx) = mpsc::unbounded_channel();
        let chan = Arc::new(Channel {
            id,
            app,
            kind,
            wake: Notify::new(),
            inner: Mutex::new(inner),
            watch: watch::Sender::new(0),
            reaction: Pending::default(),
            cmd_tx,
        });
        (chan, rx)
    }

    /// Locks the channel state (poisoning ignored, see `Core::lock`).
    pub(crate) fn lock(&self) -> MutexGuard<'_, ChanInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues a command; false if the task is gone.
    pub(crate) fn push(&self, cmd: Command) -> bool {
        self.cmd_tx.send(cmd).is_ok()
    }

    /// Tells `Caller` waiters that something changed.
    pub(crate) fn changed(&self) {
        self.watch.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The channel JSON.
    pub(crate) fn snapshot_json(&self) -> String {
        crate::json::to_json(&self.lock().snap)
    }

    pub(crate) fn phase(&self) -> Phase {
        self.lock().phase
    }

    /// Whether running media must stop (hang-up) or the simulator is ending.
    pub(crate) fn interrupted(&self, core: &Core) -> bool {
        self.lock().hangup.is_some() || core.is_shutdown()
    }

    /// Records something the caller started to hear.
    pub(crate) fn add_heard(&self, heard: Heard) {
        self.lock().heard.push(heard);
        self.changed();
    }

    /// Waits for a wake-up, the virtual deadline, or shutdown.
    pub(crate) async fn wait(&self, core: &Core, deadline: Option<u64>) {
        let sleep = async {
            match deadline {
                Some(ms) => core.clock.sleep_until_ms(ms).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = sleep => {}
            _ = core.until_shutdown() => {}
        }
    }

    /// Sends an event about this channel: `pre` fields, type, timestamp,
    /// `post` fields, then the channel snapshot.
    pub(crate) fn event(
        &self,
        core: &Core,
        kind: &str,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) {
        let mut post: Vec<(&str, String)> = post.to_vec();
        post.push(("channel", self.snapshot_json()));
        self.reaction.event_sent();
        core.send_event(&self.app, kind, pre, &post);
    }

    /// Emits `StasisStart` with these args.
    pub(crate) fn stasis_start(&self, core: &Core, args: &[String]) {
        self.event(
            core,
            "StasisStart",
            &[],
            &[("args", crate::json::to_json(args))],
        );
    }

    /// Emits a `StasisStart` changed by `edit` first (a test of what an app does
    /// with an event it does not expect). Keys come out in alphabetical order.
    pub(crate) fn stasis_start_edited(
        &self,
        core: &Core,
        args: &[String],
        edit: impl FnOnce(&mut serde_json::Value),
    ) {
        let post = [
            ("args", crate::json::to_json(args)),
            ("channel", self.snapshot_json()),
        ];
        let text = core.event(&self.app, "StasisStart", &[], &post);
        let mut value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        edit(&mut value);
        self.reaction.event_sent();
        core.emit(&self.app, value.to_string());
    }
}

/// Marks the channel hung up and emits what Asterisk emits, then lets the
/// channel task flush its queue and end. Returns false if already gone.
pub(crate) fn hangup(core: &Core, chan: &Arc<Channel>, by: HangupBy) -> bool {
    let was = {
        let mut g = chan.lock();
        let was = g.phase;
        if was == Phase::Gone {
            return false;
        }
        g.phase = Phase::Gone;
        was
    };
    {
        let mut st = core.lock();
        if st
            .channels
            .get(&chan.id)
            .is_some_and(|c| Arc::ptr_eq(c, chan))
        {
            st.channels.remove(&chan.id);
        }
    }
    if was == Phase::Stasis {
        if chan.kind == ChannelKind::Sip {
            for (name, value) in rtp_qos_vars() {
                chan.event(
                    core,
                    "ChannelVarset",
                    &[("variable", quote(name)), ("value", quote(&value))],
                    &[],
                );
            }
        }
        match by {
            HangupBy::Caller => {
                chan.event(core, "ChannelHangupRequest", &[("cause", "16".into())], &[])
            }
            HangupBy::App { .. } => chan.event(
                core,
                "ChannelHangupRequest",
                &[("cause", "32".into()), ("soft", "true".into())],
                &[],
            ),
        }
    }
    chan.lock().hangup = Some(by);
    chan.push(Command::End {
        in_stasis: was == Phase::Stasis,
    });
    chan.wake.notify_one();
    chan.changed();
    true
}

/// The five RTCP statistics variables a PJSIP channel sets on hang-up.
fn rtp_qos_vars() -> Vec<(&'static str, String)> {
    let stats = |prefix: &str, names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{prefix}{n}=000.000000;"))
            .collect::<Vec<_>>()
            .join("")
    };
    vec![
        (
            "RTPAUDIOQOS",
            "ssrc=1725468155;themssrc=2054531783;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000".to_string(),
        ),
        (
            "RTPAUDIOQOSJITTER",
            stats("", &["minrxjitter", "maxrxjitter", "avgrxjitter", "stdevrxjitter", "mintxjitter", "maxtxjitter", "avgtxjitter", "stdevtxjitter"]),
        ),
        (
            "RTPAUDIOQOSLOSS",
            stats("  ", &["minrxlost", "maxrxlost", "avgrxlost", "stdevrxlost", "mintxlost", "maxtxlost", "avgtxlost", "stdevtxlost"]),
        ),
        ("RTPAUDIOQOSRTT", stats("     ", &["minrtt", "maxrtt", "avgrtt", "stdevrtt"])),
        (
            "RTPAUDIOQOSMES",
            stats("   ", &["minrxmes", "maxrxmes", "avgrxmes", "stdevrxmes", "mintxmes", "maxtxmes", "avgtxmes", "stdevtxmes"]),
        ),
    ]
}

/// A DTMF digit from the caller reaches Asterisk at virtual time `at`.
pub(crate) fn caller_dtmf(core: &Core, chan: &Channel, digit: char, at: u64) {
    let duration = {
        let mut g = chan.lock();
        if g.phase != Phase::Stasis {
            return;
        }
        g.dtmf.push((at, digit));
        // Seen in the traces: 160 ms over SIP from a phone that has not sent
        // speech yet, 100 ms otherwise and always 100 ms over Local channels.
        if chan.kind == ChannelKind::Sip && !g.audio.talked {
            160
        } else {
            100
        }
    };
    chan.event(
        core,
        "ChannelDtmfReceived",
        &[],
        &[
            ("digit", quote(&digit.to_string())),
            ("duration_ms", duration.to_string()),
        ],
    );
    chan.wake.notify_one();
}

/// Changes what the caller sends from now on.
pub(crate) fn set_audio(core: &Core, chan: &Channel, mode: CallerAudio) {
    let now = core.clock.now_ms();
    chan.lock().audio.set(now, mode);
    chan.wake.notify_one();
}

/// The channel task: runs queued commands until the channel ends.
pub(crate) async fn run(
    core: Arc<Core>,
    chan: Arc<Channel>,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    loop {
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            _ = core.until_shutdown() => None,
        };
        let Some(cmd) = cmd else { return };
        match cmd {
            Command::Play(pb) => crate::media::run_playback(&core, &chan, pb).await,
            Command::Record(rec) => crate::recording::run_recording(&core, &chan, rec).await,
            Command::Answer(reply) => {
                let _ = reply.send(answer(&core, &chan));
            }
            Command::SetVar { name, value, reply } => {
                set_var(&core, &chan, &name, &value);
                let _ = reply.send(());
            }
            Command::SendDtmf { total_ms } => {
                let until = core.clock.now_ms().saturating_add(total_ms);
                while !chan.interrupted(&core) && core.clock.now_ms() < until {
                    chan.wait(&core, Some(until)).await;
                }
            }
            Command::Continue {
                context,
                exten,
                priority,
            } => continue_in_dialplan(&core, &chan, &mut rx, context, exten, priority),
            Command::End { in_stasis } => {
                let by = chan.lock().hangup;
                if in_stasis {
                    chan.event(&core, "StasisEnd", &[], &[]);
                    let end = match by {
                        Some(HangupBy::App { cause }) => CallEnd::HungUpByApp { cause },
                        _ => CallEnd::HungUpByCaller,
                    };
                    let mut g = chan.lock();
                    if g.end.is_none() {
                        g.end = Some(end);
                    }
                }
                chan.changed();
                return;
            }
        }
    }
}

/// Answers (synchronously for the HTTP caller).
pub(crate) fn answer(core: &Core, chan: &Channel) -> Result<(), ApiError> {
    let changed = {
        let mut g = chan.lock();
        if g.hangup.is_some() {
            return Err(ApiError::new(500, "Failed to answer channel"));
        }
        let changed = g.snap.state != "Up";
        g.snap.state = "Up".to_string();
        changed
    };
    if changed {
        chan.event(core, "ChannelStateChange", &[], &[]);
        chan.changed();
    }
    Ok(())
}

fn set_var(core: &Core, chan: &Channel, name: &str, value: &str) {
    chan.lock()
        .variables
        .insert(name.to_string(), value.to_string());
    chan.event(
        core,
        "ChannelVarset",
        &[("variable", quote(name)), ("value", quote(value))],
        &[],
    );
    chan.changed();
}

/// Leaves Stasis to (context, exten, priority): re-enters it when the tiny
/// dialplan routes there, else the channel lives on outside Stasis.
fn continue_in_dialplan(
    core: &Core,
    chan: &Channel,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    context: String,
    exten: String,
    priority: u32,
) {
    if chan.interrupted(core) || chan.phase() != Phase::Stasis {
        return;
    }
    chan.event(core, "StasisEnd", &[], &[]);
    // Whatever was queued behind the continue belonged to the old Stasis
    // session and is dropped.
    while let Ok(cmd) = rx.try_recv() {
        discard(core, cmd);
    }
    // Priority 1 is the NoOp and 2 the Stasis() of a routed extension.
    let route = if priority <= 2 {
        core.lock()
            .routes
            .get(&(context.clone(), exten.clone()))
            .cloned()
    } else {
        None
    };
    match route {
        Some(args) => {
            {
                let mut g = chan.lock();
                g.snap.dialplan = Dialplan {
                    context,
                    exten,
                    priority: 2,
                    app_name: "Stasis".to_string(),
                    app_data: app_data(&chan.app, &args),
                };
            }
            chan.stasis_start(core, &args);
        }
        None => {
            let mut g = chan.lock();
            g.phase = Phase::Outside;
            g.snap.dialplan = Dialplan {
                context: context.clone(),
                exten: exten.clone(),
                priority,
                app_name: String::new(),
                app_data: String::new(),
            };
            if g.end.is_none() {
                g.end = Some(CallEnd::Continued {
                    context,
                    exten,
                    priority,
                });
            }
        }
    }
    chan.changed();
}

/// Drops a command that will never run, answering any waiting request.
fn discard(core: &Core, cmd: Command) {
    match cmd {
        Command::Play(pb) => crate::media::forget(core, &pb),
        Command::Record(rec) => crate::recording::forget(core, &rec),
        Command::Answer(reply) => {
            let _ = reply.send(Err(ApiError::new(409, "Channel not in Stasis application")));
        }
        Command::SetVar { reply, .. } => {
            let _ = reply.send(());
        }
        Command::SendDtmf { .. } | Command::Continue { .. } | Command::End { .. } => {}
    }
}

/// `Stasis()` application data: `app,arg1,arg2`.
pub(crate) fn app_data(app: &str, args: &[String]) -> String {
    let mut parts = vec![app.to_string()];
    parts.extend(args.iter().cloned());
    parts.join(",")
}
