//! The call runtime: one task per channel, fed by the router, and the `Call` handle
//! flows use. Knows nothing about mailboxes or PINs.

mod collect;
mod handle;
mod router;

pub use collect::{Collect, CollectEnd, Digits};
pub use handle::{Call, DialplanTarget, RecordSpec, Recorded};
pub use router::{CallHandler, Router};

use crate::ari::{AriError, Event};

/// What the router hands a call task.
#[derive(Debug)]
pub(crate) enum CallInput {
    Event(Box<Event>),
    /// After a websocket gap, Asterisk no longer lists the channel in our application:
    /// its final events were lost.
    Lost,
    /// After a websocket gap the channel is still ours, but events of what it
    /// waits for may have been lost: check with Asterisk.
    Resync,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The caller hung up or the call left our application. Not worth a loud log.
    #[error("the call is gone")]
    Gone,
    #[error(transparent)]
    Ari(#[from] AriError),
    /// Asterisk reported a media failure (e.g. a recording could not be written).
    #[error("{0}")]
    Media(String),
    /// A service the flow depends on failed (Redis, PIN hashing): the caller hears
    /// an apology.
    #[error("{0}")]
    Backend(String),
}

/// One item of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A sound file from Asterisk's sounds directory, e.g. `vm-login` or
    /// `voiceportal/pin-locked`; the channel language picks the folder.
    Sound(String),
    /// A stored recording, by name.
    Recording(String),
    /// Says each digit: "one zero zero one".
    Digits(String),
    /// Says a number: "twelve".
    Number(u64),
}

impl Media {
    pub fn sound(name: &str) -> Media {
        Media::Sound(name.to_owned())
    }

    /// The ARI media URI.
    pub fn uri(&self) -> String {
        match self {
            Media::Sound(name) => format!("sound:{name}"),
            Media::Recording(name) => format!("recording:{name}"),
            Media::Digits(digits) => format!("digits:{digits}"),
            Media::Number(n) => format!("number:{n}"),
        }
    }
}
