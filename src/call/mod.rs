//! The call runtime: one task per channel, fed by the router, and the `Call` handle
//! flows use. Knows nothing about mailboxes or PINs.

mod collect;
mod handle;
mod router;

pub use collect::{Collect, CollectEnd, Digits};
pub use handle::{Call, DialplanTarget, RecordSpec, Recorded};
pub use router::{CallHandler, Ended, Router};

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
///
/// Asterisk takes a playlist as one comma-separated `media=` value, and a media
/// URI names what to play (`recording:` any stored recording, `sound:` any file),
/// so text from outside (a caller ID, a name) must never be pasted into one: a
/// caller ID `0612,recording:voiceportal/1002/unavail` would make the owner hear
/// another mailbox's greeting. Items are checked when sent ([`Media::uri`]):
/// digits are digits, names are plain path names. Flows turn outside text into
/// media through [`Media::caller_digits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// A sound file from Asterisk's sounds directory, e.g. `vm-login` or
    /// `voiceportal/pin-locked`; the channel language picks the folder.
    Sound(String),
    /// A stored recording, by name.
    Recording(String),
    /// Says each digit: "one zero zero one". Digits, `*` and `#` only.
    Digits(String),
    /// Says a number: "twelve".
    Number(u64),
}

/// Longest digit string said as one item (a phone number is at most 15 digits).
const MAX_SAID_DIGITS: usize = 32;

impl Media {
    pub fn sound(name: &str) -> Media {
        Media::Sound(name.to_owned())
    }

    /// A caller ID number said digit by digit, if it is one: digits only, with
    /// an optional leading `+` (not said). Anything else (letters, commas,
    /// colons, spaces, other scripts' digits) is `None`: the caller is unknown,
    /// rather than something made up from part of what they sent.
    pub fn caller_digits(raw: &str) -> Option<Media> {
        let digits = raw.trim();
        let digits = digits.strip_prefix('+').unwrap_or(digits);
        let valid = !digits.is_empty()
            && digits.len() <= MAX_SAID_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| Media::Digits(digits.to_owned()))
    }

    /// The ARI media URI; `None` for an item that is not safe to send (see the
    /// type's documentation): it is left out of the playlist.
    pub fn uri(&self) -> Option<String> {
        match self {
            Media::Sound(name) if is_plain_name(name) => Some(format!("sound:{name}")),
            Media::Recording(name) if is_plain_name(name) => Some(format!("recording:{name}")),
            Media::Digits(digits)
                if !digits.is_empty()
                    && digits.len() <= MAX_SAID_DIGITS
                    && digits
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#') =>
            {
                Some(format!("digits:{digits}"))
            }
            Media::Number(n) => Some(format!("number:{n}")),
            _ => None,
        }
    }
}

/// A sound or recording name as we make them: `/`-separated segments of ASCII
/// letters, digits, `-` and `_`, none empty. No `,` (playlist separator), no `:`
/// (URI scheme), no `.` (so no `..`), no spaces or other characters.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_never_reaches_a_media_uri() {
        for hostile in [
            "0612,recording:voiceportal/1002/unavail",
            "06:12",
            "06/12",
            "06 12",
            "٠٦١٢",
            "06\n12",
            "",
            "+",
            "abc",
        ] {
            assert_eq!(Media::caller_digits(hostile), None, "{hostile:?}");
            assert_eq!(Media::Digits(hostile.into()).uri(), None, "{hostile:?}");
        }
        assert_eq!(
            Media::caller_digits(" +33612345678 ").and_then(|m| m.uri()),
            Some("digits:33612345678".into())
        );
        for bad in [
            "voiceportal/1001/name,sound:x",
            "voiceportal/../etc",
            "a//b",
            "/abs",
            "name with space",
            "x:y",
            "é",
        ] {
            assert_eq!(Media::Recording(bad.into()).uri(), None, "{bad:?}");
            assert_eq!(Media::Sound(bad.into()).uri(), None, "{bad:?}");
        }
        assert_eq!(
            Media::Recording("voiceportal/1001/msg-1700000000000-0a1b2c".into()).uri(),
            Some("recording:voiceportal/1001/msg-1700000000000-0a1b2c".into())
        );
        assert_eq!(Media::Number(12).uri(), Some("number:12".into()));
    }
}
