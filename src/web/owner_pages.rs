//! The owners' portal, `/my`: sign in with your phone, then your messages, a
//! new PIN, your settings and greetings.
//!
//! No URL names a mailbox: the mailbox is the session's, so changing an id in
//! the address bar can only name a message of one's own mailbox (or nothing).

use std::fmt::Write;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tracing::warn;

use super::Web;
use super::admin_pages::{AudioQuery, audio_problem, audio_response, zone};
use super::cookies;
use super::errors;
use super::html::{
    Frame, Notice, OwnerSection, Page, button_form, csrf_field, esc, field, table, url_part,
};
use super::i18n::{self, Lang};
use super::session::{FormBinding, OwnerUser, signed_in};
use crate::access::signin::{CODE_LIFETIME, CodeCheck, CodeRequest, IssuedCode};
use crate::admin::messages::MessageListing;
use crate::admin::{AdminError, Greeting, MailboxFields};
use crate::domain::Pin;
use crate::metrics::{METRICS, SigninOutcome, WebPortal};
use crate::notify::signin;
use crate::store::messages::Folder;
use crate::store::sessions::SessionSubject;

pub fn router() -> Router<Web> {
    Router::new()
        .route("/", get(messages))
        .route("/sign-in", get(sign_in_page).post(request_code))
        .route("/sign-in/code", post(enter_code))
        .route("/sign-out", post(sign_out))
        .route("/messages/{id}/audio", get(message_audio))
        .route("/messages/{id}/delete", post(delete_message))
        .route("/pin", get(pin_page).post(set_pin))
        .route("/settings", get(settings_page).post(save_settings))
        .route("/greetings/{which}/audio", get(greeting_audio))
        .route("/greetings/temp/delete", post(delete_temporary_greeting))
}

// ---- shared with the administrator's mailbox page --------------------------------

pub fn message_headers(lang: Lang) -> [&'static str; 6] {
    [
        lang.pick("Folder", "Dossier"),
        lang.pick("Received", "Reçu"),
        lang.pick("From", "De"),
        lang.pick("Length", "Durée"),
        lang.pick("Listen", "Écouter"),
        "",
    ]
}

/// One row per message, newest first: folder, date in the mailbox's time zone,
/// caller, length, a player, a download link and a delete button. `base` is
/// the mailbox's page (`/my` or `/admin/mailboxes/1001`).
pub fn message_rows(
    lang: Lang,
    listing: &MessageListing,
    base: &str,
    csrf: &str,
) -> Vec<Vec<String>> {
    let tz = zone(&listing.record.timezone);
    listing
        .messages
        .iter()
        .rev()
        .map(|m| {
            let folder = match m.folder {
                Folder::New => format!(
                    "<span class=\"badge new\">{}</span>",
                    esc(lang.pick("new", "nouveau"))
                ),
                Folder::Old => format!(
                    "<span class=\"badge\">{}</span>",
                    esc(lang.pick("old", "ancien"))
                ),
            };
            let caller = match (m.caller_name.trim(), m.caller_number.trim()) {
                ("", "") => lang.pick("unknown", "inconnu").to_owned(),
                ("", number) => number.to_owned(),
                (name, "") => name.to_owned(),
                (name, number) => format!("{name} ({number})"),
            };
            let src = format!("{base}/messages/{}/audio", url_part(m.id.as_str()));
            vec![
                folder,
                esc(&m
                    .received
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()),
                esc(&caller),
                format!("{}:{:02}", m.duration_secs / 60, m.duration_secs % 60),
                format!("<audio controls preload=\"none\" src=\"{src}\"></audio>"),
                format!(
                    "<span class=\"actions\"><a href=\"{src}?download=1\">{}</a> {}</span>",
                    esc(lang.pick("Download", "Télécharger")),
                    button_form(
                        &format!("{base}/messages/{}/delete", url_part(m.id.as_str())),
                        csrf,
                        lang.pick("Delete", "Supprimer"),
                        "secondary"
                    )
                ),
            ]
        })
        .collect()
}

fn greeting_label(lang: Lang, greeting: Greeting) -> &'static str {
    match greeting {
        Greeting::Unavailable => lang.pick("Unavailable greeting", "Annonce d'absence"),
        Greeting::Busy => lang.pick("Busy greeting", "Annonce « occupé »"),
        Greeting::Temporary => lang.pick("Temporary greeting", "Annonce temporaire"),
        Greeting::Name => lang.pick("Recorded name", "Nom enregistré"),
    }
}

