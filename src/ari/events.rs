//! Events from the ARI websocket.
//!
//! Parsing peeks at `type` first: a type we model is parsed strictly (a malformed
//! one is an error the reader logs and skips), any other type becomes
//! `Event::Unknown` so a newer Asterisk never breaks the connection.

use serde::Deserialize;

use super::models::{AriTime, Channel, LiveRecording, Playback, channel_of_target};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    StasisStart {
        timestamp: AriTime,
        #[serde(default)]
        args: Vec<String>,
        channel: Channel,
    },
    StasisEnd {
        timestamp: AriTime,
        channel: Channel,
    },
    ChannelStateChange {
        timestamp: AriTime,
        channel: Channel,
    },
    ChannelDtmfReceived {
        timestamp: AriTime,
        digit: String,
        #[serde(default)]
        duration_ms: u32,
        channel: Channel,
    },
    ChannelHangupRequest {
        timestamp: AriTime,
        #[serde(default)]
        cause: Option<i32>,
        #[serde(default)]
        soft: Option<bool>,
        channel: Channel,
    },
    ChannelDestroyed {
        timestamp: AriTime,
        #[serde(default)]
        cause: i32,
        #[serde(default)]
        cause_txt: String,
        channel: Channel,
    },
    ChannelVarset {
        timestamp: AriTime,
        variable: String,
        #[serde(default)]
        value: String,
        /// Global variables come without a channel.
        #[serde(default)]
        channel: Option<Channel>,
    },
    ChannelCreated {
        timestamp: AriTime,
        channel: Channel,
    },
    ChannelDialplan {
        timestamp: AriTime,
        #[serde(default)]
        dialplan_app: String,
        #[serde(default)]
        dialplan_app_data: String,
        channel: Channel,
    },
    ChannelCallerId {
        timestamp: AriTime,
        channel: Channel,
    },
    ChannelConnectedLine {
        timestamp: AriTime,
        channel: Channel,
    },
    PlaybackStarted {
        timestamp: AriTime,
        playback: Playback,
    },
    PlaybackContinuing {
        timestamp: AriTime,
        playback: Playback,
    },
    PlaybackFinished {
        timestamp: AriTime,
        playback: Playback,
    },
    RecordingStarted {
        timestamp: AriTime,
        recording: LiveRecording,
    },
    RecordingFinished {
        timestamp: AriTime,
        recording: LiveRecording,
    },
    RecordingFailed {
        timestamp: AriTime,
        recording: LiveRecording,
    },
    /// Another websocket took the application over; this one will hear nothing more.
    ApplicationReplaced {
        timestamp: AriTime,
        #[serde(default)]
        application: String,
    },
    /// Any type this module does not model (`DeviceStateChanged`, `Dial`, ...).
    #[serde(skip)]
    Unknown { kind: String },
}

/// Every `type` value parsed into a named variant.
const KNOWN: &[&str] = &[
    "StasisStart",
    "StasisEnd",
    "ChannelStateChange",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ChannelVarset",
    "ChannelCreated",
    "ChannelDialplan",
    "ChannelCallerId",
    "ChannelConnectedLine",
    "PlaybackStarted",
    "PlaybackContinuing",
    "PlaybackFinished",
    "RecordingStarted",
    "RecordingFinished",
    "RecordingFailed",
    "ApplicationReplaced",
];

/// Just the `type` of an event (borrowed from the text when it has no escapes);
/// every other field is skipped unread.
#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event is not a JSON object with a string `type`: {0}")]
    NotAnEvent(String),
    #[error("malformed {kind} event: {reason}")]
    Malformed { kind: String, reason: String },
}

impl EventError {
    /// Whether the event was a StasisStart (a call waiting to be served).
    pub fn is_stasis_start(&self) -> bool {
        matches!(self, EventError::Malformed { kind, .. } if kind == "StasisStart")
    }
}

