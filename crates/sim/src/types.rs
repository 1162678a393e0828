//! Wire types of the three vendor APIs, as the simulator serializes them. Field names and
//! types follow shared/reference/vendor-apis.md; fixtures reproduced from that document
//! deserialize into these same types (tests/fixtures.rs), which keeps the simulator honest.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Text on the wire: borrowed for the simulator's fixed vocabulary, owned otherwise.
pub type Text = Cow<'static, str>;

// ---------------------------------------------------------------- Semgrep (Web API v1)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsLink {
    pub url: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub id: i64,
    pub name: Text,
    pub slug: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<FindingsLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDeploymentsResponse {
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub id: i64,
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text>,
    pub tags: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_scan_at: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_branch: Option<Text>,
    /// Only on the single-project GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_scan_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListProjectsResponse {
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectResponse {
    pub project: Project,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRule {
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Text>,
    #[serde(default)]
    pub cwe_names: Vec<Text>,
    #[serde(default)]
    pub owasp_names: Vec<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcategories: Vec<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerability_classes: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingLocation {
    pub file_path: Text,
    pub line: i64,
    pub column: i64,
    pub end_line: i64,
    pub end_column: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRepository {
    pub name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcingPolicy {
    pub id: i64,
    pub name: Text,
    pub slug: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundDependency {
    pub package: Text,
    pub version: Text,
    pub ecosystem: Text,
    pub transitivity: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockfile_line_url: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixRecommendation {
    pub package: Text,
    pub version: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpssScore {
    pub score: f64,
    pub percentile: f64,
}

/// A SAST or SCA finding (`issue_type=sast|sca`); SCA-only fields are absent on SAST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#ref: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syntactic_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_based_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen_scan_id: Option<i64>,
    pub status: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_state: Option<Text>,
    #[serde(default)]
    pub triage_reason: Option<Text>,
    #[serde(default)]
    pub triage_comment: Option<Text>,
    #[serde(default)]
    pub triaged_at: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant_since: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<Text>,
    pub severity: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Text>,
    #[serde(default)]
    pub categories: Vec<Text>,
    pub rule_name: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_message: Option<Text>,
    pub rule: FindingRule,
    pub location: FindingLocation,
    pub repository: FindingRepository,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_of_code_url: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcing_policy: Option<SourcingPolicy>,
    // SCA only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_identifier: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_dependency: Option<FoundDependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_recommendations: Option<Vec<FixRecommendation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable_condition: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_score: Option<EpssScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_malicious: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsResponse {
    pub findings: Vec<Finding>,
}

/// Semgrep's error body (shape is our choice; clients must branch on status only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemgrepError {
    pub error: Text,
}

// ---------------------------------------------------------------- Cortex XDR / Cortex platform

/// `{ "reply": { "err_code", "err_msg", "err_extra" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CortexError {
    pub err_code: i64,
    pub err_msg: Text,
    pub err_extra: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply<T> {
    pub reply: T,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointTags {
    pub server_tags: Vec<Text>,
    pub endpoint_tags: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub endpoint_id: Text,
    pub endpoint_name: Text,
    pub endpoint_type: Text,
    pub endpoint_status: Text,
    pub os_type: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Text>,
    pub ip: Vec<Text>,
    #[serde(default)]
    pub ipv6: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Text>,
    #[serde(default)]
    pub mac_address: Vec<Text>,
    pub users: Vec<Text>,
    pub domain: Text,
    pub alias: Text,
    pub first_seen: i64,
    pub last_seen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_package: Option<Text>,
    #[serde(default)]
    pub active_directory: serde_json::Value,
    pub endpoint_version: Text,
    pub is_isolated: Text,
    #[serde(default)]
    pub isolated_date: Option<i64>,
    #[serde(default)]
    pub group_name: Option<Vec<Text>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_status: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_status: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<EndpointTags>,
    /// Cloud provider of the machine the agent runs on (empty on premises).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsPage {
    /// Often absent in real replies (the vendor's own fixtures omit it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    pub result_count: i64,
    pub endpoints: Vec<Endpoint>,
}

/// One row of the XQL dataset `va_endpoints`: an endpoint with its CVE analysis.
/// Column names other than `endpoint_id` and `endpoint_name` are unverified (public
/// queries name `cves`, `severity`, `severity_score`); `_time` is XQL's row time, here
/// the time the endpoint's CVE list last changed (our choice; see docs/vendors.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaEndpoint {
    pub endpoint_id: Text,
    pub endpoint_name: Text,
    /// CVE ids found on the endpoint.
    pub cves: Vec<Text>,
    /// Highest severity of its CVEs (`CRITICAL` … `LOW`, or `NONE`).
    pub severity: Text,
    pub severity_score: f64,
    pub _time: i64,
}

/// One row of the XQL dataset `va_cves` (one row per CVE found in the tenant). Column
/// names are those public XQL queries use (vendor-apis.md §2.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaCve {
    pub name: Text,
    pub cve_id: Text,
    /// `CRITICAL` / `HIGH` / `MEDIUM` / `LOW`.
    pub severity: Text,
    pub severity_score: f64,
    pub impact_score: f64,
    pub exploitability_score: f64,
    pub description: Text,
    /// Epoch ms.
    pub publication_date: i64,
    pub affected_products: Vec<Text>,
    /// `APPLICATION` or `OPERATING_SYSTEM`.
    pub r#type: Text,
    pub _time: i64,
}

/// `get_query_results` reply: status, cost and rows (inline up to 1,000, else a stream id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XqlResults {
    pub status: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_results: Option<u64>,
    /// Compute units this query cost, per tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_cost: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_quota: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<XqlRows>,
}

/// `results`: rows inline, or the id of a stream to download them from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XqlRows {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<Text>,
}

/// `get_quota` reply (field names from the vendor's XQL integration docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XqlQuota {
    pub license_quota: f64,
    pub additional_purchased_quota: f64,
    pub used_quota: f64,
    pub eval_quota: f64,
}

// ---------------------------------------------------------------- Cortex Cloud AppSec

/// A workload a repository's code runs in. **Our choice**: no public document names
/// these fields (vendor-apis.md §3.4); they are listed here, in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeployedAsset {
    pub asset_id: Text,
    pub asset_name: Text,
    pub asset_type: Text,
    /// `null` when exposure cannot be determined (AWS classic load balancers).
    pub internet_exposed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_path: Option<Text>,
    /// The cloud instance a workload runs on (compute instances), as the provider names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_instance_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<Text>,
}

/// A repository of `GET /public_api/appsec/v1/repositories`. Verified (Cortex docs "Get
/// repositories"; third-party clients): keyed by `assetId`, with `fullRepositoryName` and
/// `repositoryUrl`. Everything from `deploymentStatus` on is **our choice** (undocumented
/// upstream; vendor-apis.md §3.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Repository {
    pub asset_id: Text,
    pub repository_name: Text,
    pub full_repository_name: Text,
    pub repository_url: Text,
    /// `GITHUB`, `GITLAB`, … (what `source[]` filters on).
    pub source: Text,
    pub default_branch: Text,
    pub visibility: Text,
    #[serde(default)]
    pub last_scan_time: Option<i64>,
    // ---- our choice from here on
    /// DEPLOYED | NOT_DEPLOYED | UNKNOWN
    pub deployment_status: Text,
    pub deployed_assets: Vec<DeployedAsset>,
    /// EXPOSED | NOT_EXPOSED | UNKNOWN | UNSUPPORTED
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_exposure: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_exposure_reason: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// The repositories listing: `offset`/`limit` paging (no page numbers); the rows in
/// `data` (third-party clients accept it bare or wrapped) with the match count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RepositoriesPage {
    pub data: Vec<Repository>,
    pub total_count: i64,
}

/// One attack-surface exposure record of `get_assets_internet_exposure` (Xpanse/ASM on an
/// XDR tenant; vendor-apis.md §3.3, fields from the XSOAR fixture
/// `EXTERNAL_EXPOSURES_RESPONSE`). `agent_id` and `cloud_id` are what join it to the
/// endpoint and to cloud workloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsmExposure {
    pub asm_ids: Vec<Text>,
    pub name: Text,
    pub asset_type: Text,
    pub cloud_provider: Text,
    pub cloud_id: Text,
    pub ips: Vec<Text>,
    pub has_active_externally_services: bool,
    pub has_xdr_agent: Text,
    pub agent_id: Text,
    pub service_type: Vec<Text>,
    pub first_observed: Option<i64>,
    pub last_observed: Option<i64>,
    pub externally_inferred_cves: Vec<Text>,
}

/// The `get_assets_internet_exposure` reply body (inside `reply`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposurePage {
    pub total_count: i64,
    pub result_count: i64,
    pub assets_internet_exposure: Vec<AsmExposure>,
    /// Present while more pages follow (with `use_page_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<Text>,
}
