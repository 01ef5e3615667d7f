//! The administrator portal, `/admin`: sign-in, the extensions list, one
//! mailbox, the voice portal's settings, the audit log.
//!
//! Every change is a POST form with the session's CSRF token, answered with a
//! redirect to the page it came from and a notice (`?done=<what>`), or, when
//! refused, the same page again with the reason and what was typed (never a PIN).

use std::fmt::Write;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tracing::warn;

use super::cookies;
use super::errors;
use super::html::{
    AdminSection, Frame, Notice, Page, button_form, csrf_field, esc, field, table, url_part,
};
use super::i18n::{self, Lang};
use super::session::{AdminUser, FormBinding, signed_in};
use super::{Web, owner_pages};
use crate::access::accounts::AdminSignIn;
use crate::admin::messages::{MessageAdminError, MessageListing};
use crate::admin::{AdminError, AudioRemoval, Greeting, MailboxFields, MailboxStatus};
use crate::domain::Pin;
use crate::metrics::{METRICS, SigninOutcome, WebPortal};
use crate::store::lockout::LockStatus;
use crate::store::mailboxes::PinOrigin;
use crate::store::sessions::SessionSubject;

pub fn router() -> Router<Web> {
    Router::new()
        .route("/", get(extensions))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/mailboxes", post(create))
        .route("/mailboxes/{number}", get(mailbox).post(update))
        .route("/mailboxes/{number}/temporary-pin", post(temporary_pin))
        .route("/mailboxes/{number}/reset-pin", post(reset_pin))
        .route("/mailboxes/{number}/unlock", post(unlock))
        .route("/mailboxes/{number}/delete", post(delete))
        .route(
            "/mailboxes/{number}/messages/{id}/audio",
            get(message_audio),
        )
        .route(
            "/mailboxes/{number}/messages/{id}/delete",
            post(delete_message),
        )
        .route(
            "/mailboxes/{number}/greetings/{which}/audio",
            get(greeting_audio),
        )
        .route("/portal", get(portal))
        .route("/portal/passcode", post(set_passcode))
        .route("/portal/default-pin", post(set_default_pin))
        .route("/portal/default-pin/clear", post(clear_default_pin))
        .route("/portal/greetings/{greeting}/audio", get(attendant_audio))
        .route("/audit", get(audit))
}

// ---- sign-in -------------------------------------------------------------------

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

fn sign_in_form(lang: Lang, csrf: &str, name: &str) -> String {
    format!(
        "<section class=\"card\"><form method=\"post\" action=\"/admin/sign-in\" class=\"stack\">{}{}{}\
         <button>{}</button></form><p class=\"hint\">{}</p></section>",
        csrf_field(csrf),
        field(
            lang.pick("Name", "Nom"),
            "name",
            "text",
            name,
            "autocomplete=\"username\" required autofocus"
        ),
        field(
            lang.pick("Password", "Mot de passe"),
            "password",
            "password",
            "",
            "autocomplete=\"current-password\" required"
        ),
        esc(lang.pick("Sign in", "Se connecter")),
        esc(lang.pick(
            "Administrator accounts are created with “voiceportal admin account create”.",
            "Les comptes d'administration se créent avec « voiceportal admin account create »."
        )),
    )
}

fn sign_in_response(
    lang: Lang,
    csrf: &str,
    name: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    Page {
        lang,
        title: lang
            .pick("Administrator sign-in", "Connexion administrateur")
            .to_owned(),
        frame: Frame::Admin {
            user: None,
            csrf,
            section: AdminSection::SignIn,
        },
        path: "/admin/sign-in",
        notice,
        body: sign_in_form(lang, csrf, name),
    }
    .render(status)
}

async fn sign_in_page(
    State(web): State<Web>,
    binding: FormBinding,
    query: Query<Done>,
) -> Response {
    let lang = binding.lang;
    let notice = done_notice(lang, query.done.as_deref());
    binding.with_cookie(sign_in_response(
        lang,
        &binding.csrf(&web),
        "",
        notice,
        StatusCode::OK,
    ))
}

async fn sign_in(
    State(web): State<Web>,
    binding: FormBinding,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = binding.lang;
    if let Err(refused) = binding.check(&web, &form.csrf) {
        return refused.into_response();
    }
    let outcome = match web
        .access
        .admin_sign_in(&form.name, &form.password, binding.client)
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => {
            warn!(error = %e, "administrator sign-in failed");
            return errors::unavailable(lang);
        }
    };
    let csrf = binding.csrf(&web);
    let typed = form.name.trim();
    let attempt_actor = format!("{} [{}]", typed, binding.client);
    let (problem, status, outcome_label) = match outcome {
        AdminSignIn::Granted(account) => {
            METRICS.web_signin(WebPortal::Admin, SigninOutcome::Success);
            let subject = SessionSubject::Admin {
                name: account.name.clone(),
                generation: account.generation,
            };
            let lifetime = web.config.web.session_lifetime;
            let session = match web.access.start_session(subject, lifetime).await {
                Ok(session) => session,
                Err(e) => {
                    warn!(error = %e, "cannot start an administrator session");
                    return errors::unavailable(lang);
                }
            };
            let actor = format!("{} [{}]", account.name, binding.client);
            audit_event(&web, &actor, "web-signin", "admin", "").await;
            let cookie = cookies::secret(
                cookies::ADMIN_SESSION,
                session.expose(),
                "/admin",
                web.https(),
            );
            return signed_in(cookie, "/admin");
        }
        AdminSignIn::Denied => (
            lang.pick("Wrong name or password.", "Nom ou mot de passe incorrect."),
            StatusCode::UNAUTHORIZED,
            "denied",
        ),
        AdminSignIn::Locked => (
            lang.pick(
                "This account is locked after too many failed sign-ins. Another administrator \
                 can unlock it with “voiceportal admin account unlock”.",
                "Ce compte est verrouillé après trop d'échecs de connexion. Un autre \
                 administrateur peut le déverrouiller avec « voiceportal admin account unlock ».",
            ),
            StatusCode::FORBIDDEN,
            "locked",
        ),
        AdminSignIn::Throttled { retry_after } => {
            METRICS.web_signin(WebPortal::Admin, SigninOutcome::Throttled);
            return errors::throttled(lang, retry_after, "/admin/sign-in");
        }
    };
    METRICS.web_signin(
        WebPortal::Admin,
        if outcome_label == "locked" {
            SigninOutcome::Locked
        } else {
            SigninOutcome::Failure
        },
    );
    audit_event(
        &web,
        &attempt_actor,
        "web-signin-failed",
        "admin",
        &format!("outcome={outcome_label}"),
    )
    .await;
    sign_in_response(
        lang,
        &csrf,
        typed,
        Some(Notice::Problem(problem.to_owned())),
        status,
    )
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(web): State<Web>, user: AdminUser, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    if let Err(e) = web.access.end_session(&user.session).await {
        warn!(error = %e, "cannot end an administrator session");
    }
    audit_event(&web, &user.actor(), "web-signout", "admin", "").await;
    let cookie = cookies::cleared(cookies::ADMIN_SESSION, "/admin", web.https());
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/admin/sign-in?done=signed-out"),
    )
        .into_response()
}

