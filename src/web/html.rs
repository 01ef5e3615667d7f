//! Server-rendered HTML: escaping, the page frame, and small pieces every page
//! uses. Plain `format!` with everything variable passed through [`esc`]: no
//! template engine, no script, no asset from elsewhere (the one stylesheet is
//! served by this binary).

use std::fmt::Write;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::Lang;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything but unreserved characters is escaped.
const URL_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a value for a query string or a path segment.
pub fn url_part(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, URL_PART).to_string()
}

/// Which portal a page belongs to, and who is signed in.
pub enum Frame<'a> {
    /// The administrator portal; `user` is `None` on its sign-in page.
    Admin {
        user: Option<&'a str>,
        csrf: &'a str,
        section: AdminSection,
    },
    /// The owners' portal; `mailbox` is `None` on its sign-in pages.
    Owner {
        mailbox: Option<&'a str>,
        csrf: &'a str,
        section: OwnerSection,
    },
    /// Neither (an error page outside both portals).
    Bare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSection {
    SignIn,
    Extensions,
    Portal,
    Audit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerSection {
    SignIn,
    Messages,
    Pin,
    Settings,
}

/// A message at the top of a page.
pub enum Notice {
    Done(String),
    Problem(String),
}

/// One complete page.
pub struct Page<'a> {
    pub lang: Lang,
    pub title: String,
    pub frame: Frame<'a>,
    /// The path of this page, for the language switch to come back to.
    pub path: &'a str,
    pub notice: Option<Notice>,
    pub body: String,
}

impl Page<'_> {
    pub fn render(self, status: StatusCode) -> Response {
        let lang = self.lang;
        let mut html = String::with_capacity(self.body.len() + 2048);
        let _ = write!(
            html,
            "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · voiceportal</title>\
             <link rel=\"stylesheet\" href=\"/assets/style.css\"></head><body>",
            code = lang.code(),
            title = esc(&self.title),
        );
        html.push_str(&header(lang, &self.frame, self.path));
        html.push_str("<main>");
        let _ = write!(html, "<h1>{}</h1>", esc(&self.title));
        match &self.notice {
            Some(Notice::Done(text)) => {
                let _ = write!(
                    html,
                    "<p class=\"notice done\" role=\"status\">{}</p>",
                    esc(text)
                );
            }
            Some(Notice::Problem(text)) => {
                let _ = write!(
                    html,
                    "<p class=\"notice problem\" role=\"alert\">{}</p>",
                    esc(text)
                );
            }
            None => {}
        }
        html.push_str(&self.body);
        html.push_str("</main></body></html>\n");
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response()
    }
}

fn header(lang: Lang, frame: &Frame<'_>, path: &str) -> String {
    let mut html = String::from("<header class=\"top\">");
    let (home, portal_name) = match frame {
        Frame::Admin { .. } => ("/admin", lang.pick("Administration", "Administration")),
        Frame::Owner { .. } | Frame::Bare => ("/my", lang.pick("My voicemail", "Ma messagerie")),
    };
    let _ = write!(
        html,
        "<a class=\"brand\" href=\"{home}\">voiceportal <span>{}</span></a>",
        esc(portal_name)
    );
    let links: Vec<(&str, &str, bool)> = match frame {
        Frame::Admin {
            user: Some(_),
            section,
            ..
        } => vec![
            (
                "/admin",
                lang.pick("Extensions", "Extensions"),
                *section == AdminSection::Extensions,
            ),
            (
                "/admin/portal",
                lang.pick("Voice portal", "Portail vocal"),
                *section == AdminSection::Portal,
            ),
            (
                "/admin/audit",
                lang.pick("Audit log", "Journal d'audit"),
                *section == AdminSection::Audit,
            ),
        ],
        Frame::Owner {
            mailbox: Some(_),
            section,
            ..
        } => vec![
            (
                "/my",
                lang.pick("Messages", "Messages"),
                *section == OwnerSection::Messages,
            ),
            (
                "/my/pin",
                lang.pick("PIN", "Code secret"),
                *section == OwnerSection::Pin,
            ),
            (
                "/my/settings",
                lang.pick("Settings and greetings", "Réglages et annonces"),
                *section == OwnerSection::Settings,
            ),
        ],
        _ => Vec::new(),
    };
    if !links.is_empty() {
        html.push_str("<nav>");
        for (href, label, current) in links {
            let current = if current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(html, "<a href=\"{href}\"{current}>{}</a>", esc(label));
        }
        html.push_str("</nav>");
    }
    html.push_str("<div class=\"tools\">");
    let other = match lang {
        Lang::En => ("fr", "Français"),
        Lang::Fr => ("en", "English"),
    };
    let _ = write!(
        html,
        "<a class=\"lang\" href=\"/lang?to={}&amp;back={}\" hreflang=\"{}\" lang=\"{}\">{}</a>",
        other.0,
        esc(&url_part(path)),
        other.0,
        other.0,
        other.1
    );
    let signed_in = match frame {
        Frame::Admin {
            user: Some(user),
            csrf,
            ..
        } => Some((*user, "/admin/sign-out", *csrf)),
        Frame::Owner {
            mailbox: Some(mailbox),
            csrf,
            ..
        } => Some((*mailbox, "/my/sign-out", *csrf)),
        _ => None,
    };
    if let Some((who, action, csrf)) = signed_in {
        let _ = write!(
            html,
            "<span class=\"who\">{}</span><form method=\"post\" action=\"{action}\">\
             {}<button class=\"link\">{}</button></form>",
            esc(who),
            csrf_field(csrf),
            esc(lang.pick("Sign out", "Se déconnecter"))
        );
    }
    html.push_str("</div></header>");
    html
}

/// The hidden field every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A form with one button (and the CSRF field), for an action that needs no
/// input: unlock, reset, delete.
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">{}<button class=\"{class}\">{}</button></form>",
        esc(action),
        csrf_field(csrf),
        esc(label)
    )
}

/// `<table>` whose rows become labelled cards on a narrow screen: every cell
/// carries its column's name.
pub fn table(headers: &[&str], rows: &[Vec<String>], class: &str) -> String {
    let mut html = format!("<div class=\"table\"><table class=\"cards {class}\"><thead><tr>");
    for h in headers {
        let _ = write!(html, "<th scope=\"col\">{}</th>", esc(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let label = headers.get(i).copied().unwrap_or_default();
            let _ = write!(html, "<td data-label=\"{}\">{cell}</td>", esc(label));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

/// A labelled input; `value` is escaped.
pub fn field(label: &str, name: &str, kind: &str, value: &str, extra: &str) -> String {
    format!(
        "<label>{}<input type=\"{kind}\" name=\"{name}\" value=\"{}\" {extra}></label>",
        esc(label),
        esc(value)
    )
}

/// The stylesheet: system fonts, readable on a phone and a laptop.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

const STYLE: &str = include_str!("style.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_part("/admin?q=1 2"), "%2Fadmin%3Fq%3D1%202");
    }

    #[test]
    fn table_cells_carry_their_labels() {
        let html = table(&["A", "B"], &[vec!["1".into(), "2".into()]], "x");
        assert!(html.contains("<td data-label=\"B\">2</td>"), "{html}");
    }
}
