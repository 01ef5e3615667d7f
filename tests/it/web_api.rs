//! The HTTP API (`/api/v1`), health and metrics, against the service built the
//! production way: every route's success and failure, bearer tokens only, and the
//! OpenAPI document matching the routes.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::{Value, json};
use voiceportal::admin::Admin;
use voiceportal::web::API_ROUTES;

use crate::support::app::{TestApp, spawn_app};
use crate::support::fixtures::message;
use crate::support::web::WebClient;

pub fn admin(app: &TestApp) -> Admin {
    Admin::new(&app.config, app.store.clone()).expect("admin operations")
}

pub async fn token(app: &TestApp) -> String {
    admin(app)
        .create_token("test", "automation")
        .await
        .expect("a token")
}

fn field(response: &crate::support::web::Response) -> Value {
    response.json()["error"]["field"].clone()
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let mut web = WebClient::new(&app.web_url);
    let health = web.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = web.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["ari_websocket"], "connected");
    assert_eq!(ready.json()["redis"], "reachable");
    let metrics = web.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for family in [
        "voiceportal_calls_total{entry=\"portal\"}",
        "voiceportal_calls_active{entry=\"deposit\"}",
        "voiceportal_logins_total{outcome=\"granted\"}",
        "voiceportal_lockouts_total{subject=\"mailbox\"}",
        "voiceportal_messages_left_total",
        "voiceportal_web_signins_total{portal=\"owner\",outcome=\"success\"}",
        "voiceportal_ari_request_duration_seconds_bucket{le=\"+Inf\"}",
        "voiceportal_ari_websocket_reconnects_total",
        "voiceportal_redis_errors_total",
        "voiceportal_ari_websocket_connected 1",
    ] {
        assert!(
            metrics.body.contains(family),
            "{family} missing:\n{}",
            metrics.body
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("docs/openapi.json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_uppercase(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, routed,
        "docs/openapi.json and the API routes differ"
    );
    // And the server serves that same document, without a token.
    let app = spawn_app().await;
    let mut web = WebClient::new(&app.web_url);
    let served = web.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), doc);
    // Every documented route exists: without a token it is a 401, never a 404/405.
    for (method, path) in &routed {
        let concrete = path.replace("{number}", "1001").replace("{id}", "1-abcdef");
        let response = web
            .request(method, &format!("/api/v1{concrete}"), None, None)
            .await;
        if path == "/openapi.json" {
            assert_eq!(response.status, 200);
        } else {
            assert_eq!(response.status, 401, "{method} {path}: {}", response.body);
            assert!(response.headers.contains_key("www-authenticate"));
        }
    }
}

#[tokio::test]
async fn bearer_tokens_only() {
    let app = spawn_app().await;
    let token = token(&app).await;
    let mut web = WebClient::new(&app.web_url);
    let none = web.request("GET", "/api/v1/mailboxes", None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["status"], 401);
    let wrong = web
        .request(
            "GET",
            "/api/v1/mailboxes",
            Some("vpt_not-a-real-token"),
            None,
        )
        .await;
    assert_eq!(wrong.status, 401);
    let forged = format!("vpt_{}", "A".repeat(43));
    let forged = web
        .request("GET", "/api/v1/mailboxes", Some(&forged), None)
        .await;
    assert_eq!(forged.status, 401);
    let good = web
        .request("GET", "/api/v1/mailboxes", Some(&token), None)
        .await;
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(good.json()["mailboxes"], json!([]));
    // A browser session (any kind) is refused with 403: the API never reads cookies.
    web.cookies.insert("vp_admin".into(), "x".repeat(43));
    let session = web.request("GET", "/api/v1/mailboxes", None, None).await;
    assert_eq!(session.status, 403, "{}", session.body);
    // Revoked: refused from the next request on.
    admin(&app)
        .revoke_token("test", "automation")
        .await
        .unwrap();
    let revoked = web
        .request("GET", "/api/v1/mailboxes", Some(&token), None)
        .await;
    assert_eq!(revoked.status, 401);
    // Only the digest is stored: the token is nowhere in Redis.
    let redis = crate::support::redis::TestRedis {
        url: app.config.redis.url.clone(),
    };
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(keys.iter().all(|k| !k.contains(&token[4..])));
}

