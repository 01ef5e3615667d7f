//! `Call`: what a flow holds to talk to one caller.
//!
//! Each primitive sends one ARI command under an id we chose, then waits for its own
//! events. Every wait ends on the final event, on hang-up, or on a timeout, because a
//! real Asterisk does not always send the final event (a missing `recording:` never
//! finishes). A hang-up surfaces as `CallError::Gone`, so `?` ends a flow.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::collect::{Collect, CollectEnd, Digits, Entry};
use super::{CallError, CallInput, Media};
use crate::ari::models::{Channel, LiveRecording};
use crate::ari::{AriClient, Event, PlaybackControl, RecordParams};
use crate::config::CallConfig;

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// The stored recording's name; may contain `/`.
    pub name: String,
    pub max_duration: Duration,
    /// Silence that ends the recording; zero disables silence detection.
    pub max_silence: Duration,
    pub beep: bool,
    /// `#` ends a message; `none` lets the caller press keys while recording.
    pub terminate_on: &'static str,
}

/// The result of a recording: Asterisk's duration, and whether the caller hung up
/// (the file is kept either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub name: String,
    /// Whole seconds as Asterisk reports them (truncated, before silence trimming).
    pub duration_secs: u32,
    /// Seconds of talking, when Asterisk reports it.
    pub talking_secs: Option<u32>,
    pub hung_up: bool,
    /// The terminator key ended it.
    pub by_key: bool,
}

/// Where `continue_in_dialplan` sends the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanTarget {
    pub context: String,
    pub extension: String,
    pub priority: i64,
}

enum Received {
    Event(Box<Event>),
    Timeout,
    /// The websocket came back after a gap: the final event of what we wait for
    /// may have been lost, so ask Asterisk.
    Resync,
}

pub struct Call {
    channel: Channel,
    args: Vec<String>,
    client: AriClient,
    inbox: mpsc::UnboundedReceiver<CallInput>,
    timing: CallConfig,
    /// Prefix of our playback ids; unique per Stasis session of this process.
    id_prefix: String,
    next_id: u64,
    language: Option<String>,
    /// The caller hung up or the call left our application: nothing more to send.
    gone: bool,
    /// We ended the call ourselves (hang-up or continue accepted by Asterisk), or
    /// Asterisk told us it left (StasisEnd): nothing is left to clean up.
    settled: bool,
    /// Keys pressed while a plain `play` ran: the caller typing ahead of the
    /// prompt they know is coming. The next digit entry starts with them.
    typed_ahead: String,
}

impl Call {
    pub(crate) fn new(
        channel: Channel,
        args: Vec<String>,
        client: AriClient,
        inbox: mpsc::UnboundedReceiver<CallInput>,
        timing: CallConfig,
        session: u64,
    ) -> Call {
        Call {
            channel,
            args,
            client,
            inbox,
            timing,
            id_prefix: format!("vp-{}-{session}", std::process::id()),
            next_id: 0,
            language: None,
            gone: false,
            settled: false,
            typed_ahead: String::new(),
        }
    }

    pub fn channel_id(&self) -> &str {
        &self.channel.id
    }

    /// The channel's name, e.g. `PJSIP/1001-00000033`: which endpoint it is.
    pub fn channel_name(&self) -> &str {
        &self.channel.name
    }

    /// The caller ID number Asterisk presented.
    pub fn caller_number(&self) -> &str {
        &self.channel.caller.number
    }

    pub fn caller_name(&self) -> &str {
        &self.channel.caller.name
    }

    /// The Stasis arguments after the application name.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The dialplan context the call came from (trust decisions depend on it).
    pub fn context(&self) -> &str {
        &self.channel.dialplan.context
    }

    pub fn extension(&self) -> &str {
        &self.channel.dialplan.exten
    }

    /// The language prompts are played in: the flow's choice, else the channel's.
    pub fn language(&self) -> &str {
        self.language
            .as_deref()
            .unwrap_or(if self.channel.language.is_empty() {
                "en"
            } else {
                &self.channel.language
            })
    }

    pub fn set_language(&mut self, language: &str) {
        self.language = Some(language.to_owned());
    }

    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// Whether the channel may still be in our application: a flow that ended
    /// any other way than hanging up or continuing leaves it to the supervisor,
    /// which hangs up (a caller is never left in silence).
    pub fn needs_cleanup(&self) -> bool {
        !self.settled
    }

