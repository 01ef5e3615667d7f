//! Routes websocket events to one task per channel.
//!
//! Data flows one way: event -> router -> call task. The router alone owns the
//! table of live calls; it adds a call on StasisStart and forgets it on StasisEnd.
//! After every (re)connection it reconciles that table with what Asterisk says our
//! application holds, because events sent while the socket was down are lost for
//! good: an unowned channel hears an apology and is hung up, never left in silence,
//! and a task whose channel is gone is told so.

use futures_util::FutureExt;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::{Call, CallInput, Media};
use crate::ari::models::Channel;
use crate::ari::websocket::StreamItem;
use crate::ari::{AriClient, Event};
use crate::config::CallConfig;

/// What to do with a call: the flows implement this.
pub trait CallHandler: Send + Sync + 'static {
    fn handle<'a>(&'a self, call: &'a mut Call) -> impl Future<Output = ()> + Send + 'a;
}

/// How long after asking Asterisk for our channels we decide who is orphaned: a
/// StasisStart already queued behind the answer must be seen first.
const RECONCILE_SETTLE: Duration = Duration::from_millis(500);

/// Why `Router::run_until` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shut down (calls drained), or the websocket task ended.
    Stopped,
    /// The application was lost: its calls were abandoned with an apology.
    Lost,
}

struct LiveCall {
    inbox: mpsc::UnboundedSender<CallInput>,
    since: Instant,
}

struct Reconciled {
    asked_at: Instant,
    channel_ids: Vec<String>,
}

pub struct Router<H: CallHandler> {
    client: AriClient,
    app: String,
    timing: CallConfig,
    handler: Arc<H>,
    /// Played to a call nobody can serve (orphaned, or a flow that failed).
    apology: Vec<Media>,
    calls: HashMap<String, LiveCall>,
    sessions: u64,
    /// Shutdown was asked for: no new calls, waiting for the others to end.
    draining: bool,
    /// Every call task: a call's work goes on after its StasisEnd (saving a
    /// message after a hang-up), so a stop waits for the tasks, not the channels.
    tasks: JoinSet<()>,
}

impl<H: CallHandler> Router<H> {
    pub fn new(
        client: AriClient,
        app: String,
        timing: CallConfig,
        handler: Arc<H>,
        apology: Vec<Media>,
    ) -> Router<H> {
        Router {
            client,
            app,
            timing,
            handler,
            apology,
            calls: HashMap::new(),
            sessions: 0,
            draining: false,
            tasks: JoinSet::new(),
        }
    }

    /// Runs until the websocket task stops, or until `shutdown` completes and the
    /// calls in progress have drained: after `shutdown`, new calls hear an apology
    /// and are hung up, while calls in progress go on for up to
    /// `call.shutdown_grace`; those still there then hear the apology too. A
    /// restart then never cuts a caller off in the middle of a message.
    pub async fn run(
        self,
        items: mpsc::UnboundedReceiver<StreamItem>,
        shutdown: impl Future<Output = ()>,
    ) {
        self.run_until(items, shutdown, std::future::pending())
            .await;
    }

    /// As `run`, but also ends when `lost` completes: this instance no longer
    /// owns the application (high availability: its lease could not be
    /// renewed), so it hears none of its calls' events any more. Every call
    /// task is told its call is lost (a deposit then saves what was recorded),
    /// and every caller hears the apology and is hung up.
    pub async fn run_until(
        mut self,
        mut items: mpsc::UnboundedReceiver<StreamItem>,
        shutdown: impl Future<Output = ()>,
        lost: impl Future<Output = ()>,
    ) -> Ended {
        let (reconciled_tx, mut reconciled_rx) = mpsc::unbounded_channel();
        tokio::pin!(shutdown);
        tokio::pin!(lost);
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        loop {
            if self.draining && self.tasks.is_empty() {
                break;
            }
            tokio::select! {
                item = items.recv() => match item {
                    // Losing the lease closes the websocket, which ends the
                    // items: that is a loss, not a stop, whichever this select
                    // saw first.
                    None if lost.as_mut().now_or_never().is_some() => {
                        return self.give_up().await;
                    }
                    None => break,
                    Some(StreamItem::Connected { reconnect }) => {
                        info!(reconnect, "reconciling calls with Asterisk");
                        self.ask_channels(reconciled_tx.clone());
                    }
                    Some(StreamItem::Disconnected { .. }) => {}
                    Some(StreamItem::Event(event)) => self.dispatch(*event),
                },
                Some(reconciled) = reconciled_rx.recv() => self.reconcile(reconciled),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                () = &mut shutdown, if !self.draining => {
                    info!(calls = self.calls.len(), grace = ?self.timing.shutdown_grace,
                        "stopping: no new calls; letting calls in progress finish");
                    self.draining = true;
                    drain.as_mut().reset(Instant::now() + self.timing.shutdown_grace);
                }
                () = &mut lost => return self.give_up().await,
                () = &mut drain => {
                    warn!(calls = self.calls.len(), "calls still in progress at the end of the grace period; apologising");
                    // Awaited here, not spawned: the process exits right after.
                    let apologies = self
                        .calls
                        .keys()
                        .map(|id| apologise_blind(&self.client, id, &self.apology));
                    futures_util::future::join_all(apologies).await;
                    break;
                }
            }
        }
        debug!(calls = self.calls.len(), "router stopped");
        Ended::Stopped
    }

    /// This instance no longer owns the application: every call task is told
    /// its call is lost, and every caller hears the apology and is hung up.
    async fn give_up(&mut self) -> Ended {
        warn!(
            calls = self.calls.len(),
            "no longer the owner of the application; apologising to the calls in progress"
        );
        for live in self.calls.values() {
            let _ = live.inbox.send(CallInput::Lost);
        }
        let apologies = self
            .calls
            .keys()
            .map(|id| apologise_blind(&self.client, id, &self.apology));
        futures_util::future::join_all(apologies).await;
        Ended::Lost
    }

