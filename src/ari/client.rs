//! The REST half of ARI: one pooled HTTP client, one method per operation the flows
//! use, every failure mapped to an `AriError` that keeps Asterisk's own message.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{AriError, AriErrorKind};
use super::models::{
    Application, AsteriskPing, Channel, LiveRecording, Mailbox, Playback, StoredRecording, Variable,
};
use crate::config::{AriConfig, Secret};

/// Everything but unreserved characters is escaped in a path segment: Asterisk
/// needs `/` in recording names as `%2F` and `;` in Local channel ids as `%3B`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Parameters of `POST /channels/{id}/record`.
#[derive(Debug, Clone)]
pub struct RecordParams<'a> {
    pub name: &'a str,
    pub format: &'a str,
    pub max_duration_secs: u32,
    pub max_silence_secs: u32,
    /// `fail`, `overwrite` or `append`.
    pub if_exists: &'a str,
    pub beep: bool,
    /// `none`, `any`, `*` or `#`.
    pub terminate_on: &'a str,
}

/// Playback controls of `POST /playbacks/{id}/control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackControl {
    Pause,
    Unpause,
    Restart,
    Reverse,
    Forward,
}

impl PlaybackControl {
    fn as_str(self) -> &'static str {
        match self {
            PlaybackControl::Pause => "pause",
            PlaybackControl::Unpause => "unpause",
            PlaybackControl::Restart => "restart",
            PlaybackControl::Reverse => "reverse",
            PlaybackControl::Forward => "forward",
        }
    }
}

/// Parameters of `POST /channels` (originate) into our Stasis application.
#[derive(Debug, Clone)]
pub struct Originate<'a> {
    /// `PJSIP/1001`: the device to call.
    pub endpoint: &'a str,
    /// Our application: the answered channel enters `Stasis(app, app_args)`.
    pub app: &'a str,
    /// Comma-separated Stasis arguments.
    pub app_args: &'a str,
    /// We choose the channel id, so the call task can know the channel is ours.
    pub channel_id: &'a str,
    /// What the phone displays, `"Name" <number>`.
    pub caller_id: &'a str,
    /// Seconds to ring before giving up.
    pub timeout_secs: u32,
}

#[derive(Clone)]
pub struct AriClient {
    http: reqwest::Client,
    /// `http://host:port/ari`
    base: String,
    username: String,
    password: Secret,
    /// The Asterisk's entity id, asked once (see [`AriClient::asterisk_id`]).
    identity: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

impl AriClient {
    pub fn new(config: &AriConfig) -> Result<AriClient, AriError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| AriError {
                kind: AriErrorKind::Transport,
                method: "",
                path: String::new(),
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(AriClient {
            http,
            base: format!("{}/ari", config.url.trim_end_matches('/')),
            username: config.username.clone(),
            password: config.password.clone(),
            identity: Default::default(),
        })
    }

