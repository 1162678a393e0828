//! Typing an [`Applied`] record: the staged asset and findings the pipeline hands to
//! identification and the store, with their identifiers and content hashes.

use serde_json::{Map, Value};

use super::apply::Applied;
use super::map::TargetModel;
use crate::hash;
use crate::ident::{host, purl, repo::RepoKey};
use crate::identify::{Identifier, IdentifierKind};
use crate::model::{AssetKind, FindingKind, FindingStatus, Severity};
use crate::time::Millis;
use crate::vuln::{self, CvssScore};

/// Asset statuses that mean "this asset is gone" at the source.
const RETIRED_STATUSES: &[&str] = &["uninstalled", "deleted", "retired", "decommissioned", "terminated"];

#[derive(Debug, Clone, PartialEq)]
pub struct StagedAsset {
    pub kind: AssetKind,
    /// The source's own id for the asset, if the map provides one.
    pub source_key: Option<String>,
    pub name: String,
    /// Every identifier the asset carries, strongest kinds first.
    pub identifiers: Vec<Identifier>,
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
    /// The source reports the asset as gone (e.g. agent uninstalled).
    pub retired: bool,
    /// Target-model attributes as JSON text (serialized once; the content hash is of these bytes).
    pub attributes: String,
    pub content_hash: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StagedFinding {
    pub kind: FindingKind,
    pub product: String,
    pub external_id: String,
    pub title: String,
    pub severity: Severity,
    pub source_severity: Option<String>,
    pub source_score: Option<f64>,
    pub status: FindingStatus,
    pub cve: Option<String>,
    pub cvss: Option<CvssScore>,
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
    /// Target-model attributes as JSON text (serialized once; the content hash is of these bytes).
    pub attributes: String,
    pub content_hash: i64,
    /// What makes this finding the same problem as another source's: see [`Correlation`].
    pub correlation: Correlation,
    /// The risk inputs its attributes carry, as the columns issues aggregate.
    pub traits: crate::risk::RiskTraits,
}

/// The finding's half of its issue key (the other half is the asset it is anchored to,
/// known once the asset is identified: `store::ingest`). Deterministic, from the
/// finding's own fields, so the same input always gives the same issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// A CVE on a package (purl without version): anchored to the package's repository,
    /// so Semgrep Supply Chain and any other SCA source meet there.
    Package { purl: String, cve: String },
    /// A CVE on a host (or any non-package asset): anchored to that asset.
    Cve { cve: String },
    /// A rule at a code location: anchored to the repository, across imports and syncs.
    Code { rule: String, path: String, line: i64 },
    /// Nothing to meet another source on: its own issue.
    Own { product: String, external_id: String },
}

impl Correlation {
    /// From a finding's stored fields: a CVE, else a rule at a file and line, else its own.
    /// (A package's CVE becomes [`Correlation::Package`] once its asset is known:
    /// [`Correlation::on_package`].)
    pub fn read(product: &str, external_id: &str, cve: Option<&str>, attributes: &Value) -> Correlation {
        let s = |ptr: &str| attributes.pointer(ptr).and_then(Value::as_str).filter(|x| !x.is_empty());
        match (cve, s("/findingType/codeWeakness/ruleId"), s("/location/filePath")) {
            (Some(cve), _, _) => Correlation::Cve { cve: cve.to_string() },
            (None, Some(rule), Some(path)) => Correlation::Code {
                rule: rule.to_string(),
                path: path.trim_start_matches("./").to_string(),
                line: attributes.pointer("/location/startLine").and_then(Value::as_i64).unwrap_or(0),
            },
            _ => Correlation::Own { product: product.to_string(), external_id: external_id.to_string() },
        }
    }

    /// A CVE found on a package (`purl` with or without its version).
    pub fn on_package(self, purl: &str) -> Correlation {
        match self {
            Correlation::Cve { cve } => Correlation::Package { purl: purl::without_version(purl).to_string(), cve },
            other => other,
        }
    }

    /// `(anchor on the repository?, key text)`.
    pub fn key(&self) -> (bool, String) {
        match self {
            Correlation::Package { purl, cve } => (true, format!("pkg|{purl}|{cve}")),
            Correlation::Cve { cve } => (false, format!("cve|{cve}")),
            Correlation::Code { rule, path, line } => (true, format!("code|{rule}|{path}|{line}")),
            Correlation::Own { product, external_id } => (false, format!("own|{product}|{external_id}")),
        }
    }

