//! The target model: every field a transform rule may write, with its type.
//!
//! Three places hold values: the asset itself (`hostName`, `operatingSystem.name`),
//! its network interfaces (`networkInterfaces[].ipAddress`), and its findings
//! (`finding[].severity`). Custom attributes live under open prefixes
//! (`temp_q_customAttributes.*`, `customAttributes.*`, `finding[].custom.*`) that accept
//! any key. Field names follow the seed product's target model; the store maps them onto
//! OCSF-shaped columns.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    /// Epoch ms internally; accepts epoch s/ms, RFC 3339, dates.
    DateTime,
    /// Normalized severity (critical/high/medium/low/info) from any vendor spelling.
    Severity,
    /// Normalized finding status (open/fixed/risk_accepted/false_positive).
    Status,
    StringList,
    /// Free-form JSON (custom attributes).
    Any,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::DateTime => "datetime",
            FieldType::Severity => "severity",
            FieldType::Status => "status",
            FieldType::StringList => "string list",
            FieldType::Any => "any",
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TargetField {
    pub path: &'static str,
    pub ty: FieldType,
    pub doc: &'static str,
}

const fn f(path: &'static str, ty: FieldType, doc: &'static str) -> TargetField {
    TargetField { path, ty, doc }
}

use FieldType::*;

/// Fields of the asset a record describes.
pub const ASSET_FIELDS: &[TargetField] = &[
    f("externalAssetId", String, "The source's id for the asset (agent id, project id)."),
    f("name", String, "Display name (defaults to hostName, repository or package name)."),
    f("hostName", String, "Host name."),
    f("domain", String, "DNS / Active Directory domain."),
    f("fqdn", String, "Fully qualified domain name."),
    f("operatingSystem.name", String, "Operating system name."),
    f("operatingSystem.version", String, "Operating system version."),
    f("type", String, "The source's asset type (e.g. AGENT_TYPE_SERVER)."),
    f("status", String, "The source's asset status (e.g. CONNECTED, UNINSTALLED)."),
    f("firstFoundDate", DateTime, "When the source first saw the asset."),
    f("lastFoundDate", DateTime, "When the source last saw the asset."),
    f("tags", StringList, "Tags."),
    f("asset.assetDetail.cloudInfo.provider", String, "Cloud provider (AWS, Azure, GCP)."),
    f("asset.assetDetail.cloudInfo.instanceId", String, "Cloud instance id (identifies the host)."),
    f("asset.assetDetail.cloudInfo.accountId", String, "Cloud account / subscription / project."),
    f("asset.assetDetail.cloudInfo.region", String, "Cloud region."),
    f(
        "asset.assetDetail.agentId",
        String,
        "The EDR agent id when the record is not the agent's own (an exposure record): joins it to the agent's host.",
    ),
    f("exposure.internetExposed", Boolean, "The asset answers from the internet (attack-surface management)."),
    f("exposure.services", StringList, "Externally reachable service types seen on it."),
    f("exposure.ips", StringList, "Its internet-facing addresses."),
    f("repository.url", String, "Repository URL (any spelling; normalized for identity)."),
    f("repository.name", String, "Repository name (owner/name)."),
    f("repository.defaultBranch", String, "Default branch."),
    f("repository.provider", String, "SCM provider (GITHUB, GITLAB…)."),
    f("repository.visibility", String, "PUBLIC / PRIVATE / INTERNAL."),
    f("repository.lastScanDate", DateTime, "Last scan of the repository."),
    f("deployment.status", String, "Deployment status (DEPLOYED, NOT_DEPLOYED, UNKNOWN)."),
    f("deployment.internetExposure", String, "Internet exposure (EXPOSED, NOT_EXPOSED, UNKNOWN, UNSUPPORTED)."),
    f("deployment.exposureReason", String, "Why exposure is unknown or unsupported."),
    f("deployment.assets", Any, "Deployed runtime assets."),
    f("package.ecosystem", String, "Package ecosystem (npm, pypi, maven, gomod, cargo, nuget…)."),
    f("package.name", String, "Package name."),
    f("package.version", String, "Installed package version."),
    f("package.purl", String, "Package URL; built from ecosystem/name/version when absent."),
    f("package.transitivity", String, "DIRECT / TRANSITIVE / UNKNOWN."),
    f("package.manifestPath", String, "Lockfile or manifest path."),
    f("criticality", Integer, "Business criticality 1–5."),
];

/// Fields of each `networkInterfaces[]` element.
pub const NIC_FIELDS: &[TargetField] = &[
    f("ipAddress", String, "Any IP address."),
    f("ipv4Address", String, "IPv4 address."),
    f("ipv6Address", String, "IPv6 address."),
    f("macAddress", String, "MAC address."),
    f("publicIpAddress", String, "Public (NAT) IP address."),
];

