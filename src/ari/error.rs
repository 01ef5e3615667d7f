//! What went wrong with one REST request, in terms a caller can act on.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AriErrorKind {
    /// 404 or 409 on a channel: the caller hung up or the channel left Stasis.
    /// Flows treat it like a hang-up.
    CallGone,
    /// 404 on anything else (playback finished, recording missing, ...).
    NotFound,
    /// 409: e.g. a recording of that name exists already.
    Conflict,
    /// 400 or 422: we sent something Asterisk refuses.
    BadRequest,
    /// 401 or 403: wrong ARI credentials.
    Unauthorized,
    /// 5xx or any other unexpected status.
    Server,
    /// No answer: connection refused, reset, or timed out.
    Transport,
    /// A 2xx whose body is not what ARI documents.
    Decode,
}

/// One failed ARI request: its kind, the request line and Asterisk's own message.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AriError {
    pub kind: AriErrorKind,
    pub method: &'static str,
    /// The request path without the query string (which may carry credentials).
    pub path: String,
    pub status: Option<u16>,
    pub message: String,
}

impl fmt::Display for AriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(
                f,
                "ARI {} {} answered {status} ({:?}): {}",
                self.method, self.path, self.kind, self.message
            ),
            None => write!(
                f,
                "ARI {} {} failed ({:?}): {}",
                self.method, self.path, self.kind, self.message
            ),
        }
    }
}

impl AriError {
    /// Classifies an HTTP error status. `on_channel` is true for requests under
    /// `/channels/{id}`, where 404 and 409 both mean the call is no longer ours.
    pub fn from_status(
        method: &'static str,
        path: String,
        status: u16,
        message: String,
        on_channel: bool,
    ) -> AriError {
        // A 409 on a channel means "not in Stasis" (the call left us), except when
        // Asterisk refuses a recording name in use: that is a plain conflict.
        let left_stasis = status == 409 && message.contains("Stasis");
        let kind = match status {
            404 if on_channel => AriErrorKind::CallGone,
            409 if on_channel && left_stasis => AriErrorKind::CallGone,
            404 => AriErrorKind::NotFound,
            409 => AriErrorKind::Conflict,
            400 | 422 => AriErrorKind::BadRequest,
            401 | 403 => AriErrorKind::Unauthorized,
            _ => AriErrorKind::Server,
        };
        AriError {
            kind,
            method,
            path,
            status: Some(status),
            message,
        }
    }

    pub fn is_call_gone(&self) -> bool {
        self.kind == AriErrorKind::CallGone
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, AriErrorKind::NotFound | AriErrorKind::CallGone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_404_and_409_mean_the_call_is_gone() {
        let e = AriError::from_status(
            "POST",
            "/channels/1/play".into(),
            409,
            "Channel not in Stasis application".into(),
            true,
        );
        assert!(e.is_call_gone());
        let e = AriError::from_status(
            "POST",
            "/channels/1/record".into(),
            409,
            "Recording 'x' already exists and can not be overwritten".into(),
            true,
        );
        assert_eq!(e.kind, AriErrorKind::Conflict);
        let e = AriError::from_status(
            "DELETE",
            "/playbacks/p".into(),
            404,
            "Playback not found".into(),
            false,
        );
        assert_eq!(e.kind, AriErrorKind::NotFound);
        assert!(e.to_string().contains("Playback not found"));
        let e = AriError::from_status("GET", "/x".into(), 503, "busy".into(), false);
        assert_eq!(e.kind, AriErrorKind::Server);
    }
}
