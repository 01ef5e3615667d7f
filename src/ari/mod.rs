//! A typed ARI client: models, events, REST calls and the events websocket.
//! Knows nothing about voicemail.

pub mod client;
pub mod error;
pub mod events;
pub mod models;
pub mod websocket;

pub use client::{AriClient, Originate, PlaybackControl, RecordParams};
pub use error::{AriError, AriErrorKind};
pub use events::Event;