/// Audits an event of the web portal itself; a failure is logged, not shown.
async fn audit_event(web: &Web, actor: &str, action: &str, target: &str, detail: &str) {
    if let Err(e) = web.admin.audit(actor, action, target, detail).await {
        warn!(error = %e, action, "cannot write an audit entry");
    }
}

// ---- notices -----------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// The notice of `?done=<what>` after a successful change.
fn done_notice(lang: Lang, done: Option<&str>) -> Option<Notice> {
    let text = match done? {
        "created" => lang.pick("Mailbox created.", "Boîte vocale créée."),
        "updated" => lang.pick("Changes saved.", "Modifications enregistrées."),
        "temp-pin" => lang.pick(
            "Temporary PIN set. Give it to the owner: it must be changed at the next login.",
            "Code temporaire défini. Communiquez-le au titulaire : il devra le changer à la \
             prochaine connexion.",
        ),
        "reset-pin" => lang.pick(
            "PIN reset to the org default PIN and mailbox unlocked. The owner must change it \
             at the next login.",
            "Code réinitialisé au code par défaut et boîte déverrouillée. Le titulaire devra \
             le changer à la prochaine connexion.",
        ),
        "unlocked" => lang.pick(
            "Mailbox unlocked; failed attempts cleared.",
            "Boîte déverrouillée ; échecs effacés.",
        ),
        "deleted" => lang.pick("Mailbox deleted.", "Boîte vocale supprimée."),
        "message-deleted" => lang.pick("Message deleted.", "Message supprimé."),
        "passcode" => lang.pick(
            "Portal passcode set and unlocked.",
            "Code d'administration du portail défini et déverrouillé.",
        ),
        "default-pin" => lang.pick(
            "Org default PIN set: mailboxes created from now on start with it.",
            "Code par défaut défini : les boîtes créées désormais commencent avec lui.",
        ),
        "default-pin-cleared" => lang.pick(
            "Org default PIN cleared: new mailboxes start without a PIN.",
            "Code par défaut supprimé : les nouvelles boîtes commencent sans code.",
        ),
        "signed-out" => lang.pick("You are signed out.", "Vous êtes déconnecté."),
        _ => return None,
    };
    Some(Notice::Done(text.to_owned()))
}

/// What a refused admin operation gives: its status and its text.
fn refusal(lang: Lang, error: &AdminError) -> (StatusCode, Notice) {
    let status = match error {
        AdminError::UnknownMailbox(_) => StatusCode::NOT_FOUND,
        AdminError::MailboxExists(_) | AdminError::NoDefaultPin => StatusCode::CONFLICT,
        AdminError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        AdminError::AuditFailed(_) | AdminError::Hash(_) | AdminError::Task(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    if status.is_server_error() {
        warn!(error = %error, "admin operation failed");
    }
    (status, Notice::Problem(i18n::admin_error(lang, error)))
}

// ---- shared pieces ------------------------------------------------------------

fn frame<'a>(user: &'a AdminUser, section: AdminSection) -> Frame<'a> {
    Frame::Admin {
        user: Some(user.name.as_str()),
        csrf: &user.csrf,
        section,
    }
}

pub fn pin_origin_text(lang: Lang, origin: PinOrigin) -> &'static str {
    match origin {
        PinOrigin::None => lang.pick("none yet", "aucun"),
        PinOrigin::Default => lang.pick("org default", "par défaut"),
        PinOrigin::Temporary => lang.pick("temporary", "temporaire"),
        PinOrigin::User => lang.pick("chosen by the owner", "choisi par le titulaire"),
    }
}

fn yes_no(lang: Lang, value: bool) -> &'static str {
    if value {
        lang.pick("yes", "oui")
    } else {
        lang.pick("no", "non")
    }
}

fn lock_badge(lang: Lang, lock: &LockStatus, max: u32) -> String {
    if lock.locked {
        format!(
            "<span class=\"badge locked\">{}</span>",
            esc(lang.pick("locked", "verrouillée"))
        )
    } else if lock.strikes > 0 {
        format!("<span class=\"badge warn\">{} / {max}</span>", lock.strikes)
    } else {
        format!("0 / {max}")
    }
}

fn language_select(lang: Lang, current: &str) -> String {
    let mut html = format!(
        "<label>{}<select name=\"language\">",
        esc(lang.pick("Language", "Langue"))
    );
    for (code, label) in [("en", "English"), ("fr", "Français")] {
        let selected = if current == code { " selected" } else { "" };
        let _ = write!(html, "<option value=\"{code}\"{selected}>{label}</option>");
    }
    html.push_str("</select></label>");
    html
}