/// Each greeting with a player, or "not recorded"; with `delete_csrf`, a button
/// to delete the temporary greeting.
pub fn greeting_list(
    lang: Lang,
    base: &str,
    present: &[Greeting],
    delete_csrf: Option<&str>,
) -> String {
    let rows: Vec<Vec<String>> = Greeting::ALL
        .iter()
        .map(|g| {
            let recorded = present.contains(g);
            let player = if recorded {
                format!(
                    "<audio controls preload=\"none\" src=\"{base}/greetings/{}/audio\"></audio>",
                    g.file()
                )
            } else {
                format!(
                    "<span class=\"muted\">{}</span>",
                    esc(lang.pick("not recorded", "non enregistrée"))
                )
            };
            let action = match (g, recorded, delete_csrf) {
                (Greeting::Temporary, true, Some(csrf)) => button_form(
                    &format!("{base}/greetings/temp/delete"),
                    csrf,
                    lang.pick("Delete", "Supprimer"),
                    "secondary",
                ),
                _ => String::new(),
            };
            vec![esc(greeting_label(lang, *g)), player, action]
        })
        .collect();
    let mut html = table(
        &[
            lang.pick("Recording", "Enregistrement"),
            lang.pick("Listen", "Écouter"),
            "",
        ],
        &rows,
        "greetings",
    );
    let _ = write!(
        html,
        "<p class=\"hint\">{}</p>",
        esc(lang.pick(
            "Greetings are recorded by phone: mailbox options (0) after logging in.",
            "Les annonces s'enregistrent par téléphone : options de la boîte (0) après \
             connexion."
        ))
    );
    html
}

// ---- sign-in with the phone -------------------------------------------------------

fn sign_in_frame(csrf: &str) -> Frame<'_> {
    Frame::Owner {
        mailbox: None,
        csrf,
        section: OwnerSection::SignIn,
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn sign_in_page(
    State(web): State<Web>,
    binding: FormBinding,
    Query(done): Query<Done>,
) -> Response {
    let lang = binding.lang;
    let csrf = binding.csrf(&web);
    let notice = match done.done.as_deref() {
        Some("signed-out") => Some(Notice::Done(
            lang.pick("You are signed out.", "Vous êtes déconnecté.")
                .to_owned(),
        )),
        _ => None,
    };
    let body = format!(
        "<section class=\"card\"><form method=\"post\" action=\"/my/sign-in\" class=\"stack\">{}{}\
         <div><button name=\"via\" value=\"phone\">{}</button></div>\
         <div><button name=\"via\" value=\"email\" class=\"secondary\">{}</button></div></form>\
         <p class=\"hint\">{}</p></section>",
        csrf_field(&csrf),
        field(
            lang.pick("Your extension", "Votre numéro de poste"),
            "extension",
            "text",
            "",
            "inputmode=\"numeric\" autocomplete=\"username\" required autofocus"
        ),
        esc(lang.pick(
            "Call my phone with a code",
            "Appeler mon téléphone avec un code"
        )),
        esc(lang.pick(
            "Send the code by e\u{2011}mail instead",
            "Recevoir plutôt le code par e\u{2011}mail"
        )),
        esc(lang.pick(
            "Your own desk phone rings and a voice says a six-digit code: type it on the next \
             page. No password to remember, and it works even when your voicemail PIN is \
             locked.",
            "Votre poste sonne et une voix énonce un code à six chiffres : saisissez-le sur la \
             page suivante. Aucun mot de passe à retenir, et cela marche même si votre code \
             de messagerie est verrouillé."
        )),
    );
    let page = Page {
        lang,
        title: lang
            .pick("Sign in to your voicemail", "Connexion à votre messagerie")
            .to_owned(),
        frame: sign_in_frame(&csrf),
        path: "/my/sign-in",
        notice,
        body,
    };
    binding.with_cookie(page.render(StatusCode::OK))
}

#[derive(Deserialize)]
struct CodeRequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    extension: String,
    #[serde(default)]
    via: String,
}

/// How the code goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Phone,
    Email,
}

