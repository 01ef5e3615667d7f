//! What the PBX plays to a caller, seen from an observer app subscribed to every
//! event of the PBX: each `PlaybackStarted` on the PBX's side of a call names the
//! sound the phone hears.

use std::time::Duration;

use serde_json::Value;

use super::ari::{Ari, EventLog, kind};
use super::phones::{PhoneCall, WAIT};

pub struct Observer {
    pub events: EventLog,
}

impl Observer {
    pub async fn connect(pbx: &Ari) -> Observer {
        Observer {
            events: pbx.events("test-observer", true).await,
        }
    }

    /// The PBX's channel of `call` (paired by SIP Call-ID).
    pub async fn channel_of(&self, call: &PhoneCall<'_>) -> String {
        let (_, event) = self
            .events
            .wait_for(0, WAIT, |e| {
                e["channel"]["protocol_id"] == call.sip_call_id.as_str()
            })
            .await
            .unwrap_or_else(|| {
                panic!(
                    "the PBX has no channel for {}'s call {}",
                    call.from, call.sip_call_id
                )
            });
        event["channel"]["id"].as_str().unwrap_or_default().into()
    }

    /// Every media the PBX started playing on `channel`, in order.
    pub fn played(&self, channel: &str) -> Vec<String> {
        let target = format!("channel:{channel}");
        self.events
            .all()
            .iter()
            .filter(|e| kind(e) == "PlaybackStarted" && e["playback"]["target_uri"] == *target)
            .map(|e| media(e).to_owned())
            .collect()
    }
}

fn media(event: &Value) -> &str {
    event["playback"]["media_uri"].as_str().unwrap_or_default()
}

/// One call as the PBX plays it: waits for the prompts the caller should hear, in
/// order.
pub struct Heard<'a> {
    observer: &'a Observer,
    pub channel: String,
    cursor: usize,
}

impl<'a> Heard<'a> {
    pub async fn of(observer: &'a Observer, call: &PhoneCall<'_>) -> Heard<'a> {
        Heard {
            channel: observer.channel_of(call).await,
            observer,
            cursor: 0,
        }
    }

    /// Waits until the PBX starts playing a media whose URI contains `wanted`
    /// (e.g. `voiceportal/enter-pin`), after what this call already heard.
    /// Returns the playback (its `media_uri`, `language`, ...).
    pub async fn prompt(&mut self, wanted: &str) -> Value {
        self.prompt_within(wanted, WAIT).await
    }

    pub async fn prompt_within(&mut self, wanted: &str, timeout: Duration) -> Value {
        let event = self
            .next(timeout, |e| {
                kind(e) == "PlaybackStarted" && media(e).contains(wanted)
            })
            .await
            .unwrap_or_else(|| {
                panic!(
                    "the caller never heard {wanted:?}; the PBX played: {:?}",
                    self.observer.played(&self.channel)
                )
            });
        event["playback"].clone()
    }

    /// Waits until the PBX starts recording the caller (after its beep); returns
    /// the recording's name.
    pub async fn recording(&mut self) -> String {
        let event = self
            .next(WAIT, |e| kind(e) == "RecordingStarted")
            .await
            .unwrap_or_else(|| {
                panic!(
                    "the PBX never started recording the caller; it played: {:?}",
                    self.observer.played(&self.channel)
                )
            });
        event["recording"]["name"]
            .as_str()
            .unwrap_or_default()
            .into()
    }

    /// The name prompt; the caller says a name after the beep, presses `#`, and
    /// keeps it (`1`).
    pub async fn record_name(&mut self, call: &PhoneCall<'_>) {
        self.prompt("sound:vm-rec-name").await;
        self.recording().await;
        call.say("sound:hello-world").await;
        call.press("#").await;
        self.prompt("sound:vm-review").await;
        call.press("1").await;
    }

    /// The next event on this call's channel (by target or channel id) that
    /// satisfies `wanted`.
    async fn next(&mut self, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let target = format!("channel:{}", self.channel);
        let (index, event) = self
            .observer
            .events
            .wait_for(self.cursor, timeout, |e| {
                let ours = e["playback"]["target_uri"] == *target
                    || e["recording"]["target_uri"] == *target;
                ours && wanted(e)
            })
            .await?;
        self.cursor = index + 1;
        Some(event)
    }
}