/// The typed values of the mailbox fields, kept when a form is refused.
#[derive(Deserialize, Default, Clone)]
struct FieldsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    timezone: String,
}

impl FieldsForm {
    fn fields(&self) -> MailboxFields {
        MailboxFields {
            display_name: Some(self.name.clone()),
            email: Some(self.email.clone()),
            language: Some(self.language.clone()),
            timezone: Some(self.timezone.clone()),
        }
    }
}

fn fields_inputs(lang: Lang, values: &FieldsForm) -> String {
    format!(
        "{}{}{}{}",
        field(
            lang.pick("Name", "Nom"),
            "name",
            "text",
            &values.name,
            "maxlength=\"100\""
        ),
        field(
            lang.pick("E-mail for notifications", "E-mail pour les avis"),
            "email",
            "email",
            &values.email,
            ""
        ),
        language_select(lang, &values.language),
        field(
            lang.pick("Time zone", "Fuseau horaire"),
            "timezone",
            "text",
            &values.timezone,
            "placeholder=\"Europe/Paris\""
        ),
    )
}

// ---- extensions ---------------------------------------------------------------

#[derive(Deserialize, Default)]
struct ExtensionsQuery {
    q: Option<String>,
    done: Option<String>,
}

async fn extensions(
    State(web): State<Web>,
    user: AdminUser,
    Query(query): Query<ExtensionsQuery>,
) -> Response {
    let notice = done_notice(user.lang, query.done.as_deref());
    let search = query.q.unwrap_or_default();
    let defaults = FieldsForm {
        language: web.config.portal.default_language.code().to_owned(),
        timezone: "UTC".to_owned(),
        ..FieldsForm::default()
    };
    extensions_page(&web, &user, &search, &defaults, notice, StatusCode::OK).await
}

async fn extensions_page(
    web: &Web,
    user: &AdminUser,
    search: &str,
    new: &FieldsForm,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let rows = match web.admin.mailbox_overview().await {
        Ok(rows) => rows,
        Err(e) => {
            warn!(error = %e, "cannot list mailboxes");
            return errors::unavailable(lang);
        }
    };
    let needle = search.trim().to_lowercase();
    let shown: Vec<_> = rows
        .iter()
        .filter(|row| {
            let r = &row.status.record;
            needle.is_empty()
                || r.id.as_str().contains(&needle)
                || r.display_name.to_lowercase().contains(&needle)
                || r.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&needle))
        })
        .collect();
    let mut body = format!(
        "<section class=\"card\"><form method=\"get\" action=\"/admin\" class=\"row\" role=\"search\">\
         {}<button class=\"secondary\">{}</button></form></section>",
        field(
            lang.pick(
                "Search by number, name or e-mail",
                "Chercher par numéro, nom ou e-mail"
            ),
            "q",
            "search",
            search,
            ""
        ),
        esc(lang.pick("Search", "Chercher"))
    );
    let headers = [
        lang.pick("Number", "Numéro"),
        lang.pick("Name", "Nom"),
        lang.pick("Language", "Langue"),
        lang.pick("PIN", "Code"),
        lang.pick("Must change", "À changer"),
        lang.pick("Failed / locked", "Échecs / verrou"),
        lang.pick("New / old", "Nouveaux / anciens"),
    ];
    let table_rows: Vec<Vec<String>> = shown
        .iter()
        .map(|row| {
            let r = &row.status.record;
            vec![
                format!(
                    "<a href=\"/admin/mailboxes/{}\">{}</a>",
                    url_part(r.id.as_str()),
                    esc(r.id.as_str())
                ),
                esc(&r.display_name),
                esc(&r.language),
                esc(pin_origin_text(lang, r.pin_origin)),
                esc(yes_no(lang, r.must_change)),
                lock_badge(lang, &row.status.lock, row.status.max_failed_attempts),
                format!("{} / {}", row.counts.new, row.counts.old),
            ]
        })
        .collect();
    if table_rows.is_empty() {
        let empty = if rows.is_empty() {
            lang.pick("No mailboxes yet.", "Aucune boîte vocale pour l'instant.")
        } else {
            lang.pick("No mailbox matches.", "Aucune boîte ne correspond.")
        };
        let _ = write!(body, "<p class=\"empty\">{}</p>", esc(empty));
    } else {
        body.push_str(&table(&headers, &table_rows, "extensions"));
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2>\
         <form method=\"post\" action=\"/admin/mailboxes\" class=\"stack\">{}{}{}<button>{}</button></form>\
         <p class=\"hint\">{}</p></section>",
        esc(lang.pick("Create a mailbox", "Créer une boîte vocale")),
        csrf_field(&user.csrf),
        field(
            lang.pick("Number", "Numéro"),
            "number",
            "text",
            &new.number,
            "inputmode=\"numeric\" pattern=\"[0-9]{1,20}\" required"
        ),
        fields_inputs(lang, new),
        esc(lang.pick("Create", "Créer")),
        esc(lang.pick(
            "A new mailbox starts with the org default PIN if one is set (to be changed at \
             the first login), otherwise without a PIN.",
            "Une nouvelle boîte commence avec le code par défaut s'il est défini (à changer \
             à la première connexion), sinon sans code."
        )),
    );
    Page {
        lang,
        title: lang.pick("Extensions", "Extensions").to_owned(),
        frame: frame(user, AdminSection::Extensions),
        path: "/admin",
        notice,
        body,
    }
    .render(status)
}

async fn create(State(web): State<Web>, user: AdminUser, Form(form): Form<FieldsForm>) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web
        .admin
        .create_mailbox(&user.actor(), &form.number, &form.fields())
        .await
    {
        Ok(record) => Redirect::to(&format!(
            "/admin/mailboxes/{}?done=created",
            url_part(record.id.as_str())
        ))
        .into_response(),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            extensions_page(&web, &user, "", &form, Some(notice), status).await
        }
    }
}