    /// The issue id, positive, 63 bits: the anchor asset's id (its low
    /// [`ISSUE_ANCHOR_BITS`]) above a hash of anchor and key ([`ISSUE_HASH_BITS`]). `repo`
    /// is the repository the finding belongs to, `asset` its own asset.
    ///
    /// Why not a plain hash: every index keyed by issue id then holds one repository's or
    /// one host's issues side by side, so deleting an integration or rebuilding a
    /// repository's issues touches a few pages in order instead of one page per row at
    /// random (bench/RESULTS.md, issue 15 deletion: 5.0 s → 1.4 s for 610k issue rows).
    /// Two problems of one anchor share an id only if 43 hash bits collide: for a
    /// repository with 100,000 issues, about 1 in 1,700.
    pub fn issue_id(&self, asset: i64, repo: Option<i64>) -> i64 {
        let (on_repo, key) = self.key();
        let anchor = if on_repo { repo.unwrap_or(asset) } else { asset };
        let mut bytes = anchor.to_le_bytes().to_vec();
        bytes.extend_from_slice(key.as_bytes());
        let hash = crate::hash::content_hash(&bytes) as u64 >> (64 - ISSUE_HASH_BITS);
        let prefix = (anchor as u64) & ((1u64 << ISSUE_ANCHOR_BITS) - 1);
        ((prefix << ISSUE_HASH_BITS) | hash) as i64
    }
}

/// Bits of an issue id taken from its anchor asset's id (assets beyond 2^20 share
/// prefixes: still clustered, still told apart by the hash).
pub const ISSUE_ANCHOR_BITS: u32 = 20;
/// Bits of an issue id taken from the hash of anchor and correlation key.
pub const ISSUE_HASH_BITS: u32 = 63 - ISSUE_ANCHOR_BITS;

/// Serializes attributes once and hashes exactly those bytes.
pub fn seal_attributes(attributes: &Value) -> (String, i64) {
    let mut buf = Vec::with_capacity(512);
    let text = match serde_json::to_writer(&mut buf, attributes) {
        // serde_json writes valid UTF-8.
        Ok(()) => String::from_utf8(buf).unwrap_or_else(|_| "{}".into()),
        Err(_) => "{}".into(),
    };
    let hash = hash::content_hash(text.as_bytes());
    (text, hash)
}

/// One raw record after transform and typing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StagedRecord {
    pub asset: Option<StagedAsset>,
    pub findings: Vec<StagedFinding>,
    pub warnings: Vec<String>,
    /// Findings the map produced that could not be staged (no `externalFindingId`): the
    /// record's finding list is then incomplete, and closes nothing.
    pub dropped: usize,
}

fn get<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn text(obj: &Map<String, Value>, path: &str) -> Option<String> {
    str_at(obj, path).map(str::to_string)
}

fn str_at<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    get(obj, path).and_then(Value::as_str)
}

fn int(obj: &Map<String, Value>, path: &str) -> Option<i64> {
    get(obj, path).and_then(Value::as_i64)
}

fn num(obj: &Map<String, Value>, path: &str) -> Option<f64> {
    get(obj, path).and_then(Value::as_f64)
}

/// Types one applied record. `connector` namespaces source ids; `product` is the
/// findings' `vendorProductName`.
pub fn stage(applied: Applied, model: TargetModel, connector: &str, product: &str) -> StagedRecord {
    let Applied { asset, findings, mut warnings } = applied;
    let asset = if asset.is_empty() { None } else { stage_asset(asset, model.asset_kind(), connector, &mut warnings) };
    let produced = findings.len();
    let findings: Vec<StagedFinding> = match model.finding_kind() {
        Some(kind) => findings.into_iter().filter_map(|f| stage_finding(f, kind, product, &mut warnings)).collect(),
        None => Vec::new(),
    };
    let dropped = if model.finding_kind().is_some() { produced - findings.len() } else { 0 };
    // A package's CVE meets other sources on the package without its version.
    let mut findings = findings;
    if let Some(a) = asset.as_ref().filter(|a| a.kind == AssetKind::Package)
        && let Some(p) = a.identifiers.iter().find(|i| i.kind == IdentifierKind::Purl)
    {
        for f in &mut findings {
            f.correlation = std::mem::replace(&mut f.correlation, Correlation::Own { product: String::new(), external_id: String::new() })
                .on_package(&p.value);
        }
    }
    StagedRecord { asset, findings, warnings, dropped }
}

