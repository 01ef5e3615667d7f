//! `/channels/...` routes.

use super::{ApiError, ApiResult, Params, created, json, no_content, seg};
use crate::channel::{self, Channel, Command, HangupBy, Phase};
use crate::core::Core;
use crate::json::Obj;
use crate::media::Playback;
use crate::recording::{IfExists, LiveRecording, RecOpts, Terminate};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use std::sync::Arc;
use tokio::sync::oneshot;

type IdPath = Result<Path<String>, PathRejection>;

/// Default ms skipped by forward/reverse.
const DEFAULT_SKIP_MS: u64 = 3000;
/// Formats Asterisk can record in (others give 422).
const FORMATS: &[&str] = &[
    "wav", "gsm", "ulaw", "alaw", "sln", "slin", "g722", "wav49", "g729",
];

/// A channel that exists (in Stasis or not), or 404.
fn find(core: &Core, id: &str) -> Result<Arc<Channel>, ApiError> {
    core.lock()
        .channels
        .get(id)
        .cloned()
        .ok_or_else(ApiError::channel_not_found)
}

/// A channel in Stasis: 404 if it does not exist, 409 if it left Stasis.
fn find_control(core: &Core, id: &str) -> Result<Arc<Channel>, ApiError> {
    let chan = find(core, id)?;
    match chan.phase() {
        Phase::Stasis => Ok(chan),
        Phase::Outside => Err(ApiError::new(409, "Channel not in Stasis application")),
        Phase::Gone => Err(ApiError::channel_not_found()),
    }
}

/// Queues a command, or 404 if the channel task is gone.
fn push(chan: &Channel, cmd: Command) -> Result<(), ApiError> {
    if chan.push(cmd) {
        Ok(())
    } else {
        Err(ApiError::channel_not_found())
    }
}

pub(super) async fn list(State(core): State<Arc<Core>>) -> ApiResult {
    let chans: Vec<Arc<Channel>> = core.lock().channels.values().cloned().collect();
    let items: Vec<String> = chans.iter().map(|c| c.snapshot_json()).collect();
    Ok(json(200, format!("[{}]", items.join(","))))
}

pub(super) async fn get_one(State(core): State<Arc<Core>>, id: IdPath) -> ApiResult {
    let chan = find(&core, &seg(id)?)?;
    Ok(json(200, chan.snapshot_json()))
}

/// `DELETE /channels/{id}`: hang up with `reason_code` or `reason`.
pub(super) async fn hangup(State(core): State<Arc<Core>>, id: IdPath, params: Params) -> ApiResult {
    let chan = find(&core, &seg(id)?)?;
    let cause = match (params.get("reason_code"), params.get("reason")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                400,
                "The reason and reason_code can't both be specified",
            ));
        }
        (Some(code), None) => match code.trim().parse::<u32>() {
            Ok(code) => code,
            Err(_) => return Err(ApiError::new(400, "Invalid reason_code")),
        },
        (None, Some(reason)) => cause_for(reason)
            .ok_or_else(|| ApiError::new(400, "Invalid reason for hangup provided"))?,
        (None, None) => 16,
    };
    if !channel::hangup(&core, &chan, HangupBy::App { cause }) {
        return Err(ApiError::channel_not_found());
    }
    Ok(no_content())
}

/// Q.850 cause of an ARI hang-up reason.
fn cause_for(reason: &str) -> Option<u32> {
    Some(match reason {
        "normal" => 16,
        "busy" => 17,
        "congestion" => 34,
        "no_answer" => 19,
        "timeout" => 18,
        "rejected" => 21,
        "unallocated" => 1,
        "normal_unspecified" => 31,
        "number_incomplete" => 28,
        "codec_mismatch" => 58,
        "interworking" => 127,
        "failure" => 38,
        "answered_elsewhere" => 26,
        _ => return None,
    })
}

/// `POST /answer`: waits for what is queued ahead (Asterisk runs answer on
/// the channel's command queue synchronously).
pub(super) async fn answer(State(core): State<Arc<Core>>, id: IdPath) -> ApiResult {
    let chan = find_control(&core, &seg(id)?)?;
    let (tx, rx) = oneshot::channel();
    push(&chan, Command::Answer(tx))?;
    match rx.await {
        Ok(Ok(())) => Ok(no_content()),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(ApiError::new(500, "Failed to answer channel")),
    }
}

