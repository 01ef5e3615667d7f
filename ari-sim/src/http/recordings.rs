//! `/playbacks/...` and `/recordings/...` routes.

use super::{ApiError, ApiResult, Params, json, no_content, seg};
use crate::core::Core;
use crate::media::Playback;
use crate::recording::LiveRecording;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::sync::Arc;

type NamePath = Result<Path<String>, PathRejection>;

fn playback(core: &Core, id: &str) -> Result<Arc<Playback>, ApiError> {
    core.lock()
        .playbacks
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::new(404, "Playback not found"))
}

pub(super) async fn playback_get(State(core): State<Arc<Core>>, id: NamePath) -> ApiResult {
    let pb = playback(&core, &seg(id)?)?;
    Ok(json(200, pb.json()))
}

pub(super) async fn playback_stop(State(core): State<Arc<Core>>, id: NamePath) -> ApiResult {
    let pb = playback(&core, &seg(id)?)?;
    crate::media::stop(&core, &pb)?;
    Ok(no_content())
}

/// The operation is checked before the playback is looked up, as in Asterisk.
pub(super) async fn playback_control(
    State(core): State<Arc<Core>>,
    id: NamePath,
    params: Params,
) -> ApiResult {
    let id = seg(id)?;
    let op = params
        .get("operation")
        .ok_or_else(|| ApiError::new(400, "Missing operation"))?;
    if !matches!(op, "pause" | "unpause" | "restart" | "reverse" | "forward") {
        return Err(ApiError::new(400, &format!("Invalid operation {op}")));
    }
    let pb = playback(&core, &id)?;
    crate::media::control(&core, &pb, op)?;
    Ok(no_content())
}

fn recording_not_found() -> ApiError {
    ApiError::new(404, "Recording not found")
}

pub(super) async fn stored_list(State(core): State<Arc<Core>>) -> ApiResult {
    Ok(json(200, core.lock().stored.list_json()))
}

pub(super) async fn stored_get(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    let mut st = core.lock();
    let rec = st.stored.get(&name).ok_or_else(recording_not_found)?;
    Ok(json(200, rec.to_json(&name)))
}

pub(super) async fn stored_delete(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    match core.lock().stored.remove(&name) {
        Some(_) => Ok(no_content()),
        None => Err(recording_not_found()),
    }
}

pub(super) async fn stored_file(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    let rec = core
        .lock()
        .stored
        .get(&name)
        .cloned()
        .ok_or_else(recording_not_found)?;
    let content_type = match rec.format.as_str() {
        "wav" => "audio/wav",
        "gsm" => "audio/x-gsm",
        "ulaw" => "audio/basic",
        _ => "application/octet-stream",
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        rec.file_bytes(),
    )
        .into_response())
}

/// `POST .../copy`: 200 (not 201), 409 if the destination exists.
pub(super) async fn stored_copy(
    State(core): State<Arc<Core>>,
    name: NamePath,
    params: Params,
) -> ApiResult {
    let name = seg(name)?;
    let dest = params.required("destinationRecordingName")?.to_string();
    let mut st = core.lock();
    let rec = st
        .stored
        .get(&name)
        .cloned()
        .ok_or_else(recording_not_found)?;
    if st.stored.get(&dest).is_some() {
        return Err(ApiError::new(
            409,
            "A recording with the same name already exists on the system",
        ));
    }
    if dest.starts_with('/') || dest.split('/').any(|part| part == "..") {
        return Err(ApiError::new(400, "Invalid destination recording name"));
    }
    let body = rec.to_json(&dest);
    st.stored.put(&dest, rec);
    Ok(json(200, body))
}

fn live(core: &Core, name: &str) -> Result<Arc<LiveRecording>, ApiError> {
    core.lock()
        .recordings
        .get(name)
        .cloned()
        .ok_or_else(recording_not_found)
}

pub(super) async fn live_get(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let rec = live(&core, &seg(name)?)?;
    Ok(json(200, rec.json()))
}

async fn live_op(core: &Core, name: NamePath, op: &str) -> ApiResult {
    let rec = live(core, &seg(name)?)?;
    crate::recording::operate(core, &rec, op)?;
    Ok(no_content())
}

pub(super) async fn live_cancel(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "cancel").await
}

pub(super) async fn live_stop(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "stop").await
}

pub(super) async fn live_pause(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "pause").await
}

pub(super) async fn live_unpause(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "unpause").await
}

pub(super) async fn live_mute(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "mute").await
}

pub(super) async fn live_unmute(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    live_op(&core, name, "unmute").await
}
