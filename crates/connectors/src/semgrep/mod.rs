//! Semgrep AppSec Platform: SAST (Semgrep Code) and Supply Chain (SCA) findings per
//! project, and the projects themselves (vendor-apis.md §1).
//!
//! One token reaches one deployment; adding the integration records its slug. Projects
//! are the connector's *scopes*: the engine maps each to a repository asset (detected
//! from its URL, created for future projects when asked, or set by hand) and ingests only
//! mapped projects. Findings are one record each, streamed newest `relevant_since`
//! first in pages of up to 3,000, deduplicated across refs. Delta syncs read whole the
//! projects scanned since the last sync (`latest_scan_at`) and reconcile them; `since`
//! is not used (it never returns fixed or triaged findings; see `source`).

mod client;
mod map;
mod source;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_core::model::Completeness;

pub use client::SemgrepClient;
pub use map::{SAST_MAP, SCA_MAP, sast_map, sca_map};

use crate::http::normalize_base_url;
use crate::{Connector, ConnectorError, ConnectorKind, Settings, StreamSpec, ValidSettings};

/// Asset source name (`asset.inventory:(source:Semgrep)`).
pub const PRODUCT: &str = "Semgrep";
pub const SAST_PRODUCT: &str = "Semgrep Code";
pub const SCA_PRODUCT: &str = "Semgrep Supply Chain";
pub const SAST: &str = "sast";
pub const SCA: &str = "sca";
pub const DEFAULT_BASE_URL: &str = "https://semgrep.dev";
pub const DEFAULT_PAGE_SIZE: u64 = 1_000;

pub static KIND: ConnectorKind = ConnectorKind {
    name: "semgrep",
    product: PRODUCT,
    streams: &[
        StreamSpec { name: SAST, completeness: Completeness::PerFinding, default_map: sast_map },
        StreamSpec { name: SCA, completeness: Completeness::PerFinding, default_map: sca_map },
    ],
    validate,
    build,
    config_schema: crate::config_schema::<SemgrepConfig>,
    default_every_hours: None,
    one_per_tenant: false,
};

/// Settings kept in `integrations.config` (never the token).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SemgrepConfig {
    /// `sast`, `sca`.
    #[serde(default = "both")]
    pub scan: Vec<String>,
    /// Map projects whose repository has no asset yet to a new repository asset.
    #[serde(default)]
    pub auto_map_future: bool,
    /// Write the deployment context back as project tags (`tributary:deployed`,
    /// `tributary:internet-exposed`), so developers see it in Semgrep itself. Off unless
    /// asked for: it changes the tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_back: bool,
    /// The deployment the token reaches (recorded when the integration is added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    /// Findings per request, 100–3000 (default 1000: a page of Semgrep findings is ~1.5 KB
    /// of JSON each and several pages are in flight, so 1000 keeps memory near 100 MB
    /// while still needing only one request per thousand findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// Results after which the deployment stops a findings listing (default 50,000, what
    /// deployments older than mid-2026 did); set lower only to test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_cap: Option<u64>,
    /// HTTP settings (rate limit, retries, timeout), shared by every connector.
    #[serde(flatten)]
    pub http: crate::http::HttpSettings,
}

fn both() -> Vec<String> {
    vec![SAST.into(), SCA.into()]
}

impl SemgrepConfig {
    pub fn streams(&self) -> Vec<&'static str> {
        [SAST, SCA].into_iter().filter(|s| self.scan.iter().any(|x| x == s)).collect()
    }
    pub(crate) fn page_size(&self) -> u64 {
        self.page_size.unwrap_or(DEFAULT_PAGE_SIZE)
    }
}

fn validate(base_url: &str, config: &Value) -> Result<ValidSettings, ConnectorError> {
    let (base, cfg) = checked(base_url, config)?;
    Ok((base, crate::config_value(&cfg)?))
}

/// The normalized base URL and the checked config.
fn checked(base_url: &str, config: &Value) -> Result<(String, SemgrepConfig), ConnectorError> {
    let base_url = if base_url.trim().is_empty() { DEFAULT_BASE_URL } else { base_url };
    let base = normalize_base_url(base_url, &["/api/v1", "/api/"])?;
    let mut cfg: SemgrepConfig = crate::parse_config(config)?;
    for s in cfg.scan.iter_mut() {
        *s = s.trim().to_ascii_lowercase();
    }
    cfg.scan.dedup();
    crate::check_choice(&cfg.scan, &[SAST, SCA], "scan type")?;
    if let Some(p) = cfg.page_size
        && !(100..=3_000).contains(&p)
    {
        return Err(ConnectorError::Config(format!("page_size must be between 100 and 3000, got {p}")));
    }
    Ok((base, cfg))
}

fn build(s: Settings) -> Result<Box<dyn Connector>, ConnectorError> {
    let (base, cfg) = checked(&s.base_url, &s.config)?;
    if s.secret.is_empty() {
        return Err(ConnectorError::Config("the API token is empty".into()));
    }
    Ok(Box::new(SemgrepClient::new(base, cfg, s.secret, &s.http)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_settings() {
        let (base, cfg) = validate("", &json!({})).unwrap();
        assert_eq!(base, DEFAULT_BASE_URL);
        assert_eq!(cfg["scan"], json!(["sast", "sca"]));
        assert!(validate("semgrep.dev", &json!({})).unwrap_err().to_string().contains("no scheme"));
        assert!(validate("https://semgrep.dev/api/v1/deployments", &json!({})).unwrap_err().to_string().contains("API path"));
        assert!(validate("", &json!({"scan": ["dast"]})).unwrap_err().to_string().contains("unknown scan type 'dast'"));
        assert!(validate("", &json!({"scan": []})).unwrap_err().to_string().contains("at least one"));
        assert!(validate("", &json!({"page_size": 5000})).unwrap_err().to_string().contains("page_size"));
        let (_, cfg) = validate("http://127.0.0.1:8471/semgrep/", &json!({"scan": ["SCA"]})).unwrap();
        assert_eq!(cfg["scan"], json!(["sca"]));
    }
}