    /// Sends one request. `on_channel` marks requests under `/channels/{id}`, whose
    /// 404/409 mean "the call is gone".
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        on_channel: bool,
    ) -> Result<reqwest::Response, AriError> {
        let method_name = method_name(&method);
        let started = std::time::Instant::now();
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.username, Some(self.password.expose()))
            .query(query)
            .send()
            .await;
        crate::metrics::METRICS.ari_request(started.elapsed());
        let response = response.map_err(|e| AriError {
            kind: AriErrorKind::Transport,
            method: method_name,
            path: path.to_owned(),
            status: None,
            message: transport_message(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(AriError::from_status(
            method_name,
            path.to_owned(),
            status.as_u16(),
            asterisk_message(&body, status),
            on_channel,
        ))
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        on_channel: bool,
    ) -> Result<T, AriError> {
        let method_name = method_name(&method);
        let response = self.send(method, path, query, on_channel).await?;
        response.json::<T>().await.map_err(|e| AriError {
            kind: AriErrorKind::Decode,
            method: method_name,
            path: path.to_owned(),
            status: None,
            message: e.to_string(),
        })
    }

    async fn send_empty(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        on_channel: bool,
    ) -> Result<(), AriError> {
        self.send(method, path, query, on_channel).await.map(drop)
    }

    pub async fn ping(&self) -> Result<AsteriskPing, AriError> {
        self.send_json(Method::GET, "/asterisk/ping", &[], false)
            .await
    }

    /// The entity id of the Asterisk this client talks to (unique per machine
    /// unless `entityid` in asterisk.conf says otherwise): which server's
    /// recordings folder a message was recorded into. Asked once, then cached.
    pub async fn asterisk_id(&self) -> Result<String, AriError> {
        self.identity
            .get_or_try_init(|| async { self.ping().await.map(|p| p.asterisk_id) })
            .await
            .cloned()
    }

    pub async fn application(&self, app: &str) -> Result<Application, AriError> {
        let path = format!("/applications/{}", segment(app));
        self.send_json(Method::GET, &path, &[], false).await
    }

    /// Calls `endpoint`; once answered, the channel enters our application with
    /// the given arguments (a `StasisStart` like any call). Returns at once, while
    /// the phone rings.
    pub async fn originate(&self, call: &Originate<'_>) -> Result<Channel, AriError> {
        let query = [
            ("endpoint", call.endpoint.to_owned()),
            ("app", call.app.to_owned()),
            ("appArgs", call.app_args.to_owned()),
            ("channelId", call.channel_id.to_owned()),
            ("callerId", call.caller_id.to_owned()),
            ("timeout", call.timeout_secs.to_string()),
        ];
        self.send_json(Method::POST, "/channels", &query, false)
            .await
    }

    pub async fn channel(&self, channel: &str) -> Result<Channel, AriError> {
        let path = format!("/channels/{}", segment(channel));
        self.send_json(Method::GET, &path, &[], true).await
    }

    /// Answers. Asterisk runs this after anything queued on the channel has ended.
    pub async fn answer(&self, channel: &str) -> Result<(), AriError> {
        let path = format!("/channels/{}/answer", segment(channel));
        self.send_empty(Method::POST, &path, &[], true).await
    }

    /// Hangs up with a reason such as `normal` or `busy`.
    pub async fn hangup(&self, channel: &str, reason: &str) -> Result<(), AriError> {
        let path = format!("/channels/{}", segment(channel));
        self.send_empty(
            Method::DELETE,
            &path,
            &[("reason", reason.to_owned())],
            true,
        )
        .await
    }

    /// Starts a playlist under our own playback id. `media` are ARI media URIs.
    pub async fn play(
        &self,
        channel: &str,
        playback_id: &str,
        media: &[String],
        lang: Option<&str>,
    ) -> Result<Playback, AriError> {
        let path = format!(
            "/channels/{}/play/{}",
            segment(channel),
            segment(playback_id)
        );
        // Several media go in one comma-separated value: repeated `media=`
        // parameters keep only the last.
        let mut query = vec![("media", media.join(","))];
        if let Some(lang) = lang {
            query.push(("lang", lang.to_owned()));
        }
        self.send_json(Method::POST, &path, &query, true).await
    }

    pub async fn playback(&self, playback_id: &str) -> Result<Playback, AriError> {
        let path = format!("/playbacks/{}", segment(playback_id));
        self.send_json(Method::GET, &path, &[], false).await
    }

    pub async fn stop_playback(&self, playback_id: &str) -> Result<(), AriError> {
        let path = format!("/playbacks/{}", segment(playback_id));
        self.send_empty(Method::DELETE, &path, &[], false).await
    }

    pub async fn control_playback(
        &self,
        playback_id: &str,
        control: PlaybackControl,
    ) -> Result<(), AriError> {
        let path = format!("/playbacks/{}/control", segment(playback_id));
        let query = [("operation", control.as_str().to_owned())];
        self.send_empty(Method::POST, &path, &query, false).await
    }

    pub async fn record(
        &self,
        channel: &str,
        params: &RecordParams<'_>,
    ) -> Result<LiveRecording, AriError> {
        let path = format!("/channels/{}/record", segment(channel));
        let query = [
            ("name", params.name.to_owned()),
            ("format", params.format.to_owned()),
            ("maxDurationSeconds", params.max_duration_secs.to_string()),
            ("maxSilenceSeconds", params.max_silence_secs.to_string()),
            ("ifExists", params.if_exists.to_owned()),
            ("beep", params.beep.to_string()),
            ("terminateOn", params.terminate_on.to_owned()),
        ];
        self.send_json(Method::POST, &path, &query, true).await
    }

    /// Ends a live recording and keeps its file.
    pub async fn stop_recording(&self, name: &str) -> Result<(), AriError> {
        let path = format!("/recordings/live/{}/stop", segment(name));
        self.send_empty(Method::POST, &path, &[], false).await
    }

    /// Ends a live recording and deletes its file.
    pub async fn cancel_recording(&self, name: &str) -> Result<(), AriError> {
        let path = format!("/recordings/live/{}", segment(name));
        self.send_empty(Method::DELETE, &path, &[], false).await
    }

    /// A recording in progress; 404 (`NotFound`) once it has ended. Repair asks
    /// this before touching audio that a call may still be recording.
    pub async fn live_recording(&self, name: &str) -> Result<LiveRecording, AriError> {
        let path = format!("/recordings/live/{}", segment(name));
        self.send_json(Method::GET, &path, &[], false).await
    }

    pub async fn stored_recordings(&self) -> Result<Vec<StoredRecording>, AriError> {
        self.send_json(Method::GET, "/recordings/stored", &[], false)
            .await
    }

    pub async fn stored_recording(&self, name: &str) -> Result<StoredRecording, AriError> {
        let path = format!("/recordings/stored/{}", segment(name));
        self.send_json(Method::GET, &path, &[], false).await
    }

    pub async fn copy_stored_recording(
        &self,
        name: &str,
        destination: &str,
    ) -> Result<StoredRecording, AriError> {
        let path = format!("/recordings/stored/{}/copy", segment(name));
        let query = [("destinationRecordingName", destination.to_owned())];
        self.send_json(Method::POST, &path, &query, false).await
    }

    pub async fn delete_stored_recording(&self, name: &str) -> Result<(), AriError> {
        let path = format!("/recordings/stored/{}", segment(name));
        self.send_empty(Method::DELETE, &path, &[], false).await
    }

    /// The recording's file (a WAV for our recordings).
    pub async fn download_stored_recording(&self, name: &str) -> Result<Vec<u8>, AriError> {
        let path = format!("/recordings/stored/{}/file", segment(name));
        let response = self.send(Method::GET, &path, &[], false).await?;
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| AriError {
                kind: AriErrorKind::Transport,
                method: "GET",
                path,
                status: None,
                message: transport_message(&e),
            })
    }

    /// Leaves Stasis and continues in the dialplan; `None` for the next priority.
    pub async fn continue_in_dialplan(
        &self,
        channel: &str,
        target: Option<(&str, &str, i64)>,
    ) -> Result<(), AriError> {
        let path = format!("/channels/{}/continue", segment(channel));
        let query: Vec<(&str, String)> = match target {
            Some((context, extension, priority)) => vec![
                ("context", context.to_owned()),
                ("extension", extension.to_owned()),
                ("priority", priority.to_string()),
            ],
            None => Vec::new(),
        };
        self.send_empty(Method::POST, &path, &query, true).await
    }

    pub async fn set_variable(
        &self,
        channel: &str,
        variable: &str,
        value: &str,
    ) -> Result<(), AriError> {
        let path = format!("/channels/{}/variable", segment(channel));
        let query = [
            ("variable", variable.to_owned()),
            ("value", value.to_owned()),
        ];
        self.send_empty(Method::POST, &path, &query, true).await
    }

    pub async fn get_variable(&self, channel: &str, variable: &str) -> Result<String, AriError> {
        let path = format!("/channels/{}/variable", segment(channel));
        let query = [("variable", variable.to_owned())];
        let var: Variable = self.send_json(Method::GET, &path, &query, true).await?;
        Ok(var.value)
    }

    /// Sets a mailbox's message counts; phones subscribed to it light their lamp.
    pub async fn put_mailbox(&self, name: &str, old: u32, new: u32) -> Result<(), AriError> {
        let path = format!("/mailboxes/{}", segment(name));
        let query = [
            ("oldMessages", old.to_string()),
            ("newMessages", new.to_string()),
        ];
        self.send_empty(Method::PUT, &path, &query, false).await
    }

    pub async fn mailbox(&self, name: &str) -> Result<Mailbox, AriError> {
        let path = format!("/mailboxes/{}", segment(name));
        self.send_json(Method::GET, &path, &[], false).await
    }

    pub async fn mailboxes(&self) -> Result<Vec<Mailbox>, AriError> {
        self.send_json(Method::GET, "/mailboxes", &[], false).await
    }

    pub async fn delete_mailbox(&self, name: &str) -> Result<(), AriError> {
        let path = format!("/mailboxes/{}", segment(name));
        self.send_empty(Method::DELETE, &path, &[], false).await
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// Asterisk's error bodies are `{"message": "..."}`; anything else is kept as text.
fn asterisk_message(body: &str, status: StatusCode) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                text.chars().take(200).collect()
            }
        })
}

/// A transport error without the URL, whose query may hold credentials.
fn transport_message(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(err) = source {
        detail = err.to_string();
        source = err.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_escape_slashes_and_semicolons() {
        assert_eq!(segment("vp/1001/msg-1"), "vp%2F1001%2Fmsg-1");
        assert_eq!(segment("abc;2"), "abc%3B2");
        assert_eq!(segment("1001@default"), "1001%40default");
        assert_eq!(segment("1795459821.53"), "1795459821.53");
    }

    #[test]
    fn error_bodies_keep_asterisks_message() {
        let m = asterisk_message(r#"{"message":"Channel not found"}"#, StatusCode::NOT_FOUND);
        assert_eq!(m, "Channel not found");
        assert_eq!(asterisk_message("", StatusCode::NOT_FOUND), "Not Found");
    }
}
