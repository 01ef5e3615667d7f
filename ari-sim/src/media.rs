//! Playbacks: a playlist of media URIs played to a channel.
//!
//! Life cycle as in Asterisk 22: `PlaybackStarted` per item,
//! `PlaybackContinuing` between items (also after a failed middle item),
//! `PlaybackFinished` with `done` (natural end or `DELETE`) or `failed` (the
//! last item failed, e.g. a missing sound or a hang-up). A missing
//! `recording:` item starts and then silently vanishes.
//!
//! Lengths: sounds come from the config; `recording:` uses the stored length;
//! `number:`, `digits:` and `characters:` take 0.5 s (virtual) per character;
//! `tone:` never ends by itself.

use crate::caller::Heard;
use crate::channel::Channel;
use crate::clock::secs_to_ms;
use crate::core::Core;
use crate::http::ApiError;
use crate::json::Obj;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Virtual length of one spoken character or digit.
const SAY_MS_PER_CHAR: u64 = 500;
/// One 20 ms frame: what a playback started past its end still plays.
const FRAME_MS: u64 = 20;

/// Playback state as ARI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PbPhase {
    Queued,
    Playing,
    Paused,
    Continuing,
    Done,
    Failed,
    /// Stopped while still queued: it never starts and emits nothing.
    Canceled,
}

impl PbPhase {
    fn as_str(self) -> &'static str {
        match self {
            PbPhase::Queued => "queued",
            PbPhase::Playing => "playing",
            PbPhase::Paused => "paused",
            PbPhase::Continuing => "continuing",
            PbPhase::Done | PbPhase::Canceled => "done",
            PbPhase::Failed => "failed",
        }
    }
}

/// A seek requested through `/control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seek {
    Forward,
    Reverse,
    Restart,
}

/// Mutable playback state.
#[derive(Debug)]
pub(crate) struct PbCtl {
    pub(crate) phase: PbPhase,
    pub(crate) index: usize,
    /// Set once a sound, recording or tone item started: only then can the
    /// playback be stopped or controlled (Asterisk's `controllable`).
    pub(crate) controllable: bool,
    pub(crate) stop: bool,
    pub(crate) seeks: Vec<Seek>,
}

/// One playback.
#[derive(Debug)]
pub(crate) struct Playback {
    pub(crate) id: String,
    pub(crate) app: String,
    pub(crate) target_uri: String,
    pub(crate) language: String,
    pub(crate) medias: Vec<String>,
    pub(crate) skip_ms: u64,
    pub(crate) offset_ms: u64,
    pub(crate) chan: Weak<Channel>,
    ctl: Mutex<PbCtl>,
}