/// The page after a code request: the same whether the extension exists or not.
fn code_page(
    lang: Lang,
    csrf: &str,
    extension: &str,
    via: Via,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let minutes = CODE_LIFETIME.as_secs() / 60;
    let said = match (lang, via) {
        (Lang::En, Via::Phone) => format!(
            "If {extension} is a mailbox, its phone is ringing now: answer it and listen to \
             the six-digit code, then type it below. The code works once, for {minutes} \
             minutes."
        ),
        (Lang::Fr, Via::Phone) => format!(
            "Si {extension} est une boîte vocale, son poste sonne maintenant : décrochez et \
             écoutez le code à six chiffres, puis saisissez-le ci-dessous. Le code sert une \
             fois, pendant {minutes} minutes."
        ),
        (Lang::En, Via::Email) => format!(
            "If mailbox {extension} has an e-mail address, a six-digit code is on its way \
             there. Type it below. The code works once, for {minutes} minutes."
        ),
        (Lang::Fr, Via::Email) => format!(
            "Si la boîte {extension} a une adresse e-mail, un code à six chiffres y est \
             envoyé. Saisissez-le ci-dessous. Le code sert une fois, pendant {minutes} \
             minutes."
        ),
    };
    let (other_via, other_label) = match via {
        Via::Phone => (
            "email",
            lang.pick(
                "Send the code by e\u{2011}mail instead",
                "Recevoir plutôt le code par e\u{2011}mail",
            ),
        ),
        Via::Email => (
            "phone",
            lang.pick("Call my phone instead", "Appeler plutôt mon téléphone"),
        ),
    };
    let body = format!(
        "<section class=\"card\"><p>{}</p><form method=\"post\" action=\"/my/sign-in/code\" class=\"stack\">{}\
         <input type=\"hidden\" name=\"extension\" value=\"{}\">\
         <label>{}<input class=\"code-input\" type=\"text\" name=\"code\" inputmode=\"numeric\" \
         autocomplete=\"one-time-code\" maxlength=\"9\" required autofocus></label>\
         <div><button>{}</button></div></form></section>\
         <section class=\"card\"><form method=\"post\" action=\"/my/sign-in\" class=\"row\">{}\
         <input type=\"hidden\" name=\"extension\" value=\"{}\">\
         <button name=\"via\" value=\"{other_via}\" class=\"secondary\">{}</button></form>\
         <p class=\"hint\"><a href=\"/my/sign-in\">{}</a></p></section>",
        esc(&said),
        csrf_field(csrf),
        esc(extension),
        esc(lang.pick("Code", "Code")),
        esc(lang.pick("Sign in", "Se connecter")),
        csrf_field(csrf),
        esc(extension),
        esc(other_label),
        esc(lang.pick("Use another extension", "Utiliser un autre numéro")),
    );
    Page {
        lang,
        title: lang
            .pick("Type your code", "Saisissez votre code")
            .to_owned(),
        frame: sign_in_frame(csrf),
        path: "/my/sign-in",
        notice,
        body,
    }
    .render(status)
}

/// Bounds what is echoed back of a typed extension.
fn typed_extension(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(20)
        .collect()
}

async fn request_code(
    State(web): State<Web>,
    binding: FormBinding,
    Form(form): Form<CodeRequestForm>,
) -> Response {
    let lang = binding.lang;
    if let Err(refused) = binding.check(&web, &form.csrf) {
        return refused.into_response();
    }
    let via = if form.via == "email" {
        Via::Email
    } else {
        Via::Phone
    };
    let extension = typed_extension(&form.extension);
    let request = match web
        .access
        .request_signin_code(&extension, binding.client)
        .await
    {
        Ok(request) => request,
        Err(e) => {
            warn!(error = %e, "cannot issue a sign-in code");
            return errors::unavailable(lang);
        }
    };
    match request {
        CodeRequest::Throttled { retry_after } => {
            METRICS.web_signin(WebPortal::Owner, SigninOutcome::Throttled);
            return errors::throttled(lang, retry_after, "/my/sign-in");
        }
        CodeRequest::Accepted(Some(issued)) => deliver(&web, issued, via, binding.client).await,
        CodeRequest::Accepted(None) => {}
    }
    code_page(
        lang,
        &binding.csrf(&web),
        &extension,
        via,
        None,
        StatusCode::OK,
    )
}

