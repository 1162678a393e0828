//! Errors as RFC 9457 problem details (`application/problem+json`): every failure of
//! every route, including bad JSON, bad query strings and oversized bodies, is one of
//! these — never an HTML page or a bare 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_app::AppError;

/// An RFC 9457 problem: `type` names the kind (`urn:tributary:problem:invalid`, …),
/// `detail` says what happened to this request; `field` names the input at fault.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:tributary:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: &str) -> Problem {
        if !field.is_empty() {
            self.field = Some(field.to_string());
        }
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let mut r = (status, Json(self)).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if unauthorized {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tributary\""));
        }
        r
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(message = "Request failed.", error = %e);
        }
        let field = match &e {
            AppError::Invalid { field, .. } => field.clone(),
            _ => String::new(),
        };
        let detail = match e {
            AppError::Invalid { reason, .. } => reason,
            e => e.to_string(),
        };
        Problem::new(status, e_code(status), detail).field(&field)
    }
}

fn e_code(s: StatusCode) -> &'static str {
    match s {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::CONFLICT => "conflict",
        StatusCode::BAD_REQUEST => "invalid",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        _ => "internal",
    }
}

/// A problem for a status with a message (rejections, fallbacks).
pub fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status, e_code(status), detail)
}

pub type ApiResult<T> = Result<T, Problem>;