impl Event {
    /// Parses one websocket text frame.
    ///
    /// Every call event goes through here, so the common case is one pass over
    /// the text straight into the typed event; the type alone is read, and the
    /// generic JSON tree built, only for an event that does not fit.
    pub fn parse(text: &str) -> Result<Event, EventError> {
        let error = match serde_json::from_str::<Event>(text) {
            Ok(event) => return Ok(event),
            Err(e) => e,
        };
        let kind = match serde_json::from_str::<Kind>(text) {
            Ok(Kind { kind: Some(kind) }) => kind.into_owned(),
            Ok(Kind { kind: None }) => {
                return Err(EventError::NotAnEvent("no `type` field".into()));
            }
            Err(e) => return Err(EventError::NotAnEvent(e.to_string())),
        };
        if !KNOWN.contains(&kind.as_str()) {
            return Ok(Event::Unknown { kind });
        }
        let reason = error.to_string();
        // A caller is behind every StasisStart: serve it as long as we know which
        // channel it is, rather than leave them in silence.
        if kind == "StasisStart"
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(event) = lenient_stasis_start(&value)
        {
            tracing::warn!(error = %reason, raw = %clip(text),
                "malformed StasisStart; serving its channel anyway");
            return Ok(event);
        }
        Err(EventError::Malformed { kind, reason })
    }

    /// The event's `type`, for logs.
    pub fn kind(&self) -> &str {
        match self {
            Event::StasisStart { .. } => "StasisStart",
            Event::StasisEnd { .. } => "StasisEnd",
            Event::ChannelStateChange { .. } => "ChannelStateChange",
            Event::ChannelDtmfReceived { .. } => "ChannelDtmfReceived",
            Event::ChannelHangupRequest { .. } => "ChannelHangupRequest",
            Event::ChannelDestroyed { .. } => "ChannelDestroyed",
            Event::ChannelVarset { .. } => "ChannelVarset",
            Event::ChannelCreated { .. } => "ChannelCreated",
            Event::ChannelDialplan { .. } => "ChannelDialplan",
            Event::ChannelCallerId { .. } => "ChannelCallerId",
            Event::ChannelConnectedLine { .. } => "ChannelConnectedLine",
            Event::PlaybackStarted { .. } => "PlaybackStarted",
            Event::PlaybackContinuing { .. } => "PlaybackContinuing",
            Event::PlaybackFinished { .. } => "PlaybackFinished",
            Event::RecordingStarted { .. } => "RecordingStarted",
            Event::RecordingFinished { .. } => "RecordingFinished",
            Event::RecordingFailed { .. } => "RecordingFailed",
            Event::ApplicationReplaced { .. } => "ApplicationReplaced",
            Event::Unknown { kind } => kind,
        }
    }

    /// The channel this event concerns: its own channel, or the channel a playback
    /// or recording targets. `None` for application-level events.
    pub fn channel_id(&self) -> Option<&str> {
        match self {
            Event::StasisStart { channel, .. }
            | Event::StasisEnd { channel, .. }
            | Event::ChannelStateChange { channel, .. }
            | Event::ChannelDtmfReceived { channel, .. }
            | Event::ChannelHangupRequest { channel, .. }
            | Event::ChannelDestroyed { channel, .. }
            | Event::ChannelCreated { channel, .. }
            | Event::ChannelDialplan { channel, .. }
            | Event::ChannelCallerId { channel, .. }
            | Event::ChannelConnectedLine { channel, .. } => Some(&channel.id),
            Event::ChannelVarset { channel, .. } => channel.as_ref().map(|c| c.id.as_str()),
            Event::PlaybackStarted { playback, .. }
            | Event::PlaybackContinuing { playback, .. }
            | Event::PlaybackFinished { playback, .. } => channel_of_target(&playback.target_uri),
            Event::RecordingStarted { recording, .. }
            | Event::RecordingFinished { recording, .. }
            | Event::RecordingFailed { recording, .. } => channel_of_target(&recording.target_uri),
            Event::ApplicationReplaced { .. } | Event::Unknown { .. } => None,
        }
    }
}

