//! The owners' portal over HTTP: sign-in by phone through the simulator (the
//! scripted phone hears the code), codes' tries and limits, the same answer for
//! extensions that do not exist, messages and the lamp, a new PIN that then
//! works on the phone, settings and greetings, and secrets kept out of logs.

use std::time::Duration;

use ari_sim::{CallEnd, Caller, Dial, Heard, Ringing};
use chrono::Utc;
use voiceportal::admin::MailboxFields;
use voiceportal::store::lockout::{LockSubject, Reservation};
use voiceportal::store::mailboxes::PinOrigin;
use voiceportal::store::sessions::SessionSubject;

use crate::support::app::{TestApp, WAIT, spawn_app, spawn_app_with};
use crate::support::fixtures::{id, message};
use crate::support::web::WebClient;
use crate::web_api::admin;

/// Asks for a code for `extension` by phone; returns the page.
pub async fn ask_code(web: &mut WebClient, extension: &str) -> crate::support::web::Response {
    let response = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", extension), ("via", "phone")],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    response
}

/// The phone rings (voiceportal called it); answers it and returns the caller
/// and the code it heard.
pub async fn answer_and_hear_code(app: &TestApp) -> (Ringing, Caller, String) {
    let ringing = app
        .sim
        .wait_originated(WAIT)
        .await
        .expect("voiceportal calls the phone");
    let caller = ringing.answer().expect("the phone is still ringing");
    caller.expect_sound("voiceportal/signin-code", WAIT).await;
    let code = match caller.next_heard(WAIT).await {
        Some(Heard::Digits(code)) => code,
        other => panic!("expected the code as digits, heard {other:?}"),
    };
    (ringing, caller, code)
}

/// An owner's browser session for `number`, without the phone (for tests about
/// what comes after signing in).
pub async fn owner_client(app: &TestApp, number: &str) -> WebClient {
    let access = voiceportal::access::Access::new(&app.config, app.store.clone()).unwrap();
    let session = access
        .start_session(SessionSubject::Owner(id(number)), Duration::from_secs(600))
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    web.cookies
        .insert("vp_owner".into(), session.expose().to_owned());
    web
}

fn mailbox_fields(language: &str) -> MailboxFields {
    MailboxFields {
        display_name: Some("Alice".into()),
        language: Some(language.into()),
        timezone: Some("Europe/Paris".into()),
        ..MailboxFields::default()
    }
}

#[tokio::test]
async fn sign_in_by_phone_speaks_the_code_in_the_mailbox_language() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &mailbox_fields("fr"))
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    let first = web.get("/my").await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location(), "/my/sign-in");
    let page = ask_code(&mut web, "1001").await;
    assert!(
        page.body.contains("its phone is ringing now"),
        "{}",
        page.body
    );

    let (ringing, caller, code) = answer_and_hear_code(&app).await;
    assert_eq!(
        ringing.endpoint, "PJSIP/phone1001",
        "the extension's own phone"
    );
    assert_eq!(
        ringing.args,
        ["signin-code"],
        "the code is not in the Stasis arguments"
    );
    assert!(ringing.caller_id.contains("8500"));
    assert_eq!(code.len(), 6);
    let spoken = caller.heard();
    assert!(
        spoken.iter().any(|h| matches!(h, Heard::Sound { name, lang } if name == "voiceportal/signin-code" && lang == "fr")),
        "in the mailbox's language: {spoken:?}"
    );
    // Repeated while the page waits.
    caller
        .expect_sound("voiceportal/signin-code-again", WAIT)
        .await;

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", wrong)],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("This code is not right"));
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let signed_in = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &spaced)],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/my");
    let cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("vp_owner="))
        .expect("a session cookie");
    assert!(
        cookie.contains("Path=/my")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let home = web.get("/my").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("You have 0 new and 0 old messages"));

    // The phone hears that the code was used, and the call ends.
    caller.expect_sound("voiceportal/signin-done", WAIT).await;
    assert!(matches!(
        caller.wait_end(WAIT).await,
        Some(CallEnd::HungUpByApp { .. })
    ));

    // Single use: the same code signs nobody in again.
    let mut other = WebClient::new(&app.web_url);
    let again = other
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &code)],
        )
        .await;
    assert_eq!(again.status, 401);
}