// ---- one mailbox --------------------------------------------------------------

async fn mailbox(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let notice = done_notice(user.lang, done.done.as_deref());
    mailbox_page(&web, &user, &number, None, notice, StatusCode::OK).await
}

async fn mailbox_page(
    web: &Web,
    user: &AdminUser,
    number: &str,
    edited: Option<&FieldsForm>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let mailbox = match web.admin.status(number).await {
        Ok(mailbox) => mailbox,
        Err(AdminError::UnknownMailbox(_) | AdminError::BadNumber(_)) => {
            return errors::problem(
                lang,
                StatusCode::NOT_FOUND,
                lang.pick("No such mailbox", "Boîte introuvable"),
                lang.pick(
                    "There is no mailbox with this number.",
                    "Il n'y a pas de boîte vocale à ce numéro.",
                ),
                "/admin",
            );
        }
        Err(e) => {
            warn!(error = %e, "cannot read a mailbox");
            return errors::unavailable(lang);
        }
    };
    let r = &mailbox.record;
    let base = format!("/admin/mailboxes/{}", url_part(r.id.as_str()));
    let listing = web.admin.list_messages(r.id.as_str()).await;
    let mut body = String::from("<div class=\"grid\">");
    body.push_str(&facts_card(lang, &mailbox, listing.as_ref().ok()));
    let current = FieldsForm {
        name: r.display_name.clone(),
        email: r.email.clone().unwrap_or_default(),
        language: r.language.clone(),
        timezone: r.timezone.clone(),
        ..FieldsForm::default()
    };
    let values = edited.unwrap_or(&current);
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"{base}\" class=\"stack\">\
         {}{}<button>{}</button></form></section>",
        esc(lang.pick("Edit", "Modifier")),
        csrf_field(&user.csrf),
        fields_inputs(lang, values),
        esc(lang.pick("Save", "Enregistrer")),
    );
    body.push_str(&pin_card(lang, user, &base, &mailbox));
    body.push_str("</div>");
    body.push_str(&messages_card(lang, user, &base, listing));
    body.push_str(&greetings_card(web, lang, &base, r.id.as_str()).await);
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"{base}/delete\" class=\"stack\">{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required>{}</label>\
         <div><button class=\"danger\">{}</button></div></form></section>",
        esc(lang.pick("Delete the mailbox", "Supprimer la boîte vocale")),
        csrf_field(&user.csrf),
        esc(lang.pick(
            "I understand that its messages, greetings and name are deleted for good.",
            "Je comprends que ses messages, annonces et nom sont supprimés définitivement."
        )),
        esc(lang.pick("Delete this mailbox", "Supprimer cette boîte")),
    );
    let title = if r.display_name.is_empty() {
        format!("{} {}", lang.pick("Mailbox", "Boîte"), r.id)
    } else {
        format!(
            "{} {} · {}",
            lang.pick("Mailbox", "Boîte"),
            r.id,
            r.display_name
        )
    };
    Page {
        lang,
        title,
        frame: frame(user, AdminSection::Extensions),
        path: &base,
        notice,
        body,
    }
    .render(status)
}

fn facts_card(lang: Lang, mailbox: &MailboxStatus, listing: Option<&MessageListing>) -> String {
    let r = &mailbox.record;
    let pin = if r.must_change && r.pin_origin != PinOrigin::None {
        format!(
            "{} <span class=\"badge warn\">{}</span>",
            esc(pin_origin_text(lang, r.pin_origin)),
            esc(lang.pick("must change", "à changer"))
        )
    } else {
        esc(pin_origin_text(lang, r.pin_origin))
    };
    let lock = if mailbox.lock.locked {
        format!(
            "<span class=\"badge locked\">{}</span> ({} / {})",
            esc(lang.pick("locked", "verrouillée")),
            mailbox.lock.strikes,
            mailbox.max_failed_attempts
        )
    } else {
        format!(
            "{} ({} / {})",
            esc(lang.pick("not locked", "non verrouillée")),
            mailbox.lock.strikes,
            mailbox.max_failed_attempts
        )
    };
    let counts = listing.map_or_else(
        || "-".to_owned(),
        |l| {
            let c = l.counts();
            format!(
                "{} {} / {} {}",
                c.new,
                lang.pick("new", "nouveaux"),
                c.old,
                lang.pick("old", "anciens")
            )
        },
    );
    let rows = [
        (lang.pick("Number", "Numéro"), esc(r.id.as_str())),
        (lang.pick("Name", "Nom"), esc(&r.display_name)),
        (
            lang.pick("E-mail", "E-mail"),
            esc(r.email.as_deref().unwrap_or("-")),
        ),
        (lang.pick("Language", "Langue"), esc(&r.language)),
        (lang.pick("Time zone", "Fuseau horaire"), esc(&r.timezone)),
        (lang.pick("PIN", "Code secret"), pin),
        (
            lang.pick("Name recorded", "Nom enregistré"),
            esc(yes_no(lang, r.name_recorded)),
        ),
        (lang.pick("Failed PINs", "Codes erronés"), lock),
        (lang.pick("Messages", "Messages"), esc(&counts)),
    ];
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2><dl class=\"facts\">",
        esc(lang.pick("Status", "État"))
    );
    for (label, value) in rows {
        let _ = write!(html, "<dt>{}</dt><dd>{value}</dd>", esc(label));
    }
    html.push_str("</dl></section>");
    html
}

