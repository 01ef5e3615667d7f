//! Who is asking: the signed-in administrator or owner of a page request, and
//! the form binding of the sign-in pages.
//!
//! A page of one portal reads only that portal's cookie: an owner's session
//! never opens an administrator page (it is sent to the sign-in page), and
//! neither kind opens the API (bearer tokens only, see `api`).

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use tracing::warn;

use super::Web;
use super::cookies;
use super::errors;
use super::i18n::Lang;
use super::server::ClientAddr;
use crate::access::sessions::SessionId;
use crate::domain::{AdminName, MailboxId};
use crate::store::sessions::SessionSubject;

/// The client's IP address (unspecified if the server did not record it).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<ClientAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip())
}

/// A signed-in administrator.
pub struct AdminUser {
    pub name: AdminName,
    pub session: SessionId,
    pub csrf: String,
    pub client: IpAddr,
    pub lang: Lang,
}

/// A signed-in owner.
pub struct OwnerUser {
    pub mailbox: MailboxId,
    pub session: SessionId,
    pub csrf: String,
    pub client: IpAddr,
    pub lang: Lang,
}

impl AdminUser {
    /// How the audit log names this administrator: name and address.
    pub fn actor(&self) -> String {
        format!("{} [{}]", self.name, self.client)
    }

    /// `Err` (a 403 page) unless `token` is this session's CSRF token.
    pub fn check_csrf(&self, web: &Web, token: &str) -> Result<(), FormRefused> {
        csrf(web, &self.session, token, self.lang)
    }
}

impl OwnerUser {
    pub fn actor(&self) -> String {
        format!("owner:{} [{}]", self.mailbox, self.client)
    }

    pub fn check_csrf(&self, web: &Web, token: &str) -> Result<(), FormRefused> {
        csrf(web, &self.session, token, self.lang)
    }
}

fn csrf(web: &Web, binding: &SessionId, token: &str, lang: Lang) -> Result<(), FormRefused> {
    if web.access.csrf_matches(binding, token) {
        Ok(())
    } else {
        Err(FormRefused(lang))
    }
}

/// A form refused for its CSRF token: answered with a 403 page, nothing changed.
pub struct FormRefused(Lang);

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        errors::forbidden_form(self.0)
    }
}

/// The session named by cookie `name`, if it is valid.
async fn session_of(
    web: &Web,
    headers: &HeaderMap,
    name: &str,
) -> Result<Option<(SessionId, SessionSubject)>, Response> {
    let Some(id) = cookies::get(headers, name).and_then(|raw| SessionId::parse(&raw)) else {
        return Ok(None);
    };
    match web.access.session(&id).await {
        Ok(subject) => Ok(subject.map(|s| (id, s))),
        Err(e) => {
            warn!(error = %e, "cannot read a web session");
            Err(errors::unavailable(Lang::of(headers)))
        }
    }
}

impl FromRequestParts<Web> for AdminUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<AdminUser, Response> {
        match session_of(web, &parts.headers, cookies::ADMIN_SESSION).await? {
            Some((session, SessionSubject::Admin { name, .. })) => Ok(AdminUser {
                name,
                csrf: web.access.csrf_token(&session),
                session,
                client: client_ip(parts),
                lang: Lang::of(&parts.headers),
            }),
            _ => Err(Redirect::to("/admin/sign-in").into_response()),
        }
    }
}

impl FromRequestParts<Web> for OwnerUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<OwnerUser, Response> {
        match session_of(web, &parts.headers, cookies::OWNER_SESSION).await? {
            Some((session, SessionSubject::Owner(mailbox))) => Ok(OwnerUser {
                mailbox,
                csrf: web.access.csrf_token(&session),
                session,
                client: client_ip(parts),
                lang: Lang::of(&parts.headers),
            }),
            _ => Err(Redirect::to("/my/sign-in").into_response()),
        }
    }
}

/// The sign-in forms' CSRF binding: a random value in the `vp_form` cookie (set
/// when first shown), and the token derived from it.
pub struct FormBinding {
    pub id: SessionId,
    /// The `Set-Cookie` to send when the cookie is new.
    pub new_cookie: Option<String>,
    pub client: IpAddr,
    pub lang: Lang,
}

impl FormBinding {
    pub fn csrf(&self, web: &Web) -> String {
        web.access.csrf_token(&self.id)
    }

    /// `Err` (a 403 page) unless the cookie was there and `token` matches it.
    pub fn check(&self, web: &Web, token: &str) -> Result<(), FormRefused> {
        if self.new_cookie.is_none() && web.access.csrf_matches(&self.id, token) {
            Ok(())
        } else {
            Err(FormRefused(self.lang))
        }
    }

    /// Adds the cookie, if new, to a response.
    pub fn with_cookie(&self, response: Response) -> Response {
        match &self.new_cookie {
            Some(cookie) => {
                let mut response = response;
                if let Ok(value) = header::HeaderValue::from_str(cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
                response
            }
            None => response,
        }
    }
}

impl FromRequestParts<Web> for FormBinding {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        web: &Web,
    ) -> Result<FormBinding, Self::Rejection> {
        let existing = cookies::get(&parts.headers, cookies::FORM_BINDING)
            .and_then(|raw| SessionId::parse(&raw));
        let (id, new_cookie) = match existing {
            Some(id) => (id, None),
            None => {
                let id = SessionId::generate();
                let cookie = cookies::secret(cookies::FORM_BINDING, id.expose(), "/", web.https());
                (id, Some(cookie))
            }
        };
        Ok(FormBinding {
            id,
            new_cookie,
            client: client_ip(parts),
            lang: Lang::of(&parts.headers),
        })
    }
}

/// A response that signs in: the session cookie, then a redirect (303, so the
/// browser follows with a GET).
pub fn signed_in(cookie: String, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