#[tokio::test]
async fn an_extension_without_a_mailbox_gets_the_same_page_and_no_call() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    let unknown = ask_code(&mut web, "1999").await;
    let known = ask_code(&mut web, "1001").await;
    assert_eq!(unknown.status, known.status);
    assert_eq!(
        unknown.body.replace("1999", "N"),
        known.body.replace("1001", "N")
    );
    let malformed = ask_code(&mut web, "abc").await;
    assert!(malformed.body.contains("its phone is ringing now"));
    // The only call placed is the known extension's.
    let ringing = app.sim.wait_originated(WAIT).await.unwrap();
    assert_eq!(ringing.endpoint, "PJSIP/phone1001");
    ringing.decline();
    let calls = app
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/ari/channels?"))
        .count();
    assert_eq!(calls, 1);
    // And typing a code for the unknown one is refused like a wrong code.
    let refused = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1999"), ("code", "123456")],
        )
        .await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn a_code_allows_three_tries_then_none() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    ask_code(&mut web, "1001").await;
    let (_ringing, caller, code) = answer_and_hear_code(&app).await;
    let wrong = if code.starts_with('9') {
        "000000"
    } else {
        "999999"
    };
    for _ in 0..3 {
        let refused = web
            .submit(
                "/my/sign-in",
                "/my/sign-in/code",
                &[("extension", "1001"), ("code", wrong)],
            )
            .await;
        assert_eq!(refused.status, 401);
    }
    let too_late = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &code)],
        )
        .await;
    assert_eq!(too_late.status, 401, "three tries were used");
    // The phone stops repeating a code that can no longer be used.
    caller.expect_sound("vm-goodbye", WAIT).await;
    caller.hangup().await;

    // A new request replaces the code: the old one is dead, the new one works.
    ask_code(&mut web, "1001").await;
    let (_ringing, caller, fresh) = answer_and_hear_code(&app).await;
    let ok = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &fresh)],
        )
        .await;
    assert_eq!(ok.status, 303);
    caller.hangup().await;
}

#[tokio::test]
async fn code_requests_are_rate_limited_per_mailbox_and_per_address() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    for _ in 0..voiceportal::access::signin::REQUESTS_PER_MAILBOX {
        ask_code(&mut web, "1001").await;
    }
    let throttled = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", "1001"), ("via", "phone")],
        )
        .await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(throttled.body.contains("Too many attempts"));
    // Unknown numbers count the same: no way to tell them apart by the limits.
    for _ in 0..voiceportal::access::signin::REQUESTS_PER_MAILBOX {
        ask_code(&mut web, "1999").await;
    }
    let same = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", "1999"), ("via", "phone")],
        )
        .await;
    assert_eq!(same.status, 429);
    // Per address: other numbers run into the address's limit.
    let mut requests = 2 * voiceportal::access::signin::REQUESTS_PER_MAILBOX + 2;
    let mut n = 2000;
    while requests < voiceportal::access::signin::REQUESTS_PER_ADDRESS {
        ask_code(&mut web, &n.to_string()).await;
        n += 1;
        requests += 1;
    }
    let throttled = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", "2999"), ("via", "phone")],
        )
        .await;
    assert_eq!(throttled.status, 429);
}