fn stage_asset(obj: Map<String, Value>, kind: AssetKind, connector: &str, warnings: &mut Vec<String>) -> Option<StagedAsset> {
    let source_key = text(&obj, "externalAssetId");
    let mut ids: Vec<Identifier> = Vec::new();
    fn add(ids: &mut Vec<Identifier>, kind: IdentifierKind, value: String) {
        if !ids.iter().any(|i| i.kind == kind && i.value == value) {
            ids.push(Identifier { kind, value });
        }
    }
    let mut name = text(&obj, "name");
    match kind {
        AssetKind::Host => {
            // An exposure record names the agent it belongs to; an agent's own record is
            // keyed by its id.
            if let Some(k) = text(&obj, "asset.assetDetail.agentId").or_else(|| source_key.clone()) {
                add(&mut ids, IdentifierKind::AgentId, format!("{connector}:{k}"));
            }
            if let Some(inst) = text(&obj, "asset.assetDetail.cloudInfo.instanceId") {
                let provider = text(&obj, "asset.assetDetail.cloudInfo.provider").unwrap_or_default().to_ascii_lowercase();
                add(&mut ids, IdentifierKind::CloudInstanceId, format!("{provider}:{inst}"));
            }
            let nics: Vec<&Map<String, Value>> = get(&obj, "networkInterfaces")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_object).collect())
                .unwrap_or_default();
            for nic in &nics {
                if let Some(mac) = text(nic, "macAddress").filter(|m| host::is_identifying_mac(m)).and_then(|m| host::normalize_mac(&m)) {
                    add(&mut ids, IdentifierKind::Mac, mac);
                }
            }
            let hostname = text(&obj, "hostName");
            let fqdn = text(&obj, "fqdn")
                .map(|f| f.trim_end_matches('.').to_ascii_lowercase())
                .or_else(|| hostname.as_deref().and_then(|h| host::fqdn(h, text(&obj, "domain").as_deref())));
            if let Some(f) = &fqdn {
                add(&mut ids, IdentifierKind::Fqdn, f.clone());
            }
            if let Some(h) = &hostname {
                for nic in &nics {
                    for field in ["ipv4Address", "ipAddress"] {
                        if let Some(ip) = text(nic, field) {
                            add(&mut ids, IdentifierKind::HostnameIp, format!("{}|{}", h.to_ascii_lowercase(), ip));
                        }
                    }
                }
            }
            name = name.or(hostname).or(fqdn);
        }
        AssetKind::Repository => match text(&obj, "repository.url").map(|u| RepoKey::parse(&u)) {
            Some(Ok(key)) => {
                name = name.or_else(|| text(&obj, "repository.name")).or_else(|| Some(key.path().to_string()));
                add(&mut ids, IdentifierKind::RepoUrl, key.as_str().to_string());
            }
            Some(Err(e)) => warnings.push(e.to_string()),
            None => {}
        },
        AssetKind::Package => {
            let built = match text(&obj, "package.purl") {
                Some(p) => Some(p),
                None => match (text(&obj, "package.ecosystem"), text(&obj, "package.name")) {
                    (Some(eco), Some(n)) => match purl::build(&eco, &n, text(&obj, "package.version").as_deref()) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            warnings.push(e.to_string());
                            None
                        }
                    },
                    _ => None,
                },
            };
            if let Some(p) = built {
                name = name.or_else(|| match (text(&obj, "package.name"), text(&obj, "package.version")) {
                    (Some(n), Some(v)) => Some(format!("{n}@{v}")),
                    _ => Some(p.clone()),
                });
                add(&mut ids, IdentifierKind::Purl, p);
            }
        }
        AssetKind::CloudResource => {}
    }
    if ids.is_empty()
        && let Some(k) = &source_key
    {
        add(&mut ids, IdentifierKind::SourceId, format!("{connector}:{k}"));
    }
    if ids.is_empty() {
        warnings.push(format!("the record has no identifier for a {kind} asset; asset skipped"));
        return None;
    }
    ids.sort_by_key(|i| i.kind.default_rank());
    let retired = text(&obj, "status").is_some_and(|s| RETIRED_STATUSES.contains(&s.to_ascii_lowercase().as_str()));
    let mut attributes = Value::Object(obj);
    if let Some(p) = ids.iter().find(|i| i.kind == IdentifierKind::Purl)
        && let Some(pkg) = attributes.get_mut("package").and_then(Value::as_object_mut)
    {
        pkg.insert("purl".into(), Value::String(p.value.clone()));
    }
    let obj_ref = attributes.as_object();
    let first_seen = obj_ref.and_then(|o| int(o, "firstFoundDate"));
    let last_seen = obj_ref.and_then(|o| int(o, "lastFoundDate"));
    let (attributes, content_hash) = seal_attributes(&attributes);
    let name = name.unwrap_or_else(|| ids[0].value.clone());
    Some(StagedAsset { kind, source_key, name, identifiers: ids, first_seen, last_seen, retired, attributes, content_hash })
}

