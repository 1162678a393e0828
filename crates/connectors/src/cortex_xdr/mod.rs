//! Cortex XDR: endpoints (host assets) and the CVEs found on them.
//!
//! Records are composite endpoints: the endpoint's own fields from `get_endpoint` plus a
//! `cves[]` array joined from the XQL vulnerability-assessment datasets `va_endpoints`
//! and `va_cves` (the public API has no vulnerabilities call; vendor-apis.md §2.6, §2.6.1),
//! one page of 100 endpoints at a time. CVEs need Host Insights (`get_tenant_info`);
//! without it endpoints still sync. Delta syncs ask for endpoints whose `last_seen`
//! moved past the previous run's watermark and for `va_endpoints` rows written since;
//! a record with a CVE list carries its endpoint's complete list, so CVEs that
//! disappeared are closed per endpoint. Uninstalled agents come back as tombstones.

mod client;
mod exposure;
mod map;
mod source;
mod xql;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_core::model::Completeness;

pub use client::XdrClient;
pub use map::{default_map, exposure_map};

use crate::http::normalize_base_url;
use crate::{Connector, ConnectorError, ConnectorKind, Settings, StreamSpec};

pub const PRODUCT: &str = "Cortex XDR";
pub const STREAM: &str = "endpoint";

pub static KIND: ConnectorKind = ConnectorKind {
    name: "cortex-xdr",
    product: PRODUCT,
    streams: &[
        StreamSpec { name: STREAM, completeness: Completeness::PerAsset, default_map },
        StreamSpec { name: exposure::STREAM, completeness: Completeness::PerAsset, default_map: exposure_map },
    ],
    validate,
    build,
    config_schema: crate::config_schema::<XdrConfig>,
    default_every_hours: None,
    one_per_tenant: false,
};

pub use crate::cortex::SecurityLevel;

/// Settings kept in `integrations.config` (never the key itself).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct XdrConfig {
    pub key_id: String,
    #[serde(default = "crate::cortex::standard")]
    pub security: SecurityLevel,
    /// `vulnerability`, `host-asset`, `internet-exposure`.
    #[serde(default = "all_types")]
    pub types: Vec<String>,
    /// HTTP settings (rate limit, retries, timeout), shared by every connector.
    #[serde(flatten)]
    pub http: crate::http::HttpSettings,
}

fn all_types() -> Vec<String> {
    vec!["vulnerability".into(), "host-asset".into(), "internet-exposure".into()]
}

impl XdrConfig {
    pub fn vulnerabilities(&self) -> bool {
        self.types.iter().any(|t| t == "vulnerability")
    }
    /// Attack-surface exposure records (which hosts the internet reaches).
    pub fn exposure(&self) -> bool {
        self.types.iter().any(|t| t == "internet-exposure")
    }
}

fn validate(base_url: &str, config: &Value) -> Result<(String, Value), ConnectorError> {
    let (base, cfg) = checked(base_url, config)?;
    Ok((base, crate::config_value(&cfg)?))
}

/// The normalized base URL and the checked config.
fn checked(base_url: &str, config: &Value) -> Result<(String, XdrConfig), ConnectorError> {
    let base = normalize_base_url(base_url, &["/public_api"])?;
    let cfg: XdrConfig = crate::parse_config(config)?;
    crate::cortex::check_key_id(&cfg.key_id)?;
    crate::check_choice(&cfg.types, &["vulnerability", "host-asset", "internet-exposure"], "type")?;
    Ok((base, cfg))
}

fn build(s: Settings) -> Result<Box<dyn Connector>, ConnectorError> {
    let (base, cfg) = checked(&s.base_url, &s.config)?;
    if s.secret.is_empty() {
        return Err(ConnectorError::Config("the API key is empty".into()));
    }
    Ok(Box::new(XdrClient::new(base, cfg, s.secret, &s.http)?))
}