    pub fn timing(&self) -> &CallConfig {
        &self.timing
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.id_prefix, self.next_id)
    }

    fn check_alive(&self) -> Result<(), CallError> {
        if self.gone {
            Err(CallError::Gone)
        } else {
            Ok(())
        }
    }

    /// Maps a failed command: "call gone" ends the flow, anything else is reported.
    fn fail(&mut self, error: crate::ari::AriError) -> CallError {
        if error.is_call_gone() {
            self.gone = true;
            CallError::Gone
        } else {
            CallError::Ari(error)
        }
    }

    /// Waits for the next event of this call until `deadline`.
    async fn receive(&mut self, deadline: Instant) -> Result<Received, CallError> {
        match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
            Err(_) => Ok(Received::Timeout),
            Ok(None) | Ok(Some(CallInput::Lost)) => {
                // Lost: Asterisk no longer lists the channel. Closed inbox: the
                // router is gone with the service; nothing more can be heard.
                self.gone = true;
                self.settled = true;
                Err(CallError::Gone)
            }
            Ok(Some(CallInput::Event(event))) => {
                if matches!(*event, Event::StasisEnd { .. }) {
                    self.settled = true;
                }
                Ok(Received::Event(event))
            }
            Ok(Some(CallInput::Resync)) => Ok(Received::Resync),
        }
    }

    /// After a websocket gap: whether our playback is over (Asterisk forgets a
    /// playback once it has finished).
    async fn playback_ended(&self, id: &str) -> bool {
        matches!(self.client.playback(id).await, Err(e) if e.is_not_found())
    }

    /// True for the events after which the caller can no longer hear us.
    fn ends_call(event: &Event) -> bool {
        matches!(
            event,
            Event::ChannelHangupRequest { .. }
                | Event::StasisEnd { .. }
                | Event::ChannelDestroyed { .. }
        )
    }

    pub async fn answer(&mut self) -> Result<(), CallError> {
        self.check_alive()?;
        let id = self.channel.id.clone();
        self.client.answer(&id).await.map_err(|e| self.fail(e))
    }

    /// Plays a playlist to its end. Keys pressed meanwhile do not stop it; they are
    /// kept for the next digit entry (type-ahead), as callers who know the menu
    /// expect.
    pub async fn play(&mut self, media: &[Media]) -> Result<(), CallError> {
        self.check_alive()?;
        if media.is_empty() {
            return Ok(());
        }
        let id = self.start_playback(media).await?;
        let mut deadline = Instant::now() + self.timing.prompt_timeout;
        loop {
            match self.receive(deadline).await? {
                Received::Timeout => {
                    warn!(playback = %id, "no end of playback reported; stopping it");
                    self.stop_playback(&id).await;
                    return Ok(());
                }
                Received::Resync => {
                    if self.playback_ended(&id).await {
                        return Ok(());
                    }
                }
                Received::Event(event) => match *event {
                    Event::PlaybackFinished { playback, .. } if playback.id == id => {
                        return Ok(());
                    }
                    Event::PlaybackStarted { playback, .. }
                    | Event::PlaybackContinuing { playback, .. }
                        if playback.id == id =>
                    {
                        deadline = Instant::now() + self.timing.prompt_timeout;
                    }
                    Event::ChannelDtmfReceived { digit, .. } => self.typed_ahead.push_str(&digit),
                    event if Self::ends_call(&event) => {
                        self.gone = true;
                        return Err(CallError::Gone);
                    }
                    _ => {}
                },
            }
        }
    }

    /// Plays a prompt and collects digits. Keys typed ahead (during an earlier
    /// `play`) come first, and the prompt is skipped once the caller has started. The first key stops the prompt; keys
    /// pressed during the prompt count. The first-digit timer starts when the prompt
    /// ends, the inter-digit timer after each key, and the whole entry is bounded by
    /// `call.collect_timeout`.
    pub async fn play_and_collect(
        &mut self,
        media: &[Media],
        spec: &Collect,
    ) -> Result<Digits, CallError> {
        self.check_alive()?;
        let first_digit = spec
            .first_digit_timeout
            .unwrap_or(self.timing.first_digit_timeout);
        let inter_digit = spec
            .inter_digit_timeout
            .unwrap_or(self.timing.inter_digit_timeout);
        let mut entry = Entry::new(spec);
        let typed_ahead = std::mem::take(&mut self.typed_ahead);
        for (at, key) in typed_ahead.char_indices() {
            if let Some(end) = entry.push(&key.to_string()) {
                self.typed_ahead = typed_ahead[at + key.len_utf8()..].to_owned();
                return Ok(entry.finish(end));
            }
        }
        let mut prompt = if media.is_empty() || entry.is_started() {
            None
        } else {
            Some(self.start_playback(media).await?)
        };
        // The whole entry is bounded from the end of the prompt: a long greeting
        // must not eat the caller's time to answer it.
        let mut give_up = Instant::now()
            + self.timing.collect_timeout
            + if prompt.is_some() {
                self.timing.prompt_timeout
            } else {
                Duration::ZERO
            };
        let mut deadline = Instant::now()
            + if prompt.is_some() {
                self.timing.prompt_timeout
            } else if !entry.is_started() {
                first_digit
            } else {
                inter_digit
            };
        loop {
            match self.receive(deadline.min(give_up)).await? {
                Received::Timeout => {
                    if let Some(id) = prompt.take() {
                        self.stop_playback(&id).await;
                        if Instant::now() < give_up {
                            debug!(playback = %id, "prompt end not reported; collecting anyway");
                            deadline = Instant::now() + first_digit;
                            give_up = Instant::now() + self.timing.collect_timeout;
                            continue;
                        }
                    }
                    return Ok(entry.finish(CollectEnd::Timeout));
                }
                Received::Resync => {
                    if let Some(id) = prompt.clone()
                        && self.playback_ended(&id).await
                    {
                        prompt = None;
                        deadline = Instant::now() + first_digit;
                        give_up = Instant::now() + self.timing.collect_timeout;
                    }
                }
                Received::Event(event) => match *event {
                    Event::ChannelDtmfReceived { digit, .. } => {
                        if let Some(id) = prompt.take() {
                            self.stop_playback(&id).await;
                        }
                        if let Some(end) = entry.push(&digit) {
                            return Ok(entry.finish(end));
                        }
                        deadline = Instant::now() + inter_digit;
                    }
                    Event::PlaybackFinished { playback, .. }
                        if prompt.as_deref() == Some(playback.id.as_str()) =>
                    {
                        prompt = None;
                        give_up = Instant::now() + self.timing.collect_timeout;
                        deadline = Instant::now()
                            + if !entry.is_started() {
                                first_digit
                            } else {
                                inter_digit
                            };
                    }
                    Event::PlaybackStarted { playback, .. }
                    | Event::PlaybackContinuing { playback, .. }
                        if prompt.as_deref() == Some(playback.id.as_str()) =>
                    {
                        deadline = Instant::now() + self.timing.prompt_timeout;
                    }
                    event if Self::ends_call(&event) => {
                        self.gone = true;
                        return Err(CallError::Gone);
                    }
                    _ => {}
                },
            }
        }
    }

    /// Plays a message with the keys of a voicemail player: `*` rewinds, `#`
    /// forwards (3 s each, Asterisk's default skip), `0` pauses and resumes; any
    /// other key stops the playback and is returned for the caller's menu. `None`
    /// when it played to its end. `length` bounds the wait for the end (a message
    /// plays in one piece, with no event between start and end), pauses excluded.
    pub async fn play_message(
        &mut self,
        media: &[Media],
        length: Duration,
    ) -> Result<Option<char>, CallError> {
        self.check_alive()?;
        // Keys here are player controls, not answers to an earlier prompt.
        self.typed_ahead.clear();
        let id = self.start_playback(media).await?;
        let margin = self.timing.prompt_timeout;
        let mut deadline = Instant::now() + length + margin;
        let mut paused = false;
        loop {
            let wait_until = if paused {
                Instant::now() + self.timing.collect_timeout
            } else {
                deadline
            };
            match self.receive(wait_until).await? {
                Received::Timeout if paused => {
                    // Paused and forgotten: resume rather than hold the line.
                    paused = false;
                    self.control(&id, PlaybackControl::Unpause).await;
                    deadline = Instant::now() + length + margin;
                }
                Received::Timeout => {
                    warn!(playback = %id, "no end of message playback reported; stopping it");
                    self.stop_playback(&id).await;
                    return Ok(None);
                }
                Received::Resync => {
                    if self.playback_ended(&id).await {
                        return Ok(None);
                    }
                }
                Received::Event(event) => match *event {
                    Event::PlaybackFinished { playback, .. } if playback.id == id => {
                        return Ok(None);
                    }
                    Event::ChannelDtmfReceived { digit, .. } => match digit.as_str() {
                        "*" => self.control(&id, PlaybackControl::Reverse).await,
                        "#" => self.control(&id, PlaybackControl::Forward).await,
                        "0" => {
                            paused = !paused;
                            let op = if paused {
                                PlaybackControl::Pause
                            } else {
                                deadline = Instant::now() + length + margin;
                                PlaybackControl::Unpause
                            };
                            self.control(&id, op).await;
                        }
                        other => {
                            if let Some(key) = other.chars().next() {
                                self.stop_playback(&id).await;
                                return Ok(Some(key));
                            }
                        }
                    },
                    event if Self::ends_call(&event) => {
                        self.gone = true;
                        return Err(CallError::Gone);
                    }
                    _ => {}
                },
            }
        }
    }

    /// Sends a playback control; a playback that just ended is not an error.
    async fn control(&mut self, id: &str, control: PlaybackControl) {
        if let Err(e) = self.client.control_playback(id, control).await
            && !e.is_not_found()
        {
            debug!(playback = %id, error = %e, "playback control");
        }
    }

    /// Records after an optional beep. A hang-up during the recording is not an
    /// error: the file is kept and its duration reported with `hung_up` set; the
    /// next primitive then returns `Gone`.
    pub async fn record(&mut self, spec: &RecordSpec) -> Result<Recorded, CallError> {
        self.check_alive()?;
        // Keys pressed before the beep belong to no entry.
        self.typed_ahead.clear();
        let channel = self.channel.id.clone();
        let params = RecordParams {
            name: &spec.name,
            format: "wav",
            max_duration_secs: whole_secs(spec.max_duration),
            max_silence_secs: whole_secs(spec.max_silence),
            if_exists: "overwrite",
            beep: spec.beep,
            terminate_on: spec.terminate_on,
        };
        self.client
            .record(&channel, &params)
            .await
            .map_err(|e| self.fail(e))?;
        let started = Instant::now();
        // The beep plays before the recording; allow for it and for the final event.
        let mut deadline =
            started + spec.max_duration + Duration::from_secs(1) + self.timing.record_grace;
        let mut hung_up = false;
        let mut last_key: Option<String> = None;
        let mut stop_sent = false;
        loop {
            let received = match self.receive(deadline).await {
                Ok(received) => received,
                // The call vanished (hang-up, or lost in a websocket gap): what was
                // recorded is kept by Asterisk, so report it rather than fail.
                Err(CallError::Gone) => return Ok(self.estimated(spec, started, true)),
                Err(e) => return Err(e),
            };
            match received {
                Received::Timeout if hung_up || stop_sent => {
                    warn!(recording = %spec.name, "no end of recording reported");
                    self.gone |= hung_up;
                    return Ok(self.estimated(spec, started, hung_up));
                }
                Received::Resync => {
                    let name = spec.name.clone();
                    if matches!(self.client.live_recording(&name).await, Err(e) if e.is_not_found())
                    {
                        warn!(recording = %name, "recording ended while the websocket was down");
                        return Ok(self.estimated(spec, started, false));
                    }
                }
                Received::Timeout => {
                    warn!(recording = %spec.name, "recording overran its maximum; stopping it");
                    if let Err(e) = self.client.stop_recording(&spec.name).await {
                        debug!(error = %e, "stopping an overrunning recording");
                    }
                    stop_sent = true;
                    deadline = Instant::now() + self.timing.hangup_grace;
                }
                Received::Event(event) => match *event {
                    Event::RecordingFinished { recording, .. } if recording.name == spec.name => {
                        self.gone |= hung_up;
                        let by_key = !hung_up
                            && spec.terminate_on != "none"
                            && last_key.as_deref().is_some_and(|k| {
                                spec.terminate_on == "any" || k == spec.terminate_on
                            });
                        return Ok(recorded(recording, hung_up, by_key));
                    }
                    Event::RecordingFailed { recording, .. } if recording.name == spec.name => {
                        self.gone |= hung_up;
                        return Err(CallError::Media(format!(
                            "recording {} failed: {}",
                            spec.name,
                            recording.cause.unwrap_or_default()
                        )));
                    }
                    Event::ChannelDtmfReceived { digit, .. } => last_key = Some(digit),
                    Event::ChannelHangupRequest { .. } => {
                        // Asterisk still sends RecordingFinished, just before StasisEnd.
                        hung_up = true;
                        deadline = deadline.min(Instant::now() + self.timing.hangup_grace);
                    }
                    Event::StasisEnd { .. } | Event::ChannelDestroyed { .. } => {
                        self.gone = true;
                        return Ok(self.estimated(spec, started, true));
                    }
                    _ => {}
                },
            }
        }
    }

    /// A recording whose final event never came: our own clock's estimate.
    fn estimated(&self, spec: &RecordSpec, started: Instant, hung_up: bool) -> Recorded {
        Recorded {
            name: spec.name.clone(),
            duration_secs: whole_secs(started.elapsed().min(spec.max_duration)),
            talking_secs: None,
            hung_up,
            by_key: false,
        }
    }

    /// Hangs up (a no-op if the call already ended).
    pub async fn hangup(&mut self) -> Result<(), CallError> {
        if self.settled {
            return Ok(());
        }
        let channel = self.channel.id.clone();
        match self.client.hangup(&channel, "normal").await {
            Err(e) if !e.is_call_gone() => Err(CallError::Ari(e)),
            _ => {
                self.gone = true;
                self.settled = true;
                Ok(())
            }
        }
    }

    /// Sets a channel variable the dialplan reads after the call leaves Stasis.
    pub async fn set_variable(&mut self, name: &str, value: &str) -> Result<(), CallError> {
        self.check_alive()?;
        let channel = self.channel.id.clone();
        self.client
            .set_variable(&channel, name, value)
            .await
            .map_err(|e| self.fail(e))
    }

    /// Leaves our application and continues in the dialplan (the next priority when
    /// `target` is `None`). The call is no longer ours afterwards.
    pub async fn continue_in_dialplan(
        &mut self,
        target: Option<&DialplanTarget>,
    ) -> Result<(), CallError> {
        self.check_alive()?;
        let channel = self.channel.id.clone();
        let target = target.map(|t| (t.context.as_str(), t.extension.as_str(), t.priority));
        match self.client.continue_in_dialplan(&channel, target).await {
            Err(e) if !e.is_call_gone() => Err(CallError::Ari(e)),
            _ => {
                self.gone = true;
                self.settled = true;
                Ok(())
            }
        }
    }

    /// Whether a stored recording exists: playing a missing one would start and
    /// never finish, so flows check first.
    /// The entity id of this call's Asterisk, or empty when it cannot be asked
    /// (see [`AriClient::asterisk_id`]).
    pub async fn asterisk_id(&self) -> String {
        self.client.asterisk_id().await.unwrap_or_default()
    }

    pub async fn recording_exists(&mut self, name: &str) -> Result<bool, CallError> {
        match self.client.stored_recording(name).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(CallError::Ari(e)),
        }
    }

    /// Makes `to` a copy of `from`, replacing what `to` was. Between the delete
    /// and the copy `to` does not exist, which readers treat as "not recorded".
    pub async fn replace_recording(&mut self, from: &str, to: &str) -> Result<(), CallError> {
        self.delete_recording(to).await?;
        self.client
            .copy_stored_recording(from, to)
            .await
            .map(drop)
            .map_err(CallError::Ari)
    }

    /// Deletes a stored recording; one that does not exist is already deleted.
    pub async fn delete_recording(&mut self, name: &str) -> Result<(), CallError> {
        match self.client.delete_stored_recording(name).await {
            Err(e) if !e.is_not_found() => Err(CallError::Ari(e)),
            _ => Ok(()),
        }
    }

    async fn start_playback(&mut self, media: &[Media]) -> Result<String, CallError> {
        let id = self.next_id();
        let uris: Vec<String> = media
            .iter()
            .filter_map(|item| {
                let uri = item.uri();
                if uri.is_none() {
                    warn!(?item, "media item not safe to play; left out");
                }
                uri
            })
            .collect();
        if uris.is_empty() {
            return Err(CallError::Media("nothing safe to play".into()));
        }
        let channel = self.channel.id.clone();
        let lang = self.language().to_owned();
        self.client
            .play(&channel, &id, &uris, Some(&lang))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(id)
    }

    /// Stops a playback; it may have ended already, which is fine.
    async fn stop_playback(&mut self, id: &str) {
        if let Err(e) = self.client.stop_playback(id).await
            && !e.is_not_found()
        {
            debug!(playback = %id, error = %e, "stopping a playback");
        }
    }
}

fn recorded(recording: LiveRecording, hung_up: bool, by_key: bool) -> Recorded {
    Recorded {
        name: recording.name,
        duration_secs: recording.duration.unwrap_or(0),
        talking_secs: recording.talking_duration,
        hung_up,
        by_key,
    }
}

/// ARI takes whole seconds; a non-zero duration never rounds down to "unlimited".
fn whole_secs(duration: Duration) -> u32 {
    if duration.is_zero() {
        0
    } else {
        u32::try_from(duration.as_secs().max(1)).unwrap_or(u32::MAX)
    }
}
