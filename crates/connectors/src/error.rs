//! What can go wrong talking to a vendor, worded so a user knows what to do.

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid base URL '{url}': {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error("invalid integration settings: {0}")]
    Config(String),
    /// 401: the credentials are wrong, expired or revoked.
    #[error("{vendor} rejected the credentials ({reason})")]
    Unauthorized { vendor: &'static str, reason: String },
    /// 403: the credentials work but lack a role or scope.
    #[error("{vendor} refused access ({reason})")]
    Forbidden { vendor: &'static str, reason: String },
    /// 404 on a path that exists: wrong tenant/deployment, or (Semgrep) a token without the Web API scope.
    #[error("{vendor} answered 404 Not Found ({reason})")]
    NotFound { vendor: &'static str, reason: String },
    /// DNS, connect, TLS and timeout failures.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{vendor} answered HTTP {status} ({reason})")]
    Http { vendor: &'static str, status: u16, reason: String },
    #[error("{vendor} sent a response that does not match its API ({context}): {reason}")]
    Decode { vendor: &'static str, context: String, reason: String },
    /// A bug or a runtime failure on our side (e.g. a fetch task that panicked).
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{vendor}: gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted { vendor: &'static str, attempts: u32, last: Box<ConnectorError> },
}

impl ConnectorError {
    /// The vendor could not be reached or refused the credentials ("Connection Error"),
    /// as opposed to a failure during a sync that otherwise connected.
    pub fn is_connection(&self) -> bool {
        match self {
            ConnectorError::Unauthorized { .. }
            | ConnectorError::Forbidden { .. }
            | ConnectorError::NotFound { .. }
            | ConnectorError::Unreachable { .. }
            | ConnectorError::BadBaseUrl { .. } => true,
            ConnectorError::RetriesExhausted { last, .. } => last.is_connection(),
            _ => false,
        }
    }

    /// Worth another attempt: transport failures (cut-off bodies included), 429, 5xx. A
    /// reply that is whole but does not match the API is not: it would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Unreachable { .. } => true,
            ConnectorError::Http { status, .. } => *status == 429 || *status == 408 || (500..600).contains(status),
            _ => false,
        }
    }
}
