//! The Cortex XDR API client: authentication (standard and advanced keys), the calls the
//! connector makes, and the vendor's error bodies turned into words.

use std::sync::Arc;

use rand::RngExt;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tributary_core::secret::Secret;

use super::{SecurityLevel, XdrConfig};
use crate::http::{ClientOptions, HttpClient};
use crate::{BoxFuture, Connector, ConnectorError, Source, SyncPlan, TestReport};

pub(super) const VENDOR: &str = "Cortex XDR";

#[derive(Debug, Deserialize)]
struct Reply<T> {
    reply: T,
}

#[derive(Debug, Deserialize)]
pub(super) struct EndpointsReply {
    pub total_count: u64,
    #[serde(default)]
    pub endpoints: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct VulnsReply {
    pub total_count: u64,
    #[serde(default)]
    pub data: Vec<VulnRow>,
}

/// One row of `get_vulnerabilities`, decoded straight into the fields the connector keeps
/// (a typed decode skips building and tearing down a generic map per row, which was most
/// of the client's CPU). Absent fields stay absent in the `cves[]` item.
#[derive(Debug, Deserialize)]
pub(super) struct VulnRow {
    #[serde(default)]
    pub endpoint_id: String,
    pub cve_id: Option<Value>,
    pub severity: Option<Value>,
    pub description: Option<Value>,
    pub publication_date: Option<Value>,
    pub cvss_score: Option<Value>,
    pub cvss_vector: Option<Value>,
    pub affected_products: Option<Value>,
    pub first_detected: Option<Value>,
    pub last_detected: Option<Value>,
    pub epss_score: Option<Value>,
    pub exploitable: Option<Value>,
}

/// `{"reply": {"err_code", "err_msg", "err_extra"}}` → words.
fn classify(vendor: &'static str, status: StatusCode, body: &[u8]) -> ConnectorError {
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let r = v.get("reply")?;
            let m = r.get("err_msg")?.as_str()?.to_string();
            Some(match r.get("err_extra").filter(|e| !e.is_null()) {
                Some(Value::String(x)) => format!("{m}: {x}"),
                Some(x) => format!("{m}: {x}"),
                None => m,
            })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string());
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

/// 64 characters from `[A-Za-z0-9]`, as Palo Alto's own clients send.
fn nonce() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::rng();
    (0..64).map(|_| A[r.random_range(0..A.len())] as char).collect()
}

pub struct XdrClient {
    http: Arc<HttpClient>,
    cfg: XdrConfig,
    key: Secret,
}

impl XdrClient {
    pub fn new(base: String, cfg: XdrConfig, key: Secret, opts: &ClientOptions) -> Result<XdrClient, ConnectorError> {
        Ok(XdrClient { http: Arc::new(HttpClient::new(VENDOR, base, opts, classify)?), cfg, key })
    }

    /// POSTs `{"request_data": …}` and decodes the `reply`.
    pub(super) async fn call<T: serde::de::DeserializeOwned>(&self, path: &str, request_data: Value) -> Result<T, ConnectorError> {
        let url = self.http.url(path);
        let body = json!({ "request_data": request_data });
        let r: Reply<T> = self
            .http
            .send_json(path, |c| {
                let rb = c.post(&url).header("x-xdr-auth-id", &self.cfg.key_id).json(&body);
                match self.cfg.security {
                    SecurityLevel::Standard => rb.header("Authorization", self.key.expose()),
                    SecurityLevel::Advanced => {
                        // A fresh nonce and timestamp per attempt: the tenant rejects reuse.
                        let ts = chrono::Utc::now().timestamp_millis().to_string();
                        let n = nonce();
                        let mut d = Sha256::new();
                        d.update(self.key.expose().as_bytes());
                        d.update(n.as_bytes());
                        d.update(ts.as_bytes());
                        rb.header("x-xdr-timestamp", ts).header("x-xdr-nonce", n).header("Authorization", hex::encode(d.finalize()))
                    }
                }
            })
            .await?;
        Ok(r.reply)
    }

    pub(super) async fn endpoints(&self, filters: Value, from: u64, to: u64) -> Result<EndpointsReply, ConnectorError> {
        self.call("/public_api/v1/endpoints/get_endpoint/", json!({"filters": filters, "search_from": from, "search_to": to})).await
    }

    pub(super) async fn vulnerabilities(&self, ids: &[String], from: u64, to: u64) -> Result<VulnsReply, ConnectorError> {
        self.call(
            "/public_api/v1/vulnerability-management/get_vulnerabilities/",
            json!({"filters": [{"field": "endpoint_id_list", "operator": "in", "value": ids}], "search_from": from, "search_to": to}),
        )
        .await
    }

    pub(super) fn vulnerabilities_wanted(&self) -> bool {
        self.cfg.vulnerabilities()
    }
}

impl Connector for XdrClient {
    fn test(&self) -> BoxFuture<'_, Result<TestReport, ConnectorError>> {
        Box::pin(async move {
            // Tenant info proves the key; one endpoint proves the role can view endpoints.
            let _: Value = self.call("/public_api/v1/system/get_tenant_info/", json!({})).await?;
            let page = self.endpoints(json!([]), 0, 1).await?;
            Ok(TestReport {
                summary: format!("Connected to Cortex XDR at {}: {} endpoints visible", self.http.base(), page.total_count),
                learned: None,
            })
        })
    }

    fn source(&self, plan: &SyncPlan) -> Box<dyn Source> {
        Box::new(super::source::XdrSource::new(self.clone_handle(), plan))
    }
}

impl XdrClient {
    fn clone_handle(&self) -> XdrClient {
        XdrClient { http: self.http.clone(), cfg: self.cfg.clone(), key: self.key.clone() }
    }
}
