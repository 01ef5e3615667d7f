//! The owners' web portal signs in by phone: voiceportal calls the extension's own
//! phone through the real Asterisk and speaks a code, which the owner types into
//! the page.

use voiceportal::store::mailboxes::PinOrigin;

use super::Stack;
use super::ari::kind;
use super::phones::WAIT;
use crate::support::web::WebClient;

#[tokio::test]
async fn the_owner_signs_in_with_the_code_their_own_phone_speaks() {
    let Some(stack) = Stack::start().await else {
        return;
    };
    stack
        .mailbox("1001", "en", Some(("482913", PinOrigin::User)), true)
        .await;
    let mut web = WebClient::new(&stack.web_url);
    let rings_from = stack.phones.events.len();
    let page = web
        .submit(
            "/my/sign-in",
            "/my/sign-in",
            &[("extension", "1001"), ("via", "phone")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);

    // Alice's desk phone rings; she picks it up.
    let ringing = stack.phones.ringing(rings_from, "1001").await;
    stack
        .phones
        .ari
        .post(&format!("/channels/{ringing}/answer"))
        .await
        .expect("answer the phone");
    let (_, spoken) = stack
        .observer
        .events
        .wait_for(0, WAIT, |e| {
            kind(e) == "PlaybackStarted"
                && e["playback"]["media_uri"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("digits:"))
        })
        .await
        .expect("the phone hears the code");
    let code = spoken["playback"]["media_uri"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("digits:")
        .to_owned();
    assert_eq!(code.len(), 6, "{spoken}");

    let signed_in = web
        .submit(
            "/my/sign-in",
            "/my/sign-in/code",
            &[("extension", "1001"), ("code", &code)],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/my");
    let home = web.get("/my").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("1001"), "{}", home.body);
    stack.assert_no_missing_sounds();
}
