//! The ARI HTTP surface: routing, authentication, request log, parameters
//! and error bodies.
//!
//! Every error is a JSON `{"message": "..."}` with the status Asterisk uses;
//! no input from the app can make a handler panic.

mod channels;
mod misc;
mod recordings;

use crate::core::{Core, LoggedRequest};
use crate::json::Obj;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::Arc;

/// An ARI error: status plus `{"message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: &str) -> ApiError {
        ApiError {
            status,
            message: message.to_string(),
        }
    }

    pub(crate) fn channel_not_found() -> ApiError {
        ApiError::new(404, "Channel not found")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Obj::new().str("message", &self.message).finish();
        json(self.status, body)
    }
}

/// Result type of handlers.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response.
pub(crate) fn json(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// 201 with a `Location` header, as ARI answers a created resource.
pub(crate) fn created(location: &str, body: String) -> Response {
    let mut resp = json(201, body);
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

/// 204 without a body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Request parameters: the query string (a repeated key keeps its last
/// value, as Asterisk does) overlaid with the fields of a JSON body.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// A non-empty parameter (Asterisk treats empty as absent).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter read like C's `atoi` (garbage reads as 0).
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        self.get(key).map(atoi)
    }

    /// A boolean parameter (Asterisk's `ast_true`).
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "yes" | "true" | "y" | "t" | "1" | "on"
            )
        })
    }

    /// A required parameter, or 400.
    pub(crate) fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::new(400, &format!("Missing required field: {key}")))
    }
}

/// Leading optional sign and digits; anything else reads as 0.
fn atoi(text: &str) -> i64 {
    let text = text.trim_start();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits: String = digits
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    digits.parse::<i64>().map(|n| sign * n).unwrap_or(0)
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Params, ApiError> {
        let mut map = HashMap::new();
        if let Some(query) = req.uri().query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .map_err(|_| ApiError::new(400, "Error reading request body"))?;
        if is_json && !body.iter().all(u8::is_ascii_whitespace) {
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|_| ApiError::new(400, "Error parsing request body"))?;
            if let serde_json::Value::Object(fields) = value {
                for (k, v) in fields {
                    if let Some(text) = param_text(&v) {
                        map.insert(k, text);
                    }
                }
            }
        }
        Ok(Params(map))
    }
}

/// A JSON body field as a parameter value; arrays become comma lists
/// (`{"media": ["sound:a", "sound:b"]}`).
fn param_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(param_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

/// Builds the router.
pub(crate) fn router(core: Arc<Core>) -> Router {
    let ari = Router::new()
        .route("/asterisk/ping", get(misc::ping))
        .route("/asterisk/info", get(misc::info))
        .route("/applications", get(misc::applications))
        .route("/applications/{app}", get(misc::application))
        .route("/events", get(misc::events))
        .route("/mailboxes", get(misc::mailboxes))
        .route(
            "/mailboxes/{name}",
            get(misc::mailbox_get)
                .put(misc::mailbox_put)
                .delete(misc::mailbox_delete),
        )
        .route(
            "/channels",
            get(channels::list).post(crate::originate::originate),
        )
        .route(
            "/channels/{id}",
            get(channels::get_one)
                .delete(channels::hangup)
                .post(crate::originate::originate_with_id),
        )
        .route("/channels/{id}/answer", post(channels::answer))
        .route("/channels/{id}/play", post(channels::play))
        .route(
            "/channels/{id}/play/{playback_id}",
            post(channels::play_with_id),
        )
        .route("/channels/{id}/record", post(channels::record))
        .route(
            "/channels/{id}/continue",
            post(channels::continue_in_dialplan),
        )
        .route("/channels/{id}/dtmf", post(channels::dtmf))
        .route(
            "/channels/{id}/ring",
            post(channels::indication).delete(channels::indication),
        )
        .route(
            "/channels/{id}/hold",
            post(channels::indication).delete(channels::indication),
        )
        .route(
            "/channels/{id}/moh",
            post(channels::indication).delete(channels::indication),
        )
        .route(
            "/channels/{id}/silence",
            post(channels::indication).delete(channels::indication),
        )
        .route(
            "/channels/{id}/mute",
            post(channels::indication).delete(channels::indication),
        )
        .route(
            "/channels/{id}/variable",
            get(channels::get_var).post(channels::set_var),
        )
        .route(
            "/playbacks/{id}",
            get(recordings::playback_get).delete(recordings::playback_stop),
        )
        .route(
            "/playbacks/{id}/control",
            post(recordings::playback_control),
        )
        .route("/recordings/stored", get(recordings::stored_list))
        .route(
            "/recordings/stored/{name}",
            get(recordings::stored_get).delete(recordings::stored_delete),
        )
        .route(
            "/recordings/stored/{name}/file",
            get(recordings::stored_file),
        )
        .route(
            "/recordings/stored/{name}/copy",
            post(recordings::stored_copy),
        )
        .route(
            "/recordings/live/{name}",
            get(recordings::live_get).delete(recordings::live_cancel),
        )
        .route("/recordings/live/{name}/stop", post(recordings::live_stop))
        .route(
            "/recordings/live/{name}/pause",
            post(recordings::live_pause).delete(recordings::live_unpause),
        )
        .route(
            "/recordings/live/{name}/mute",
            post(recordings::live_mute).delete(recordings::live_unmute),
        )
        .method_not_allowed_fallback(|| async { ApiError::new(405, "Invalid method") });
    Router::new()
        .nest("/ari", ari)
        .fallback(|| async { ApiError::new(404, "Resource not found") })
        .layer(middleware::from_fn_with_state(core.clone(), gate))
        .with_state(core)
}

/// Authenticates and logs every request.
async fn gate(State(core): State<Arc<Core>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let resp = if authorized(&core, req.uri().query(), req.headers()) {
        core.reactions.request(&core.lock(), &path);
        next.run(req).await
    } else {
        let mut resp = ApiError::new(401, "Authentication required").into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Asterisk REST Interface\""),
        );
        resp
    };
    let status = resp.status().as_u16();
    core.lock().log.push(LoggedRequest {
        method,
        path,
        status,
    });
    resp
}

/// `api_key=user:pass` in the query, or HTTP basic auth.
fn authorized(core: &Core, query: Option<&str>, headers: &HeaderMap) -> bool {
    let expected = format!("{}:{}", core.config.username, core.config.password);
    let from_query = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "api_key" && v == expected.as_str())
    });
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64_decode(b64.trim()))
        .is_some_and(|creds| creds == expected.as_bytes());
    from_query || from_header
}

/// Standard base64 (padding optional); None on any invalid character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A decoded path segment, or 404 like a router miss.
pub(crate) fn seg<T>(
    path: Result<axum::extract::Path<T>, axum::extract::rejection::PathRejection>,
) -> Result<T, ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::new(404, "Resource not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round() {
        assert_eq!(
            base64_decode("dm9pY2Vwb3J0YWw6c2VjcmV0").as_deref(),
            Some(&b"voiceportal:secret"[..])
        );
        assert_eq!(base64_decode("!!"), None);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x"), 0);
    }
}