fn stage_finding(mut obj: Map<String, Value>, kind: FindingKind, product: &str, warnings: &mut Vec<String>) -> Option<StagedFinding> {
    let Some(external_id) = text(&obj, "externalFindingId") else {
        warnings.push("a finding has no externalFindingId; finding skipped".into());
        return None;
    };
    let cve = str_at(&obj, "findingType.vulnerability.cveId").and_then(vuln::normalize_cve);
    let cvss = match str_at(&obj, "findingType.vulnerability.cvssVector") {
        Some(v) => match vuln::score_cvss(v) {
            Ok(s) => Some(s),
            Err(e) => {
                warnings.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if let Some(c) = &cvss
        && let Some(v) = obj.get_mut("findingType").and_then(|t| t.get_mut("vulnerability")).and_then(Value::as_object_mut)
    {
        v.insert("cvss".into(), serde_json::json!({"version": c.version, "baseScore": c.base_score, "severity": c.severity}));
    }
    for branch in ["codeWeakness", "vulnerability"] {
        let Some(cwes) = obj.get("findingType").and_then(|t| t.get(branch)).and_then(|b| b.get("cwe")).and_then(Value::as_array) else {
            continue;
        };
        let ids: Vec<u32> = cwes.iter().filter_map(Value::as_str).filter_map(vuln::cwe_id).collect();
        let top25 = ids.iter().filter_map(|c| vuln::cwe_top25_rank(*c)).min();
        if let Some(cw) = obj.get_mut("findingType").and_then(|t| t.get_mut(branch)).and_then(Value::as_object_mut) {
            cw.insert("cweIds".into(), Value::from(ids));
            cw.insert("cweTop25Rank".into(), top25.map(Value::from).unwrap_or(Value::Null));
        }
    }
    if let Some(fixes) = get(&obj, "findingType.vulnerability.fixedVersions").and_then(Value::as_array).map(|a| !a.is_empty())
        && let Some(v) = obj.get_mut("findingType").and_then(|t| t.get_mut("vulnerability")).and_then(Value::as_object_mut)
    {
        v.insert("fixAvailable".into(), Value::Bool(fixes));
    }
    let source_score = num(&obj, "sourceRiskScore");
    let severity = str_at(&obj, "severity")
        .and_then(Severity::parse_loose)
        .or(cvss.as_ref().map(|c| c.severity))
        .or_else(|| num(&obj, "findingType.vulnerability.cvssScore").map(Severity::from_cvss))
        .or(source_score.filter(|s| (0.0..=10.0).contains(s)).map(Severity::from_cvss))
        .unwrap_or(Severity::Info);
    let mut status = str_at(&obj, "status").and_then(FindingStatus::parse_loose).unwrap_or(FindingStatus::Open);
    // A suppression whose reason is "false positive" is a false positive.
    if status == FindingStatus::RiskAccepted && str_at(&obj, "triage.reason").is_some_and(|r| r.eq_ignore_ascii_case("false_positive")) {
        status = FindingStatus::FalsePositive;
    }
    let title = text(&obj, "name")
        .or_else(|| cve.clone())
        .or_else(|| text(&obj, "findingType.codeWeakness.ruleName"))
        .or_else(|| text(&obj, "findingType.codeWeakness.ruleId"))
        .unwrap_or_else(|| external_id.clone());
    let first_seen = int(&obj, "firstFoundOn");
    let last_seen = int(&obj, "lastFoundOn");
    let source_severity = text(&obj, "sourceSeverity");
    let obj = Value::Object(obj);
    let correlation = Correlation::read(product, &external_id, cve.as_deref(), &obj);
    let traits = crate::risk::RiskTraits::read(&obj);
    let (attributes, content_hash) = seal_attributes(&obj);
    Some(StagedFinding {
        kind,
        product: product.to_string(),
        external_id,
        title,
        severity,
        source_severity,
        source_score,
        status,
        cve,
        cvss,
        first_seen,
        last_seen,
        attributes,
        content_hash,
        correlation,
        traits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(asset: Value, findings: Vec<Value>) -> Applied {
        Applied {
            asset: asset.as_object().cloned().unwrap_or_default(),
            findings: findings.into_iter().filter_map(|f| f.as_object().cloned()).collect(),
            warnings: vec![],
        }
    }

    #[test]
    fn issue_ids_are_positive_stable_and_grouped_by_anchor() {
        let cve = |c: &str| Correlation::Cve { cve: c.into() };
        let code = Correlation::Code { rule: "r".into(), path: "a.py".into(), line: 3 };
        for anchor in [1, 7, (1 << ISSUE_ANCHOR_BITS) + 7, i64::MAX] {
            let id = cve("CVE-2024-3094").issue_id(anchor, None);
            assert!(id > 0);
            assert_eq!(id, cve("CVE-2024-3094").issue_id(anchor, Some(99)), "a host CVE ignores the repository");
            assert_eq!(id >> ISSUE_HASH_BITS, anchor & ((1 << ISSUE_ANCHOR_BITS) - 1));
        }
        // Two anchors that share a prefix still give different ids.
        assert_ne!(cve("CVE-1").issue_id(7, None), cve("CVE-1").issue_id((1 << ISSUE_ANCHOR_BITS) + 7, None));
        // Code is anchored on its repository: same prefix as the repository's other issues.
        assert_eq!(code.issue_id(500, Some(42)) >> ISSUE_HASH_BITS, 42);
        assert_ne!(code.issue_id(500, Some(42)), cve("CVE-1").issue_id(42, None));
    }

    #[test]
    fn host_identifiers_in_precedence_order() {
        let a = applied(
            json!({"externalAssetId": "abc", "hostName": "WEB-01", "domain": "corp.acme.com",
                   "networkInterfaces": [{"ipv4Address": "10.0.0.1", "macAddress": "00:1A:2B:3C:4D:5E"},
                                         {"macAddress": "02:42:ac:11:00:02"}],
                   "asset": {"assetDetail": {"cloudInfo": {"provider": "AWS", "instanceId": "i-1"}}}}),
            vec![],
        );
        let s = stage(a, TargetModel::HostVulnerability, "cortex-xdr", "Cortex XDR");
        let got: Vec<String> = s.asset.unwrap().identifiers.iter().map(|i| format!("{}={}", i.kind, i.value)).collect();
        assert_eq!(
            got,
            [
                "agent_id=cortex-xdr:abc",
                "cloud_instance_id=aws:i-1",
                "mac=00:1a:2b:3c:4d:5e",
                "fqdn=web-01.corp.acme.com",
                "hostname_ip=web-01|10.0.0.1"
            ]
        );
    }

    #[test]
    fn findings_get_defaults_and_enrichment() {
        let a = applied(
            json!({"package": {"ecosystem": "npm", "name": "lodash", "version": "4.17.15"}}),
            vec![
                json!({"externalFindingId": "1", "findingType": {"vulnerability": {"cveId": "cve-2021-23337",
                       "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "fixedVersions": ["4.17.21"]}}}),
                json!({"name": "no id"}),
                json!({"externalFindingId": "3", "status": "risk_accepted", "triage": {"reason": "false_positive"}, "sourceRiskScore": 5.0}),
            ],
        );
        let s = stage(a, TargetModel::PackageVulnerability, "semgrep", "Semgrep Supply Chain");
        let asset = s.asset.unwrap();
        assert_eq!(asset.identifiers[0].value, "pkg:npm/lodash@4.17.15");
        assert_eq!(asset.name, "lodash@4.17.15");
        assert_eq!(s.findings.len(), 2);
        let f = &s.findings[0];
        assert_eq!((f.cve.as_deref(), f.severity, f.title.as_str()), (Some("CVE-2021-23337"), Severity::Critical, "CVE-2021-23337"));
        let attrs: Value = serde_json::from_str(&f.attributes).unwrap();
        assert_eq!(attrs["findingType"]["vulnerability"]["fixAvailable"], true);
        assert_eq!(attrs["findingType"]["vulnerability"]["cvss"]["baseScore"], 9.8);
        assert_eq!((s.findings[1].status, s.findings[1].severity), (FindingStatus::FalsePositive, Severity::Medium));
        assert_eq!(s.warnings, vec!["a finding has no externalFindingId; finding skipped"]);
    }
}