/// Sends the code on its way without waiting for it: the page must come back
/// as fast for a mailbox that exists as for one that does not.
async fn deliver(web: &Web, issued: IssuedCode, via: Via, client: std::net::IpAddr) {
    let actor = format!("owner:{} [{client}]", issued.record.id);
    let target = issued.record.id.to_string();
    match via {
        Via::Email => {
            let page = format!("{}/my/sign-in", web.config.web.base_url());
            if !web.notifier.signin_code(&issued.record, issued.code, page) {
                tracing::info!(mailbox = %issued.record.id, "sign-in code by e-mail not possible (no address, or e-mail off)");
            }
        }
        Via::Phone => {
            let courier = web.courier.clone();
            tokio::spawn(async move {
                let mailbox = issued.record.id.clone();
                if let Err(e) = courier.call(issued).await {
                    signin::log_failure(&mailbox, &e);
                }
            });
        }
    }
    let detail = match via {
        Via::Phone => "via=phone",
        Via::Email => "via=email",
    };
    if let Err(e) = web
        .admin
        .audit(&actor, "signin-code-request", &target, detail)
        .await
    {
        warn!(error = %e, "cannot write an audit entry");
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    extension: String,
    #[serde(default)]
    code: String,
}

async fn enter_code(
    State(web): State<Web>,
    binding: FormBinding,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = binding.lang;
    if let Err(refused) = binding.check(&web, &form.csrf) {
        return refused.into_response();
    }
    let extension = typed_extension(&form.extension);
    let check = match web
        .access
        .check_signin_code(&extension, &form.code, binding.client)
        .await
    {
        Ok(check) => check,
        Err(e) => {
            warn!(error = %e, "cannot check a sign-in code");
            return errors::unavailable(lang);
        }
    };
    match check {
        CodeCheck::Granted(record) => {
            METRICS.web_signin(WebPortal::Owner, SigninOutcome::Success);
            let lifetime = web.config.web.session_lifetime;
            let session = match web
                .access
                .start_session(SessionSubject::Owner(record.id.clone()), lifetime)
                .await
            {
                Ok(session) => session,
                Err(e) => {
                    warn!(error = %e, "cannot start an owner session");
                    return errors::unavailable(lang);
                }
            };
            let actor = format!("owner:{} [{}]", record.id, binding.client);
            if let Err(e) = web
                .admin
                .audit(&actor, "web-signin", record.id.as_str(), "")
                .await
            {
                warn!(error = %e, "cannot write an audit entry");
            }
            let cookie =
                cookies::secret(cookies::OWNER_SESSION, session.expose(), "/my", web.https());
            signed_in(cookie, "/my")
        }
        CodeCheck::Denied => {
            METRICS.web_signin(WebPortal::Owner, SigninOutcome::Failure);
            let notice = Notice::Problem(
                lang.pick(
                    "This code is not right, or no longer valid. Check it, or ask for a new one.",
                    "Ce code n'est pas le bon, ou n'est plus valable. Vérifiez-le, ou demandez-en \
                     un nouveau.",
                )
                .to_owned(),
            );
            code_page(
                lang,
                &binding.csrf(&web),
                &extension,
                Via::Phone,
                Some(notice),
                StatusCode::UNAUTHORIZED,
            )
        }
        CodeCheck::Throttled { retry_after } => {
            METRICS.web_signin(WebPortal::Owner, SigninOutcome::Throttled);
            errors::throttled(lang, retry_after, "/my/sign-in")
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(web): State<Web>, user: OwnerUser, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    if let Err(e) = web.access.end_session(&user.session).await {
        warn!(error = %e, "cannot end an owner session");
    }
    let cookie = cookies::cleared(cookies::OWNER_SESSION, "/my", web.https());
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/my/sign-in?done=signed-out"),
    )
        .into_response()
}

// ---- signed in ------------------------------------------------------------------

fn frame(user: &OwnerUser, section: OwnerSection) -> Frame<'_> {
    Frame::Owner {
        mailbox: Some(user.mailbox.as_str()),
        csrf: &user.csrf,
        section,
    }
}

fn owner_done(lang: Lang, done: Option<&str>) -> Option<Notice> {
    let text = match done? {
        "deleted" => lang.pick("Message deleted.", "Message supprimé."),
        "pin" => lang.pick(
            "Your new PIN is set. Your mailbox is unlocked.",
            "Votre nouveau code est enregistré. Votre boîte est déverrouillée.",
        ),
        "settings" => lang.pick("Settings saved.", "Réglages enregistrés."),
        "greeting-deleted" => lang.pick(
            "Temporary greeting deleted: callers hear your usual greeting again.",
            "Annonce temporaire supprimée : vos correspondants entendent de nouveau votre \
             annonce habituelle.",
        ),
        _ => return None,
    };
    Some(Notice::Done(text.to_owned()))
}

async fn messages(State(web): State<Web>, user: OwnerUser, Query(done): Query<Done>) -> Response {
    let lang = user.lang;
    let listing = match web.admin.list_messages(user.mailbox.as_str()).await {
        Ok(listing) => listing,
        Err(e) => {
            warn!(error = %e, "cannot list an owner's messages");
            return errors::unavailable(lang);
        }
    };
    let counts = listing.counts();
    let summary = summary(lang, counts.new, counts.old);
    let mut body = format!("<p>{}</p>", esc(&summary));
    if listing.messages.is_empty() {
        let _ = write!(
            body,
            "<p class=\"empty\">{}</p>",
            esc(lang.pick("No messages.", "Aucun message."))
        );
    } else {
        let rows = message_rows(lang, &listing, "/my", &user.csrf);
        body.push_str(&table(&message_headers(lang), &rows, "messages"));
        let _ = write!(
            body,
            "<p class=\"hint\">{}</p>",
            esc(lang.pick(
                "A new message becomes old once played, here or on the phone.",
                "Un nouveau message devient ancien une fois écouté, ici ou au téléphone."
            ))
        );
    }
    Page {
        lang,
        title: lang.pick("Your messages", "Vos messages").to_owned(),
        frame: frame(&user, OwnerSection::Messages),
        path: "/my",
        notice: owner_done(lang, done.done.as_deref()),
        body,
    }
    .render(StatusCode::OK)
}

async fn message_audio(
    State(web): State<Web>,
    user: OwnerUser,
    Path(id): Path<String>,
    Query(query): Query<AudioQuery>,
) -> Response {
    match web
        .admin
        .play_message(&user.actor(), &web.asterisk, user.mailbox.as_str(), &id)
        .await
    {
        Ok((message, audio)) => audio_response(
            audio,
            &crate::admin::messages::default_file_name(&message),
            query.download.is_some(),
        ),
        Err(e) => audio_problem(user.lang, &e, "/my"),
    }
}

async fn delete_message(
    State(web): State<Web>,
    user: OwnerUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web
        .admin
        .delete_message(&user.actor(), &web.asterisk, user.mailbox.as_str(), &id)
        .await
    {
        Ok(_) | Err(crate::admin::messages::MessageAdminError::AudioNotDeleted { .. }) => {
            Redirect::to("/my?done=deleted").into_response()
        }
        Err(e) => audio_problem(user.lang, &e, "/my"),
    }
}

/// "You have 2 new and 1 old messages", with French agreement.
fn summary(lang: Lang, new: u32, old: u32) -> String {
    match lang {
        Lang::En => format!("You have {new} new and {old} old messages."),
        Lang::Fr => {
            let new = match new {
                0 => "aucun nouveau message".to_owned(),
                1 => "1 nouveau message".to_owned(),
                n => format!("{n} nouveaux messages"),
            };
            let old = match old {
                0 => "aucun ancien".to_owned(),
                1 => "1 ancien".to_owned(),
                n => format!("{n} anciens"),
            };
            format!("Vous avez {new} et {old}.")
        }
    }
}

// ---- PIN ------------------------------------------------------------------------

async fn pin_page(State(web): State<Web>, user: OwnerUser, Query(done): Query<Done>) -> Response {
    let notice = owner_done(user.lang, done.done.as_deref());
    pin_response(&web, &user, notice, StatusCode::OK)
}

fn pin_response(
    web: &Web,
    user: &OwnerUser,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let policy = web.admin.pin_policy();
    let mut rules = match lang {
        Lang::En => vec![format!(
            "{} to {} digits.",
            policy.min_length, policy.max_length
        )],
        Lang::Fr => vec![format!(
            "De {} à {} chiffres.",
            policy.min_length, policy.max_length
        )],
    };
    if policy.forbid_repeated_digit {
        rules.push(
            lang.pick(
                "Not one digit repeated (111111).",
                "Pas un seul chiffre répété (111111).",
            )
            .into(),
        );
    }
    if policy.forbid_sequences {
        rules.push(
            lang.pick(
                "Not a run of digits (123456, 987654).",
                "Pas une suite de chiffres (123456, 987654).",
            )
            .into(),
        );
    }
    if policy.forbid_mailbox_number {
        rules.push(
            lang.pick(
                "Not your extension, forwards or backwards.",
                "Pas votre numéro de poste, à l'endroit ou à l'envers.",
            )
            .into(),
        );
    }
    if policy.forbid_default_pin {
        rules.push(
            lang.pick(
                "Not the organisation's default PIN.",
                "Pas le code par défaut de l'organisation.",
            )
            .into(),
        );
    }
    if policy.history > 0 {
        rules.push(match lang {
            Lang::En => format!("Not one of your last {} PINs.", policy.history),
            Lang::Fr => format!("Pas l'un de vos {} derniers codes.", policy.history),
        });
    }
    let mut list = String::from("<ul>");
    for rule in &rules {
        let _ = write!(list, "<li>{}</li>", esc(rule));
    }
    list.push_str("</ul>");
    let body = format!(
        "<div class=\"grid\"><section class=\"card\"><form method=\"post\" action=\"/my/pin\" class=\"stack\">{}{}{}\
         <button>{}</button></form></section><section class=\"card\"><h2>{}</h2>{list}<p class=\"hint\">{}</p></section></div>",
        csrf_field(&user.csrf),
        field(
            lang.pick("New PIN", "Nouveau code"),
            "pin",
            "password",
            "",
            "inputmode=\"numeric\" autocomplete=\"new-password\" required"
        ),
        field(
            lang.pick("New PIN again", "Nouveau code, à nouveau"),
            "confirm",
            "password",
            "",
            "inputmode=\"numeric\" autocomplete=\"new-password\" required"
        ),
        esc(lang.pick("Set my new PIN", "Enregistrer mon nouveau code")),
        esc(lang.pick("A good PIN", "Un bon code")),
        esc(lang.pick(
            "Setting a PIN here also unlocks your mailbox if too many wrong PINs locked it.",
            "Définir un code ici déverrouille aussi votre boîte si trop de codes erronés l'ont \
             verrouillée."
        )),
    );
    Page {
        lang,
        title: lang
            .pick("Set a new PIN", "Choisir un nouveau code")
            .to_owned(),
        frame: frame(user, OwnerSection::Pin),
        path: "/my/pin",
        notice,
        body,
    }
    .render(status)
}

#[derive(Deserialize)]
struct PinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    confirm: String,
}