pub(super) async fn play(State(core): State<Arc<Core>>, id: IdPath, params: Params) -> ApiResult {
    let id = seg(id)?;
    let playback_id = params.get("playbackId").map(str::to_string);
    start_play(&core, &id, playback_id, &params)
}

pub(super) async fn play_with_id(
    State(core): State<Arc<Core>>,
    ids: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult {
    let (id, playback_id) = seg(ids)?;
    start_play(&core, &id, Some(playback_id), &params)
}

fn start_play(core: &Core, id: &str, playback_id: Option<String>, params: &Params) -> ApiResult {
    let media = params.required("media")?;
    let chan = find_control(core, id)?;
    let skip = params.int("skipms").unwrap_or(0);
    if skip < 0 {
        return Err(ApiError::new(400, "skipms cannot be negative"));
    }
    let offset = params.int("offsetms").unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::new(400, "offsetms cannot be negative"));
    }
    let skip = if skip == 0 {
        DEFAULT_SKIP_MS
    } else {
        skip as u64
    };
    let language = match params.get("lang") {
        Some(lang) => lang.to_string(),
        None => chan.lock().snap.language.clone(),
    };
    let medias: Vec<String> = media.split(',').map(|m| m.trim().to_string()).collect();
    let pb_id = playback_id.unwrap_or_else(crate::sim::uuid);
    let pb = Arc::new(Playback::new(
        pb_id.clone(),
        &chan,
        language,
        medias,
        skip,
        offset as u64,
    ));
    let body = pb.json();
    core.lock().playbacks.insert(pb_id.clone(), pb.clone());
    if !chan.push(Command::Play(pb.clone())) {
        crate::media::forget(core, &pb);
        return Err(ApiError::channel_not_found());
    }
    Ok(created(&format!("/playbacks/{pb_id}"), body))
}

/// `POST /record`.
pub(super) async fn record(State(core): State<Arc<Core>>, id: IdPath, params: Params) -> ApiResult {
    let id = seg(id)?;
    let name = params.required("name")?.to_string();
    let format = params.required("format")?.to_string();
    let max_duration = params.int("maxDurationSeconds").unwrap_or(0);
    if max_duration < 0 {
        return Err(ApiError::new(
            400,
            "max_duration_seconds cannot be negative",
        ));
    }
    let max_silence = params.int("maxSilenceSeconds").unwrap_or(0);
    if max_silence < 0 {
        return Err(ApiError::new(400, "max_silence_seconds cannot be negative"));
    }
    let chan = find_control(&core, &id)?;
    let terminate = match params
        .get("terminateOn")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => Terminate::None,
        Some("any") => Terminate::Any,
        Some("#") => Terminate::Digit('#'),
        Some("*") => Terminate::Digit('*'),
        Some(_) => return Err(ApiError::new(400, "terminateOn invalid")),
    };
    let if_exists = match params
        .get("ifExists")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("fail") => IfExists::Fail,
        Some("overwrite") => IfExists::Overwrite,
        Some("append") => IfExists::Append,
        Some(_) => return Err(ApiError::new(400, "ifExists invalid")),
    };
    if !FORMATS.contains(&format.as_str()) {
        return Err(ApiError::new(
            422,
            "specified format is unknown on this system",
        ));
    }
    if name.starts_with('/') || name.split('/').any(|part| part == "..") {
        return Err(ApiError::new(400, "Recording name invalid"));
    }
    let opts = RecOpts {
        name: name.clone(),
        format,
        max_duration_s: max_duration as u64,
        max_silence_s: max_silence as u64,
        if_exists,
        beep: params.flag("beep"),
        terminate,
    };
    let rec = Arc::new(LiveRecording::new(&chan, opts));
    {
        let mut st = core.lock();
        let exists = if_exists == IfExists::Fail && st.stored.get(&name).is_some();
        if exists || st.recordings.contains_key(&name) {
            return Err(ApiError::new(
                409,
                &format!("Recording '{name}' already exists and can not be overwritten"),
            ));
        }
        st.recordings.insert(name.clone(), rec.clone());
    }
    let body = rec.json();
    if !chan.push(Command::Record(rec.clone())) {
        crate::recording::forget(&core, &rec);
        return Err(ApiError::channel_not_found());
    }
    Ok(created(
        &format!("/recordings/live/{}", encode(&name)),
        body,
    ))
}

