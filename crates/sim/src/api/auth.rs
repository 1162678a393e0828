//! Vendor authentication, as each vendor does it.
//!
//! * Semgrep: `Authorization: Bearer <token>`. A token without the Web API scope gets
//!   **404** (that is what the real API does); a missing or unknown token gets 401.
//! * Cortex (XDR and Cloud): `x-xdr-auth-id` + `Authorization`. Standard keys send the
//!   key itself. Advanced keys send `x-xdr-nonce` and `x-xdr-timestamp` (ms) and
//!   `Authorization = hex(sha256(key ‖ nonce ‖ timestamp))`; the timestamp must be within
//!   ±5 minutes and a nonce is accepted once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::{cortex_error, semgrep_error};
use crate::config::Security;
use crate::tenant::World;

pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Nonces seen recently, per key id.
#[derive(Default)]
pub struct NonceCache(Mutex<HashMap<String, i64>>);

impl NonceCache {
    fn insert(&self, key: String, now: i64) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 50_000 {
            m.retain(|_, t| now - *t < 2 * MAX_SKEW_MS);
        }
        m.insert(key, now).is_none()
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The advanced-key hash: lowercase hex of SHA-256 over `key ‖ nonce ‖ timestamp`.
pub fn advanced_hash(key: &str, nonce: &str, timestamp: &str) -> String {
    let mut d = Sha256::new();
    d.update(key.as_bytes());
    d.update(nonce.as_bytes());
    d.update(timestamp.as_bytes());
    hex::encode(d.finalize())
}

pub fn semgrep(world: &World, h: &HeaderMap) -> Result<(), Response> {
    let c = &world.cfg.credentials;
    let token = header(h, "authorization").and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let revoked = world.revoked.lock().unwrap_or_else(|p| p.into_inner()).contains("semgrep");
    match token {
        Some(t) if t == c.semgrep_token && !revoked => Ok(()),
        // An Agent (CI) token cannot call the Web API: the API answers 404, not 401/403.
        Some(t) if t == c.semgrep_ci_token => Err(semgrep_error(404, "Not Found")),
        _ => Err(semgrep_error(401, "Invalid or missing token")),
    }
}

/// Which Cortex product a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cortex {
    Xdr,
    Cloud,
}

pub fn cortex(world: &World, nonces: &NonceCache, product: Cortex, h: &HeaderMap, needs_view: bool) -> Result<(), Response> {
    let c = &world.cfg.credentials;
    let unauthorized = || cortex_error(401, 401, "Public API request unauthorized", serde_json::Value::Null);
    let (key_id, key, security, vendor) = match product {
        Cortex::Xdr => (c.xdr_key_id.as_str(), c.xdr_key.as_str(), c.xdr_security, "cortex-xdr"),
        Cortex::Cloud => (c.cloud_key_id.as_str(), c.cloud_key.as_str(), Security::Standard, "cortex-cloud"),
    };
    if world.revoked.lock().unwrap_or_else(|p| p.into_inner()).contains(vendor) {
        return Err(unauthorized());
    }
    let id = header(h, "x-xdr-auth-id").ok_or_else(unauthorized)?;
    let no_role = product == Cortex::Xdr && id == c.xdr_no_role_key_id;
    if id != key_id && !no_role {
        return Err(unauthorized());
    }
    let auth = header(h, "authorization").ok_or_else(unauthorized)?;
    match security {
        Security::Standard => {
            if auth != key {
                return Err(unauthorized());
            }
        }
        Security::Advanced => {
            let (Some(nonce), Some(ts)) = (header(h, "x-xdr-nonce"), header(h, "x-xdr-timestamp")) else {
                return Err(unauthorized());
            };
            let t: i64 = ts.parse().map_err(|_| unauthorized())?;
            let now = now_ms();
            if (now - t).abs() > MAX_SKEW_MS {
                return Err(unauthorized());
            }
            if !auth.eq_ignore_ascii_case(&advanced_hash(key, nonce, ts)) {
                return Err(unauthorized());
            }
            if !nonces.insert(format!("{id}:{nonce}"), now) {
                return Err(unauthorized());
            }
        }
    }
    if no_role && needs_view {
        return Err(cortex_error(403, 403, "Forbidden", serde_json::json!("The API key's role does not allow viewing endpoints")));
    }
    Ok(())
}