async fn set_pin(State(web): State<Web>, user: OwnerUser, Form(form): Form<PinForm>) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let lang = user.lang;
    let problem = |text: String| {
        pin_response(
            &web,
            &user,
            Some(Notice::Problem(text)),
            StatusCode::BAD_REQUEST,
        )
    };
    let pin = match Pin::parse(&form.pin) {
        Ok(pin) => pin,
        Err(rejection) => return problem(i18n::pin_rejection(lang, &rejection)),
    };
    if Pin::parse(&form.confirm).ok().as_ref() != Some(&pin) {
        return problem(
            lang.pick(
                "The two PINs differ. Nothing was changed.",
                "Les deux codes diffèrent. Rien n'a été modifié.",
            )
            .to_owned(),
        );
    }
    match web
        .admin
        .owner_set_pin(&user.actor(), &web.access, user.mailbox.as_str(), &pin)
        .await
    {
        Ok(Ok(())) => Redirect::to("/my/pin?done=pin").into_response(),
        Ok(Err(rejection)) => problem(i18n::pin_rejection(lang, &rejection)),
        Err(e) => {
            warn!(error = %e, "cannot set an owner's PIN");
            errors::unavailable(lang)
        }
    }
}

// ---- settings and greetings ------------------------------------------------------

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    timezone: String,
}

