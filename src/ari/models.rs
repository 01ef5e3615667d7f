//! The ARI resources voiceportal reads, shaped like Asterisk 22's JSON.
//!
//! Fields Asterisk may omit are `Option` or defaulted; fields we do not use are
//! ignored, so a newer Asterisk that adds fields does not break parsing.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Asterisk writes `2026-11-23T18:50:21.774+0000`: no colon in the offset, which
/// strict RFC 3339 parsers reject. This type accepts both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AriTime(pub DateTime<FixedOffset>);

/// Asterisk's timestamp format, compiled once: every event carries a timestamp,
/// and compiling the format string for each one was a visible part of a call's
/// CPU time.
static ASTERISK_TIME: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
    std::sync::LazyLock::new(|| {
        chrono::format::StrftimeItems::new("%Y-%m-%dT%H:%M:%S%.f%z")
            .parse()
            .unwrap_or_default()
    });

impl AriTime {
    pub fn parse(text: &str) -> Result<AriTime, chrono::ParseError> {
        let mut parsed = chrono::format::Parsed::new();
        chrono::format::parse(&mut parsed, text, ASTERISK_TIME.iter())
            .and_then(|()| parsed.to_datetime())
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .map(AriTime)
    }
}

impl<'de> Deserialize<'de> for AriTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AriTime::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("bad Asterisk timestamp `{text}`: {e}")))
    }
}

impl Serialize for AriTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct CallerId {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub number: String,
}

/// Where the channel is in the dialplan (context, extension, priority).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct DialplanCep {
    #[serde(default)]
    pub context: String,
    #[serde(default)]
    pub exten: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub app_name: String,
    #[serde(default)]
    pub app_data: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub caller: CallerId,
    #[serde(default)]
    pub connected: CallerId,
    #[serde(default)]
    pub dialplan: DialplanCep,
    #[serde(default)]
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Playback {
    pub id: String,
    #[serde(default)]
    pub media_uri: String,
    #[serde(default)]
    pub next_media_uri: Option<String>,
    #[serde(default)]
    pub target_uri: String,
    #[serde(default)]
    pub language: Option<String>,
    /// `queued`, `playing`, `paused`, `continuing`, `done`, `failed`...
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LiveRecording {
    pub name: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub target_uri: String,
    /// Whole seconds, truncated, computed before trailing silence is trimmed.
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub talking_duration: Option<u32>,
    #[serde(default)]
    pub silence_duration: Option<u32>,
    #[serde(default)]
    pub cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct StoredRecording {
    pub name: String,
    #[serde(default)]
    pub format: String,
}

/// Message counts of an external mailbox, as `/mailboxes` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Mailbox {
    pub name: String,
    pub old_messages: u32,
    pub new_messages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub channel_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AsteriskPing {
    #[serde(default)]
    pub asterisk_id: String,
    pub ping: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Variable {
    pub value: String,
}

/// The channel id named by a `target_uri` such as `channel:1795459821.53`.
pub fn channel_of_target(target_uri: &str) -> Option<&str> {
    target_uri.strip_prefix("channel:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asterisk_timestamps_parse_without_offset_colon() {
        let t = AriTime::parse("2026-11-23T18:50:21.774+0000").unwrap();
        assert_eq!(t.0.timestamp_millis() % 1000, 774);
        assert!(AriTime::parse("2026-11-23T18:50:21.774+00:00").is_ok());
        assert!(AriTime::parse("yesterday").is_err());
    }

    #[test]
    fn target_uri_names_the_channel() {
        assert_eq!(channel_of_target("channel:1.2"), Some("1.2"));
        assert_eq!(channel_of_target("bridge:1"), None);
    }
}
