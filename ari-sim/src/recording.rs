//! Live recordings (`POST /channels/{id}/record`).
//!
//! The capture follows Asterisk's `__ast_play_and_record`: optional 0.43 s
//! beep (not in the file), then 20 ms frames written as the caller sends them.
//! With `maxSilenceSeconds` a silence detector runs: the recording ends once a
//! run of silence exceeds the limit, trailing silence is trimmed to 200 ms,
//! and `duration` / `talking_duration` come from the same integer arithmetic
//! as in Asterisk (whole seconds, truncated, computed before the trim). No
//! RTP at all for 4 s (two 2 s waits) ends it too, with whatever was written.
//! Every end gives `RecordingFinished{state:"done"}`; a cancel deletes the file.

use crate::audio::{CallerAudio, Timeline};
use crate::caller::Heard;
use crate::channel::Channel;
use crate::core::Core;
use crate::http::ApiError;
use crate::json::Obj;
use crate::stored::StoredRec;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Beep before recording, virtual ms.
pub(crate) const BEEP_MS: u64 = 430;
/// A recording with no frames at all for this long ends ("No audio available").
const NO_AUDIO_MS: u64 = 4000;
/// Silence detection fires one frame after the limit is passed.
const FRAME_MS: u64 = 20;

/// `ifExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfExists {
    Fail,
    Overwrite,
    Append,
}

/// `terminateOn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminate {
    None,
    Any,
    Digit(char),
}

impl Terminate {
    fn accepts(self, digit: char) -> bool {
        match self {
            Terminate::None => false,
            Terminate::Any => "#*0123456789abcdABCD".contains(digit),
            Terminate::Digit(d) => d == digit,
        }
    }
}

/// Recording state as ARI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecPhase {
    Queued,
    Recording,
    Paused,
    Done,
    /// Stopped or canceled while queued: it never starts.
    Disregarded,
}

/// A request from `/recordings/live/{name}/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    Stop,
    Cancel,
}

/// A pause/mute change, with the virtual time it happened.
#[derive(Debug, Clone, Copy)]
enum Toggle {
    Pause(bool),
    Mute(bool),
}

/// Mutable recording state.
#[derive(Debug)]
pub(crate) struct RecCtl {
    phase: RecPhase,
    request: Option<Request>,
    toggles: Vec<(u64, Toggle)>,
    duration: Option<i64>,
    talking: Option<i64>,
}

/// Options of one recording.
#[derive(Debug, Clone)]
pub(crate) struct RecOpts {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) max_duration_s: u64,
    pub(crate) max_silence_s: u64,
    pub(crate) if_exists: IfExists,
    pub(crate) beep: bool,
    pub(crate) terminate: Terminate,
}

/// One live recording.
#[derive(Debug)]
pub(crate) struct LiveRecording {
    pub(crate) opts: RecOpts,
    pub(crate) app: String,
    pub(crate) target_uri: String,
    chan: Weak<Channel>,
    ctl: Mutex<RecCtl>,
}

