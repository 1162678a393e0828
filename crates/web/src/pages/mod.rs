//! The pages: one module per area. A handler takes the [`Session`], calls the application
//! layer (in `App::blocking`: it reads the database) and renders one template.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod findings;
pub mod issues;
pub mod ops;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tributary_app::{AppError, Role};

use crate::session::Session;

/// What every page's frame shows: who is signed in, what they may do, where they are.
pub struct Layout {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    /// The navigation entry to highlight.
    pub active: &'static str,
    /// May change findings (analyst and admin).
    pub can_triage: bool,
    pub version: &'static str,
}

impl Layout {
    pub fn new(s: &Session, active: &'static str) -> Layout {
        Layout {
            user: s.who.name.clone(),
            role: s.who.role.as_str(),
            csrf: s.csrf.clone(),
            active,
            can_triage: matches!(s.who.role, Role::Analyst | Role::Admin),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// A use case's error as a page (a sign-in that expired goes back to the login page).
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
}

/// The status a page answers a use case's error with (the API's, `AppError::http_status`).
pub fn status_of(e: &AppError) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let AppError::Unauthorized(_) = self.0 {
            return Redirect::to("/login").into_response();
        }
        let status = status_of(&self.0);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "page failed");
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::BAD_REQUEST => "Check the input",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Something went wrong",
        };
        let page = ErrorPage { status: status.as_u16(), title, message: self.0.to_string() };
        (status, render(&page)).into_response()
    }
}

/// Renders a template (a template that fails to render is a bug: a plain 500).
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

pub type PageResult = Result<Response, PageError>;

/// Percent-encodes a query-string value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A JSON value as one line of text for a table cell.
pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(m) => {
            for key in ["name", "title", "id"] {
                if let Some(x) = m.get(key) {
                    return cell(x);
                }
            }
            m.iter().map(|(k, v)| format!("{k}: {}", cell(v))).collect::<Vec<_>>().join(", ")
        }
    }
}

/// A JSON document as (dotted path, value) rows, so records read as tables, not JSON.
pub fn flatten(v: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, x, out);
                }
            }
            serde_json::Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), x, out);
                }
            }
            other => out.push((prefix.to_string(), cell(other))),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// A stored time in milliseconds as the UI shows it.
pub fn when(ms: Option<i64>) -> String {
    ms.map(|m| tributary_core::time::to_rfc3339(m).replace('T', " ").trim_end_matches('Z').chars().take(16).collect())
        .unwrap_or_else(|| "—".into())
}

/// A stored RFC 3339 text time as the UI shows it (minutes).
pub fn short_time(t: &str) -> String {
    t.replace('T', " ").chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_flattening() {
        assert_eq!(encode("finding.cve:CVE-1 a&b"), "finding.cve%3ACVE-1%20a%26b");
        let rows = flatten(&serde_json::json!({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": null}]}));
        assert_eq!(rows, vec![("a.b".into(), "1".into()), ("a.c".into(), "1, 2".into()), ("d[0].e".into(), "—".into())]);
    }
}
