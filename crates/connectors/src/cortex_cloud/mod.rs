//! Cortex Cloud: code repositories with their deployment status and internet exposure
//! (code-to-cloud context), so a finding in deployed, internet-facing code ranks above
//! one in dead code.
//!
//! Repositories come from the AppSec API, `GET /public_api/appsec/v1/repositories` with
//! `offset`/`limit`, keyed by `assetId` (Cortex docs "Get repositories"; vendor-apis.md
//! §3.4 — the reference page guessed page/page_size, the docs say offset/limit). The
//! deployment and exposure fields are **not** publicly documented: their names are our
//! choice, kept in the editable default map so a tenant that spells them otherwise is a
//! map edit, not a code change. Auth is the Cortex key pair (`crate::cortex`).
//!
//! The console shows a tenant as its FQDN (`https://acme.xdr.us.paloaltonetworks.com/`);
//! the API lives at `https://api-<fqdn>` ([`api_base_from_fqdn`]).

mod map;
mod source;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_core::model::Completeness;
use tributary_core::secret::Secret;

pub use map::default_map;

use crate::cortex::SecurityLevel;
use crate::http::{ClientOptions, HttpClient, normalize_base_url};
use crate::{BoxFuture, Connector, ConnectorError, ConnectorKind, Settings, Source, StreamSpec, SyncPlan, TestReport};

pub const PRODUCT: &str = "Cortex Cloud";
pub const STREAM: &str = "repository";
pub const VENDOR: &str = "Cortex Cloud";

/// Rows per repositories request (the API takes up to 500).
pub const PAGE_SIZE: u64 = 200;

pub static KIND: ConnectorKind = ConnectorKind {
    name: "cortex-cloud",
    product: PRODUCT,
    streams: &[StreamSpec { name: STREAM, completeness: Completeness::PerAsset, default_map }],
    validate,
    build,
    config_schema: crate::config_schema::<CloudConfig>,
    // The seed: "the integration syncs your data every 24 hours".
    default_every_hours: Some(24),
    // The seed: "each Semgrep deployment can only have one Cortex integration".
    one_per_tenant: true,
};

/// Settings kept in `integrations.config` (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CloudConfig {
    pub key_id: String,
    #[serde(default = "crate::cortex::standard")]
    pub security: SecurityLevel,
    /// Repositories per request (1–500; default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// HTTP settings (rate limit, retries, timeout), shared by every connector.
    #[serde(flatten)]
    pub http: crate::http::HttpSettings,
}

/// The API base of a tenant from its FQDN as the console shows it: `acme.xdr.us.paloaltonetworks.com`,
/// with or without `https://` and a trailing slash → `https://api-acme.xdr.us.paloaltonetworks.com`.
pub fn api_base_from_fqdn(fqdn: &str) -> Result<String, ConnectorError> {
    let bad = |reason: &str| ConnectorError::BadBaseUrl { url: fqdn.to_string(), reason: reason.to_string() };
    let t = fqdn.trim();
    let host = t.strip_prefix("https://").unwrap_or(t).trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ':', ' ']) {
        return Err(bad("give the tenant's host name as the Cortex console shows it, e.g. acme.xdr.us.paloaltonetworks.com"));
    }
    if !host.contains('.') {
        return Err(bad("a tenant FQDN has a domain, e.g. acme.xdr.us.paloaltonetworks.com"));
    }
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("api-").unwrap_or(&host);
    Ok(format!("https://api-{host}"))
}

fn validate(base_url: &str, config: &Value) -> Result<(String, Value), ConnectorError> {
    let (base, cfg) = checked(base_url, config)?;
    Ok((base, crate::config_value(&cfg)?))
}

fn checked(base_url: &str, config: &Value) -> Result<(String, CloudConfig), ConnectorError> {
    let base = normalize_base_url(base_url, &["/public_api"])?;
    let cfg: CloudConfig = crate::parse_config(config)?;
    crate::cortex::check_key_id(&cfg.key_id)?;
    if let Some(n) = cfg.page_size
        && !(1..=500).contains(&n)
    {
        return Err(ConnectorError::Config(format!("page_size must be between 1 and 500, got {n}")));
    }
    Ok((base, cfg))
}

fn build(s: Settings) -> Result<Box<dyn Connector>, ConnectorError> {
    let (base, cfg) = checked(&s.base_url, &s.config)?;
    if s.secret.is_empty() {
        return Err(ConnectorError::Config("the API key is empty".into()));
    }
    Ok(Box::new(CloudClient::new(base, cfg, s.secret, &s.http)?))
}

#[derive(Clone)]
pub struct CloudClient {
    http: Arc<HttpClient>,
    cfg: CloudConfig,
    key: Secret,
}

/// One repositories page, whichever way the tenant wraps it: bare, in `data`, or in
/// `reply` (third-party clients accept all three; vendor-apis.md §3.4).
pub(crate) struct RepositoriesPage {
    pub rows: Vec<Box<serde_json::value::RawValue>>,
    pub total: Option<u64>,
}

