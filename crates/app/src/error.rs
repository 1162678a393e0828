//! The one error type of every use case. Front ends map it: the CLI prints it, the API
//! turns it into an RFC 9457 problem with the matching status.

use tributary_engine::EngineError;
use tributary_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{what} '{name}' not found")]
    NotFound { what: &'static str, name: String },
    #[error("{0}")]
    Conflict(String),
    /// Bad input: which field, and why. (A query's error renders its own position, so
    /// `q` is not repeated in front of it.)
    #[error("{}{reason}", if field.is_empty() || field == "q" { String::new() } else { format!("{field}: ") })]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The database or a vendor cannot be reached, or the system is busy.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Invalid { field: field.into(), reason: reason.into() }
    }

    /// The HTTP status every web front end (API, UI) answers it with.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::NotFound { .. } => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid { .. } => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) => 500,
        }
    }

    /// A short machine-readable name (`not-found`, `invalid`, …).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound { .. } => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::Invalid { .. } => "invalid",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, name } => AppError::NotFound { what, name },
            StoreError::Conflict { .. } => AppError::Conflict(e.to_string()),
            StoreError::Invalid(m) => AppError::invalid("", m),
            StoreError::Stopped(m) => AppError::Conflict(m),
            StoreError::Cancelled(_) => AppError::Conflict(e.to_string()),
            StoreError::Decode(_) => AppError::Internal(e.to_string()),
            other => AppError::Unavailable(other.to_string()),
        }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Invalid(m) => AppError::invalid("", m),
            EngineError::Busy(m) | EngineError::Stopped(m) => AppError::Conflict(m),
            EngineError::Connector(c) if c.is_connection() => AppError::Unavailable(c.to_string()),
            EngineError::Connector(c) => AppError::invalid("", c.to_string()),
            EngineError::Internal(m) => AppError::Internal(m),
        }
    }
}
