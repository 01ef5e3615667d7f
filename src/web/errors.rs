//! Pages for what went wrong: not found, a form that cannot be trusted, a
//! service that is away. Each says what happened and what to do, in the
//! visitor's language, and never repeats a secret.

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::{Frame, Page};
use super::i18n::Lang;

/// A page with a title, one paragraph and a way back.
pub fn problem(lang: Lang, status: StatusCode, title: &str, text: &str, back: &str) -> Response {
    let body = format!(
        "<section class=\"card\"><p>{}</p><p><a href=\"{}\">{}</a></p></section>",
        super::html::esc(text),
        super::html::esc(back),
        super::html::esc(lang.pick("Go back", "Revenir"))
    );
    Page {
        lang,
        title: title.to_owned(),
        frame: Frame::Bare,
        path: "/",
        notice: None,
        body,
    }
    .render(status)
}

pub async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    let lang = Lang::of(&headers);
    let back = if uri.path().starts_with("/admin") {
        "/admin"
    } else {
        "/my"
    };
    problem(
        lang,
        StatusCode::NOT_FOUND,
        lang.pick("Page not found", "Page introuvable"),
        lang.pick(
            "There is nothing at this address.",
            "Il n'y a rien à cette adresse.",
        ),
        back,
    )
}

/// A form whose CSRF token is missing or wrong: refused, nothing changed.
pub fn forbidden_form(lang: Lang) -> Response {
    problem(
        lang,
        StatusCode::FORBIDDEN,
        lang.pick("Form refused", "Formulaire refusé"),
        lang.pick(
            "This form could not be verified (it may come from another site, or have \
             expired). Nothing was changed. Go back, reload the page and try again.",
            "Ce formulaire n'a pas pu être vérifié (il vient peut-être d'un autre site, ou a \
             expiré). Rien n'a été modifié. Revenez en arrière, rechargez la page et \
             recommencez.",
        ),
        "/",
    )
}

/// Redis (or something else we need) does not answer.
pub fn unavailable(lang: Lang) -> Response {
    problem(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        lang.pick("Service unavailable", "Service indisponible"),
        lang.pick(
            "The service cannot reach its database right now. Nothing was changed. \
             Please try again in a moment.",
            "Le service ne joint pas sa base de données pour le moment. Rien n'a été \
             modifié. Veuillez réessayer dans un instant.",
        ),
        "/",
    )
}

/// Too many attempts: when to come back, in whole minutes.
pub fn throttled(lang: Lang, retry_after: std::time::Duration, back: &str) -> Response {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    let text = match lang {
        Lang::En => format!(
            "Too many attempts. For your security, please wait {minutes} minute(s) and try \
             again."
        ),
        Lang::Fr => format!(
            "Trop de tentatives. Pour votre sécurité, veuillez attendre {minutes} minute(s) \
             puis réessayer."
        ),
    };
    problem(
        lang,
        StatusCode::TOO_MANY_REQUESTS,
        lang.pick("Please wait", "Veuillez patienter"),
        &text,
        back,
    )
}

/// Not found, inside a portal: back to `back`.
pub fn not_found_in(lang: Lang, back: &str) -> Response {
    problem(
        lang,
        StatusCode::NOT_FOUND,
        lang.pick("Not found", "Introuvable"),
        lang.pick(
            "There is nothing at this address.",
            "Il n'y a rien à cette adresse.",
        ),
        back,
    )
}
