//! `/api/v1`: every admin operation as JSON, for automation.
//!
//! Authentication is a bearer token (`voiceportal admin token create`), never a
//! cookie: a browser session, an administrator's or an owner's, gets 403, so a
//! page can never be tricked into calling the API. Errors are
//! `{"error": {"status": 400, "field": "pin", "reason": "..."}}` with 400 (bad
//! input: the field and why), 401 (no or unknown token), 403 (a session instead
//! of a token), 404, 409 (the state forbids it), 502 (Asterisk failed), 503
//! (Redis failed). The routes are listed once, in [`ROUTES`], which
//! `docs/openapi.json` must match (a test checks it).

use std::net::IpAddr;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::warn;

use super::session::client_ip;
use super::{Web, cookies};
use crate::admin::messages::MessageAdminError;
use crate::admin::{AdminError, AudioRemoval, MailboxFields, MailboxOverview, MailboxStatus};
use crate::domain::{Pin, PinRejection};
use crate::store::audit::AuditEntry;
use crate::store::messages::Message;

/// Declares the routes once: the router and the list the OpenAPI test reads.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:ident;)+) => {
        /// Every route of the API as (method, path under `/api/v1`).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),+];

        pub fn router() -> Router<Web> {
            let router = Router::new();
            $(let router = router.route($path, axum::routing::$method($handler));)+
            router
        }
    };
}

api_routes! {
    get "/openapi.json" => openapi;
    get "/mailboxes" => list_mailboxes;
    post "/mailboxes" => create_mailbox;
    get "/mailboxes/{number}" => show_mailbox;
    patch "/mailboxes/{number}" => update_mailbox;
    delete "/mailboxes/{number}" => delete_mailbox;
    post "/mailboxes/{number}/reset-pin" => reset_pin;
    post "/mailboxes/{number}/temporary-pin" => set_temporary_pin;
    post "/mailboxes/{number}/unlock" => unlock;
    get "/mailboxes/{number}/messages" => list_messages;
    get "/mailboxes/{number}/messages/{id}/audio" => message_audio;
    delete "/mailboxes/{number}/messages/{id}" => delete_message;
    get "/portal" => portal;
    put "/portal/passcode" => set_passcode;
    put "/portal/default-pin" => set_default_pin;
    delete "/portal/default-pin" => clear_default_pin;
    get "/audit" => audit;
    post "/repair" => repair;
}

/// The OpenAPI document, kept in the repository.
const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// An API error, as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: Option<&'static str>,
    reason: String,
}

impl ApiError {
    fn new(status: StatusCode, field: Option<&'static str>, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            field,
            reason: reason.into(),
        }
    }

    fn bad(field: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Some(field), reason)
    }

    /// An admin error; `pin_field` names the field a refused PIN came in.
    fn admin(error: AdminError, pin_field: &'static str) -> ApiError {
        let reason = error.to_string();
        let (status, field) = match &error {
            AdminError::UnknownMailbox(_) => (StatusCode::NOT_FOUND, None),
            AdminError::MailboxExists(_) => (StatusCode::CONFLICT, Some("number")),
            AdminError::BadNumber(_) | AdminError::ReservedNumber(_) => {
                (StatusCode::BAD_REQUEST, Some("number"))
            }
            AdminError::PinRejected(_) | AdminError::PasscodeIsDefaultPin => {
                (StatusCode::BAD_REQUEST, Some(pin_field))
            }
            AdminError::NoDefaultPin => (StatusCode::CONFLICT, Some(pin_field)),
            AdminError::BadLanguage(_) => (StatusCode::BAD_REQUEST, Some("language")),
            AdminError::BadTimeZone(_) => (StatusCode::BAD_REQUEST, Some("timezone")),
            AdminError::BadEmail(_) => (StatusCode::BAD_REQUEST, Some("email")),
            AdminError::BadName(_) => (StatusCode::BAD_REQUEST, Some("name")),
            AdminError::NothingToUpdate => (StatusCode::BAD_REQUEST, Some("body")),
            AdminError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        if status.is_server_error() {
            warn!(error = %reason, "API request failed");
        }
        ApiError::new(status, field, reason)
    }

    fn messages(error: MessageAdminError) -> ApiError {
        let reason = error.to_string();
        match error {
            MessageAdminError::Admin(e) => ApiError::admin(e, "pin"),
            MessageAdminError::BadMessageId(_) => ApiError::bad("id", reason),
            MessageAdminError::BadGreeting(_) => ApiError::bad("greeting", reason),
            MessageAdminError::UnknownMessage { .. }
            | MessageAdminError::AudioMissing { .. }
            | MessageAdminError::RecordingMissing(_) => {
                ApiError::new(StatusCode::NOT_FOUND, None, reason)
            }
            MessageAdminError::RepairStore(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, reason)
            }
            _ => {
                warn!(error = %reason, "API request failed at Asterisk");
                ApiError::new(StatusCode::BAD_GATEWAY, None, reason)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "status": self.status.as_u16(),
            "field": self.field,
            "reason": self.reason,
        }});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"voiceportal\""),
            );
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