fn pin_card(lang: Lang, user: &AdminUser, base: &str, mailbox: &MailboxStatus) -> String {
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2>",
        esc(lang.pick("Voicemail PIN", "Code de messagerie"))
    );
    let _ = write!(
        html,
        "<form method=\"post\" action=\"{base}/temporary-pin\" class=\"stack\">{}{}{}<button>{}</button></form>",
        csrf_field(&user.csrf),
        field(
            lang.pick(
                "Temporary PIN (to give to the owner)",
                "Code temporaire (à communiquer au titulaire)"
            ),
            "pin",
            "password",
            "",
            "inputmode=\"numeric\" autocomplete=\"off\" required"
        ),
        field(
            lang.pick("Temporary PIN again", "Code temporaire, à nouveau"),
            "confirm",
            "password",
            "",
            "inputmode=\"numeric\" autocomplete=\"off\" required"
        ),
        esc(lang.pick("Set temporary PIN", "Définir le code temporaire")),
    );
    let _ = write!(
        html,
        "<p class=\"hint\">{}</p><p>{}{}</p>",
        esc(lang.pick(
            "Reset: unlocks the mailbox and gives it the org default PIN, to be changed at \
             the next login. Unlock: clears failed attempts only.",
            "Réinitialiser : déverrouille la boîte et lui donne le code par défaut, à changer \
             à la prochaine connexion. Déverrouiller : efface seulement les échecs."
        )),
        button_form(
            &format!("{base}/reset-pin"),
            &user.csrf,
            lang.pick("Reset voicemail PIN", "Réinitialiser le code"),
            ""
        ),
        if mailbox.lock.locked || mailbox.lock.strikes > 0 {
            button_form(
                &format!("{base}/unlock"),
                &user.csrf,
                lang.pick("Unlock", "Déverrouiller"),
                "secondary",
            )
        } else {
            String::new()
        },
    );
    html.push_str("</section>");
    html
}

fn messages_card(
    lang: Lang,
    user: &AdminUser,
    base: &str,
    listing: Result<MessageListing, MessageAdminError>,
) -> String {
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2>",
        esc(lang.pick("Messages", "Messages"))
    );
    match listing {
        Err(e) => {
            warn!(error = %e, "cannot list messages");
            let _ = write!(
                html,
                "<p class=\"empty\">{}</p>",
                esc(lang.pick(
                    "The messages cannot be listed right now.",
                    "Les messages ne peuvent pas être listés pour le moment."
                ))
            );
        }
        Ok(listing) if listing.messages.is_empty() => {
            let _ = write!(
                html,
                "<p class=\"empty\">{}</p>",
                esc(lang.pick("No messages.", "Aucun message."))
            );
        }
        Ok(listing) => {
            let rows = owner_pages::message_rows(lang, &listing, base, &user.csrf);
            html.push_str(&table(
                &owner_pages::message_headers(lang),
                &rows,
                "messages",
            ));
        }
    }
    html.push_str("</section>");
    html
}

async fn greetings_card(web: &Web, lang: Lang, base: &str, number: &str) -> String {
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2>",
        esc(lang.pick("Greetings and name", "Annonces et nom"))
    );
    match web.admin.greetings(&web.asterisk, number).await {
        Ok(present) => html.push_str(&owner_pages::greeting_list(lang, base, &present, None)),
        Err(e) => {
            warn!(error = %e, "cannot list greetings");
            let _ = write!(
                html,
                "<p class=\"empty\">{}</p>",
                esc(lang.pick(
                    "Asterisk cannot be reached: the greetings cannot be listed right now.",
                    "Asterisk ne répond pas : les annonces ne peuvent pas être listées pour le \
                     moment."
                ))
            );
        }
    }
    html.push_str("</section>");
    html
}

async fn update(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Form(form): Form<FieldsForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web
        .admin
        .update_mailbox(&user.actor(), &number, &form.fields())
        .await
    {
        Ok(record) => done(record.id.as_str(), "updated"),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            mailbox_page(&web, &user, &number, Some(&form), Some(notice), status).await
        }
    }
}

