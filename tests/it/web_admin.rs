//! The administrator portal over HTTP: sign-in and its throttling, cookies,
//! CSRF, who may reach it, and every page and action with its refusals.

use chrono::Utc;
use voiceportal::admin::MailboxFields;
use voiceportal::domain::{MailboxId, Password};
use voiceportal::store::lockout::LockSubject;
use voiceportal::store::sessions::SessionSubject;

use crate::support::app::{TestApp, spawn_app};
use crate::support::fixtures::message;
use crate::support::web::WebClient;
use crate::web_api::admin;

pub const PASSWORD: &str = "correct horse battery staple";

pub async fn account(app: &TestApp, name: &str) {
    admin(app)
        .create_account("test", name, Password::new_password(PASSWORD).unwrap())
        .await
        .expect("an administrator account");
}

/// A client signed in as administrator `name` (created first).
pub async fn signed_in(app: &TestApp, name: &str) -> WebClient {
    account(app, name).await;
    let mut web = WebClient::new(&app.web_url);
    let response = web
        .submit(
            "/admin/sign-in",
            "/admin/sign-in",
            &[("name", name), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status, 303, "{}", response.body);
    assert_eq!(response.location(), "/admin");
    web
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it() {
    let app = spawn_app().await;
    account(&app, "alice").await;
    let mut web = WebClient::new(&app.web_url);
    let first = web.get("/admin").await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location(), "/admin/sign-in");
    let page = web.get("/admin/sign-in").await;
    assert_eq!(page.status, 200);
    let binding = page.set_cookies().join("\n");
    assert!(
        binding.contains("vp_form=")
            && binding.contains("HttpOnly")
            && binding.contains("SameSite=Strict"),
        "{binding}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let csrf = page.csrf();

    let wrong = web
        .post(
            "/admin/sign-in",
            &[
                ("csrf", &csrf),
                ("name", "alice"),
                ("password", "not it at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("Wrong name or password"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"alice\""),
        "the name typed is kept"
    );
    assert!(
        !wrong.body.contains("not it at all"),
        "the password is never echoed"
    );
    let unknown = web
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("name", "mallory"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        unknown.status, 401,
        "an unknown name reads like a wrong password"
    );
    assert!(unknown.body.contains("Wrong name or password"));

    let right = web
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("name", "Alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, 303);
    let cookie = right
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("vp_admin="))
        .expect("a session cookie");
    assert!(cookie.contains("; Path=/admin"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag ({cookie})"
    );
    let list = web.get("/admin").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("alice"));
    // The session id is stored only as a digest.
    let session = web.cookies["vp_admin"].clone();
    let redis = crate::support::redis::TestRedis {
        url: app.config.redis.url.clone(),
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("vp:session:*")
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains(&session));

    let out = web.post("/admin/sign-out", &[("csrf", &list.csrf())]).await;
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("vp_admin=;") && c.contains("Max-Age=0"))
    );
    // The old cookie is dead even if a browser kept it.
    web.cookies.insert("vp_admin".into(), session);
    assert_eq!(web.get("/admin").await.status, 303);

    // A password change ends every session of the account.
    let mut web = signed_in_again(&app, "alice").await;
    admin(&app)
        .set_account_password(
            "test",
            "alice",
            Password::new_password("another long password").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(web.get("/admin").await.status, 303);
}

async fn signed_in_again(app: &TestApp, name: &str) -> WebClient {
    let mut web = WebClient::new(&app.web_url);
    let response = web
        .submit(
            "/admin/sign-in",
            "/admin/sign-in",
            &[("name", name), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status, 303);
    web
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let mut web = signed_in(&app, "alice").await;
    for token in ["", "forged"] {
        let refused = web
            .post("/admin/mailboxes", &[("csrf", token), ("number", "1001")])
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("Nothing was changed"));
    }
    assert!(
        app.store
            .mailbox(&MailboxId::parse("1001").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // Sign-in forms too: a form posted without its binding cookie is refused.
    let mut stranger = WebClient::new(&app.web_url);
    let refused = stranger
        .post(
            "/admin/sign-in",
            &[("csrf", "x"), ("name", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 403);
    // A token from another visitor's page does not fit this visitor's cookie.
    let other = WebClient::new(&app.web_url)
        .get("/admin/sign-in")
        .await
        .csrf();
    stranger.get("/admin/sign-in").await;
    let refused = stranger
        .post(
            "/admin/sign-in",
            &[("csrf", &other), ("name", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_like_a_pin() {
    let app = spawn_app().await;
    account(&app, "alice").await;
    let mut web = WebClient::new(&app.web_url);
    let csrf = web.get("/admin/sign-in").await.csrf();
    for _ in 0..4 {
        let wrong = web
            .post(
                "/admin/sign-in",
                &[
                    ("csrf", &csrf),
                    ("name", "alice"),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert!(matches!(wrong.status, 401 | 403), "{}", wrong.status);
    }
    let locked = web
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("name", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(locked.status, 403, "{}", locked.body);
    assert!(locked.body.contains("locked"));
    let status = app
        .store
        .lock_status(&LockSubject::AdminAccount(
            voiceportal::domain::AdminName::parse("alice").unwrap(),
        ))
        .await
        .unwrap();
    assert!(status.locked);
    admin(&app).unlock_account("test", "alice").await.unwrap();
    let right = web
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("name", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, 303);
    // Every attempt is in the audit log with the client address, never a password.
    let log = admin(&app).audit_log(50).await.unwrap();
    let failed = log
        .iter()
        .filter(|e| e.action == "web-signin-failed")
        .count();
    assert_eq!(failed, 5);
    assert!(
        log.iter()
            .any(|e| e.action == "web-signin" && e.actor == "alice [127.0.0.1]")
    );
    assert!(
        log.iter()
            .all(|e| !format!("{e:?}").contains("wrong password"))
    );
    assert!(log.iter().all(|e| !format!("{e:?}").contains(PASSWORD)));
}

#[tokio::test]
async fn sign_ins_are_throttled_per_client_address() {
    let app = spawn_app().await;
    let mut web = WebClient::new(&app.web_url);
    let csrf = web.get("/admin/sign-in").await.csrf();
    let limit = voiceportal::access::accounts::ATTEMPTS_PER_ADDRESS;
    for i in 0..limit {
        // Different names: no account lock is involved, only the address.
        let name = format!("guess{i}");
        let response = web
            .post(
                "/admin/sign-in",
                &[("csrf", &csrf), ("name", &name), ("password", "whatever")],
            )
            .await;
        assert_eq!(response.status, 401);
    }
    let throttled = web
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("name", "guess"), ("password", "whatever")],
        )
        .await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(throttled.body.contains("Too many attempts"));
}

#[tokio::test]
async fn owners_and_tokens_cannot_open_administrator_pages() {
    let app = spawn_app().await;
    let admin_ops = admin(&app);
    admin_ops
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    let token = admin_ops.create_token("test", "automation").await.unwrap();
    let access = voiceportal::access::Access::new(&app.config, app.store.clone()).unwrap();
    let owner = access
        .start_session(
            SessionSubject::Owner(MailboxId::parse("1001").unwrap()),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    web.cookies
        .insert("vp_owner".into(), owner.expose().to_owned());
    assert_eq!(
        web.get("/my").await.status,
        200,
        "the owner's own portal works"
    );
    assert_eq!(web.get("/admin").await.status, 303);
    // The owner's session id under the administrator cookie's name is no better.
    web.cookies
        .insert("vp_admin".into(), owner.expose().to_owned());
    let response = web.get("/admin/audit").await;
    assert_eq!(response.status, 303);
    assert_eq!(response.location(), "/admin/sign-in");
    // An API token does not open pages.
    let mut bearer = WebClient::new(&app.web_url);
    let response = bearer.request("GET", "/admin", Some(&token), None).await;
    assert_eq!(response.status, 303);
    let response = bearer.request("GET", "/my", Some(&token), None).await;
    assert_eq!(response.status, 303);
}

#[tokio::test]
async fn extensions_mailbox_and_portal_pages_with_their_refusals() {
    let app = spawn_app().await;
    let mut web = signed_in(&app, "alice").await;

    // Create: a refusal keeps what was typed; success leads to the mailbox.
    let refused = web
        .submit(
            "/admin",
            "/admin/mailboxes",
            &[
                ("number", "1001"),
                ("name", "Alice Martin"),
                ("email", "alice@"),
                ("language", "fr"),
                ("timezone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("is not an e-mail address"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"Alice Martin\""));
    let created = web
        .submit(
            "/admin",
            "/admin/mailboxes",
            &[
                ("number", "1001"),
                ("name", "Alice Martin"),
                ("email", "alice@example.org"),
                ("language", "fr"),
                ("timezone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location(), "/admin/mailboxes/1001?done=created");
    let twice = web
        .submit(
            "/admin",
            "/admin/mailboxes",
            &[("number", "1001"), ("language", "en"), ("timezone", "UTC")],
        )
        .await;
    assert_eq!(twice.status, 409);
    assert!(twice.body.contains("already exists"));
    web.submit(
        "/admin",
        "/admin/mailboxes",
        &[
            ("number", "1002"),
            ("name", "Bob"),
            ("language", "en"),
            ("timezone", "UTC"),
        ],
    )
    .await;

    // The list and its search.
    let list = web.get("/admin").await;
    assert!(list.body.contains("Alice Martin") && list.body.contains("Bob"));
    let found = web.get("/admin?q=alice").await;
    assert!(found.body.contains("Alice Martin") && !found.body.contains(">Bob<"));
    let none = web.get("/admin?q=zzz").await;
    assert!(none.body.contains("No mailbox matches"));

    // One mailbox: edit, PINs, unlock.
    let page = web.get("/admin/mailboxes/1001?done=created").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Mailbox created."));
    assert!(page.body.contains("Europe/Paris"));
    let edited = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001",
            &[
                ("name", "Alice M."),
                ("email", ""),
                ("language", "fr"),
                ("timezone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(edited.status, 400);
    assert!(edited.body.contains("Mars/Olympus") && edited.body.contains("IANA"));
    let edited = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001",
            &[
                ("name", "Alice M."),
                ("email", ""),
                ("language", "fr"),
                ("timezone", "Europe/Paris"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303);

    let mismatch = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/temporary-pin",
            &[("pin", "480262"), ("confirm", "480263")],
        )
        .await;
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.body.contains("The two PINs differ"));
    let weak = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/temporary-pin",
            &[("pin", "111111"), ("confirm", "111111")],
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("single digit repeated"), "{}", weak.body);
    assert!(!weak.body.contains("111111"));
    let temp = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/temporary-pin",
            &[("pin", "480262"), ("confirm", "480262")],
        )
        .await;
    assert_eq!(temp.status, 303);
    let page = web.get(&temp.location()).await;
    assert!(page.body.contains("Temporary PIN set"));
    assert!(page.body.contains("temporary"));

    let no_default = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/reset-pin",
            &[],
        )
        .await;
    assert_eq!(no_default.status, 409);
    assert!(no_default.body.contains("org default PIN is configured"));

    // Portal page: passcode and default PIN, with their refusals.
    let portal = web.get("/admin/portal").await;
    assert!(portal.body.contains("8500") && portal.body.contains("not set"));
    assert!(portal.body.contains("PIN length") && portal.body.contains("6 – 12"));
    let weak = web
        .submit(
            "/admin/portal",
            "/admin/portal/default-pin",
            &[("pin", "123456"), ("confirm", "123456")],
        )
        .await;
    assert_eq!(weak.status, 400);
    let set = web
        .submit(
            "/admin/portal",
            "/admin/portal/default-pin",
            &[("pin", "731904"), ("confirm", "731904")],
        )
        .await;
    assert_eq!(set.status, 303);
    assert_eq!(set.location(), "/admin/portal?done=default-pin");
    let same = web
        .submit(
            "/admin/portal",
            "/admin/portal/passcode",
            &[("pin", "731904"), ("confirm", "731904")],
        )
        .await;
    assert_eq!(same.status, 400);
    assert!(same.body.contains("must be different"));
    let passcode = web
        .submit(
            "/admin/portal",
            "/admin/portal/passcode",
            &[("pin", "59173048"), ("confirm", "59173048")],
        )
        .await;
    assert_eq!(passcode.status, 303);

    // Lock the mailbox as wrong PINs would, then reset it on the page.
    for _ in 0..4 {
        let subject = LockSubject::Mailbox(MailboxId::parse("1001").unwrap());
        if let voiceportal::store::lockout::Reservation::Granted(token) = app
            .store
            .reserve_attempt(&subject, &app.config.lockout)
            .await
            .unwrap()
        {
            app.store
                .finish_attempt(&subject, token, false, &app.config.lockout)
                .await
                .unwrap();
        }
    }
    let locked = web.get("/admin?q=1001").await;
    assert!(locked.body.contains("badge locked"), "{}", locked.body);
    let reset = web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/reset-pin",
            &[],
        )
        .await;
    assert_eq!(reset.status, 303);
    let page = web.get(&reset.location()).await;
    assert!(page.body.contains("PIN reset to the org default PIN"));
    assert!(page.body.contains("org default"));
    assert!(page.body.contains("not locked"));
    let status = admin(&app).status("1001").await.unwrap();
    assert!(!status.lock.locked && status.record.must_change);
    let unlock = web
        .submit("/admin/mailboxes/1001", "/admin/mailboxes/1001/unlock", &[])
        .await;
    assert_eq!(unlock.status, 303);

    // Messages: play, download, delete; greetings play.
    let msg = message(&app, "1001", "1002", Utc::now(), 5).await;
    app.sim.put_stored_recording("voiceportal/1001/name", 2.0);
    let page = web.get("/admin/mailboxes/1001").await;
    let src = format!("/admin/mailboxes/1001/messages/{}/audio", msg.id);
    assert!(page.body.contains(&src));
    let audio = web.get(&src).await;
    assert_eq!(audio.status, 200);
    assert_eq!(audio.headers["content-type"], "audio/wav");
    assert!(
        audio.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let download = web.get(&format!("{src}?download=1")).await;
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let status = admin(&app).list_messages("1001").await.unwrap();
    assert_eq!(
        status.counts().new,
        1,
        "an administrator listening does not make it old"
    );
    let name = web.get("/admin/mailboxes/1001/greetings/name/audio").await;
    assert_eq!(name.status, 200);
    assert_eq!(
        web.get("/admin/mailboxes/1001/greetings/busy/audio")
            .await
            .status,
        404
    );
    assert_eq!(
        web.get("/admin/mailboxes/1001/greetings/passwd/audio")
            .await
            .status,
        404
    );
    assert_eq!(
        web.get("/admin/mailboxes/1001/messages/1-abcdef/audio")
            .await
            .status,
        404
    );
    let deleted = web
        .submit(
            "/admin/mailboxes/1001",
            &format!("/admin/mailboxes/1001/messages/{}/delete", msg.id),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 0)));

    // Attendant greetings on the portal page.
    app.sim.put_stored_recording("voiceportal/attendant/1", 3.0);
    let portal = web.get("/admin/portal").await;
    assert!(portal.body.contains("/admin/portal/greetings/1/audio"));
    assert_eq!(web.get("/admin/portal/greetings/1/audio").await.status, 200);
    assert_eq!(web.get("/admin/portal/greetings/x/audio").await.status, 404);
    let clear = web
        .submit("/admin/portal", "/admin/portal/default-pin/clear", &[])
        .await;
    assert_eq!(clear.status, 303);

    // Delete, only when confirmed.
    let unconfirmed = web
        .submit("/admin/mailboxes/1002", "/admin/mailboxes/1002/delete", &[])
        .await;
    assert_eq!(unconfirmed.status, 400);
    assert!(unconfirmed.body.contains("Tick the box"));
    assert!(admin(&app).status("1002").await.is_ok());
    let deleted = web
        .submit(
            "/admin/mailboxes/1002",
            "/admin/mailboxes/1002/delete",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert!(admin(&app).status("1002").await.is_err());
    assert_eq!(web.get("/admin/mailboxes/1002").await.status, 404);

    // The audit log: every action, by whom, from where; no PIN anywhere.
    let audit = web.get("/admin/audit").await;
    assert_eq!(audit.status, 200);
    for action in [
        "mailbox-create",
        "mailbox-update",
        "set-temp-pin",
        "reset-pin",
        "unlock",
        "default-pin-set",
        "portal-passcode-set",
        "message-delete",
        "mailbox-delete",
        "web-signin",
    ] {
        assert!(
            audit.body.contains(action),
            "{action} not in the audit page"
        );
    }
    assert!(audit.body.contains("127.0.0.1"));
    for pin in ["480262", "731904", "59173048"] {
        assert!(!audit.body.contains(pin));
    }
}

#[tokio::test]
async fn pages_speak_the_browsers_language_or_the_chosen_one() {
    let app = spawn_app().await;
    let mut web = WebClient::new(&app.web_url);
    web.language = "fr-FR,fr;q=0.9".into();
    let page = web.get("/admin/sign-in").await;
    assert!(page.body.contains("<html lang=\"fr\">"));
    assert!(page.body.contains("Connexion administrateur"));
    let switch = web.get("/lang?to=en&back=/admin/sign-in").await;
    assert_eq!(switch.status, 303);
    assert_eq!(switch.location(), "/admin/sign-in");
    let page = web.get("/admin/sign-in").await;
    assert!(page.body.contains("Administrator sign-in"));
    // The switch never sends anyone elsewhere.
    let away = web.get("/lang?to=fr&back=//evil.example").await;
    assert_eq!(away.location(), "/");
    assert_eq!(web.get("/no/such/page").await.status, 404);
}