/// Percent-encodes a name for a `Location` header.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /continue`: where to go follows Asterisk's rules (no context =>
/// current context; no arguments at all => next priority).
pub(super) async fn continue_in_dialplan(
    State(core): State<Arc<Core>>,
    id: IdPath,
    params: Params,
) -> ApiResult {
    let chan = find_control(&core, &seg(id)?)?;
    let dp = chan.lock().snap.dialplan.clone();
    let (context, exten) = match params.get("context") {
        None => (
            dp.context.clone(),
            params.get("extension").unwrap_or(&dp.exten).to_string(),
        ),
        Some(ctx) => (
            ctx.to_string(),
            params.get("extension").unwrap_or("s").to_string(),
        ),
    };
    let priority = if let Some(label) = params.get("label") {
        match label.trim().parse::<i64>() {
            Ok(0) => return Err(ApiError::new(400, "Requested priority is illegal")),
            Ok(n) => n,
            Err(_) => return Err(ApiError::new(404, "Requested label can not be found")),
        }
    } else if let Some(p) = params.int("priority").filter(|p| *p != 0) {
        p
    } else if params.get("context").is_none() && params.get("extension").is_none() {
        i64::from(dp.priority) + 1
    } else {
        1
    };
    let priority = u32::try_from(priority.max(1)).unwrap_or(u32::MAX);
    push(
        &chan,
        Command::Continue {
            context,
            exten,
            priority,
        },
    )?;
    Ok(no_content())
}

/// `POST /dtmf`: DTMF towards the caller; only occupies the queue.
pub(super) async fn dtmf(State(core): State<Arc<Core>>, id: IdPath, params: Params) -> ApiResult {
    let chan = find_control(&core, &seg(id)?)?;
    let digits = params
        .get("dtmf")
        .ok_or_else(|| ApiError::new(400, "DTMF is required"))?;
    let ms = |key: &str, default: i64| params.int(key).unwrap_or(default).max(0) as u64;
    let n = digits.chars().count() as u64;
    let total_ms = ms("before", 0)
        .saturating_add(n.saturating_mul(ms("duration", 100)))
        .saturating_add(n.saturating_sub(1).saturating_mul(ms("between", 100)))
        .saturating_add(ms("after", 0));
    push(&chan, Command::SendDtmf { total_ms })?;
    Ok(no_content())
}

/// `POST /variable`: synchronous, behind the queue.
pub(super) async fn set_var(
    State(core): State<Arc<Core>>,
    id: IdPath,
    params: Params,
) -> ApiResult {
    let chan = find_control(&core, &seg(id)?)?;
    let name = params
        .get("variable")
        .ok_or_else(|| ApiError::new(400, "Variable name is required"))?
        .to_string();
    let value = params.0.get("value").cloned().unwrap_or_default();
    let (tx, rx) = oneshot::channel();
    push(
        &chan,
        Command::SetVar {
            name,
            value,
            reply: tx,
        },
    )?;
    match rx.await {
        Ok(()) => Ok(no_content()),
        Err(_) => Err(ApiError::channel_not_found()),
    }
}

pub(super) async fn get_var(
    State(core): State<Arc<Core>>,
    id: IdPath,
    params: Params,
) -> ApiResult {
    let chan = find_control(&core, &seg(id)?)?;
    let name = params
        .get("variable")
        .ok_or_else(|| ApiError::new(400, "Variable name is required"))?;
    let value = chan.lock().variables.get(name).cloned();
    match value {
        Some(value) => Ok(json(200, Obj::new().str("value", &value).finish())),
        None => Err(ApiError::new(404, "Provided variable was not found")),
    }
}

/// `ring`, `hold`, `moh`, `silence` and `mute` (and their DELETE forms):
/// accepted like Asterisk does (404/409 rules included) but without audible
/// effect in the simulation; the app gets no events from them.
pub(super) async fn indication(State(core): State<Arc<Core>>, id: IdPath) -> ApiResult {
    find_control(&core, &seg(id)?)?;
    Ok(no_content())
}
