//! `/asterisk`, `/applications`, `/mailboxes` and the events websocket.

use super::{ApiError, ApiResult, Params, json, no_content, seg};
use crate::channel::{Channel, Phase};
use crate::core::{ASTERISK_ID, Core};
use crate::json::Obj;
use crate::mailboxes::Mailboxes;
use crate::ws::ConnHandle;
use axum::extract::rejection::PathRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::IntoResponse;
use std::sync::Arc;

type NamePath = Result<Path<String>, PathRejection>;

pub(super) async fn ping(State(core): State<Arc<Core>>) -> ApiResult {
    let body = Obj::new()
        .str("asterisk_id", ASTERISK_ID)
        .str("ping", "pong")
        .str("timestamp", &core.clock.timestamp())
        .finish();
    Ok(json(200, body))
}

pub(super) async fn info(State(core): State<Arc<Core>>) -> ApiResult {
    let system = Obj::new()
        .str("version", "22.10.1")
        .str("entity_id", ASTERISK_ID)
        .finish();
    let status = Obj::new()
        .str("startup_time", &core.clock.timestamp_at(0))
        .str("last_reload_time", &core.clock.timestamp_at(0))
        .finish();
    Ok(json(
        200,
        Obj::new()
            .raw("system", &system)
            .raw("status", &status)
            .finish(),
    ))
}

/// The Application JSON; `channel_ids` are the app's channels in Stasis,
/// whether or not its socket is connected.
fn app_json(core: &Core, name: &str) -> String {
    let chans: Vec<Arc<Channel>> = core.lock().channels.values().cloned().collect();
    let mut ids: Vec<String> = chans
        .iter()
        .filter(|c| c.app == name && c.phase() == Phase::Stasis)
        .map(|c| c.id.clone())
        .collect();
    ids.sort();
    let empty: [String; 0] = [];
    Obj::new()
        .str("name", name)
        .val("channel_ids", &ids)
        .val("bridge_ids", &empty)
        .val("endpoint_ids", &empty)
        .val("device_names", &empty)
        .val("events_allowed", &empty)
        .val("events_disallowed", &empty)
        .finish()
}

/// Whether Asterisk still knows `app`: a socket owns it, or a channel is still
/// in it (a deactivated app with neither is forgotten, as a real Asterisk does).
fn app_listed(core: &Core, app: &str) -> bool {
    let (active, known) = {
        let st = core.lock();
        (st.apps.is_active(app), st.apps.exists(app))
    };
    active || (known && has_channels(core, app))
}

fn has_channels(core: &Core, app: &str) -> bool {
    let chans: Vec<Arc<Channel>> = core.lock().channels.values().cloned().collect();
    chans
        .iter()
        .any(|c| c.app == app && c.phase() == Phase::Stasis)
}

pub(super) async fn applications(State(core): State<Arc<Core>>) -> ApiResult {
    let names = core.lock().apps.names();
    let items: Vec<String> = names
        .iter()
        .filter(|n| app_listed(&core, n))
        .map(|n| app_json(&core, n))
        .collect();
    Ok(json(200, format!("[{}]", items.join(","))))
}

pub(super) async fn application(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    if !app_listed(&core, &name) {
        return Err(ApiError::new(404, "Application not found"));
    }
    Ok(json(200, app_json(&core, &name)))
}

/// `GET /events?app=a[,b]` upgrades to the events websocket.
pub(super) async fn events(
    State(core): State<Arc<Core>>,
    conn: Result<ConnectInfo<ConnHandle>, axum::extract::rejection::ExtensionRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    params: Params,
) -> ApiResult {
    let apps: Vec<String> = params
        .get("app")
        .ok_or_else(|| ApiError::new(400, "Missing param app"))?
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    if apps.is_empty() {
        return Err(ApiError::new(400, "Missing param app"));
    }
    let upgrade = upgrade.map_err(|_| ApiError::new(400, "Expected a websocket upgrade"))?;
    let conn = conn
        .map(|c| c.0)
        .map_err(|_| ApiError::new(500, "No connection info"))?;
    Ok(upgrade
        .on_upgrade(move |ws| crate::ws::serve_socket(core, ws, apps, conn))
        .into_response())
}

pub(super) async fn mailboxes(State(core): State<Arc<Core>>) -> ApiResult {
    Ok(json(200, core.lock().mailboxes.list_json()))
}

pub(super) async fn mailbox_get(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    match core.lock().mailboxes.get(&name) {
        Some(counts) => Ok(json(200, Mailboxes::json(&name, counts))),
        // Sic: Asterisk's message for GET.
        None => Err(ApiError::new(404, "Mailbox is does not exist")),
    }
}

pub(super) async fn mailbox_put(
    State(core): State<Arc<Core>>,
    name: NamePath,
    params: Params,
) -> ApiResult {
    let name = seg(name)?;
    let count = |key: &str| u32::try_from(params.int(key).unwrap_or(0).max(0)).unwrap_or(u32::MAX);
    core.lock()
        .mailboxes
        .put(&name, count("oldMessages"), count("newMessages"));
    Ok(no_content())
}

pub(super) async fn mailbox_delete(State(core): State<Arc<Core>>, name: NamePath) -> ApiResult {
    let name = seg(name)?;
    if core.lock().mailboxes.remove(&name) {
        Ok(no_content())
    } else {
        Err(ApiError::new(404, "Mailbox does not exist"))
    }
}