#[tokio::test]
async fn mailbox_lifecycle_with_every_error() {
    let app = spawn_app().await;
    let token = token(&app).await;
    let t = Some(token.as_str());
    let mut web = WebClient::new(&app.web_url);

    let created = web
        .request(
            "POST",
            "/api/v1/mailboxes",
            t,
            Some(&json!({"number": "1001", "name": "Alice", "language": "fr", "timezone": "Europe/Paris"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    assert_eq!(body["number"], "1001");
    assert_eq!(body["language"], "fr");
    assert_eq!(body["pin"]["origin"], "none");
    assert_eq!(body["messages"], json!({"new": 0, "old": 0}));

    let again = web
        .request(
            "POST",
            "/api/v1/mailboxes",
            t,
            Some(&json!({"number": "1001"})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(field(&again), "number");

    for (request, expected_field) in [
        (json!({"number": "10a1"}), "number"),
        (json!({"number": "8500"}), "number"),
        (json!({"number": "1002", "email": "nope"}), "email"),
        (json!({"number": "1002", "language": "de"}), "language"),
        (
            json!({"number": "1002", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (json!({"number": "1002", "colour": "red"}), "body"),
        (json!({"name": "no number"}), "body"),
    ] {
        let refused = web
            .request("POST", "/api/v1/mailboxes", t, Some(&request))
            .await;
        assert_eq!(refused.status, 400, "{request}: {}", refused.body);
        assert_eq!(
            field(&refused),
            expected_field,
            "{request}: {}",
            refused.body
        );
        assert!(
            !refused.json()["error"]["reason"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let not_json = web.request("POST", "/api/v1/mailboxes", t, None).await;
    assert_eq!(not_json.status, 400);
    assert_eq!(field(&not_json), "body");
    // Nothing refused was created.
    let list = web.request("GET", "/api/v1/mailboxes", t, None).await;
    assert_eq!(list.json()["mailboxes"].as_array().unwrap().len(), 1);

    let shown = web.request("GET", "/api/v1/mailboxes/1001", t, None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["name"], "Alice");
    assert_eq!(
        web.request("GET", "/api/v1/mailboxes/1999", t, None)
            .await
            .status,
        404
    );
    assert_eq!(
        web.request("GET", "/api/v1/mailboxes/x", t, None)
            .await
            .status,
        400
    );

    let patched = web
        .request(
            "PATCH",
            "/api/v1/mailboxes/1001",
            t,
            Some(&json!({"email": "alice@example.org"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["email"], "alice@example.org");
    assert_eq!(patched.json()["name"], "Alice");
    let empty = web
        .request("PATCH", "/api/v1/mailboxes/1001", t, Some(&json!({})))
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(field(&empty), "body");
    let missing = web
        .request(
            "PATCH",
            "/api/v1/mailboxes/1999",
            t,
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(missing.status, 404);

    // PINs: no default PIN yet, so a reset without a temporary PIN conflicts.
    let reset = web
        .request("POST", "/api/v1/mailboxes/1001/reset-pin", t, None)
        .await;
    assert_eq!(reset.status, 409, "{}", reset.body);
    let weak = web
        .request(
            "POST",
            "/api/v1/mailboxes/1001/temporary-pin",
            t,
            Some(&json!({"pin": "123456"})),
        )
        .await;
    assert_eq!(weak.status, 400);
    assert_eq!(field(&weak), "pin");
    assert!(
        weak.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("run")
    );
    assert!(!weak.body.contains("123456"), "the PIN is never echoed");
    let temp = web
        .request(
            "POST",
            "/api/v1/mailboxes/1001/temporary-pin",
            t,
            Some(&json!({"pin": "480262"})),
        )
        .await;
    assert_eq!(temp.status, 200, "{}", temp.body);
    assert_eq!(temp.json()["pin"]["origin"], "temporary");
    assert_eq!(temp.json()["pin"]["must_change"], true);
    let default = web
        .request(
            "PUT",
            "/api/v1/portal/default-pin",
            t,
            Some(&json!({"pin": "731904"})),
        )
        .await;
    assert_eq!(default.status, 200, "{}", default.body);
    let reset = web
        .request("POST", "/api/v1/mailboxes/1001/reset-pin", t, None)
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(reset.json()["pin"]["origin"], "default");
    let reset_temp = web
        .request(
            "POST",
            "/api/v1/mailboxes/1001/reset-pin",
            t,
            Some(&json!({"temporary_pin": "731904"})),
        )
        .await;
    assert_eq!(
        reset_temp.status, 400,
        "the default PIN is no temporary PIN"
    );
    assert_eq!(field(&reset_temp), "temporary_pin");
    let unlocked = web
        .request("POST", "/api/v1/mailboxes/1001/unlock", t, None)
        .await;
    assert_eq!(unlocked.status, 200);
    assert_eq!(unlocked.json()["lock"]["strikes"], 0);

    // Portal.
    let passcode = web
        .request(
            "PUT",
            "/api/v1/portal/passcode",
            t,
            Some(&json!({"passcode": "731904"})),
        )
        .await;
    assert_eq!(
        passcode.status, 400,
        "the passcode cannot be the default PIN"
    );
    assert_eq!(field(&passcode), "passcode");
    let passcode = web
        .request(
            "PUT",
            "/api/v1/portal/passcode",
            t,
            Some(&json!({"passcode": "59173048"})),
        )
        .await;
    assert_eq!(passcode.status, 200, "{}", passcode.body);
    let portal = web.request("GET", "/api/v1/portal", t, None).await;
    assert_eq!(portal.status, 200);
    assert_eq!(portal.json()["passcode_set"], true);
    assert_eq!(portal.json()["default_pin_set"], true);
    assert_eq!(portal.json()["pin_policy"]["min_length"], 6);
    let cleared = web
        .request("DELETE", "/api/v1/portal/default-pin", t, None)
        .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.json()["default_pin_set"], false);

    // The audit log names the token and the address, never a PIN.
    let audit = web.request("GET", "/api/v1/audit?count=50", t, None).await;
    assert_eq!(audit.status, 200);
    let entries = audit.json()["entries"].as_array().unwrap().clone();
    assert!(entries.iter().any(|e| e["action"] == "reset-pin"
        && e["actor"] == "token:automation"
        && e["client"] == "127.0.0.1"));
    for pin in ["480262", "731904", "59173048"] {
        assert!(!audit.body.contains(pin), "{pin} in the audit log");
    }
    assert_eq!(
        field(&web.request("GET", "/api/v1/audit?count=0", t, None).await),
        "count"
    );

    let deleted = web
        .request("DELETE", "/api/v1/mailboxes/1001", t, None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json()["deleted"], true);
    assert_eq!(
        web.request("DELETE", "/api/v1/mailboxes/1001", t, None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn messages_listed_downloaded_and_deleted() {
    let app = spawn_app().await;
    let token = token(&app).await;
    let t = Some(token.as_str());
    let admin = admin(&app);
    admin
        .create_mailbox("test", "1001", &Default::default())
        .await
        .unwrap();
    let msg = message(&app, "1001", "1002", Utc::now(), 4).await;
    let mut web = WebClient::new(&app.web_url);
    let list = web
        .request("GET", "/api/v1/mailboxes/1001/messages", t, None)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let messages = list.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], msg.id.as_str());
    assert_eq!(messages[0]["folder"], "new");
    assert_eq!(messages[0]["caller_number"], "1002");

    let path = format!("/api/v1/mailboxes/1001/messages/{}/audio", msg.id);
    let audio = web.request("GET", &path, t, None).await;
    assert_eq!(audio.status, 200);
    assert_eq!(audio.headers["content-type"], "audio/wav");
    assert_eq!(&audio.bytes[..4], b"RIFF");
    let bad = web
        .request("GET", "/api/v1/mailboxes/1001/messages/nope/audio", t, None)
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(field(&bad), "id");
    let unknown = web
        .request(
            "GET",
            "/api/v1/mailboxes/1001/messages/1-abcdef/audio",
            t,
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);

    let path = format!("/api/v1/mailboxes/1001/messages/{}", msg.id);
    let deleted = web.request("DELETE", &path, t, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json()["messages"], json!({"new": 0, "old": 0}));
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 0)));
    assert_eq!(web.request("DELETE", &path, t, None).await.status, 404);

    let repair = web.request("POST", "/api/v1/repair", t, None).await;
    assert_eq!(repair.status, 200, "{}", repair.body);
    assert_eq!(repair.json()["failed"], 0);
}

#[tokio::test]
async fn asterisk_away_is_a_502_not_a_hang() {
    let app = spawn_app().await;
    let token = token(&app).await;
    admin(&app)
        .create_mailbox("test", "1001", &Default::default())
        .await
        .unwrap();
    let msg = message(&app, "1001", "1002", Utc::now(), 4).await;
    let mut web = WebClient::new(&app.web_url);
    let path = format!("/api/v1/mailboxes/1001/messages/{}/audio", msg.id);
    // Point the service's Asterisk away: a fresh app on a dead ARI address.
    let mut config = app.config.clone();
    config.ari.url = "http://127.0.0.1:1".into();
    config.ari.request_timeout = std::time::Duration::from_secs(2);
    let dead = voiceportal::app::App::build(config).await.unwrap();
    let dead_url = format!("http://{}", dead.web_addr().unwrap());
    let task = tokio::spawn(dead.run(std::future::pending()));
    let mut dead_web = WebClient::new(&dead_url);
    let response = dead_web.request("GET", &path, Some(&token), None).await;
    assert_eq!(response.status, 502, "{}", response.body);
    assert!(
        response.json()["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot reach Asterisk")
    );
    let ready = dead_web.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["ari_websocket"], "disconnected");
    task.abort();
    // The healthy instance still serves it.
    assert_eq!(
        web.request("GET", &path, Some(&token), None).await.status,
        200
    );
}
