//! Sessions and CSRF. A session is a login token (`App::login`) in a cookie that scripts
//! cannot read (`HttpOnly`), that other sites' requests do not carry (`SameSite=Strict`)
//! and that travels only over HTTPS or loopback (`Secure`). Every form and every htmx
//! request also carries a CSRF token derived from the session token: only a page that was
//! rendered for this session knows it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use tributary_app::{App, AppError, Principal};

use crate::pages::PageError;

/// The session cookie's name.
pub const COOKIE: &str = "tributary_session";

/// The signed-in user of a page request.
pub struct Session {
    pub who: Principal,
    /// The CSRF token forms of this session carry.
    pub csrf: String,
    pub token: String,
}

/// The CSRF token of a session token.
pub fn csrf_for(token: &str) -> String {
    hex::encode(Sha256::digest(format!("tributary-csrf\0{token}").as_bytes()))
}

/// The session token the request's cookies carry.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|h| h.to_str().ok()).flat_map(|h| h.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// `Set-Cookie` for a new session (`max_age` seconds) or, with `None`, for signing out.
pub fn set_cookie(token: Option<&str>, max_age: i64) -> HeaderValue {
    let v = match token {
        Some(t) => format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={max_age}"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("tributary_session=; Path=/; Max-Age=0"))
}

/// Where the sign-in page sends the user back to: a path on this site, never elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn to_login(parts: &Parts) -> Response {
    let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("/login?next={}", crate::pages::encode(here));
    if parts.headers.contains_key("hx-request") {
        // htmx follows this header with a full page load.
        return (StatusCode::UNAUTHORIZED, [("hx-redirect", target)]).into_response();
    }
    Redirect::to(&target).into_response()
}

impl FromRequestParts<App> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers) else { return Err(to_login(parts)) };
        let t = token.clone();
        match app.blocking(move |a| a.authenticate(&t)).await {
            Ok(who) => Ok(Session { who, csrf: csrf_for(&token), token }),
            Err(AppError::Unauthorized(_)) => Err(to_login(parts)),
            Err(e) => Err(PageError(e).into_response()),
        }
    }
}

impl Session {
    /// Refuses a state change whose CSRF token (form field or `X-CSRF-Token`) is not this
    /// session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        let a = self.csrf.as_bytes();
        let b = given.as_bytes();
        // Constant time: the comparison does not stop at the first differing byte.
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same {
            Ok(())
        } else {
            Err(PageError(AppError::Forbidden("the form expired or came from another site: reload the page and try again".into())))
        }
    }
}