/// The caller of an API request: a valid bearer token, and where from.
pub struct ApiCaller {
    actor: String,
}

impl FromRequestParts<Web> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<ApiCaller, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(bearer) = bearer else {
            let has_session = [cookies::ADMIN_SESSION, cookies::OWNER_SESSION]
                .iter()
                .any(|name| cookies::get(&parts.headers, name).is_some());
            return Err(if has_session {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the API takes bearer tokens only: a web session cannot use it",
                )
            } else {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "an `Authorization: Bearer <token>` header is required (tokens are \
                     made with `voiceportal admin token create`)",
                )
            });
        };
        match web.access.api_token(bearer).await {
            Ok(Some(token)) => Ok(ApiCaller {
                actor: actor(&token.name.to_string(), client_ip(parts)),
            }),
            Ok(None) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "unknown or revoked token",
            )),
            Err(e) => {
                warn!(error = %e, "cannot check an API token");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "the service cannot reach its database",
                ))
            }
        }
    }
}

fn actor(token: &str, client: IpAddr) -> String {
    format!("token:{token} [{client}]")
}

/// A JSON body whose problems are 400s naming what is wrong.
pub struct Body<T>(T);

impl<T: DeserializeOwned> FromRequest<Web> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, web: &Web) -> Result<Body<T>, ApiError> {
        match axum::Json::<T>::from_request(request, web).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::bad(
                "body",
                "send JSON with `Content-Type: application/json`",
            )),
            Err(rejection) => Err(ApiError::bad("body", rejection.body_text())),
        }
    }
}

/// A PIN from a request body: a refusal names its field.
fn pin(raw: &str, field: &'static str) -> Result<Pin, ApiError> {
    Pin::parse(raw).map_err(|e: PinRejection| ApiError::bad(field, e.to_string()))
}

fn ok<T: Serialize>(status: StatusCode, value: T) -> ApiResult {
    Ok((status, axum::Json(value)).into_response())
}

/// A mailbox as JSON.
fn mailbox_json(status: &MailboxStatus, counts: Option<(u32, u32)>) -> Value {
    let r = &status.record;
    let mut value = json!({
        "number": r.id.as_str(),
        "name": r.display_name,
        "email": r.email,
        "language": r.language,
        "timezone": r.timezone,
        "pin": {"origin": r.pin_origin.as_str(), "must_change": r.must_change},
        "name_recorded": r.name_recorded,
        "lock": {
            "locked": status.lock.locked,
            "strikes": status.lock.strikes,
            "max_failed_attempts": status.max_failed_attempts,
            "locked_until": status.lock.locked_until.map(|t| t.to_rfc3339()),
        },
    });
    if let (Some((new, old)), Some(object)) = (counts, value.as_object_mut()) {
        object.insert("messages".into(), json!({"new": new, "old": old}));
    }
    value
}

fn overview_json(row: &MailboxOverview) -> Value {
    mailbox_json(&row.status, Some((row.counts.new, row.counts.old)))
}

fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id.as_str(),
        "folder": m.folder.as_str(),
        "caller_number": m.caller_number,
        "caller_name": m.caller_name,
        "received": m.received.to_rfc3339(),
        "duration_secs": m.duration_secs,
    })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list_mailboxes(State(web): State<Web>, _caller: ApiCaller) -> ApiResult {
    let rows = web
        .admin
        .mailbox_overview()
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let rows: Vec<Value> = rows.iter().map(overview_json).collect();
    ok(StatusCode::OK, json!({"mailboxes": rows}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMailbox {
    number: String,
    name: Option<String>,
    email: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
}

async fn create_mailbox(
    State(web): State<Web>,
    caller: ApiCaller,
    Body(body): Body<NewMailbox>,
) -> ApiResult {
    let fields = MailboxFields {
        display_name: body.name,
        email: body.email,
        language: body.language,
        timezone: body.timezone,
    };
    let record = web
        .admin
        .create_mailbox(&caller.actor, &body.number, &fields)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let status = web
        .admin
        .status(record.id.as_str())
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::CREATED, mailbox_json(&status, Some((0, 0))))
}

async fn show_mailbox(
    State(web): State<Web>,
    _caller: ApiCaller,
    Path(number): Path<String>,
) -> ApiResult {
    let status = web
        .admin
        .status(&number)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let counts = web
        .admin
        .message_counts(&status.record.id)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(
        StatusCode::OK,
        mailbox_json(&status, Some((counts.new, counts.old))),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxChange {
    name: Option<String>,
    email: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
}

async fn update_mailbox(
    State(web): State<Web>,
    caller: ApiCaller,
    Path(number): Path<String>,
    Body(body): Body<MailboxChange>,
) -> ApiResult {
    let fields = MailboxFields {
        display_name: body.name,
        email: body.email,
        language: body.language,
        timezone: body.timezone,
    };
    let record = web
        .admin
        .update_mailbox(&caller.actor, &number, &fields)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let status = web
        .admin
        .status(record.id.as_str())
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::OK, mailbox_json(&status, None))
}

async fn delete_mailbox(
    State(web): State<Web>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> ApiResult {
    let removal = web
        .admin
        .delete_mailbox_and_audio(&caller.actor, &web.asterisk, &number)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let body = match removal {
        AudioRemoval::Removed(n) => json!({"deleted": true, "recordings_removed": n}),
        AudioRemoval::Left(e) => json!({
            "deleted": true,
            "recordings_removed": 0,
            "warning": format!("its recordings in Asterisk were not removed: {e}"),
        }),
    };
    ok(StatusCode::OK, body)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetPin {
    temporary_pin: Option<String>,
}

async fn reset_pin(
    State(web): State<Web>,
    caller: ApiCaller,
    Path(number): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult {
    // The body is optional: none (or `{}`) resets to the org default PIN.
    let body: ResetPin = if raw.iter().all(u8::is_ascii_whitespace) {
        ResetPin::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| ApiError::bad("body", e.to_string()))?
    };
    let temporary = body
        .temporary_pin
        .as_deref()
        .map(|raw| pin(raw, "temporary_pin"))
        .transpose()?;
    let status = web
        .admin
        .reset_pin(&caller.actor, &number, temporary)
        .await
        .map_err(|e| ApiError::admin(e, "temporary_pin"))?;
    ok(StatusCode::OK, mailbox_json(&status, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinBody {
    pin: String,
}

async fn set_temporary_pin(
    State(web): State<Web>,
    caller: ApiCaller,
    Path(number): Path<String>,
    Body(body): Body<PinBody>,
) -> ApiResult {
    let pin = pin(&body.pin, "pin")?;
    let status = web
        .admin
        .set_temp_pin(&caller.actor, &number, pin)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::OK, mailbox_json(&status, None))
}

async fn unlock(
    State(web): State<Web>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> ApiResult {
    let status = web
        .admin
        .unlock(&caller.actor, &number)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::OK, mailbox_json(&status, None))
}

/// A read: authenticated by the token, not audited.
async fn list_messages(
    State(web): State<Web>,
    _caller: ApiCaller,
    Path(number): Path<String>,
) -> ApiResult {
    let listing = web
        .admin
        .list_messages(&number)
        .await
        .map_err(ApiError::messages)?;
    let messages: Vec<Value> = listing.messages.iter().map(message_json).collect();
    ok(
        StatusCode::OK,
        json!({"mailbox": listing.record.id.as_str(), "timezone": listing.record.timezone, "messages": messages}),
    )
}

async fn message_audio(
    State(web): State<Web>,
    caller: ApiCaller,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult {
    let (message, audio) = web
        .admin
        .download_message(&caller.actor, &web.asterisk, &number, &id)
        .await
        .map_err(ApiError::messages)?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        crate::admin::messages::default_file_name(&message)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        audio,
    )
        .into_response())
}

async fn delete_message(
    State(web): State<Web>,
    caller: ApiCaller,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult {
    let counts = web
        .admin
        .delete_message(&caller.actor, &web.asterisk, &number, &id)
        .await
        .map_err(ApiError::messages)?;
    ok(
        StatusCode::OK,
        json!({"deleted": true, "messages": {"new": counts.new, "old": counts.old}}),
    )
}

async fn portal(State(web): State<Web>, _caller: ApiCaller) -> ApiResult {
    let status = web
        .admin
        .portal_status()
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let policy = web.admin.pin_policy();
    let lockout = web.admin.lockout_policy();
    ok(
        StatusCode::OK,
        json!({
            "number": status.number.as_str(),
            "passcode_set": status.passcode_set,
            "default_pin_set": status.default_pin_set,
            "passcode_lock": {
                "locked": status.lock.locked,
                "strikes": status.lock.strikes,
                "max_failed_attempts": status.max_failed_attempts,
            },
            "pin_policy": {
                "min_length": policy.min_length,
                "max_length": policy.max_length,
                "forbid_repeated_digit": policy.forbid_repeated_digit,
                "forbid_sequences": policy.forbid_sequences,
                "forbid_mailbox_number": policy.forbid_mailbox_number,
                "forbid_default_pin": policy.forbid_default_pin,
                "history": policy.history,
            },
            "lockout": {
                "max_failed_attempts": lockout.max_failed_attempts,
                "lockout_duration_secs": lockout.lockout_duration.map(|d| d.as_secs()),
            },
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasscodeBody {
    passcode: String,
}

async fn set_passcode(
    State(web): State<Web>,
    caller: ApiCaller,
    Body(body): Body<PasscodeBody>,
) -> ApiResult {
    let passcode = pin(&body.passcode, "passcode")?;
    web.admin
        .set_portal_passcode(&caller.actor, passcode)
        .await
        .map_err(|e| ApiError::admin(e, "passcode"))?;
    ok(StatusCode::OK, json!({"passcode_set": true}))
}

async fn set_default_pin(
    State(web): State<Web>,
    caller: ApiCaller,
    Body(body): Body<PinBody>,
) -> ApiResult {
    let pin = pin(&body.pin, "pin")?;
    web.admin
        .set_default_pin(&caller.actor, Some(pin))
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::OK, json!({"default_pin_set": true}))
}

async fn clear_default_pin(State(web): State<Web>, caller: ApiCaller) -> ApiResult {
    web.admin
        .set_default_pin(&caller.actor, None)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    ok(StatusCode::OK, json!({"default_pin_set": false}))
}

#[derive(Deserialize)]
struct AuditQuery {
    count: Option<String>,
}

async fn audit(
    State(web): State<Web>,
    _caller: ApiCaller,
    Query(query): Query<AuditQuery>,
) -> ApiResult {
    let count = match query.count.as_deref() {
        None => 100,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ApiError::bad("count", "a whole number from 1 to 10000"))?,
    };
    let entries = web
        .admin
        .audit_log(count)
        .await
        .map_err(|e| ApiError::admin(e, "pin"))?;
    let entries: Vec<Value> = entries.iter().map(audit_json).collect();
    ok(StatusCode::OK, json!({"entries": entries}))
}

fn audit_json(entry: &AuditEntry) -> Value {
    let (who, client) = super::admin_pages::split_actor(&entry.actor);
    json!({
        "id": entry.id,
        "time": super::admin_pages::entry_time(&entry.id).map(|t| t.to_rfc3339()),
        "actor": who,
        "client": client,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    })
}

async fn repair(State(web): State<Web>, caller: ApiCaller) -> ApiResult {
    let report = web
        .admin
        .repair(
            &caller.actor,
            &web.asterisk,
            crate::admin::repair::RepairOptions::for_config(&web.config),
            &web.notifier,
        )
        .await
        .map_err(ApiError::messages)?;
    ok(
        StatusCode::OK,
        json!({
            "indexed": report.indexed,
            "tombstones_cleared": report.tombstones_cleared,
            "dangling_removed": report.dangling_removed,
            "skipped_live": report.skipped_live,
            "skipped_recent": report.skipped_recent,
            "skipped_no_mailbox": report.skipped_no_mailbox,
            "skipped_elsewhere": report.skipped_elsewhere,
            "failed": report.failed,
            "mailboxes_changed": report.changed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    )
}
