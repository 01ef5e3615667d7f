//! The HTTP server of `serve`: the administrator portal (`/admin`), the owners'
//! portal (`/my`), the JSON API (`/api/v1`), health and metrics.
//!
//! Pages are rendered on the server and work without JavaScript. Every change
//! goes through `admin` (the same operations as the CLI) or `access` (sign-ins,
//! sessions, codes); this module never talks to Redis or Asterisk itself.
//!
//! Security in one place:
//! - sessions are 256-bit random ids in HttpOnly, SameSite=Strict cookies
//!   (Secure under HTTPS), stored in Redis as keyed digests, one cookie per
//!   portal (`cookies`);
//! - every form carries a CSRF token derived from the session (`access::sessions`);
//! - the API takes bearer tokens only, never a cookie;
//! - sign-ins are throttled and locked (`access`), and every action is audited
//!   with the client's address;
//! - responses forbid framing and sniffing and allow only this site's own
//!   stylesheet and media (`security_headers`).

mod admin_pages;
mod api;
mod cookies;
mod errors;
mod health;
mod html;
mod i18n;
mod owner_pages;
mod server;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::get;
use tracing::{info, warn};

pub use api::ROUTES as API_ROUTES;
pub use server::{BindError, ClientAddr, WebListener};

use crate::access::Access;
use crate::admin::Admin;
use crate::admin::messages::Asterisk;
use crate::config::Config;
use crate::notify::email::Notifier;
use crate::notify::signin::PhoneCourier;

/// Everything a request may use. Cheap to clone.
#[derive(Clone)]
pub struct Web(Arc<WebParts>);

pub struct WebParts {
    pub config: Arc<Config>,
    pub admin: Admin,
    pub access: Access,
    pub asterisk: Asterisk,
    pub courier: PhoneCourier,
    pub notifier: Notifier,
    /// Whether the ARI events websocket is connected (for `/readyz`).
    pub ari_connected: Arc<AtomicBool>,
    /// Active or standby under `[ha]` (for `/readyz` and `/metrics`).
    pub role: crate::ha::RoleCell,
}

impl Deref for Web {
    type Target = WebParts;

    fn deref(&self) -> &WebParts {
        &self.0
    }
}

impl Web {
    pub fn new(parts: WebParts) -> Web {
        Web(Arc::new(parts))
    }

    /// Whether cookies get `Secure`.
    fn https(&self) -> bool {
        self.config.web.https()
    }
}

/// Every route.
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/my") }))
        .route("/assets/style.css", get(html::stylesheet))
        .route("/lang", get(i18n::switch))
        .merge(health::router())
        .nest("/api/v1", api::router())
        .nest("/admin", admin_pages::router())
        .nest("/my", owner_pages::router())
        .fallback(errors::not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(web)
}

/// Serves `router(web)` on `listener` until `shutdown` completes; requests in
/// progress then finish.
pub async fn serve(
    listener: WebListener,
    web: Web,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let addr = axum::serve::Listener::local_addr(&listener)
        .map(|a: SocketAddr| a.to_string())
        .unwrap_or_default();
    let tls = matches!(listener, WebListener::Tls { .. });
    info!(%addr, tls, "web portals and API listening");
    let app = router(web).into_make_service_with_connect_info::<ClientAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        warn!(error = %e, "the web server stopped");
    }
}

/// Headers on every response: no framing (clickjacking), no MIME sniffing, no
/// referrer leaving the site, and a content policy that allows nothing but this
/// site's own stylesheet and media.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; media-src 'self'; img-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    response
}
