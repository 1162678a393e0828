//! The Cortex platform's API keys and error bodies, shared by Cortex XDR and Cortex
//! Cloud (one platform: vendor-apis.md §2.1, §3.1, §3.5).
//!
//! * Standard keys send `x-xdr-auth-id` (the key id) and `Authorization` (the key).
//! * Advanced keys send `x-xdr-timestamp` (ms), `x-xdr-nonce` (64 characters from
//!   `[A-Za-z0-9]`) and `Authorization` = hex SHA-256 of key + nonce + timestamp, as Palo
//!   Alto's own clients do (demisto/content `CortexXDRIR.py`, `get_headers`).
//! * Errors come as `{"reply": {"err_code", "err_msg", "err_extra"}}`, or on some AppSec
//!   routes as `{"errorCode", "message", "details"}`.

use rand::RngExt;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tributary_core::secret::Secret;

use crate::ConnectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecurityLevel {
    Standard,
    Advanced,
}

pub(crate) fn standard() -> SecurityLevel {
    SecurityLevel::Standard
}

/// A key id is the number the console shows (Settings → API Keys, column ID).
pub(crate) fn check_key_id(key_id: &str) -> Result<(), ConnectorError> {
    if key_id.trim().is_empty() || !key_id.trim().chars().all(|c| c.is_ascii_digit()) {
        return Err(ConnectorError::Config(format!("the API key id must be a number (Settings → API Keys, column ID), got '{key_id}'")));
    }
    Ok(())
}

/// 64 characters from `[A-Za-z0-9]`, as Palo Alto's own clients send.
fn nonce() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::rng();
    (0..64).map(|_| A[r.random_range(0..A.len())] as char).collect()
}

/// The key headers, fresh for every attempt (an advanced key's nonce is single-use).
pub(crate) fn sign(rb: reqwest::RequestBuilder, key_id: &str, security: SecurityLevel, key: &Secret) -> reqwest::RequestBuilder {
    let rb = rb.header("x-xdr-auth-id", key_id);
    match security {
        SecurityLevel::Standard => rb.header("Authorization", key.expose()),
        SecurityLevel::Advanced => {
            let ts = chrono::Utc::now().timestamp_millis().to_string();
            let n = nonce();
            let mut d = Sha256::new();
            d.update(key.expose().as_bytes());
            d.update(n.as_bytes());
            d.update(ts.as_bytes());
            rb.header("x-xdr-timestamp", ts).header("x-xdr-nonce", n).header("Authorization", hex::encode(d.finalize()))
        }
    }
}

/// The vendor's words from an error body, in either shape.
fn message(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<Value>(body).ok()?;
    let with_extra = |m: String, extra: Option<&Value>| match extra.filter(|e| !e.is_null()) {
        Some(Value::String(x)) => format!("{m}: {x}"),
        Some(x) => format!("{m}: {x}"),
        None => m,
    };
    if let Some(r) = v.get("reply")
        && let Some(m) = r.get("err_msg").and_then(Value::as_str)
    {
        return Some(with_extra(m.to_string(), r.get("err_extra")));
    }
    let m = v.get("message").and_then(Value::as_str)?;
    let m = match v.get("errorCode").and_then(Value::as_str) {
        Some(code) => format!("{code}: {m}"),
        None => m.to_string(),
    };
    Some(with_extra(m, v.get("details")))
}

/// A failed reply → words, with what to check.
pub(crate) fn classify(vendor: &'static str, status: StatusCode, body: &[u8]) -> ConnectorError {
    let msg = message(body).unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string());
    // An empty body still says something: the status's own words.
    let msg = if msg.is_empty() { status.canonical_reason().unwrap_or("no reason given").to_string() } else { msg };
    match status.as_u16() {
        401 => ConnectorError::Unauthorized {
            vendor,
            reason: format!("{msg}; check the API key and the API key ID, and that the key has not expired"),
        },
        402 => ConnectorError::Forbidden { vendor, reason: format!("{msg}; the tenant lacks the license this API needs") },
        403 => ConnectorError::Forbidden { vendor, reason: format!("{msg}; give the API key the Viewer role") },
        404 => ConnectorError::NotFound { vendor, reason: format!("{msg}; check the base URL (https://api-<tenant fqdn>)") },
        s => ConnectorError::Http { vendor, status: s, reason: msg },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_something_in_either_shape_or_with_an_empty_body() {
        let e = classify("Cortex XDR", StatusCode::NOT_FOUND, b"").to_string();
        assert!(e.contains("(Not Found; check the base URL"), "{e}");
        let e = classify(
            "Cortex XDR",
            StatusCode::UNAUTHORIZED,
            br#"{"reply": {"err_code": 401, "err_msg": "Public API request unauthorized", "err_extra": null}}"#,
        )
        .to_string();
        assert!(e.contains("Public API request unauthorized; check the API key"), "{e}");
        let e = classify(
            "Cortex Cloud",
            StatusCode::BAD_REQUEST,
            br#"{"errorCode": "INVALID_ARGUMENT", "message": "limit too large", "details": {"max": 500}}"#,
        )
        .to_string();
        assert!(e.contains("INVALID_ARGUMENT: limit too large: {\"max\":500}"), "{e}");
    }
}