async fn settings_page(
    State(web): State<Web>,
    user: OwnerUser,
    Query(done): Query<Done>,
) -> Response {
    let notice = owner_done(user.lang, done.done.as_deref());
    settings_response(&web, &user, None, notice, StatusCode::OK).await
}

async fn settings_response(
    web: &Web,
    user: &OwnerUser,
    typed: Option<&SettingsForm>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let record = match web.admin.status(user.mailbox.as_str()).await {
        Ok(status) => status.record,
        Err(e) => {
            warn!(error = %e, "cannot read an owner's mailbox");
            return errors::unavailable(lang);
        }
    };
    let current = SettingsForm {
        email: record.email.clone().unwrap_or_default(),
        language: record.language.clone(),
        timezone: record.timezone.clone(),
        ..SettingsForm::default()
    };
    let values = typed.unwrap_or(&current);
    let mut language = format!(
        "<label>{}<select name=\"language\">",
        esc(lang.pick("Language of your voicemail", "Langue de votre messagerie"))
    );
    for (code, label) in [("en", "English"), ("fr", "Français")] {
        let selected = if values.language == code {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            language,
            "<option value=\"{code}\"{selected}>{label}</option>"
        );
    }
    language.push_str("</select></label>");
    let greetings = match web
        .admin
        .greetings(&web.asterisk, user.mailbox.as_str())
        .await
    {
        Ok(present) => greeting_list(lang, "/my", &present, Some(&user.csrf)),
        Err(e) => {
            warn!(error = %e, "cannot list an owner's greetings");
            format!(
                "<p class=\"empty\">{}</p>",
                esc(lang.pick(
                    "Your greetings cannot be listed right now.",
                    "Vos annonces ne peuvent pas être listées pour le moment."
                ))
            )
        }
    };
    let body = format!(
        "<div class=\"grid\"><section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/my/settings\" class=\"stack\">{}{}{language}{}\
         <button>{}</button></form></section><section class=\"card\"><h2>{}</h2>{greetings}</section></div>",
        esc(lang.pick("Settings", "Réglages")),
        csrf_field(&user.csrf),
        field(
            lang.pick(
                "E-mail for new-message notices (empty: none)",
                "E-mail pour les avis de nouveau message (vide : aucun)"
            ),
            "email",
            "email",
            &values.email,
            "autocomplete=\"email\""
        ),
        field(
            lang.pick("Time zone of message dates", "Fuseau horaire des dates"),
            "timezone",
            "text",
            &values.timezone,
            "placeholder=\"Europe/Paris\""
        ),
        esc(lang.pick("Save", "Enregistrer")),
        esc(lang.pick("Greetings", "Annonces")),
    );
    Page {
        lang,
        title: lang
            .pick("Settings and greetings", "Réglages et annonces")
            .to_owned(),
        frame: frame(user, OwnerSection::Settings),
        path: "/my/settings",
        notice,
        body,
    }
    .render(status)
}

