//! Reaction times: how long the app takes to answer what the simulator tells it.
//!
//! Per channel, the instant of the last event sent about it is kept; when the
//! next REST command for that channel arrives (a request on
//! `/channels/{id}/...`, or on a playback or live recording of that channel),
//! the time since that event is one sample. Only the first command after an
//! event counts, so a command sent without a new event (e.g. after the app's own
//! timer) is never measured against an old event. A load benchmark reads the
//! samples with [`crate::Simulator::take_reaction_times`].

use crate::channel::Channel;
use crate::core::State;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The instant of the last event about one channel that has had no command yet.
#[derive(Debug, Default)]
pub(crate) struct Pending(Mutex<Option<Instant>>);

impl Pending {
    /// An event about the channel was sent now.
    pub(crate) fn event_sent(&self) {
        *self.lock() = Some(Instant::now());
    }

    /// A command arrived: the time since the unanswered event, if there is one.
    fn command_received(&self) -> Option<Duration> {
        self.lock().take().map(|sent| sent.elapsed())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The samples collected so far, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Reactions(Mutex<Vec<Duration>>);

impl Reactions {
    /// A request on `path` arrived: if it is a command for a channel with an
    /// unanswered event, records the reaction time. `state` finds the channel
    /// of a playback or recording.
    pub(crate) fn request(&self, state: &State, path: &str) {
        let Some(chan) = channel_of(state, path) else {
            return;
        };
        if let Some(took) = chan.reaction.command_received() {
            self.lock().push(took);
        }
    }

    /// Every sample since the last call.
    pub(crate) fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Duration>> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The live channel a request path is about: `/ari/channels/{id}...`,
/// `/ari/playbacks/{id}...` or `/ari/recordings/live/{name}...`.
fn channel_of(state: &State, path: &str) -> Option<Arc<Channel>> {
    let rest = path.strip_prefix("/ari/")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("channels"), Some(id), _) => state.channels.get(id).cloned(),
        (Some("playbacks"), Some(id), _) => state.playbacks.get(id)?.chan.upgrade(),
        (Some("recordings"), Some("live"), Some(name)) => state.recordings.get(name)?.channel(),
        _ => None,
    }
}
