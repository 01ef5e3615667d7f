//! The portals in a real headless Chromium driven over WebDriver: an
//! administrator resets a locked mailbox and the phone then logs in with the
//! default PIN into forced set-up; an owner signs in by phone, plays a message
//! (the lamp goes off) and sets a PIN that then works on the phone; both in
//! English and in French. And screenshots of every page, in both languages, at
//! laptop and phone widths, each checked to fit its width.

use std::time::Duration;

use ari_sim::Dial;
use chrono::Utc;
use voiceportal::admin::MailboxFields;
use voiceportal::domain::Pin;

use crate::support::app::{TestApp, WAIT, spawn_app};
use crate::support::fixtures::{id, lock, message};
use crate::support::webdriver::Browser;
use crate::web_admin::{PASSWORD, account};
use crate::web_api::admin;
use crate::web_owner::answer_and_hear_code;

const LAPTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);

fn pick<'a>(lang: &str, en: &'a str, fr: &'a str) -> &'a str {
    if lang == "fr" { fr } else { en }
}

/// A mailbox `number` speaking `lang`, named, in Paris.
async fn mailbox(app: &TestApp, number: &str, name: &str, lang: &str) {
    let fields = MailboxFields {
        display_name: Some(name.into()),
        language: Some(lang.into()),
        timezone: Some("Europe/Paris".into()),
        email: Some(format!("owner{number}@example.org")),
    };
    admin(app)
        .create_mailbox("test", number, &fields)
        .await
        .unwrap();
}

async fn sign_in_admin(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/admin", app.web_url)).await;
    assert!(browser.url().await.ends_with("/admin/sign-in"));
    browser.type_into("input[name=name]", "alice").await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("form[action='/admin/sign-in'] button").await;
    assert!(browser.wait_url("/admin").await, "{}", browser.text().await);
}

