//! A simulated Asterisk 22 ARI server for tests.
//!
//! `Simulator::start` serves ARI (HTTP + the events websocket) on
//! 127.0.0.1 with the wire behaviour observed on a real Asterisk 22.10.1
//! (see `tests/traces/`): per-channel command queue, playback and recording
//! life cycles, hang-up sequences, 404/409 after a call left, websocket
//! ownership, drops and write timeouts, stored recordings and mailboxes.
//!
//! Audio time is virtual: every audio duration is divided by
//! `SimConfig::speed`, while durations and timestamps reported to the app
//! are in virtual time, as a real Asterisk would report them. A scripted
//! [`Caller`] plays the phone: press digits, speak, hang up, and check what
//! was heard.
//!
//! ```no_run
//! use ari_sim::{Dial, SimConfig, Simulator};
//! use std::time::Duration;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = Simulator::start(SimConfig::default()).await?;
//! // Start the app under test against sim.base_url() (ARI under /ari), then:
//! assert!(sim.wait_app_connected(Duration::from_secs(5)).await);
//! let caller = sim.dial(Dial::portal("1001")).await;
//! caller.expect_sound("vm-login", Duration::from_secs(5)).await;
//! caller.press("1234#").await;
//! caller.hangup().await;
//! # Ok(())
//! # }
//! ```
//!
//! Modelling choices where the traces say nothing: `number:`, `digits:` and
//! `characters:` play 0.5 s (virtual) per character; a recording stops at
//! exactly `maxDurationSeconds` (Asterisk compares whole wall-clock seconds,
//! so it stops somewhere in the following second); a stop or cancel during
//! the beep ends the recording right after the beep with nothing recorded.

mod audio;
mod caller;
mod channel;
mod clock;
mod config;
mod core;
mod http;
mod json;
mod mailboxes;
mod media;
mod originate;
mod reaction;
mod recording;
mod sim;
mod stored;
mod ws;

pub use audio::CallerAudio;
pub use caller::{CallEnd, Caller, ChannelKind, Dial, Heard};
pub use config::SimConfig;
pub use core::LoggedRequest;
pub use originate::Ringing;
pub use sim::Simulator;
pub use ws::Drop;