/// Fields of each `finding[]` element.
pub const FINDING_FIELDS: &[TargetField] = &[
    f("externalFindingId", String, "The source's id for the finding; required."),
    f("name", String, "Title."),
    f("description", String, "Description / message."),
    f("severity", Severity, "Normalized severity."),
    f("sourceSeverity", String, "The source's severity, verbatim."),
    f("sourceRiskScore", Number, "The source's score (CVSS as reported, risk score)."),
    f("status", Status, "Normalized status; open when absent."),
    f("sourceStatus", String, "The source's status, verbatim."),
    f("firstFoundOn", DateTime, "First seen by the source."),
    f("lastFoundOn", DateTime, "Last seen by the source."),
    f("url", String, "Link to the finding in the source."),
    f("relevantSince", DateTime, "When the finding last became relevant (Semgrep `relevant_since`)."),
    f("findingType.vulnerability.cveId", String, "CVE id."),
    f("findingType.vulnerability.ghsaId", String, "GHSA id."),
    f("findingType.vulnerability.cvssVector", String, "CVSS vector (v2/v3.x/v4.0); scored on ingest."),
    f("findingType.vulnerability.cvssScore", Number, "CVSS base score as reported."),
    f("findingType.vulnerability.epssScore", Number, "EPSS probability 0–1."),
    f("findingType.vulnerability.epssPercentile", Number, "EPSS percentile 0–1."),
    f("findingType.vulnerability.vulnerableVersion", String, "Installed vulnerable version."),
    f("findingType.vulnerability.fixedVersions", StringList, "Versions that fix it; empty = no fix."),
    f("findingType.vulnerability.reachability", String, "Reachability (reachable, unreachable, …)."),
    f("findingType.vulnerability.reachableCondition", String, "Condition under which it is reachable."),
    f("findingType.vulnerability.exploitable", Boolean, "An exploit is known."),
    f("findingType.vulnerability.affectedProduct", String, "Affected product/package name."),
    f("findingType.vulnerability.publishedDate", DateTime, "Publication date."),
    f("findingType.codeWeakness.ruleId", String, "Rule id."),
    f("findingType.codeWeakness.ruleName", String, "Rule name."),
    f("findingType.codeWeakness.message", String, "Rule message."),
    f("findingType.codeWeakness.confidence", String, "Rule confidence."),
    f("findingType.codeWeakness.cwe", StringList, "CWE names or ids."),
    f("findingType.codeWeakness.owasp", StringList, "OWASP categories."),
    f("findingType.codeWeakness.categories", StringList, "Rule categories."),
    f("findingType.codeWeakness.vulnerabilityClasses", StringList, "Vulnerability classes (SQL Injection, XSS…)."),
    f("findingType.codeWeakness.tool", String, "The tool that reported it (SARIF imports)."),
    f(
        "findingType.vulnerability.transitivity",
        String,
        "Dependency transitivity as the source spells it (Semgrep: direct, transitive, unknown).",
    ),
    f("findingType.vulnerability.cwe", StringList, "CWE names or ids of the vulnerability."),
    f("location.filePath", String, "File path."),
    f("location.startLine", Integer, "Start line."),
    f("location.endLine", Integer, "End line."),
    f("location.startColumn", Integer, "Start column."),
    f("location.endColumn", Integer, "End column."),
    f("location.snippet", String, "The matched code."),
    f("commit.sha", String, "Commit SHA."),
    f("commit.ref", String, "Branch or ref."),
    f("triage.state", String, "Source triage state."),
    f("triage.reason", String, "Source triage reason."),
    f("triage.comment", String, "Source triage comment."),
    f("matchBasedId", String, "Identity that survives line moves (Semgrep)."),
    f("syntacticId", String, "Syntactic identity hash (Semgrep)."),
];

/// Asset prefixes that accept any key (custom attributes).
pub const ASSET_OPEN_PREFIXES: &[&str] = &["temp_q_customAttributes", "customAttributes"];
/// Finding prefixes that accept any key.
pub const FINDING_OPEN_PREFIXES: &[&str] = &["custom"];

/// Where a target path writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Asset,
    Nic,
    Finding,
}

/// Looks a field up by path among `fields`, or under an open prefix.
pub fn lookup(place: Place, path: &str) -> Option<FieldType> {
    let (fields, open) = match place {
        Place::Asset => (ASSET_FIELDS, ASSET_OPEN_PREFIXES),
        Place::Nic => (NIC_FIELDS, &[][..]),
        Place::Finding => (FINDING_FIELDS, FINDING_OPEN_PREFIXES),
    };
    if let Some(fd) = fields.iter().find(|fd| fd.path == path) {
        return Some(fd.ty);
    }
    open.iter().any(|p| path.strip_prefix(p).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)).then_some(FieldType::Any)
}

/// The closest known field name, for "did you mean" hints.
pub fn suggest(place: Place, path: &str) -> Option<&'static str> {
    let fields = match place {
        Place::Asset => ASSET_FIELDS,
        Place::Nic => NIC_FIELDS,
        Place::Finding => FINDING_FIELDS,
    };
    nearest(path, fields.iter().map(|fd| fd.path))
}

/// The candidate nearest to `word` (case-insensitive edit distance), if any is near.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_suggest() {
        assert_eq!(lookup(Place::Asset, "hostName"), Some(FieldType::String));
        assert_eq!(lookup(Place::Asset, "temp_q_customAttributes.serverTags"), Some(FieldType::Any));
        assert_eq!(lookup(Place::Asset, "temp_q_customAttributes"), None);
        assert_eq!(lookup(Place::Finding, "severity"), Some(FieldType::Severity));
        assert_eq!(lookup(Place::Nic, "macAddress"), Some(FieldType::String));
        assert_eq!(suggest(Place::Asset, "hostname"), Some("hostName"));
        assert_eq!(suggest(Place::Finding, "externalFindingID"), Some("externalFindingId"));
        assert_eq!(suggest(Place::Asset, "zzzzzzzzzzzz"), None);
    }
}
