//! The scripted caller: the phone side of a simulated call.

use crate::audio::CallerAudio;
use crate::channel::{self, Channel, HangupBy};
use crate::clock::secs_to_ms;
use crate::core::Core;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Virtual time between two DTMF digits (and before the first), as measured
/// in the traces (~201 ms).
const DTMF_SPACING_MS: u64 = 200;

/// The kind of channel the call arrives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// A PJSIP phone: id like `1795459821.53`, name `PJSIP/phone1001-0000000N`,
    /// `connected` empty, RTPAUDIOQOS varsets on hang-up, DTMF 160 ms.
    Sip,
    /// The `;2` half of a Local channel: id `<x>;2`, name `Local/...;2`,
    /// `connected` filled, no varsets, DTMF 100 ms.
    Local,
}

/// How a call enters the simulator.
#[derive(Debug, Clone)]
pub struct Dial {
    /// Stasis args, e.g. `["portal"]` or `["deposit","1001","BUSY"]`.
    pub args: Vec<String>,
    /// Caller id number, e.g. `1001`.
    pub caller_number: String,
    /// Caller id name, e.g. `Lab Phone 1001`.
    pub caller_name: String,
    /// Dialplan context of the `Stasis()` call, e.g. `from-phones`.
    pub context: String,
    /// Dialplan extension of the `Stasis()` call, e.g. `*98`.
    pub exten: String,
    /// SIP phone or Local channel.
    pub kind: ChannelKind,
    /// Channel language, the default for `sound:` playbacks.
    pub language: String,
}

impl Dial {
    /// A phone calling the voicemail portal (`*98`, args `["portal"]`).
    pub fn portal(caller_number: &str) -> Dial {
        Dial::new(&["portal"], caller_number)
    }

    /// A SIP call from `caller_number` entering Stasis with `args`.
    pub fn new(args: &[&str], caller_number: &str) -> Dial {
        Dial {
            args: args.iter().map(|a| (*a).to_string()).collect(),
            caller_number: caller_number.to_string(),
            caller_name: format!("Lab Phone {caller_number}"),
            context: "from-phones".to_string(),
            exten: "*98".to_string(),
            kind: ChannelKind::Sip,
            language: "en".to_string(),
        }
    }
}

/// One media item that started playing to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// `sound:NAME` in language `lang`.
    Sound { name: String, lang: String },
    /// `recording:NAME` (a stored recording).
    Recording { name: String },
    /// `digits:...`
    Digits(String),
    /// `number:...`
    Number(String),
    /// `characters:...`
    Characters(String),
    /// `tone:...`
    Tone(String),
    /// The beep of a recording started with `beep=true`.
    Beep,
}

/// How a call ended (first end only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    /// The app hung up (`DELETE /channels/{id}`); `cause` is the Q.850 cause
    /// chosen by `reason_code`/`reason` (16 by default).
    HungUpByApp { cause: u32 },
    /// The caller hung up.
    HungUpByCaller,
    /// The app sent the call on in the dialplan to a place that is not a
    /// route added with `add_route`: it left Stasis alive.
    Continued {
        context: String,
        exten: String,
        priority: u32,
    },
    /// No app socket was connected: `Stasis()` failed and the phone got 603.
    Rejected,
}

/// Handle on a simulated caller; clones share the same "next heard" cursor.
#[derive(Debug, Clone)]
pub struct Caller {
    core: Arc<Core>,
    chan: Arc<Channel>,
    cursor: Arc<Mutex<usize>>,
    failed: bool,
}

impl Caller {
    pub(crate) fn new(core: Arc<Core>, chan: Arc<Channel>, failed: bool) -> Caller {
        Caller {
            core,
            chan,
            cursor: Arc::new(Mutex::new(0)),
            failed,
        }
    }

    /// The channel id the app sees.
    pub fn channel_id(&self) -> String {
        self.chan.id.clone()
    }

    /// True if no app socket was connected when dialed: no events were sent.
    pub fn stasis_failed(&self) -> bool {
        self.failed
    }

    /// Waits for the next media item that started playing to this caller.
    pub async fn next_heard(&self, timeout: Duration) -> Option<Heard> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.chan.watch.subscribe();
        loop {
            {
                let mut cursor = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(item) = self.chan.lock().heard.get(*cursor).cloned() {
                    *cursor += 1;
                    return Some(item);
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Test helper: waits until `sound:<name>` starts and returns what was
    /// heard before it (since the last item taken). Panics, listing all that
    /// was heard, if it does not come in time.
    pub async fn expect_sound(&self, name: &str, timeout: Duration) -> Vec<Heard> {
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_heard(left).await {
                Some(Heard::Sound { name: n, .. }) if n == name => return before,
                Some(other) => before.push(other),
                None => panic!(
                    "caller {} did not hear sound:{name} within {timeout:?}; heard so far: {:?}",
                    self.chan.id,
                    self.heard()
                ),
            }
        }
    }

    /// Everything that started playing so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.chan.lock().heard.clone()
    }

    /// Presses DTMF digits (RFC 4733), ~200 ms virtual apart; each gives a
    /// `ChannelDtmfReceived`. Playbacks are not stopped (the app must).
    /// Returns once the last digit was sent.
    pub async fn press(&self, digits: &str) {
        if self.failed {
            return;
        }
        let start = self.core.clock.now_ms();
        for (i, digit) in digits.chars().enumerate() {
            let at = start + DTMF_SPACING_MS * (i as u64 + 1);
            self.core.clock.sleep_until_ms(at).await;
            channel::caller_dtmf(&self.core, &self.chan, digit, at);
        }
    }

    /// The caller talks for `secs` virtual seconds, then sends silent RTP
    /// again. Returns when done.
    pub async fn speak(&self, secs: f64) {
        let now = self.core.clock.now_ms();
        let len = secs_to_ms(secs);
        self.chan.lock().audio.speak(now, len);
        self.chan.wake.notify_one();
        self.core
            .clock
            .sleep_until_ms(now.saturating_add(len))
            .await;
        // Wake a recording so that it notices the switch to silence.
        self.chan.wake.notify_one();
    }

    /// Changes what the phone sends from now on.
    pub fn set_audio(&self, audio: CallerAudio) {
        channel::set_audio(&self.core, &self.chan, audio);
    }

    /// The caller hangs up (SIP BYE).
    pub async fn hangup(&self) {
        if !self.failed {
            channel::hangup(&self.core, &self.chan, HangupBy::Caller);
        }
    }

    /// Waits until the call ended (or left Stasis), up to `timeout`.
    pub async fn wait_end(&self, timeout: Duration) -> Option<CallEnd> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.chan.watch.subscribe();
        loop {
            if let Some(end) = self.chan.lock().end.clone() {
                return Some(end);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Channel variables set by the app (`POST /channels/{id}/variable`).
    pub fn variables(&self) -> HashMap<String, String> {
        self.chan.lock().variables.clone()
    }

    /// Channel state: `Ring`, `Up`, ...
    pub fn state(&self) -> String {
        self.chan.lock().snap.state.clone()
    }
}