/// A StasisStart read field by field: the channel id is all it needs; whatever
/// else does not parse takes its default (no arguments: the flows then apologise
/// for a bad entry point).
fn lenient_stasis_start(value: &serde_json::Value) -> Option<Event> {
    let raw_channel = value.get("channel")?;
    let id = raw_channel.get("id")?.as_str()?.trim();
    if id.is_empty() {
        return None;
    }
    let channel = serde_json::from_value::<Channel>(raw_channel.clone())
        .ok()
        .filter(|c| c.id == id)
        .unwrap_or_else(|| Channel {
            id: id.to_owned(),
            ..Channel::default()
        });
    let args = value
        .get("args")
        .and_then(|a| a.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let timestamp = value
        .get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(|t| AriTime::parse(t).ok())
        .unwrap_or_else(|| AriTime(chrono::Utc::now().fixed_offset()));
    Some(Event::StasisStart {
        timestamp,
        args,
        channel,
    })
}

/// At most this much of a raw event goes into a log line.
const RAW_LOG_CHARS: usize = 2000;

/// The start of a raw event, for a log line.
pub fn clip(text: &str) -> String {
    text.chars().take(RAW_LOG_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of the real traces and of the sample parses, and its channel is found.
    #[test]
    fn every_event_of_the_real_traces_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/ari-sim/tests/traces");
        let Ok(entries) = std::fs::read_dir(dir) else {
            panic!("trace fixtures missing at {dir}");
        };
        let mut parsed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                if record["dir"] != "event" {
                    continue;
                }
                let raw = record["event"].to_string();
                let event =
                    Event::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}\n{raw}", path.display()));
                assert!(!matches!(event, Event::Unknown { .. }), "{raw}");
                if !matches!(event, Event::ApplicationReplaced { .. }) {
                    assert!(event.channel_id().is_some(), "{raw}");
                }
                parsed += 1;
            }
        }
        assert!(parsed > 250, "only {parsed} events parsed");
    }

    /// One full example of every event type a real Asterisk sent with subscribeAll:
    /// the ones we model parse into their variant, the others are kept as Unknown.
    #[test]
    fn every_sample_event_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ari-events-sample.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let samples: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        for (kind, raw) in samples {
            let event = Event::parse(&raw.to_string()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(event.kind(), kind);
        }
    }

    #[test]
    fn unknown_types_are_kept_and_bad_ones_are_errors() {
        let e = Event::parse(r#"{"type":"DeviceStateChanged","device_state":{}}"#).unwrap();
        assert_eq!(
            e,
            Event::Unknown {
                kind: "DeviceStateChanged".into()
            }
        );
        assert!(Event::parse("not json").is_err());
        assert!(Event::parse(r#"{"no":"type"}"#).is_err());
        let err = Event::parse(r#"{"type":"StasisStart","timestamp":"bad"}"#).unwrap_err();
        assert!(err.to_string().contains("StasisStart"), "{err}");
    }

    #[test]
    fn a_stasis_start_with_a_channel_id_is_served_whatever_else_is_wrong() {
        let raw = r#"{"type":"StasisStart","args":["portal",7],
            "channel":{"id":"1.53","caller":"not an object"}}"#;
        let Event::StasisStart { channel, args, .. } = Event::parse(raw).unwrap() else {
            panic!("not a StasisStart");
        };
        assert_eq!(channel.id, "1.53");
        assert_eq!(args, ["portal"]);
        let no_id = r#"{"type":"StasisStart","timestamp":"bad","channel":{"name":"x"}}"#;
        assert!(Event::parse(no_id).is_err());
    }

    #[test]
    fn playback_events_name_their_channel() {
        let raw = r#"{"type":"PlaybackFinished","timestamp":"2026-11-23T18:50:21.774+0000",
            "playback":{"id":"p1","media_uri":"sound:vm-login","target_uri":"channel:1.53","state":"done"}}"#;
        let e = Event::parse(raw).unwrap();
        assert_eq!(e.channel_id(), Some("1.53"));
    }
}