    fn dispatch(&mut self, event: Event) {
        let Some(channel_id) = event.channel_id().map(str::to_owned) else {
            if let Event::ApplicationReplaced { application, .. } = &event {
                error!(app = %application,
                    "another client took over the ARI application; this instance receives no more calls");
            }
            return;
        };
        if let Event::StasisStart { channel, args, .. } = &event {
            if self.draining {
                info!(channel = %channel.id, "call while stopping: apologising");
                self.start_orphan(channel.id.clone());
            } else {
                self.start_call(channel.clone(), args.clone());
            }
        }
        let ends = matches!(
            event,
            Event::StasisEnd { .. } | Event::ChannelDestroyed { .. }
        );
        if let Some(live) = self.calls.get(&channel_id) {
            // A send fails only when the task has ended; the event is then moot.
            let _ = live.inbox.send(CallInput::Event(Box::new(event)));
        }
        if ends {
            self.calls.remove(&channel_id);
        }
    }

    fn start_call(&mut self, channel: Channel, args: Vec<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.sessions += 1;
        let id = channel.id.clone();
        let span = info_span!("call", channel = %id, entry = %args.join(","), mailbox = tracing::field::Empty);
        let call = Call::new(
            channel,
            args,
            self.client.clone(),
            rx,
            self.timing.clone(),
            self.sessions,
        );
        self.calls.insert(
            id.clone(),
            LiveCall {
                inbox: tx,
                since: Instant::now(),
            },
        );
        let handler = self.handler.clone();
        let client = self.client.clone();
        let apology = self.apology.clone();
        self.tasks.spawn(
            async move {
                // The flow runs in its own task so that even a bug that panics
                // leaves nobody in silence: the supervisor apologises and hangs up.
                let flow = tokio::spawn(
                    async move {
                        let mut call = call;
                        handler.handle(&mut call).await;
                        if call.needs_cleanup() {
                            if !call.is_gone() {
                                warn!("flow ended without hanging up; hanging up");
                            }
                            let _ = call.hangup().await;
                        }
                    }
                    .in_current_span(),
                );
                if let Err(e) = flow.await {
                    error!(error = %e, "call flow failed");
                    apologise_blind(&client, &id, &apology).await;
                }
            }
            .instrument(span),
        );
    }

    /// Asks Asterisk which channels our application holds, off the router's loop.
    fn ask_channels(&self, reply: mpsc::UnboundedSender<Reconciled>) {
        let client = self.client.clone();
        let app = self.app.clone();
        tokio::spawn(async move {
            // Asterisk may still be busy right after it comes back: keep asking,
            // or orphaned callers would wait in silence.
            let mut delay = Duration::from_millis(250);
            loop {
                let asked_at = Instant::now();
                match client.application(&app).await {
                    Ok(application) => {
                        tokio::time::sleep(RECONCILE_SETTLE).await;
                        let _ = reply.send(Reconciled {
                            asked_at,
                            channel_ids: application.channel_ids,
                        });
                        return;
                    }
                    Err(e) => {
                        warn!(error = %e, retry_in = ?delay, "cannot list the application's channels");
                        if reply.is_closed() {
                            return;
                        }
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    fn reconcile(&mut self, reconciled: Reconciled) {
        let Reconciled {
            asked_at,
            channel_ids,
        } = reconciled;
        for id in &channel_ids {
            if !self.calls.contains_key(id) {
                warn!(channel = %id, "channel in our application with no call task; apologising");
                self.start_orphan(id.clone());
            }
        }
        let lost: Vec<String> = self
            .calls
            .iter()
            .filter(|(id, live)| live.since < asked_at && !channel_ids.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in lost {
            info!(channel = %id, "call left while the websocket was down");
            if let Some(live) = self.calls.remove(&id) {
                let _ = live.inbox.send(CallInput::Lost);
            }
        }
        // The others are still ours, but may have missed the end of a prompt or
        // a recording: each checks with Asterisk.
        for (id, live) in &self.calls {
            if live.since < asked_at && channel_ids.contains(id) {
                let _ = live.inbox.send(CallInput::Resync);
            }
        }
    }

    /// Takes over a channel nobody serves: apology, then hang-up, through a normal
    /// call task so its events are routed.
    fn start_orphan(&mut self, id: String) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.sessions += 1;
        let channel = Channel {
            id: id.clone(),
            ..Channel::default()
        };
        let mut call = Call::new(
            channel,
            Vec::new(),
            self.client.clone(),
            rx,
            self.timing.clone(),
            self.sessions,
        );
        self.calls.insert(
            id.clone(),
            LiveCall {
                inbox: tx,
                since: Instant::now(),
            },
        );
        let apology = self.apology.clone();
        self.tasks.spawn(
            async move {
                // A channel that is not in Stasis (Asterisk answers 404/409) is
                // not ours to end: it hung up, left for the dialplan, or is a call
                // we placed that is still ringing (an originated channel belongs
                // to the application before it is answered).
                if !matches!(call.play(&apology).await, Err(super::CallError::Gone)) {
                    let _ = call.hangup().await;
                }
            }
            .instrument(info_span!("orphan", channel = %id)),
        );
    }
}

/// Last resort when the call task itself failed: play without waiting, hang up after.
async fn apologise_blind(client: &AriClient, channel: &str, apology: &[Media]) {
    let uris: Vec<String> = apology.iter().filter_map(Media::uri).collect();
    let id = format!("vp-{}-apology-{channel}", std::process::id());
    if client.play(channel, &id, &uris, None).await.is_ok() {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let _ = client.hangup(channel, "normal").await;
}
