//! The few cookies the portals set, with their flags in one place.
//!
//! | cookie | holds | path | flags |
//! |---|---|---|---|
//! | `vp_admin` | an administrator's session id | `/admin` | HttpOnly, SameSite=Strict, Secure under HTTPS |
//! | `vp_owner` | an owner's session id | `/my` | HttpOnly, SameSite=Strict, Secure under HTTPS |
//! | `vp_form` | the random value sign-in forms bind their CSRF token to | `/` | HttpOnly, SameSite=Strict, Secure under HTTPS |
//! | `vp_lang` | `en` or `fr`, a visitor's choice | `/` | SameSite=Lax |
//!
//! The two session cookies have different names and paths, so a browser never
//! sends an owner's session to the administrator portal, and each portal reads
//! only its own.

use axum::http::{HeaderMap, header};

pub const ADMIN_SESSION: &str = "vp_admin";
pub const OWNER_SESSION: &str = "vp_owner";
pub const FORM_BINDING: &str = "vp_form";

/// One cookie of the request, if present.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// A secret cookie (session or form binding): lives as long as the browser
/// session (the server decides how long it is valid), never readable by scripts,
/// never sent on a cross-site request.
pub fn secret(name: &str, value: &str, path: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict{secure}")
}

/// Removes a cookie set with [`secret`].
pub fn cleared(name: &str, path: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{secure}")
}

/// A preference kept for a year.
pub fn lasting(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; Max-Age=31536000; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vp_admin=xyz; b=2"),
        );
        assert_eq!(get(&headers, "vp_admin").as_deref(), Some("xyz"));
        assert_eq!(get(&headers, "vp_owner"), None);
    }

    #[test]
    fn secret_cookies_carry_their_flags() {
        let c = secret(ADMIN_SESSION, "v", "/admin", true);
        assert_eq!(
            c,
            "vp_admin=v; Path=/admin; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!secret(OWNER_SESSION, "v", "/my", false).contains("Secure"));
        assert!(cleared(OWNER_SESSION, "/my", false).contains("Max-Age=0"));
    }
}