impl LiveRecording {
    pub(crate) fn new(chan: &Arc<Channel>, opts: RecOpts) -> LiveRecording {
        LiveRecording {
            opts,
            app: chan.app.clone(),
            target_uri: format!("channel:{}", chan.id),
            chan: Arc::downgrade(chan),
            ctl: Mutex::new(RecCtl {
                phase: RecPhase::Queued,
                request: None,
                toggles: Vec::new(),
                duration: None,
                talking: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RecCtl> {
        self.ctl.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// The LiveRecording JSON.
    pub(crate) fn json(&self) -> String {
        let g = self.lock();
        let state = match g.phase {
            RecPhase::Queued => "queued",
            RecPhase::Recording => "recording",
            RecPhase::Paused => "paused",
            RecPhase::Done => "done",
            RecPhase::Disregarded => "canceled",
        };
        let mut obj = Obj::new()
            .str("name", &self.opts.name)
            .str("format", &self.opts.format)
            .str("state", state)
            .str("target_uri", &self.target_uri);
        if let Some(d) = g.duration {
            obj = obj.val("duration", &d);
        }
        if let (Some(total), Some(talking)) = (g.duration, g.talking) {
            obj = obj
                .val("talking_duration", &talking)
                .val("silence_duration", &(total - talking));
        }
        obj.finish()
    }

    /// The channel being recorded, while it exists.
    pub(crate) fn channel(&self) -> Option<Arc<Channel>> {
        self.chan.upgrade()
    }

    fn emit(&self, core: &Core, kind: &str) {
        if let Some(chan) = self.chan.upgrade() {
            chan.reaction.event_sent();
        }
        core.send_event(&self.app, kind, &[], &[("recording", self.json())]);
    }
}

/// Removes a recording from the live registry (it then answers 404).
pub(crate) fn forget(core: &Core, rec: &Arc<LiveRecording>) {
    let mut st = core.lock();
    if st
        .recordings
        .get(&rec.opts.name)
        .is_some_and(|r| Arc::ptr_eq(r, rec))
    {
        st.recordings.remove(&rec.opts.name);
    }
}

/// `/recordings/live/{name}` operations: stop, cancel, pause, unpause,
/// mute, unmute.
pub(crate) fn operate(core: &Core, rec: &Arc<LiveRecording>, op: &str) -> Result<(), ApiError> {
    let now = core.clock.now_ms();
    let mut g = rec.lock();
    match (g.phase, op) {
        (RecPhase::Queued, "stop" | "cancel") => {
            g.phase = RecPhase::Disregarded;
            drop(g);
            forget(core, rec);
            return Ok(());
        }
        (RecPhase::Recording | RecPhase::Paused, "stop") => g.request = Some(Request::Stop),
        (RecPhase::Recording | RecPhase::Paused, "cancel") => {
            g.request = Some(Request::Cancel);
            drop(g);
            // Asterisk deletes the file right away.
            core.lock().stored.remove(&rec.opts.name);
            forget(core, rec);
            wake(rec);
            return Ok(());
        }
        (RecPhase::Recording, "pause") => {
            g.phase = RecPhase::Paused;
            g.toggles.push((now, Toggle::Pause(true)));
        }
        (RecPhase::Paused, "unpause") => {
            g.phase = RecPhase::Recording;
            g.toggles.push((now, Toggle::Pause(false)));
        }
        (RecPhase::Recording, "unpause") | (RecPhase::Paused, "pause") => {}
        (RecPhase::Recording | RecPhase::Paused, "mute") => {
            g.toggles.push((now, Toggle::Mute(true)))
        }
        (RecPhase::Recording | RecPhase::Paused, "unmute") => {
            g.toggles.push((now, Toggle::Mute(false)))
        }
        _ => return Err(ApiError::new(409, "Recording not in session")),
    }
    drop(g);
    wake(rec);
    Ok(())
}

fn wake(rec: &LiveRecording) {
    if let Some(chan) = rec.chan.upgrade() {
        chan.wake.notify_one();
    }
}

/// Why a capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    Dtmf,
    Silence,
    MaxDuration,
    NoAudio,
    Stop,
    Cancel,
    Hangup,
}

impl EndKind {
    /// Asterisk's positive `res`: the only ends after which trailing silence
    /// is trimmed from the file.
    fn trims(self) -> bool {
        matches!(
            self,
            EndKind::Dtmf | EndKind::Silence | EndKind::MaxDuration
        )
    }
}

/// The frame-writing and silence-detection state of a running capture.
#[derive(Debug)]
struct Capture {
    start: u64,
    pos: u64,
    max_silence_ms: u64,
    max_duration_ms: u64,
    runs: Vec<(bool, u64)>,
    written_ms: u64,
    /// Current run of silence (Asterisk's `dspsilence`).
    silence_run: u64,
    /// Finished runs of silence (`totalsilence`).
    total_silence: u64,
    last_frame: u64,
    paused: bool,
    muted: bool,
    paused_ms: u64,
}

impl Capture {
    fn new(start: u64, opts: &RecOpts) -> Capture {
        Capture {
            start,
            pos: start,
            max_silence_ms: opts.max_silence_s.saturating_mul(1000),
            max_duration_ms: opts.max_duration_s.saturating_mul(1000),
            runs: Vec::new(),
            written_ms: 0,
            silence_run: 0,
            total_silence: 0,
            last_frame: start,
            paused: false,
            muted: false,
            paused_ms: 0,
        }
    }

    fn write(&mut self, speech: bool, ms: u64) {
        if ms == 0 {
            return;
        }
        self.written_ms += ms;
        match self.runs.last_mut() {
            Some((s, len)) if *s == speech => *len += ms,
            _ => self.runs.push((speech, ms)),
        }
    }

    fn duration_limit(&self) -> Option<u64> {
        (self.max_duration_ms > 0).then(|| {
            self.start
                .saturating_add(self.max_duration_ms)
                .saturating_add(self.paused_ms)
        })
    }

    /// Processes the caller's audio up to `to`; returns the end if one of
    /// the automatic conditions (silence, no audio, max duration) fires.
    fn advance(&mut self, tl: &Timeline, to: u64) -> Option<(u64, EndKind)> {
        if to <= self.pos {
            return None;
        }
        for (a, b, mode) in tl.pieces(self.pos, to) {
            let limit = if self.paused {
                None
            } else {
                self.duration_limit()
            };
            let b = match limit {
                Some(l) => b.min(l.max(a)),
                None => b,
            };
            let len = b - a;
            if self.paused {
                self.paused_ms += len;
                if mode != CallerAudio::NoRtp {
                    self.last_frame = b;
                }
            } else {
                match mode {
                    CallerAudio::Talking => {
                        self.write(!self.muted, len);
                        if self.max_silence_ms > 0 {
                            self.total_silence += self.silence_run;
                            self.silence_run = 0;
                        }
                        self.last_frame = b;
                    }
                    CallerAudio::Silence => {
                        let fire_run = self.max_silence_ms.saturating_add(FRAME_MS);
                        if self.max_silence_ms > 0 && self.silence_run + len >= fire_run {
                            let fire = a + (fire_run - self.silence_run);
                            self.write(false, fire - a);
                            self.silence_run = fire_run;
                            self.last_frame = fire;
                            self.pos = fire;
                            return Some((fire, EndKind::Silence));
                        }
                        self.write(false, len);
                        if self.max_silence_ms > 0 {
                            self.silence_run += len;
                        }
                        self.last_frame = b;
                    }
                    CallerAudio::NoRtp => {}
                }
            }
            if mode == CallerAudio::NoRtp {
                let dead = self.last_frame.saturating_add(NO_AUDIO_MS);
                if dead <= b {
                    let at = dead.max(a);
                    self.pos = at;
                    return Some((at, EndKind::NoAudio));
                }
            }
            self.pos = b;
            if limit.is_some_and(|l| b >= l) {
                return Some((b, EndKind::MaxDuration));
            }
        }
        self.pos = to;
        None
    }

    /// Earliest virtual time something may happen by itself.
    fn next_deadline(&self, tl: &Timeline) -> Option<u64> {
        let mut candidates = Vec::new();
        if let Some(t) = tl.next_change_after(self.pos) {
            candidates.push(t);
        }
        match tl.mode_at(self.pos) {
            CallerAudio::Silence if self.max_silence_ms > 0 && !self.paused => {
                let fire_run = self.max_silence_ms.saturating_add(FRAME_MS);
                candidates.push(
                    self.pos
                        .saturating_add(fire_run.saturating_sub(self.silence_run)),
                );
            }
            CallerAudio::NoRtp => candidates.push(self.last_frame.saturating_add(NO_AUDIO_MS)),
            _ => {}
        }
        if let (false, Some(l)) = (self.paused, self.duration_limit()) {
            candidates.push(l);
        }
        candidates.into_iter().min()
    }
}

/// Runs a recording on the channel task.
pub(crate) async fn run_recording(core: &Core, chan: &Arc<Channel>, rec: Arc<LiveRecording>) {
    if rec.lock().phase == RecPhase::Disregarded {
        return;
    }
    let hung = chan.interrupted(core);
    if !hung && chan.lock().snap.state != "Up" {
        // Recording auto-answers the channel.
        let _ = crate::channel::answer(core, chan);
    }
    rec.lock().phase = RecPhase::Recording;
    rec.emit(core, "RecordingStarted");
    let t0 = core.clock.now_ms();
    if hung {
        // The beep cannot play to a hung-up channel: no file, no duration.
        let fin = if rec.opts.beep {
            Fin::NoFile
        } else {
            Fin::Keep(Vec::new(), Sizes::default())
        };
        finish(core, &rec, fin);
        return;
    }
    if rec.opts.beep {
        chan.add_heard(Heard::Beep);
        loop {
            if core.is_shutdown() {
                return;
            }
            if chan.interrupted(core) {
                finish(core, &rec, Fin::NoFile);
                return;
            }
            if core.clock.now_ms() >= t0 + BEEP_MS {
                break;
            }
            chan.wait(core, Some(t0 + BEEP_MS)).await;
        }
    }
    let start = if rec.opts.beep { t0 + BEEP_MS } else { t0 };
    let existing = {
        let mut st = core.lock();
        let keep = match (rec.opts.if_exists, st.stored.get(&rec.opts.name)) {
            (IfExists::Append, Some(old)) => old.runs.clone(),
            _ => Vec::new(),
        };
        st.stored.put(
            &rec.opts.name,
            StoredRec {
                format: rec.opts.format.clone(),
                runs: keep.clone(),
                file: None,
            },
        );
        keep
    };
    let mut cap = Capture::new(start, &rec.opts);
    let mut seen_digits = chan.lock().dtmf.len();
    let (end, kind) = loop {
        if core.is_shutdown() {
            return;
        }
        let now = core.clock.now_ms();
        let (tl, digits, hung) = {
            let g = chan.lock();
            let digits: Vec<(u64, char)> = g.dtmf.get(seen_digits..).unwrap_or(&[]).to_vec();
            (g.audio.clone(), digits, g.hangup.is_some())
        };
        seen_digits += digits.len();
        let (request, toggles) = {
            let mut g = rec.lock();
            (g.request, std::mem::take(&mut g.toggles))
        };
        if let Some(end) = apply_events(&mut cap, &tl, &digits, &toggles, rec.opts.terminate) {
            break end;
        }
        if let Some(end) = cap.advance(&tl, now) {
            break end;
        }
        if hung {
            break (cap.pos, EndKind::Hangup);
        }
        match request {
            Some(Request::Stop) => break (cap.pos, EndKind::Stop),
            Some(Request::Cancel) => break (cap.pos, EndKind::Cancel),
            None => {}
        }
        chan.wait(core, cap.next_deadline(&tl)).await;
    };
    tracing::debug!(name = %rec.opts.name, end, ?kind, "recording ended");
    let mut runs = existing;
    for (speech, ms) in cap.runs {
        match runs.last_mut() {
            Some((s, len)) if *s == speech => *len += ms,
            _ => runs.push((speech, ms)),
        }
    }
    let file_ms: u64 = runs.iter().map(|(_, ms)| ms).sum();
    let sizes = Sizes {
        file_ms,
        total_silence: cap.total_silence + cap.silence_run,
        trailing: cap.silence_run,
    };
    if kind == EndKind::Cancel {
        finish(core, &rec, Fin::Delete(sizes));
        return;
    }
    if kind.trims() && cap.silence_run > 200 {
        trim(&mut runs, cap.silence_run - 200);
    }
    finish(core, &rec, Fin::Keep(runs, sizes));
}

/// Applies DTMF and pause/mute changes in time order.
fn apply_events(
    cap: &mut Capture,
    tl: &Timeline,
    digits: &[(u64, char)],
    toggles: &[(u64, Toggle)],
    terminate: Terminate,
) -> Option<(u64, EndKind)> {
    enum Ev {
        Digit(char),
        Toggle(Toggle),
    }
    let mut evs: Vec<(u64, Ev)> = digits.iter().map(|(t, d)| (*t, Ev::Digit(*d))).collect();
    evs.extend(toggles.iter().map(|(t, x)| (*t, Ev::Toggle(*x))));
    evs.sort_by_key(|(t, _)| *t);
    for (t, ev) in evs {
        let t = t.max(cap.pos);
        if let Some(end) = cap.advance(tl, t) {
            return Some(end);
        }
        match ev {
            Ev::Digit(d) => {
                // A DTMF frame counts as activity for the no-audio wait.
                cap.last_frame = cap.last_frame.max(t);
                // Digits during the beep are ignored (t < start).
                if t >= cap.start && terminate.accepts(d) {
                    return Some((t, EndKind::Dtmf));
                }
            }
            Ev::Toggle(Toggle::Pause(p)) => cap.paused = p,
            Ev::Toggle(Toggle::Mute(m)) => cap.muted = m,
        }
    }
    None
}

/// Removes `ms` from the end of the runs (Asterisk's rewind + truncate).
fn trim(runs: &mut Vec<(bool, u64)>, mut ms: u64) {
    while ms > 0 {
        let Some((_, len)) = runs.last_mut() else {
            return;
        };
        if *len > ms {
            *len -= ms;
            return;
        }
        ms -= *len;
        runs.pop();
    }
}

/// Lengths that the reported durations are computed from (ms).
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    /// File length before the trailing-silence trim.
    file_ms: u64,
    /// All silence seen by the detector, trailing run included.
    total_silence: u64,
    /// The trailing run of silence.
    trailing: u64,
}

/// How a recording leaves its file.
enum Fin {
    /// Ended before any file was opened (hang-up during the beep): no
    /// durations, the stored recordings are untouched.
    NoFile,
    /// The file is kept with these runs.
    Keep(Vec<(bool, u64)>, Sizes),
    /// Canceled: durations are reported but the file is deleted.
    Delete(Sizes),
}

/// Fills in the durations, stores or deletes the file, and emits
/// `RecordingFinished` (state `done` in every case, as Asterisk does).
fn finish(core: &Core, rec: &Arc<LiveRecording>, fin: Fin) {
    let sizes = match &fin {
        Fin::NoFile => None,
        Fin::Keep(_, sizes) | Fin::Delete(sizes) => Some(*sizes),
    };
    {
        let mut g = rec.lock();
        g.phase = RecPhase::Done;
        if let Some(sizes) = sizes {
            let mut duration = (sizes.file_ms / 1000) as i64;
            let mut talking = duration;
            if sizes.total_silence > 0 {
                talking -= (sizes.total_silence as i64 - 200) / 1000;
            }
            if sizes.trailing > 0 {
                duration -= (sizes.trailing as i64 - 200) / 1000;
            }
            g.duration = Some(duration.max(0));
            g.talking = (rec.opts.max_silence_s > 0).then_some(talking.max(0));
        }
    }
    match fin {
        Fin::NoFile => {}
        Fin::Keep(runs, _) => core.lock().stored.put(
            &rec.opts.name,
            StoredRec {
                format: rec.opts.format.clone(),
                runs,
                file: None,
            },
        ),
        Fin::Delete(_) => {
            core.lock().stored.remove(&rec.opts.name);
        }
    }
    forget(core, rec);
    rec.emit(core, "RecordingFinished");
}