/// Waits until the simulated Asterisk shows `expected` (old, new) for the lamp.
async fn lamp(app: &TestApp, mailbox: &str, expected: (u32, u32)) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.sim.mailbox(&format!("{mailbox}@default")) != Some(expected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lamp of {mailbox}: {:?}, expected {expected:?}",
            app.sim.mailbox(&format!("{mailbox}@default"))
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn administrator_resets_a_locked_mailbox(lang: &str) {
    let app = spawn_app().await;
    account(&app, "alice").await;
    admin(&app)
        .set_default_pin("test", Some(Pin::parse("407719").unwrap()))
        .await
        .unwrap();
    mailbox(&app, "1001", "Alice Martin", lang).await;
    mailbox(&app, "1002", "Bob Durand", lang).await;
    lock(&app, "1001").await;

    let browser = Browser::open(lang, LAPTOP.0, LAPTOP.1).await;
    sign_in_admin(&browser, &app).await;
    browser.type_into("input[name=q]", "Alice").await;
    browser.click("form[role=search] button").await;
    let found = browser.text().await;
    assert!(
        found.contains("Alice Martin") && !found.contains("Bob Durand"),
        "{found}"
    );
    assert_eq!(
        browser.count("span.badge.locked").await,
        1,
        "the locked mailbox shows it"
    );
    browser.click("a[href='/admin/mailboxes/1001']").await;
    browser
        .click("form[action='/admin/mailboxes/1001/reset-pin'] button")
        .await;
    let page = browser.text().await;
    assert!(
        page.contains(pick(
            lang,
            "PIN reset to the org default PIN",
            "Code réinitialisé au code par défaut"
        )),
        "{page}"
    );
    assert_eq!(browser.count("span.badge.locked").await, 0);

    // The phone: the default PIN opens the mailbox into forced set-up.
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("407719#").await;
    caller
        .expect_sound("voiceportal/setup-required", WAIT)
        .await;
    caller.hangup().await;
}

async fn owner_signs_in_plays_and_sets_a_pin(lang: &str) {
    let app = spawn_app().await;
    mailbox(&app, "1001", "Alice Martin", lang).await;
    app.store
        .set_name_recorded(&id("1001"), true)
        .await
        .unwrap();
    message(&app, "1001", "1002", Utc::now(), 6).await;
    crate::support::fixtures::provision_pin(&app, "1001", "246813").await;
    let client = voiceportal::ari::AriClient::new(&app.config.ari).unwrap();
    voiceportal::notify::mwi::Mwi::new(client, "default")
        .refresh(&app.store, &id("1001"))
        .await;

    let browser = Browser::open(lang, LAPTOP.0, LAPTOP.1).await;
    browser.goto(&format!("{}/my", app.web_url)).await;
    assert!(browser.url().await.ends_with("/my/sign-in"));
    browser.type_into("input[name=extension]", "1001").await;
    browser.click("button[value=phone]").await;
    let (_ringing, call, code) = answer_and_hear_code(&app).await;
    browser.type_into("input[name=code]", &code).await;
    browser
        .click("form[action='/my/sign-in/code'] button")
        .await;
    assert!(browser.wait_url("/my").await, "{}", browser.text().await);
    let page = browser.text().await;
    assert!(
        page.contains(pick(
            lang,
            "You have 1 new and 0 old messages",
            "Vous avez 1 nouveau message et aucun ancien"
        )),
        "{page}"
    );
    lamp(&app, "1001", (0, 1)).await;

    // Play it in the page's player: a new message becomes old, the lamp goes off.
    let played = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             const audio = document.querySelector('audio');
             audio.addEventListener('canplay', () => done('canplay'), { once: true });
             audio.addEventListener('error', () => done('error'), { once: true });
             audio.play().catch(() => {});",
        )
        .await;
    assert_eq!(played, "canplay", "the browser can play the message");
    lamp(&app, "1001", (1, 0)).await;
    browser.goto(&format!("{}/my", app.web_url)).await;
    assert!(browser.text().await.contains(pick(
        lang,
        "0 new and 1 old",
        "aucun nouveau message et 1 ancien"
    )));

    // A new PIN, then the phone accepts it.
    browser.click("a[href='/my/pin']").await;
    browser.type_into("input[name=pin]", "581046").await;
    browser.type_into("input[name=confirm]", "581046").await;
    browser.click("form[action='/my/pin'] button").await;
    let page = browser.text().await;
    assert!(
        page.contains(pick(
            lang,
            "Your new PIN is set",
            "Votre nouveau code est enregistré"
        )),
        "{page}"
    );
    call.hangup().await;
    let caller = app.sim.dial(Dial::portal("1001")).await;
    caller
        .expect_sound("voiceportal/enter-pin-or-star", WAIT)
        .await;
    caller.press("581046#").await;
    caller.expect_sound("vm-youhave", WAIT).await;
    caller.hangup().await;
}

#[tokio::test]
async fn browser_administrator_resets_a_locked_mailbox_in_english() {
    administrator_resets_a_locked_mailbox("en").await;
}

#[tokio::test]
async fn browser_administrator_resets_a_locked_mailbox_in_french() {
    administrator_resets_a_locked_mailbox("fr").await;
}

#[tokio::test]
async fn browser_owner_signs_in_by_phone_plays_and_sets_a_pin_in_english() {
    owner_signs_in_plays_and_sets_a_pin("en").await;
}

#[tokio::test]
async fn browser_owner_signs_in_by_phone_plays_and_sets_a_pin_in_french() {
    owner_signs_in_plays_and_sets_a_pin("fr").await;
}