fn done(number: &str, what: &str) -> Response {
    Redirect::to(&format!(
        "/admin/mailboxes/{}?done={what}",
        url_part(number)
    ))
    .into_response()
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

/// The PIN of a form typed twice, or the notice saying what is wrong.
fn typed_pin(lang: Lang, form: &PinForm) -> Result<Pin, Notice> {
    let pin = Pin::parse(&form.pin).map_err(|r| Notice::Problem(i18n::pin_rejection(lang, &r)))?;
    match Pin::parse(&form.confirm) {
        Ok(again) if again == pin => Ok(pin),
        _ => Err(Notice::Problem(
            lang.pick(
                "The two PINs differ. Nothing was changed.",
                "Les deux codes diffèrent. Rien n'a été modifié.",
            )
            .to_owned(),
        )),
    }
}

async fn temporary_pin(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Form(form): Form<PinForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let pin = match typed_pin(user.lang, &form) {
        Ok(pin) => pin,
        Err(notice) => {
            return mailbox_page(
                &web,
                &user,
                &number,
                None,
                Some(notice),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match web.admin.set_temp_pin(&user.actor(), &number, pin).await {
        Ok(status) => done(status.record.id.as_str(), "temp-pin"),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            mailbox_page(&web, &user, &number, None, Some(notice), status).await
        }
    }
}

async fn reset_pin(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web.admin.reset_pin(&user.actor(), &number, None).await {
        Ok(status) => done(status.record.id.as_str(), "reset-pin"),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            mailbox_page(&web, &user, &number, None, Some(notice), status).await
        }
    }
}

async fn unlock(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web.admin.unlock(&user.actor(), &number).await {
        Ok(status) => done(status.record.id.as_str(), "unlocked"),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            mailbox_page(&web, &user, &number, None, Some(notice), status).await
        }
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

async fn delete(
    State(web): State<Web>,
    user: AdminUser,
    Path(number): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let lang = user.lang;
    if form.confirm != "yes" {
        let notice = Notice::Problem(
            lang.pick(
                "Tick the box to confirm the deletion. Nothing was deleted.",
                "Cochez la case pour confirmer la suppression. Rien n'a été supprimé.",
            )
            .to_owned(),
        );
        return mailbox_page(
            &web,
            &user,
            &number,
            None,
            Some(notice),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match web
        .admin
        .delete_mailbox_and_audio(&user.actor(), &web.asterisk, &number)
        .await
    {
        Ok(removal) => {
            if let AudioRemoval::Left(e) = removal {
                warn!(mailbox = %number.trim(), error = %e, "mailbox deleted, its recordings left in Asterisk");
            }
            Redirect::to("/admin?done=deleted").into_response()
        }
        Err(e) => {
            let (status, notice) = refusal(lang, &e);
            mailbox_page(&web, &user, &number, None, Some(notice), status).await
        }
    }
}

/// Audio answers: inline for the player, or as a download.
pub fn audio_response(audio: Vec<u8>, file_name: &str, download: bool) -> Response {
    let disposition = if download {
        format!("attachment; filename=\"{file_name}\"")
    } else {
        format!("inline; filename=\"{file_name}\"")
    };
    (
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        audio,
    )
        .into_response()
}

/// The page for audio that cannot be served.
pub fn audio_problem(lang: Lang, error: &MessageAdminError, back: &str) -> Response {
    let (status, text) = match error {
        MessageAdminError::UnknownMessage { .. }
        | MessageAdminError::BadMessageId(_)
        | MessageAdminError::BadGreeting(_)
        | MessageAdminError::RecordingMissing(_)
        | MessageAdminError::AudioMissing { .. } => (
            StatusCode::NOT_FOUND,
            lang.pick(
                "This recording does not exist.",
                "Cet enregistrement n'existe pas.",
            ),
        ),
        MessageAdminError::Admin(AdminError::UnknownMailbox(_) | AdminError::BadNumber(_)) => (
            StatusCode::NOT_FOUND,
            lang.pick(
                "There is no such mailbox.",
                "Cette boîte vocale n'existe pas.",
            ),
        ),
        other => {
            warn!(error = %other, "cannot serve a recording");
            (
                StatusCode::BAD_GATEWAY,
                lang.pick(
                    "The recording cannot be fetched from Asterisk right now.",
                    "L'enregistrement ne peut pas être obtenu d'Asterisk pour le moment.",
                ),
            )
        }
    };
    errors::problem(
        lang,
        status,
        lang.pick("Recording", "Enregistrement"),
        text,
        back,
    )
}

#[derive(Deserialize, Default)]
pub struct AudioQuery {
    #[serde(default)]
    pub download: Option<String>,
}

async fn message_audio(
    State(web): State<Web>,
    user: AdminUser,
    Path((number, id)): Path<(String, String)>,
    Query(query): Query<AudioQuery>,
) -> Response {
    match web
        .admin
        .download_message(&user.actor(), &web.asterisk, &number, &id)
        .await
    {
        Ok((message, audio)) => audio_response(
            audio,
            &crate::admin::messages::default_file_name(&message),
            query.download.is_some(),
        ),
        Err(e) => audio_problem(user.lang, &e, "/admin"),
    }
}

async fn delete_message(
    State(web): State<Web>,
    user: AdminUser,
    Path((number, id)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web
        .admin
        .delete_message(&user.actor(), &web.asterisk, &number, &id)
        .await
    {
        Ok(_) | Err(MessageAdminError::AudioNotDeleted { .. }) => done(&number, "message-deleted"),
        Err(e) => audio_problem(user.lang, &e, "/admin"),
    }
}

async fn greeting_audio(
    State(web): State<Web>,
    user: AdminUser,
    Path((number, which)): Path<(String, String)>,
    Query(query): Query<AudioQuery>,
) -> Response {
    let Some(greeting) = Greeting::from_file(&which) else {
        return errors::not_found_in(user.lang, "/admin");
    };
    match web
        .admin
        .greeting_audio(&web.asterisk, &number, greeting)
        .await
    {
        Ok(audio) => audio_response(
            audio,
            &format!("{}-{}.wav", number.trim(), greeting.file()),
            query.download.is_some(),
        ),
        Err(e) => audio_problem(user.lang, &e, "/admin"),
    }
}

// ---- voice portal -------------------------------------------------------------

async fn portal(State(web): State<Web>, user: AdminUser, Query(done): Query<Done>) -> Response {
    let notice = done_notice(user.lang, done.done.as_deref());
    portal_page(&web, &user, notice, StatusCode::OK).await
}

async fn portal_page(
    web: &Web,
    user: &AdminUser,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let portal = match web.admin.portal_status().await {
        Ok(portal) => portal,
        Err(e) => {
            warn!(error = %e, "cannot read the portal status");
            return errors::unavailable(lang);
        }
    };
    let set = |is_set: bool| {
        if is_set {
            lang.pick("set", "défini")
        } else {
            lang.pick("not set", "non défini")
        }
    };
    let mut body = String::from("<div class=\"grid\">");
    let passcode_lock = if portal.lock.locked {
        format!(
            "<span class=\"badge locked\">{}</span> ({} / {})",
            esc(lang.pick("locked", "verrouillé")),
            portal.lock.strikes,
            portal.max_failed_attempts
        )
    } else {
        format!("{} / {}", portal.lock.strikes, portal.max_failed_attempts)
    };
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><dl class=\"facts\">\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>\
         <p class=\"hint\">{}</p></section>",
        esc(lang.pick("Voice portal", "Portail vocal")),
        esc(lang.pick("Portal number", "Numéro du portail")),
        esc(portal.number.as_str()),
        esc(lang.pick("Portal passcode", "Code d'administration")),
        esc(set(portal.passcode_set)),
        esc(lang.pick(
            "Passcode failed attempts",
            "Échecs du code d'administration"
        )),
        passcode_lock,
        esc(lang.pick("Org default PIN", "Code par défaut")),
        esc(set(portal.default_pin_set)),
        esc(lang.pick(
            "Dial the portal, enter the portal's own number as the mailbox, then the portal \
             passcode, to record the auto-attendant greetings.",
            "Appelez le portail, composez son propre numéro comme boîte, puis le code \
             d'administration, pour enregistrer les annonces du standard automatique."
        )),
    );
    body.push_str(&policy_card(web, lang));
    body.push_str("</div><div class=\"grid\">");
    let pin_inputs = |label: &str, again: &str| {
        format!(
            "{}{}",
            field(
                label,
                "pin",
                "password",
                "",
                "inputmode=\"numeric\" autocomplete=\"off\" required"
            ),
            field(
                again,
                "confirm",
                "password",
                "",
                "inputmode=\"numeric\" autocomplete=\"off\" required"
            )
        )
    };
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/admin/portal/passcode\" class=\"stack\">\
         {}{}<button>{}</button></form></section>",
        esc(lang.pick("Portal passcode", "Code d'administration")),
        csrf_field(&user.csrf),
        pin_inputs(
            lang.pick("New passcode", "Nouveau code"),
            lang.pick("New passcode again", "Nouveau code, à nouveau")
        ),
        esc(lang.pick("Set passcode", "Définir le code")),
    );
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/admin/portal/default-pin\" class=\"stack\">\
         {}{}<button>{}</button></form><p class=\"hint\">{}</p>{}</section>",
        esc(lang.pick("Org default PIN", "Code par défaut")),
        csrf_field(&user.csrf),
        pin_inputs(
            lang.pick("New default PIN", "Nouveau code par défaut"),
            lang.pick(
                "New default PIN again",
                "Nouveau code par défaut, à nouveau"
            )
        ),
        esc(lang.pick("Set default PIN", "Définir le code par défaut")),
        esc(lang.pick(
            "Mailboxes created from now on start with it and must change it; existing \
             mailboxes keep their PIN.",
            "Les boîtes créées désormais commencent avec lui et doivent le changer ; les \
             boîtes existantes gardent leur code."
        )),
        if portal.default_pin_set {
            button_form(
                "/admin/portal/default-pin/clear",
                &user.csrf,
                lang.pick("Clear the default PIN", "Supprimer le code par défaut"),
                "secondary",
            )
        } else {
            String::new()
        },
    );
    body.push_str("</div>");
    body.push_str(&attendant_card(web, lang).await);
    Page {
        lang,
        title: lang.pick("Voice portal", "Portail vocal").to_owned(),
        frame: frame(user, AdminSection::Portal),
        path: "/admin/portal",
        notice,
        body,
    }
    .render(status)
}

fn policy_card(web: &Web, lang: Lang) -> String {
    let policy = web.admin.pin_policy();
    let lockout = web.admin.lockout_policy();
    let lock_for = match lockout.lockout_duration {
        None => lang
            .pick(
                "until an administrator unlocks it",
                "jusqu'au déverrouillage par un administrateur",
            )
            .to_owned(),
        Some(d) => humantime_serde::re::humantime::format_duration(d).to_string(),
    };
    let rows = [
        (
            lang.pick("PIN length", "Longueur du code"),
            format!("{} – {}", policy.min_length, policy.max_length),
        ),
        (
            lang.pick("One repeated digit refused", "Chiffre répété refusé"),
            yes_no(lang, policy.forbid_repeated_digit).to_owned(),
        ),
        (
            lang.pick("Runs (123456) refused", "Suites (123456) refusées"),
            yes_no(lang, policy.forbid_sequences).to_owned(),
        ),
        (
            lang.pick("Mailbox number refused", "Numéro de boîte refusé"),
            yes_no(lang, policy.forbid_mailbox_number).to_owned(),
        ),
        (
            lang.pick("Org default PIN refused", "Code par défaut refusé"),
            yes_no(lang, policy.forbid_default_pin).to_owned(),
        ),
        (
            lang.pick("Recent PINs refused", "Codes récents refusés"),
            policy.history.to_string(),
        ),
        (
            lang.pick(
                "Wrong PINs before the lock",
                "Codes erronés avant verrouillage",
            ),
            lockout.max_failed_attempts.to_string(),
        ),
        (lang.pick("Locked", "Verrouillage"), lock_for),
    ];
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2><dl class=\"facts\">",
        esc(lang.pick("PIN policy and lockout", "Règles des codes et verrouillage"))
    );
    for (label, value) in rows {
        let _ = write!(html, "<dt>{}</dt><dd>{}</dd>", esc(label), esc(&value));
    }
    let _ = write!(
        html,
        "</dl><p class=\"hint\">{}</p></section>",
        esc(lang.pick(
            "Set in the configuration file ([pin_policy], [lockout]).",
            "Réglés dans le fichier de configuration ([pin_policy], [lockout])."
        ))
    );
    html
}

async fn attendant_card(web: &Web, lang: Lang) -> String {
    let mut html = format!(
        "<section class=\"card\"><h2>{}</h2>",
        esc(lang.pick(
            "Auto-attendant greetings",
            "Annonces du standard automatique"
        ))
    );
    match web.admin.attendant_greetings(&web.asterisk).await {
        Ok(greetings) if greetings.is_empty() => {
            let _ = write!(
                html,
                "<p class=\"empty\">{}</p>",
                esc(lang.pick("No greeting recorded yet.", "Aucune annonce enregistrée."))
            );
        }
        Ok(greetings) => {
            let rows: Vec<Vec<String>> = greetings
                .iter()
                .map(|g| {
                    let src = format!("/admin/portal/greetings/{}/audio", url_part(g));
                    vec![
                        esc(g),
                        format!("<audio controls preload=\"none\" src=\"{src}\"></audio>"),
                        format!(
                            "<a href=\"{src}?download=1\">{}</a>",
                            esc(lang.pick("Download", "Télécharger"))
                        ),
                    ]
                })
                .collect();
            html.push_str(&table(
                &[
                    lang.pick("Greeting", "Annonce"),
                    lang.pick("Listen", "Écouter"),
                    "",
                ],
                &rows,
                "greetings",
            ));
        }
        Err(e) => {
            warn!(error = %e, "cannot list attendant greetings");
            let _ = write!(
                html,
                "<p class=\"empty\">{}</p>",
                esc(lang.pick(
                    "Asterisk cannot be reached: the greetings cannot be listed right now.",
                    "Asterisk ne répond pas : les annonces ne peuvent pas être listées pour le \
                     moment."
                ))
            );
        }
    }
    html.push_str("</section>");
    html
}

async fn set_passcode(
    State(web): State<Web>,
    user: AdminUser,
    Form(form): Form<PinForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let result = match typed_pin(user.lang, &form) {
        Ok(pin) => web
            .admin
            .set_portal_passcode(&user.actor(), pin)
            .await
            .map_err(|e| refusal(user.lang, &e)),
        Err(notice) => Err((StatusCode::BAD_REQUEST, notice)),
    };
    match result {
        Ok(()) => Redirect::to("/admin/portal?done=passcode").into_response(),
        Err((status, notice)) => portal_page(&web, &user, Some(notice), status).await,
    }
}

async fn set_default_pin(
    State(web): State<Web>,
    user: AdminUser,
    Form(form): Form<PinForm>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    let result = match typed_pin(user.lang, &form) {
        Ok(pin) => web
            .admin
            .set_default_pin(&user.actor(), Some(pin))
            .await
            .map_err(|e| refusal(user.lang, &e)),
        Err(notice) => Err((StatusCode::BAD_REQUEST, notice)),
    };
    match result {
        Ok(()) => Redirect::to("/admin/portal?done=default-pin").into_response(),
        Err((status, notice)) => portal_page(&web, &user, Some(notice), status).await,
    }
}

async fn clear_default_pin(
    State(web): State<Web>,
    user: AdminUser,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(refused) = user.check_csrf(&web, &form.csrf) {
        return refused.into_response();
    }
    match web.admin.set_default_pin(&user.actor(), None).await {
        Ok(()) => Redirect::to("/admin/portal?done=default-pin-cleared").into_response(),
        Err(e) => {
            let (status, notice) = refusal(user.lang, &e);
            portal_page(&web, &user, Some(notice), status).await
        }
    }
}

async fn attendant_audio(
    State(web): State<Web>,
    user: AdminUser,
    Path(greeting): Path<String>,
    Query(query): Query<AudioQuery>,
) -> Response {
    match web
        .admin
        .attendant_greeting_audio(&web.asterisk, &greeting)
        .await
    {
        Ok(audio) => audio_response(
            audio,
            &format!("attendant-{}.wav", greeting.trim()),
            query.download.is_some(),
        ),
        Err(e) => audio_problem(user.lang, &e, "/admin/portal"),
    }
}

// ---- audit log ----------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AuditQuery {
    count: Option<String>,
}

/// How many entries the audit page shows.
const AUDIT_PAGE: usize = 200;

async fn audit(
    State(web): State<Web>,
    user: AdminUser,
    Query(query): Query<AuditQuery>,
) -> Response {
    let lang = user.lang;
    let count = query
        .count
        .as_deref()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .unwrap_or(AUDIT_PAGE);
    let entries = match web.admin.audit_log(count).await {
        Ok(entries) => entries,
        Err(e) => {
            warn!(error = %e, "cannot read the audit log");
            return errors::unavailable(lang);
        }
    };
    let rows: Vec<Vec<String>> = entries
        .iter()
        .rev()
        .map(|e| {
            let (who, client) = split_actor(&e.actor);
            vec![
                esc(&entry_time(&e.id).map_or_else(
                    || e.id.clone(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                )),
                esc(who),
                esc(client.unwrap_or("-")),
                esc(&e.action),
                esc(&e.target),
                esc(&e.detail),
            ]
        })
        .collect();
    let body = if rows.is_empty() {
        format!(
            "<p class=\"empty\">{}</p>",
            esc(lang.pick("No entries yet.", "Aucune entrée pour l'instant."))
        )
    } else {
        format!(
            "<p class=\"hint\">{}</p>{}",
            esc(lang.pick("Newest first.", "Les plus récentes d'abord.")),
            table(
                &[
                    lang.pick("Time (UTC)", "Date (UTC)"),
                    lang.pick("Who", "Qui"),
                    lang.pick("Client address", "Adresse du client"),
                    lang.pick("Action", "Action"),
                    lang.pick("Target", "Cible"),
                    lang.pick("Detail", "Détail"),
                ],
                &rows,
                "audit",
            )
        )
    };
    Page {
        lang,
        title: lang.pick("Audit log", "Journal d'audit").to_owned(),
        frame: frame(&user, AdminSection::Audit),
        path: "/admin/audit",
        notice: None,
        body,
    }
    .render(StatusCode::OK)
}

/// Web actors are recorded as `name [address]`; the CLI's as the OS user alone.
pub fn split_actor(actor: &str) -> (&str, Option<&str>) {
    match actor.strip_suffix(']').and_then(|a| a.rsplit_once(" [")) {
        Some((who, client)) => (who, Some(client)),
        None => (actor, None),
    }
}

/// The time in an audit entry's stream id (`<ms>-<seq>`).
pub fn entry_time(id: &str) -> Option<DateTime<Utc>> {
    id.split('-')
        .next()?
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
}

/// A mailbox's time zone, UTC if its name is unknown.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_split_into_who_and_where() {
        assert_eq!(
            split_actor("alice [127.0.0.1]"),
            ("alice", Some("127.0.0.1"))
        );
        assert_eq!(split_actor("owner:1001 [::1]"), ("owner:1001", Some("::1")));
        assert_eq!(split_actor("root"), ("root", None));
        assert_eq!(
            entry_time("1700000000000-0").map(|t| t.timestamp()),
            Some(1_700_000_000)
        );
        assert_eq!(entry_time("x"), None);
    }
}