impl CloudClient {
    pub fn new(base: String, cfg: CloudConfig, key: Secret, opts: &ClientOptions) -> Result<CloudClient, ConnectorError> {
        Ok(CloudClient { http: Arc::new(HttpClient::new(VENDOR, base, opts, crate::cortex::classify)?), cfg, key })
    }

    fn page_size(&self) -> u64 {
        self.cfg.page_size.unwrap_or(PAGE_SIZE)
    }

    pub(crate) async fn repositories(&self, offset: u64, limit: u64) -> Result<RepositoriesPage, ConnectorError> {
        let path = "/public_api/appsec/v1/repositories";
        let url = format!("{}?offset={offset}&limit={limit}", self.http.url(path));
        let v: Value =
            self.http.send_json(path, |c| crate::cortex::sign(c.get(&url), &self.cfg.key_id, self.cfg.security, &self.key)).await?;
        parse_page(v)
    }
}

fn parse_page(v: Value) -> Result<RepositoriesPage, ConnectorError> {
    let total =
        |o: &serde_json::Map<String, Value>| ["totalCount", "total_count", "total"].iter().find_map(|k| o.get(*k).and_then(Value::as_u64));
    let (list, total) = match v {
        Value::Array(a) => (a, None),
        Value::Object(mut o) => {
            let t = total(&o);
            match ["data", "reply"].iter().find_map(|k| o.remove(*k)) {
                Some(Value::Array(a)) => (a, t),
                // `{"reply": {"data": [...], "totalCount": n}}`
                Some(Value::Object(mut inner)) => {
                    let t = t.or_else(|| total(&inner));
                    match inner.remove("data") {
                        Some(Value::Array(a)) => (a, t),
                        _ => return Err(shape("a reply without a 'data' list")),
                    }
                }
                _ => return Err(shape("an object without a 'data' list")),
            }
        }
        _ => return Err(shape("neither a list nor an object")),
    };
    let rows = list.iter().map(|r| serde_json::value::to_raw_value(r).map_err(|e| shape(&e.to_string()))).collect::<Result<Vec<_>, _>>()?;
    Ok(RepositoriesPage { rows, total })
}

fn shape(what: &str) -> ConnectorError {
    ConnectorError::Decode {
        vendor: VENDOR,
        context: "/public_api/appsec/v1/repositories".into(),
        reason: format!("the repositories listing came back as {what}"),
    }
}

impl Connector for CloudClient {
    fn test(&self) -> BoxFuture<'_, Result<TestReport, ConnectorError>> {
        Box::pin(async move {
            let page = self.repositories(0, 1).await?;
            let seen = match page.total {
                Some(n) => format!("{n} repositories onboarded"),
                None if page.rows.is_empty() => "no repositories onboarded yet (onboard a version control system in Cortex)".into(),
                None => "repositories visible".into(),
            };
            Ok(TestReport { summary: format!("Connected to Cortex Cloud at {}: {seen}", self.http.base()), learned: None })
        })
    }

    fn source(&self, _plan: &SyncPlan) -> Box<dyn Source> {
        Box::new(source::CloudSource::new(self.clone(), self.page_size()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_api_base_comes_from_the_fqdn_the_console_shows() {
        for f in ["acme.xdr.us.paloaltonetworks.com", "https://acme.xdr.us.paloaltonetworks.com/", " ACME.xdr.us.paloaltonetworks.com "] {
            assert_eq!(api_base_from_fqdn(f).unwrap(), "https://api-acme.xdr.us.paloaltonetworks.com", "{f}");
        }
        assert_eq!(api_base_from_fqdn("api-acme.xdr.eu.paloaltonetworks.com").unwrap(), "https://api-acme.xdr.eu.paloaltonetworks.com");
        for bad in ["", "acme", "https://acme.x/public_api", "user@acme.example", "http://acme.example"] {
            assert!(api_base_from_fqdn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_is_read_bare_or_wrapped() {
        let row = json!({"assetId": "a"});
        for v in [json!([row]), json!({"data": [row], "totalCount": 7}), json!({"reply": {"data": [row], "total_count": 7}})] {
            let p = parse_page(v.clone()).unwrap();
            assert_eq!(p.rows.len(), 1, "{v}");
        }
        assert_eq!(parse_page(json!({"data": [], "totalCount": 7})).unwrap().total, Some(7));
        let e = parse_page(json!({"items": []})).err().unwrap().to_string();
        assert!(e.contains("without a 'data' list"), "{e}");
    }

    #[test]
    fn settings_are_checked() {
        assert!(checked("https://api-acme.example", &json!({"key_id": "12"})).is_ok());
        let e = checked("https://api-acme.example", &json!({"key_id": "x"})).err().unwrap().to_string();
        assert!(e.contains("must be a number"), "{e}");
        let e = checked("https://api-acme.example", &json!({"key_id": "1", "page_size": 0})).err().unwrap().to_string();
        assert!(e.contains("between 1 and 500"), "{e}");
        let e = checked("https://api-acme.example", &json!({"key_id": "1", "fqdn": "x"})).err().unwrap().to_string();
        assert!(e.contains("unknown setting 'fqdn'"), "{e}");
    }
}
