//! English and French for the pages: the browser's language unless the visitor
//! chose one (a cookie set by the switch in every page's header).
//!
//! Every text is written at its point of use as `lang.pick("English",
//! "Français")`: a page cannot show a text that has only one language, and the
//! two read side by side in the source.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::cookies;
use crate::admin::AdminError;
use crate::domain::{PasswordRejection, PinRejection};

/// The cookie remembering a visitor's choice.
pub const LANG_COOKIE: &str = "vp_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn pick(self, en: &'static str, fr: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }

    pub fn code(self) -> &'static str {
        self.pick("en", "fr")
    }

    fn parse(code: &str) -> Option<Lang> {
        match code.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The cookie if set, else the first supported language of
    /// `Accept-Language` (weights are in preference order in practice), else
    /// English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = cookies::get(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)) {
            return lang;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or_default()))
            .next()
            .unwrap_or(Lang::En)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::of(&parts.headers))
    }
}

#[derive(Deserialize)]
pub struct Switch {
    to: String,
    #[serde(default)]
    back: String,
}

/// `GET /lang?to=fr&back=/admin`: remembers the choice, back to the page.
pub async fn switch(Query(switch): Query<Switch>) -> Response {
    let back = safe_back(&switch.back);
    match Lang::parse(&switch.to) {
        Some(lang) => {
            let cookie = cookies::lasting(LANG_COOKIE, lang.code());
            ([(header::SET_COOKIE, cookie)], Redirect::to(back)).into_response()
        }
        None => Redirect::to(back).into_response(),
    }
}

/// Only a path of this site: never `//elsewhere` or `https://elsewhere`.
pub fn safe_back(back: &str) -> &str {
    let local = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && !back.chars().any(char::is_control);
    if local { back } else { "/" }
}

/// Why a PIN was refused, as a person reads it.
pub fn pin_rejection(lang: Lang, rejection: &PinRejection) -> String {
    match (lang, rejection) {
        (Lang::En, r) => format!("{}.", capitalised(&r.to_string())),
        (Lang::Fr, PinRejection::NotDigits) => {
            "Un code secret n'a que des chiffres de 0 à 9 et ne peut pas être vide.".into()
        }
        (Lang::Fr, PinRejection::TooShort { min }) => {
            format!("Ce code est trop court : il faut au moins {min} chiffres.")
        }
        (Lang::Fr, PinRejection::TooLong { max }) => {
            format!("Ce code est trop long : au plus {max} chiffres.")
        }
        (Lang::Fr, PinRejection::RepeatedDigit) => {
            "Le code ne peut pas être un seul chiffre répété.".into()
        }
        (Lang::Fr, PinRejection::Sequence) => {
            "Le code ne peut pas être une suite de chiffres croissante ou décroissante.".into()
        }
        (Lang::Fr, PinRejection::MailboxNumber) => {
            "Le code ne peut pas être ni contenir le numéro de la boîte, à l'endroit ou à \
             l'envers."
                .into()
        }
        (Lang::Fr, PinRejection::DefaultPin) => {
            "Le code ne peut pas être le code par défaut de l'organisation.".into()
        }
        (Lang::Fr, PinRejection::RecentlyUsed) => {
            "Ce code a déjà servi récemment pour cette boîte ; choisissez-en un nouveau.".into()
        }
    }
}

/// An admin operation's refusal, as a person reads it: the common ones in both
/// languages, the rare ones (server trouble) in the words of the error.
pub fn admin_error(lang: Lang, error: &AdminError) -> String {
    if lang == Lang::En {
        return format!("{}.", capitalised(&error.to_string()));
    }
    match error {
        AdminError::PinRejected(r) => pin_rejection(lang, r),
        AdminError::UnknownMailbox(id) => format!("La boîte vocale {id} n'existe pas."),
        AdminError::MailboxExists(id) => format!("La boîte vocale {id} existe déjà."),
        AdminError::BadNumber(_) => "Numéro de boîte invalide : de 1 à 20 chiffres.".into(),
        AdminError::ReservedNumber(id) => {
            format!("{id} est le numéro du portail vocal lui-même et ne peut pas être une boîte.")
        }
        AdminError::NoDefaultPin => "Aucun code par défaut n'est défini : donnez un code \
                                     temporaire, ou définissez d'abord le code par défaut."
            .into(),
        AdminError::PasscodeIsDefaultPin => {
            "Le code d'administration et le code par défaut doivent être différents.".into()
        }
        AdminError::BadLanguage(_) => "Langue non prise en charge : en ou fr.".into(),
        AdminError::BadTimeZone(_) => {
            "Fuseau horaire inconnu : un nom IANA comme Europe/Paris, ou UTC.".into()
        }
        AdminError::BadEmail(_) => {
            "Adresse e-mail invalide (nom@exemple.fr, ou vide pour aucune).".into()
        }
        AdminError::BadName(_) => {
            "Nom invalide : au plus 100 caractères, sans caractères de contrôle.".into()
        }
        AdminError::NothingToUpdate => "Rien à modifier.".into(),
        AdminError::BadPassword(PasswordRejection::TooShort { min }) => {
            format!("Mot de passe trop court : au moins {min} caractères.")
        }
        other => format!("{}.", capitalised(&other.to_string())),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(accept: &str, cookie: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(accept).unwrap(),
        );
        if let Some(c) = cookie {
            h.insert(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn browser_language_then_choice() {
        assert_eq!(
            Lang::of(&headers("fr-FR,fr;q=0.9,en;q=0.8", None)),
            Lang::Fr
        );
        assert_eq!(Lang::of(&headers("de-DE,en;q=0.5", None)), Lang::En);
        assert_eq!(Lang::of(&headers("de", None)), Lang::En);
        assert_eq!(Lang::of(&headers("en", Some("vp_lang=fr"))), Lang::Fr);
        assert_eq!(Lang::of(&headers("fr", Some("a=b; vp_lang=en"))), Lang::En);
    }

    #[test]
    fn back_links_stay_on_the_site() {
        assert_eq!(safe_back("/admin?q=10"), "/admin?q=10");
        assert_eq!(safe_back("//evil.example"), "/");
        assert_eq!(safe_back("https://evil.example"), "/");
        assert_eq!(safe_back("/\\evil"), "/");
        assert_eq!(safe_back(""), "/");
    }

    #[test]
    fn every_pin_rejection_reads_in_both_languages() {
        for rejection in PinRejection::EVERY_KIND {
            for lang in [Lang::En, Lang::Fr] {
                let text = pin_rejection(lang, &rejection);
                assert!(text.ends_with('.'), "{text}");
                assert!(text.chars().next().unwrap().is_uppercase(), "{text}");
            }
        }
    }
}