async fn save_settings(
    State(web): State<Web>,
    user: OwnerUser,
    Form(form): Form<SettingsForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let fields = MailboxFields {
        display_name: None,
        email: Some(form.email.clone()),
        language: Some(form.language.clone()),
        timezone: Some(form.timezone.clone()),
    };
    match web
        .admin
        .update_mailbox(&user.actor(), user.mailbox.as_str(), &fields)
        .await
    {
        Ok(_) => Redirect::to("/my/settings?done=settings").into_response(),
        Err(AdminError::Store(e)) => {
            warn!(error = %e, "cannot save an owner's settings");
            errors::unavailable(user.lang)
        }
        Err(e) => {
            let notice = Notice::Problem(i18n::admin_error(user.lang, &e));
            settings_response(
                &web,
                &user,
                Some(&form),
                Some(notice),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

async fn greeting_audio(
    State(web): State<Web>,
    user: OwnerUser,
    Path(which): Path<String>,
    Query(query): Query<AudioQuery>,
) -> Response {
    let Some(greeting) = Greeting::from_file(&which) else {
        return errors::not_found_in(user.lang, "/my/settings");
    };
    match web
        .admin
        .greeting_audio(&web.asterisk, user.mailbox.as_str(), greeting)
        .await
    {
        Ok(audio) => audio_response(
            audio,
            &format!("{}-{}.wav", user.mailbox, greeting.file()),
            query.download.is_some(),
        ),
        Err(e) => audio_problem(user.lang, &e, "/my/settings"),
    }
}

async fn delete_temporary_greeting(
    State(web): State<Web>,
    user: OwnerUser,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web
        .admin
        .delete_temporary_greeting(&user.actor(), &web.asterisk, user.mailbox.as_str())
        .await
    {
        Ok(()) => Redirect::to("/my/settings?done=greeting-deleted").into_response(),
        Err(e) => audio_problem(user.lang, &e, "/my/settings"),
    }
}