#[tokio::test]
async fn playing_a_message_makes_it_old_and_the_lamp_follows() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &mailbox_fields("en"))
        .await
        .unwrap();
    admin(&app)
        .create_mailbox("test", "1002", &MailboxFields::default())
        .await
        .unwrap();
    let mine = message(&app, "1001", "1002", Utc::now(), 7).await;
    let theirs = message(&app, "1002", "1001", Utc::now(), 3).await;
    let mut web = owner_client(&app, "1001").await;
    let page = web.get("/my").await;
    assert!(
        page.body.contains("You have 1 new and 0 old messages"),
        "{}",
        page.body
    );
    assert!(page.body.contains("badge new"));
    let src = format!("/my/messages/{}/audio", mine.id);
    assert!(page.body.contains(&src));
    let audio = web.get(&src).await;
    assert_eq!(audio.status, 200);
    assert_eq!(&audio.bytes[..4], b"RIFF");
    assert_eq!(
        app.sim.mailbox("1001@default"),
        Some((1, 0)),
        "lamp off: 1 old, 0 new"
    );
    let page = web.get("/my").await;
    assert!(page.body.contains("You have 0 new and 1 old messages"));
    let download = web.get(&format!("{src}?download=1")).await;
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("1001-{}.wav", mine.id))
    );

    // Another mailbox's message, by changing the id: not found, untouched.
    let foreign = web.get(&format!("/my/messages/{}/audio", theirs.id)).await;
    assert_eq!(foreign.status, 404);
    let csrf = web.get("/my").await.csrf();
    let foreign = web
        .post(
            &format!("/my/messages/{}/delete", theirs.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(foreign.status, 404);
    let listing = admin(&app).list_messages("1002").await.unwrap();
    assert_eq!(listing.counts().new, 1);

    let deleted = web
        .post(
            &format!("/my/messages/{}/delete", mine.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert!(
        web.get("/my?done=deleted")
            .await
            .body
            .contains("Message deleted.")
    );
    assert_eq!(app.sim.mailbox("1001@default"), Some((0, 0)));
    let no_csrf = web
        .post(&format!("/my/messages/{}/delete", theirs.id), &[])
        .await;
    assert_eq!(no_csrf.status, 403);

    // Signing out ends the session; the old cookie opens nothing any more.
    let session = web.cookies["vp_owner"].clone();
    let out = web.post("/my/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/my/sign-in?done=signed-out");
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("vp_owner=;") && c.contains("Max-Age=0"))
    );
    web.cookies.insert("vp_owner".into(), session);
    assert_eq!(web.get("/my").await.status, 303);
    assert_eq!(web.get("/my/pin").await.status, 303);
    assert_eq!(web.get(&src).await.status, 303);
}

#[tokio::test]
async fn a_pin_set_on_the_web_unlocks_and_then_works_on_the_phone() {
    let app = spawn_app().await;
    let admin = admin(&app);
    admin
        .set_default_pin(
            "test",
            Some(voiceportal::domain::Pin::parse("407719").unwrap()),
        )
        .await
        .unwrap();
    admin
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    let subject = LockSubject::Mailbox(id("1001"));
    for _ in 0..4 {
        if let Reservation::Granted(token) = app
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
    assert!(app.store.lock_status(&subject).await.unwrap().locked);
    let mut web = owner_client(&app, "1001").await;
    let page = web.get("/my/pin").await;
    assert!(page.body.contains("6 to 12 digits"));
    for (pin, confirm, reason) in [
        ("581046", "581047", "The two PINs differ"),
        ("100155", "100155", "mailbox number"),
        ("407719", "407719", "default PIN"),
        ("12a456", "12a456", "digits 0 to 9"),
    ] {
        let refused = web
            .submit("/my/pin", "/my/pin", &[("pin", pin), ("confirm", confirm)])
            .await;
        assert_eq!(refused.status, 400, "{pin}");
        assert!(refused.body.contains(reason), "{pin}: {}", refused.body);
        assert!(
            !refused.body.contains(&format!("value=\"{pin}\"")),
            "a PIN is never sent back"
        );
    }
    assert!(
        app.store.lock_status(&subject).await.unwrap().locked,
        "refusals change nothing"
    );
    let set = web
        .submit(
            "/my/pin",
            "/my/pin",
            &[("pin", "581046"), ("confirm", "581046")],
        )
        .await;
    assert_eq!(set.status, 303);
    assert!(
        web.get(&set.location())
            .await
            .body
            .contains("Your new PIN is set")
    );
    let status = admin.status("1001").await.unwrap();
    assert!(!status.lock.locked && status.lock.strikes == 0);
    assert_eq!(status.record.pin_origin, PinOrigin::User);
    assert!(!status.record.must_change);

    // The phone: the new PIN opens the mailbox, and with no name recorded yet
    // the owner is only asked to record it (no forced PIN change).
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("581046#").await;
    let before = caller.expect_sound("vm-rec-name", WAIT).await;
    assert!(
        !before
            .iter()
            .any(|h| matches!(h, Heard::Sound { name, .. } if name.contains("enter-new-pin")))
    );
    caller.hangup().await;
}

#[tokio::test]
async fn settings_and_greetings() {
    let app = spawn_app().await;
    admin(&app)
        .create_mailbox("test", "1001", &mailbox_fields("en"))
        .await
        .unwrap();
    app.sim.put_stored_recording("voiceportal/1001/temp", 2.0);
    app.sim
        .put_stored_recording("voiceportal/1001/unavail", 2.0);
    let mut web = owner_client(&app, "1001").await;
    let page = web.get("/my/settings").await;
    assert!(page.body.contains("/my/greetings/temp/audio"));
    assert!(page.body.contains("/my/greetings/unavail/audio"));
    assert_eq!(web.get("/my/greetings/unavail/audio").await.status, 200);
    assert_eq!(web.get("/my/greetings/busy/audio").await.status, 404);
    let refused = web
        .submit(
            "/my/settings",
            "/my/settings",
            &[
                ("email", "alice@example.org"),
                ("language", "fr"),
                ("timezone", "Paris"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("value=\"alice@example.org\""),
        "what was typed is kept"
    );
    let saved = web
        .submit(
            "/my/settings",
            "/my/settings",
            &[
                ("email", "alice@example.org"),
                ("language", "fr"),
                ("timezone", "America/Montreal"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let record = admin(&app).status("1001").await.unwrap().record;
    assert_eq!(record.email.as_deref(), Some("alice@example.org"));
    assert_eq!(
        (record.language.as_str(), record.timezone.as_str()),
        ("fr", "America/Montreal")
    );
    assert_eq!(
        record.display_name, "Alice",
        "the name is the administrator's to change"
    );
    let deleted = web
        .submit("/my/settings", "/my/greetings/temp/delete", &[])
        .await;
    assert_eq!(deleted.status, 303);
    assert!(
        !app.sim
            .stored_recordings()
            .contains(&"voiceportal/1001/temp".to_string())
    );
    assert!(
        app.sim
            .stored_recordings()
            .contains(&"voiceportal/1001/unavail".to_string())
    );
}

#[tokio::test]
async fn the_code_can_go_by_e_mail() {
    let smtp = crate::support::smtp::TestSmtp::start();
    let app = spawn_app_with(ari_sim::SimConfig::default(), |config| {
        config.email.enabled = true;
        config.email.smtp_host = "127.0.0.1".into();
        config.email.smtp_port = smtp.port();
        config.email.tls = voiceportal::config::SmtpTls::None;
        config.email.retry_initial = Duration::from_millis(20);
        config.email.retry_max = Duration::from_millis(100);
    })
    .await;
    let fields = MailboxFields {
        email: Some("alice@example.org".into()),
        ..mailbox_fields("fr")
    };
    admin(&app)
        .create_mailbox("test", "1001", &fields)
        .await
        .unwrap();
    let mut web = WebClient::new(&app.web_url);
    let page = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", "1001"), ("via", "email")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("a six-digit code is on its way"));
    let mail = smtp.wait_received(1, WAIT).await.remove(0);
    assert!(mail.contains("alice@example.org"));
    assert!(
        mail.contains("Votre code de connexion"),
        "in the mailbox's language: {mail}"
    );
    let code: String = mail
        .split("est : ")
        .nth(1)
        .expect("the code in the body")
        .chars()
        .take(6)
        .collect();
    let signed_in = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &code)],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    // No phone was called.
    assert!(
        !app.sim
            .request_log()
            .iter()
            .any(|r| r.path.starts_with("/ari/channels?"))
    );
}

#[tokio::test]
async fn a_dialplan_call_into_signin_code_hears_no_code() {
    let app = spawn_app().await;
    let caller = app.sim.dial(Dial::new(&["signin-code"], "1001")).await;
    caller.expect_sound("voiceportal/error", WAIT).await;
    assert!(caller.wait_end(WAIT).await.is_some());
    assert!(!caller.heard().iter().any(|h| matches!(h, Heard::Digits(_))));
}

/// A whole run of the portals with known secrets, logs at their most verbose:
/// no password, PIN, code, token or session id appears in what the service
/// logged, nor in the audit log.
#[tokio::test]
async fn secrets_never_reach_the_logs_or_the_audit_log() {
    crate::support::logs::start_capture();
    let app = spawn_app().await;
    let mut admin_web = crate::web_admin::signed_in(&app, "alice").await;
    let session = admin_web.cookies["vp_admin"].clone();
    admin(&app)
        .create_mailbox("test", "1001", &MailboxFields::default())
        .await
        .unwrap();
    admin_web
        .submit(
            "/admin/mailboxes/1001",
            "/admin/mailboxes/1001/temporary-pin",
            &[("pin", "480262"), ("confirm", "480262")],
        )
        .await;
    let token = crate::web_api::token(&app).await;
    let mut api = WebClient::new(&app.web_url);
    let response = api
        .request("GET", "/api/v1/mailboxes", Some(&token), None)
        .await;
    assert_eq!(response.status, 200);
    let mut owner = WebClient::new(&app.web_url);
    ask_code(&mut owner, "1001").await;
    let (_ringing, caller, code) = answer_and_hear_code(&app).await;
    owner
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &code)],
        )
        .await;
    let owner_session = owner.cookies["vp_owner"].clone();
    owner
        .submit(
            "/my/pin",
            "/my/pin",
            &[("pin", "581046"), ("confirm", "581046")],
        )
        .await;
    caller.hangup().await;

    let logs = crate::support::logs::captured();
    assert!(
        logs.contains("calling the owner's phone"),
        "nothing was captured"
    );
    let audit = format!("{:?}", admin(&app).audit_log(1000).await.unwrap());
    assert!(audit.contains("signin-code-request") && audit.contains("pin-change"));
    for secret in [
        crate::web_admin::PASSWORD,
        "480262",
        "581046",
        code.as_str(),
        token.as_str(),
        &token[4..],
        session.as_str(),
        owner_session.as_str(),
    ] {
        assert!(!in_logs(&logs, secret), "{secret} leaked into the logs");
        assert!(
            !audit.contains(secret),
            "{secret} leaked into the audit log"
        );
    }
    assert!(!logs.contains("$argon2"), "a hash leaked into the logs");
}

/// Whether `secret` occurs in the logs as a whole word, timestamps aside: a
/// random six-digit code may well match six digits of some line's microseconds.
fn in_logs(logs: &str, secret: &str) -> bool {
    logs.lines()
        .map(|line| line.split_once(' ').map_or(line, |(_, rest)| rest))
        .any(|line| {
            line.match_indices(secret).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + secret.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                !word(before) && !word(after)
            })
        })
}
