//! Assets: hosts, repositories, packages, cloud resources — each with a stable
//! identity, the rule that identified it, and per-source attribution.

use serde::Serialize;

use super::string_enum;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetKind {
    /// A computer: server, workstation, VM (OCSF `device`).
    Host,
    /// A source-code repository (normalized `host/owner/name` identity).
    Repository,
    /// A software package version, identified by purl.
    Package,
    /// A cloud resource: bucket, function, load balancer, workload.
    CloudResource,
}

string_enum!(AssetKind, "asset kind", {
    Host => "host", Repository => "repository", Package => "package", CloudResource => "cloud_resource",
});

/// One asset as stored: the merged view over all sources that report it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Asset {
    pub id: i64,
    pub kind: AssetKind,
    pub name: String,
    /// The strongest identifier, as `kind:value` (e.g. `edr_agent_id:5c1f…`).
    pub identity: String,
    /// Name of the identification rule that matched (or created) this asset.
    pub matched_rule: String,
    /// Target-model attributes (`hostName`, `operatingSystem.name`, …), merged.
    pub attributes: serde_json::Value,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

/// One source's view of an asset (per-source attribution).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetSource {
    pub asset_id: i64,
    pub integration_id: i64,
    /// Product name shown to users, e.g. `Cortex XDR`.
    pub source: String,
    /// The vendor's id for the asset (`endpoint_id`, project id, purl).
    pub source_key: String,
    pub active: bool,
    pub first_seen: Millis,
    pub last_seen: Millis,
}
