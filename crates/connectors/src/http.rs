//! The one HTTP client every connector uses: rustls, timeouts, gzip, a per-integration
//! rate limit, and retries with exponential backoff and jitter that honour
//! `Retry-After`. Errors come back worded (unreachable host, TLS, timeout, status with
//! the vendor's own message).

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ConnectorError;

/// Retry budget.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured as given (longer ones are capped).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Whole request, headers to last body byte.
    pub timeout: Duration,
    /// Requests per second (none = unlimited).
    pub rate_limit: Option<f64>,
    pub retry: RetryPolicy,
}

/// The HTTP settings every connector takes, flattened into its config: how fast, how
/// patient, how persistent. Absent: the defaults.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct HttpSettings {
    /// Requests per second at most (default: unlimited, the vendor's 429s pace us).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Attempts per request before giving up, 1-20 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_attempts: Option<u32>,
    /// First retry delay in ms, doubling each time, at most 60,000 (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_base_ms: Option<u64>,
    /// Seconds a whole request may take, 1-3,600 (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

impl HttpSettings {
    /// The client options these settings ask for (out-of-range values are clamped).
    pub fn client_options(&self) -> ClientOptions {
        let mut o = ClientOptions { rate_limit: self.rate_limit.filter(|r| *r > 0.0 && r.is_finite()), ..ClientOptions::default() };
        if let Some(n) = self.retry_attempts {
            o.retry.max_attempts = n.clamp(1, 20);
        }
        if let Some(ms) = self.retry_base_ms {
            o.retry.base_delay = Duration::from_millis(ms.min(60_000));
        }
        if let Some(s) = self.timeout_secs {
            o.timeout = Duration::from_secs(s.clamp(1, 3_600));
        }
        o
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(120),
            rate_limit: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// Maps a non-success response to an error, with the vendor's own wording.
pub type Classify = fn(vendor: &'static str, status: StatusCode, body: &[u8]) -> ConnectorError;

pub struct HttpClient {
    client: reqwest::Client,
    pub vendor: &'static str,
    base: String,
    retry: RetryPolicy,
    classify: Classify,
    min_interval: Option<Duration>,
    next_slot: tokio::sync::Mutex<Instant>,
}

/// Validates and normalizes a base URL: scheme and host required; no query, fragment or
/// credentials; no API path pasted in (`/public_api/…`, `/api/v1/…`); no trailing slash.
pub fn normalize_base_url(url: &str, api_markers: &[&str]) -> Result<String, ConnectorError> {
    let bad = |reason: &str| ConnectorError::BadBaseUrl { url: url.to_string(), reason: reason.to_string() };
    let u = url.trim();
    let Some((scheme, rest)) = u.split_once("://") else {
        return Err(bad("it has no scheme; write it as https://host"));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "https" | "http") {
        return Err(bad("the scheme must be https (or http for a local simulator)"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    if host.contains('@') {
        return Err(bad("credentials do not belong in the URL; they are asked for separately"));
    }
    if host.contains(char::is_whitespace) || host.split(':').next().is_some_and(|h| h.is_empty()) {
        return Err(bad("the host is malformed"));
    }
    if u.contains(['?', '#']) {
        return Err(bad("a base URL has no query or fragment"));
    }
    let path = &rest[host.len()..];
    if path.contains("//") {
        return Err(bad("the path has an empty segment ('//')"));
    }
    let lower = path.to_ascii_lowercase();
    if let Some(m) = api_markers.iter().find(|m| lower.contains(&m.to_ascii_lowercase())) {
        return Err(bad(&format!("remove the API path '{m}…' from it: the base URL is only scheme://host (plus a proxy prefix, if any)")));
    }
    Ok(format!("{}://{}{}", scheme.to_ascii_lowercase(), host, path.trim_end_matches('/')))
}

/// Pulls a readable reason out of a transport error (the innermost cause).
fn transport_reason(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "the response was cut off".to_string()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = src {
        last = Some(s.to_string());
        src = s.source();
    }
    if let Some(l) = last {
        let l = l.to_ascii_lowercase();
        let hint = if l.contains("dns") || l.contains("failed to lookup") || l.contains("name or service not known") {
            "DNS lookup failed"
        } else if l.contains("certificate") || l.contains("tls") || l.contains("handshake") {
            "TLS handshake failed (certificate not trusted or not valid for this host)"
        } else if l.contains("refused") {
            "connection refused"
        } else if l.contains("reset") {
            "connection reset"
        } else {
            ""
        };
        msg = if hint.is_empty() { format!("{msg}: {l}") } else { format!("{msg}: {hint}") };
    }
    msg
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let ms = when.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(ms.max(0) as u64))
}

impl HttpClient {
    pub fn new(vendor: &'static str, base: String, opts: &ClientOptions, classify: Classify) -> Result<HttpClient, ConnectorError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build an HTTP client: {e}")))?;
        let min_interval = opts.rate_limit.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        Ok(HttpClient {
            client,
            vendor,
            base,
            retry: opts.retry,
            classify,
            min_interval,
            next_slot: tokio::sync::Mutex::new(Instant::now()),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn pace(&self) {
        let Some(gap) = self.min_interval else { return };
        let mut next = self.next_slot.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep(*next - now).await;
        }
        *next = Instant::now().max(*next) + gap;
    }

    /// Sends the request built by `build` (called again for every attempt, so per-attempt
    /// headers such as nonces are fresh) and decodes a success body as `T`. Retries
    /// transient failures within the budget; a body cut off mid-way is retried, a body
    /// that is whole but does not match the API is reported once, with an excerpt.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        context: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T, ConnectorError> {
        self.send(context, build, |bytes| serde_json::from_slice::<T>(bytes).map_err(|e| json_failure(bytes, &e))).await
    }

    /// Sends with retries; `decode` turns a success body into the result.
    pub async fn send<T>(
        &self,
        context: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        decode: impl Fn(&[u8]) -> Result<T, DecodeFailure>,
    ) -> Result<T, ConnectorError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.pace().await;
            let mut wait: Option<Duration> = None;
            let err = match build(&self.client).send().await {
                Err(e) => ConnectorError::Unreachable { url: self.base.clone(), reason: transport_reason(&e) },
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(&resp);
                    match resp.bytes().await {
                        Err(e) => ConnectorError::Unreachable { url: self.base.clone(), reason: transport_reason(&e) },
                        Ok(body) if status.is_success() => match decode(&body) {
                            Ok(v) => return Ok(v),
                            Err(DecodeFailure::CutOff(reason)) => ConnectorError::Unreachable {
                                url: self.base.clone(),
                                reason: format!("the response was cut off ({reason})"),
                            },
                            // A whole reply that does not match the API will not match it on
                            // a second try either: said once, with where and what.
                            Err(DecodeFailure::Invalid(reason)) => {
                                return Err(ConnectorError::Decode { vendor: self.vendor, context: context.to_string(), reason });
                            }
                        },
                        Ok(body) => {
                            if status == StatusCode::TOO_MANY_REQUESTS {
                                // No Retry-After: back off from one second (vendor-apis.md §2.7).
                                wait = Some(
                                    after.unwrap_or(Duration::from_secs(1) * 2u32.pow(attempt.min(6) - 1)).min(self.retry.max_retry_after),
                                );
                            } else if let Some(a) = after {
                                wait = Some(a.min(self.retry.max_retry_after));
                            }
                            (self.classify)(self.vendor, status, &body)
                        }
                    }
                }
            };
            if !err.is_transient() || attempt >= self.retry.max_attempts {
                if attempt > 1 && err.is_transient() {
                    return Err(ConnectorError::RetriesExhausted { vendor: self.vendor, attempts: attempt, last: Box::new(err) });
                }
                return Err(err);
            }
            let delay = wait.unwrap_or_else(|| {
                // Exponential backoff with full jitter.
                let cap = self.retry.base_delay.saturating_mul(1 << (attempt - 1).min(16)).min(self.retry.max_delay);
                cap.mul_f64(0.5 + rand::random::<f64>() * 0.5)
            });
            tracing::debug!(message = "Retrying a vendor request.", vendor = self.vendor, context, attempt, delay_ms = delay.as_millis() as u64, error = %err);
            tokio::time::sleep(delay).await;
        }
    }
}

/// Why a success body could not be decoded.
#[derive(Debug)]
pub enum DecodeFailure {
    /// The body ended early: a transport fault, worth another attempt.
    CutOff(String),
    /// The body is whole but not what the API documents: not retried.
    Invalid(String),
}

/// A JSON decode error as a [`DecodeFailure`], with an excerpt of the body around it.
pub fn json_failure(body: &[u8], e: &serde_json::Error) -> DecodeFailure {
    if e.is_eof() {
        return DecodeFailure::CutOff(e.to_string());
    }
    DecodeFailure::Invalid(format!("{e}; the reply near there: {}", excerpt(body, e.line(), e.column())))
}

/// Up to 80 characters of `body` around line `line`, column `column` (1-based), quoted.
pub fn excerpt(body: &[u8], line: usize, column: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else { return "\"\"".into() };
    let chars: Vec<char> = l.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(40);
    let to = (at + 40).min(chars.len());
    let mut s: String = chars[from..to].iter().collect();
    if from > 0 {
        s.insert(0, '…');
    }
    if to < chars.len() {
        s.push('…');
    }
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_failures_tell_a_cut_body_from_a_wrong_one() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Reply {
            reply: Vec<u32>,
        }
        let cut = br#"{"reply": [1, 2"#;
        let e = serde_json::from_slice::<Reply>(cut).unwrap_err();
        assert!(matches!(json_failure(cut, &e), DecodeFailure::CutOff(_)));
        let wrong = br#"{"reply": {"endpoints": "not a list"}}"#;
        let e = serde_json::from_slice::<Reply>(wrong).unwrap_err();
        match json_failure(wrong, &e) {
            DecodeFailure::Invalid(r) => assert!(r.contains("invalid type") && r.contains("endpoints"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn base_urls() {
        let markers = ["/public_api"];
        assert_eq!(normalize_base_url("https://api-acme.xdr.example.com/", &markers).unwrap(), "https://api-acme.xdr.example.com");
        assert_eq!(normalize_base_url("http://127.0.0.1:8471/cortex-xdr", &markers).unwrap(), "http://127.0.0.1:8471/cortex-xdr");
        for (bad, why) in [
            ("api-acme.xdr.example.com", "no scheme"),
            ("ftp://x.example.com", "scheme must be https"),
            ("https://", "no host"),
            ("https://api-acme.example.com/public_api/v1", "remove the API path"),
            ("https://u:p@api.example.com", "credentials"),
            ("https://api.example.com/x?y=1", "query"),
            ("https://api.example.com//x", "empty segment"),
        ] {
            let e = normalize_base_url(bad, &markers).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_gives_a_value_or_a_worded_failure(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), line in 0usize..5, col in 0usize..300) {
            let _ = excerpt(&body, line, col);
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&body) {
                let reason = match json_failure(&body, &e) {
                    DecodeFailure::CutOff(r) | DecodeFailure::Invalid(r) => r,
                };
                proptest::prop_assert!(!reason.is_empty());
            }
        }
    }
}