/// Every page, both languages, laptop and phone: saved under the screenshot
/// directory, and each checked to fit its width (no sideways scrolling).
#[tokio::test]
async fn browser_screenshots_of_every_page() {
    let app = spawn_app().await;
    account(&app, "alice").await;
    let ops = admin(&app);
    ops.set_default_pin("test", Some(Pin::parse("407719").unwrap()))
        .await
        .unwrap();
    ops.set_portal_passcode("test", Pin::parse("59173048").unwrap())
        .await
        .unwrap();
    mailbox(&app, "1001", "Alice Martin", "fr").await;
    mailbox(&app, "1002", "Bob Durand", "en").await;
    mailbox(&app, "1003", "Chloé Bernard", "fr").await;
    lock(&app, "1002").await;
    app.store
        .set_name_recorded(&id("1001"), true)
        .await
        .unwrap();
    message(
        &app,
        "1001",
        "0612345678",
        Utc::now() - chrono::Duration::hours(26),
        42,
    )
    .await;
    message(
        &app,
        "1001",
        "1002",
        Utc::now() - chrono::Duration::minutes(5),
        7,
    )
    .await;
    for name in ["name", "unavail", "temp"] {
        app.sim
            .put_stored_recording(&format!("voiceportal/1001/{name}"), 2.0);
    }
    app.sim.put_stored_recording("voiceportal/attendant/1", 4.0);
    app.sim.put_stored_recording("voiceportal/attendant/2", 3.0);

    let mut saved = Vec::new();
    for lang in ["en", "fr"] {
        let browser = Browser::open(lang, LAPTOP.0, LAPTOP.1).await;
        let shoot = |page: &'static str| {
            let browser = &browser;
            async move {
                let mut paths = Vec::new();
                for (label, (width, height)) in [("laptop", LAPTOP), ("phone", PHONE)] {
                    browser.resize(width, height).await;
                    assert!(
                        browser.fits_width().await,
                        "{lang} {page} is wider than a {label} screen"
                    );
                    paths.push(
                        browser
                            .screenshot(&format!("{lang}-{label}-{page}"), width, height)
                            .await,
                    );
                }
                browser.resize(LAPTOP.0, LAPTOP.1).await;
                paths
            }
        };
        let base = &app.web_url;
        browser.goto(&format!("{base}/admin/sign-in")).await;
        saved.extend(shoot("admin-1-sign-in").await);
        sign_in_admin(&browser, &app).await;
        saved.extend(shoot("admin-2-extensions").await);
        browser.goto(&format!("{base}/admin/mailboxes/1001")).await;
        saved.extend(shoot("admin-3-mailbox").await);
        browser
            .type_into("input[name=timezone]", "Mars/Olympus")
            .await;
        browser
            .click("form[action='/admin/mailboxes/1001'] button")
            .await;
        saved.extend(shoot("admin-4-mailbox-refused").await);
        browser.goto(&format!("{base}/admin/portal")).await;
        saved.extend(shoot("admin-5-portal").await);
        browser.goto(&format!("{base}/admin/audit")).await;
        saved.extend(shoot("admin-6-audit").await);

        browser.goto(&format!("{base}/my/sign-in")).await;
        saved.extend(shoot("owner-1-sign-in").await);
        browser.type_into("input[name=extension]", "1001").await;
        browser.click("button[value=phone]").await;
        saved.extend(shoot("owner-2-code").await);
        let (_ringing, call, code) = answer_and_hear_code(&app).await;
        browser.type_into("input[name=code]", "000 000").await;
        browser
            .click("form[action='/my/sign-in/code'] button")
            .await;
        if code == "000000" {
            // One chance in a million: the wrong code was right.
            browser.goto(&format!("{base}/my/sign-in")).await;
        } else {
            saved.extend(shoot("owner-3-code-refused").await);
            browser.type_into("input[name=code]", &code).await;
            browser
                .click("form[action='/my/sign-in/code'] button")
                .await;
        }
        call.hangup().await;
        browser.goto(&format!("{base}/my")).await;
        saved.extend(shoot("owner-4-messages").await);
        browser.goto(&format!("{base}/my/pin")).await;
        browser.type_into("input[name=pin]", "123456").await;
        browser.type_into("input[name=confirm]", "123456").await;
        browser.click("form[action='/my/pin'] button").await;
        saved.extend(shoot("owner-5-pin-refused").await);
        browser.goto(&format!("{base}/my/settings")).await;
        saved.extend(shoot("owner-6-settings").await);
        browser.goto(&format!("{base}/no/such/page")).await;
        saved.extend(shoot("error-not-found").await);
    }
    assert!(saved.len() >= 2 * 2 * 12, "{} screenshots", saved.len());
    for path in &saved {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{}", path.display());
    }
    println!(
        "screenshots in {}",
        crate::support::webdriver::screenshot_dir().display()
    );
}