impl Playback {
    pub(crate) fn new(
        id: String,
        chan: &Arc<Channel>,
        language: String,
        medias: Vec<String>,
        skip_ms: u64,
        offset_ms: u64,
    ) -> Playback {
        Playback {
            id,
            app: chan.app.clone(),
            target_uri: format!("channel:{}", chan.id),
            language,
            medias,
            skip_ms,
            offset_ms,
            chan: Arc::downgrade(chan),
            ctl: Mutex::new(PbCtl {
                phase: PbPhase::Queued,
                index: 0,
                controllable: false,
                stop: false,
                seeks: Vec::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, PbCtl> {
        self.ctl.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// The playback JSON (`next_media_uri` only while there is a next item).
    pub(crate) fn json(&self) -> String {
        let (index, phase) = {
            let g = self.lock();
            (g.index, g.phase)
        };
        let mut obj = Obj::new().str("id", &self.id).str(
            "media_uri",
            self.medias.get(index).map(String::as_str).unwrap_or(""),
        );
        if let Some(next) = self.medias.get(index + 1) {
            obj = obj.str("next_media_uri", next);
        }
        obj.str("target_uri", &self.target_uri)
            .str("language", &self.language)
            .str("state", phase.as_str())
            .finish()
    }

    fn emit(&self, core: &Core, kind: &str) {
        if let Some(chan) = self.chan.upgrade() {
            chan.reaction.event_sent();
        }
        core.send_event(&self.app, kind, &[], &[("playback", self.json())]);
    }

    fn wake(&self) {
        if let Some(chan) = self.chan.upgrade() {
            chan.wake.notify_one();
        }
    }
}

/// Removes a playback from the registry (it then answers 404).
pub(crate) fn forget(core: &Core, pb: &Arc<Playback>) {
    let mut st = core.lock();
    if st.playbacks.get(&pb.id).is_some_and(|p| Arc::ptr_eq(p, pb)) {
        st.playbacks.remove(&pb.id);
    }
}

/// `DELETE /playbacks/{id}`.
pub(crate) fn stop(core: &Core, pb: &Arc<Playback>) -> Result<(), ApiError> {
    let mut g = pb.lock();
    match g.phase {
        PbPhase::Queued => {
            g.phase = PbPhase::Canceled;
            drop(g);
            forget(core, pb);
            Ok(())
        }
        PbPhase::Playing | PbPhase::Paused | PbPhase::Continuing => {
            if !g.controllable {
                return Err(ApiError::new(500, "Could not stop playback"));
            }
            g.stop = true;
            drop(g);
            pb.wake();
            Ok(())
        }
        PbPhase::Done | PbPhase::Failed | PbPhase::Canceled => Ok(()),
    }
}

/// `POST /playbacks/{id}/control?operation=...` (operation already valid).
pub(crate) fn control(core: &Core, pb: &Arc<Playback>, op: &str) -> Result<(), ApiError> {
    let not_playing = || ApiError::new(409, &format!("Can only {op} while media is playing"));
    let mut g = pb.lock();
    let playing = matches!(g.phase, PbPhase::Playing | PbPhase::Continuing);
    let paused = g.phase == PbPhase::Paused;
    if g.phase == PbPhase::Queued {
        return if op == "restart" {
            Ok(())
        } else {
            Err(not_playing())
        };
    }
    if !playing && !paused {
        return Err(not_playing());
    }
    let allowed = match op {
        "pause" | "unpause" => true,
        _ => playing,
    };
    if !allowed {
        return Err(not_playing());
    }
    if !g.controllable {
        return Err(ApiError::new(500, &format!("Could not {op} playback")));
    }
    match op {
        "pause" if playing => g.phase = PbPhase::Paused,
        "unpause" if paused => {
            g.phase = PbPhase::Playing;
            drop(g);
            // Asterisk publishes the playing state again on unpause.
            pb.emit(core, "PlaybackStarted");
            pb.wake();
            return Ok(());
        }
        "forward" => g.seeks.push(Seek::Forward),
        "reverse" => g.seeks.push(Seek::Reverse),
        "restart" => g.seeks.push(Seek::Restart),
        _ => {}
    }
    drop(g);
    pb.wake();
    Ok(())
}

/// What one playlist item turns out to be.
enum Item {
    Timed {
        len: u64,
        heard: Heard,
        controllable: bool,
    },
    Endless(Heard),
    /// Started, then fails (missing sound).
    Fails,
    /// Started, then disappears without a final event (missing recording,
    /// bad number, unsupported scheme).
    Vanishes,
}

fn resolve(core: &Core, uri: &str, language: &str) -> Item {
    let say = |text: &str| text.chars().count() as u64 * SAY_MS_PER_CHAR;
    if let Some(name) = uri.strip_prefix("sound:") {
        if core.config.missing_sounds.contains(name) {
            return Item::Fails;
        }
        let secs = core
            .config
            .sound_lengths
            .get(name)
            .copied()
            .unwrap_or(core.config.default_sound_secs);
        return Item::Timed {
            len: secs_to_ms(secs),
            heard: Heard::Sound {
                name: name.to_string(),
                lang: language.to_string(),
            },
            controllable: true,
        };
    }
    if let Some(name) = uri.strip_prefix("recording:") {
        return match core.lock().stored.get(name) {
            Some(rec) => Item::Timed {
                len: rec.len_ms(),
                heard: Heard::Recording {
                    name: name.to_string(),
                },
                controllable: true,
            },
            None => Item::Vanishes,
        };
    }
    if let Some(num) = uri.strip_prefix("number:") {
        return match num.trim().parse::<i32>() {
            Ok(n) => Item::Timed {
                len: say(&n.unsigned_abs().to_string()),
                heard: Heard::Number(num.to_string()),
                controllable: false,
            },
            Err(_) => Item::Vanishes,
        };
    }
    if let Some(text) = uri.strip_prefix("digits:") {
        return Item::Timed {
            len: say(text),
            heard: Heard::Digits(text.to_string()),
            controllable: false,
        };
    }
    if let Some(text) = uri.strip_prefix("characters:") {
        return Item::Timed {
            len: say(text),
            heard: Heard::Characters(text.to_string()),
            controllable: false,
        };
    }
    if let Some(tone) = uri.strip_prefix("tone:") {
        return Item::Endless(Heard::Tone(tone.to_string()));
    }
    Item::Vanishes
}

/// How one item ended.
enum Outcome {
    Done,
    Stopped,
    Failed,
    Shutdown,
}

/// Runs a playback on the channel task.
pub(crate) async fn run_playback(core: &Core, chan: &Arc<Channel>, pb: Arc<Playback>) {
    if pb.lock().phase == PbPhase::Canceled {
        return;
    }
    let count = pb.medias.len();
    for (idx, uri) in pb.medias.iter().enumerate() {
        let item = resolve(core, uri, &pb.language);
        let last = idx + 1 == count;
        {
            let mut g = pb.lock();
            g.index = idx;
            g.phase = PbPhase::Playing;
            if matches!(
                item,
                Item::Fails
                    | Item::Endless(_)
                    | Item::Timed {
                        controllable: true,
                        ..
                    }
            ) {
                g.controllable = true;
            }
        }
        if last && matches!(item, Item::Vanishes) {
            // Gone before anyone can GET it; no final event ever comes.
            forget(core, &pb);
        }
        pb.emit(core, "PlaybackStarted");
        if matches!(item, Item::Vanishes) {
            // No final update for this item: the next one just starts.
            continue;
        }
        let outcome = if chan.interrupted(core) {
            if core.is_shutdown() {
                Outcome::Shutdown
            } else {
                Outcome::Failed
            }
        } else {
            match item {
                Item::Fails | Item::Vanishes => Outcome::Failed,
                Item::Timed { len, heard, .. } => {
                    chan.add_heard(heard);
                    let offset = if idx == 0 { pb.offset_ms } else { 0 };
                    play_item(core, chan, &pb, Some(len), offset).await
                }
                Item::Endless(heard) => {
                    chan.add_heard(heard);
                    play_item(core, chan, &pb, None, 0).await
                }
            }
        };
        let (phase, kind) = match outcome {
            Outcome::Shutdown => return,
            Outcome::Stopped => (PbPhase::Done, "PlaybackFinished"),
            Outcome::Done if last => (PbPhase::Done, "PlaybackFinished"),
            Outcome::Failed if last => (PbPhase::Failed, "PlaybackFinished"),
            Outcome::Done | Outcome::Failed => (PbPhase::Continuing, "PlaybackContinuing"),
        };
        pb.lock().phase = phase;
        if kind == "PlaybackFinished" {
            forget(core, &pb);
            pb.emit(core, kind);
            return;
        }
        pb.emit(core, kind);
    }
    forget(core, &pb);
}

/// Plays one item of `len` ms (None: endless) from `offset`, obeying
/// pause/seek/stop and failing on hang-up.
async fn play_item(
    core: &Core,
    chan: &Channel,
    pb: &Playback,
    len: Option<u64>,
    offset: u64,
) -> Outcome {
    let mut pos = match len {
        Some(len) if offset >= len => len.saturating_sub(FRAME_MS),
        _ => offset,
    };
    let mut last = core.clock.now_ms();
    let mut was_paused = pb.lock().phase == PbPhase::Paused;
    loop {
        let now = core.clock.now_ms();
        if !was_paused {
            pos = pos.saturating_add(now.saturating_sub(last));
        }
        last = now;
        if core.is_shutdown() {
            return Outcome::Shutdown;
        }
        if chan.interrupted(core) {
            return Outcome::Failed;
        }
        let (stop, seeks, paused) = {
            let mut g = pb.lock();
            (
                g.stop,
                std::mem::take(&mut g.seeks),
                g.phase == PbPhase::Paused,
            )
        };
        if stop {
            return Outcome::Stopped;
        }
        for seek in seeks {
            pos = match seek {
                Seek::Forward => pos.saturating_add(pb.skip_ms),
                Seek::Reverse => pos.saturating_sub(pb.skip_ms),
                Seek::Restart => 0,
            };
        }
        let deadline = match len {
            Some(len) if pos >= len => return Outcome::Done,
            Some(len) if !paused => Some(now.saturating_add(len - pos)),
            _ => None,
        };
        was_paused = paused;
        chan.wait(core, deadline).await;
    }
}
