//! `/healthz` (the process answers), `/readyz` (it can serve calls: the ARI
//! events websocket is connected and Redis answers; so a high-availability
//! standby is not ready, and a load balancer sends the web portals' traffic to
//! the active instance) and `/metrics` (Prometheus). None needs a sign-in: they reveal no personal data, and the
//! server listens on loopback unless configured otherwise.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::Web;
use crate::metrics;

pub fn router() -> Router<Web> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"status": "ok"})),
    )
        .into_response()
}

async fn readyz(State(web): State<Web>) -> Response {
    let ari = web.ari_connected.load(Ordering::Relaxed);
    let redis = web.admin.redis_reachable().await;
    let status = if ari && redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "role": web.role.get().as_str(),
        "ari_websocket": if ari { "connected" } else { "disconnected" },
        "redis": if redis { "reachable" } else { "unreachable" },
    });
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

async fn metrics_text(State(web): State<Web>) -> Response {
    let connected = if web.ari_connected.load(Ordering::Relaxed) {
        1.0
    } else {
        0.0
    };
    let serving = if web.role.get().serves_calls() {
        1.0
    } else {
        0.0
    };
    let text = metrics::render(&[
        (
            "voiceportal_ari_websocket_connected",
            "Whether the ARI events websocket is connected (1) or not (0).",
            connected,
        ),
        (
            "voiceportal_ha_active",
            "Whether this instance owns the ARI application (1: active, or [ha] off) or stands by (0).",
            serving,
        ),
    ]);
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
