//! Transform maps: the declarative rule list, its validation, and its compiled form.

use serde::{Deserialize, Serialize};

use super::path::{Path, PathError};
use super::read::SourceTree;
use super::targets::{self, FieldType, Place};
use crate::model::{AssetKind, FindingKind, string_enum};

/// What a map produces from each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetModel {
    /// A host asset and its vulnerability findings (Cortex XDR).
    HostVulnerability,
    /// Code-weakness findings on the record's repository (Semgrep Code, SARIF).
    CodeWeakness,
    /// A package asset and its vulnerability findings, linked to a repository (SCA).
    PackageVulnerability,
    /// A repository asset with deployment context, no findings (Cortex Cloud, projects).
    Repository,
    /// A host asset's context, no findings (attack-surface exposure records).
    Host,
}

string_enum!(TargetModel, "target model", {
    HostVulnerability => "host_vulnerability", CodeWeakness => "code_weakness",
    PackageVulnerability => "package_vulnerability", Repository => "repository", Host => "host",
});

impl TargetModel {
    pub fn asset_kind(self) -> AssetKind {
        match self {
            TargetModel::HostVulnerability | TargetModel::Host => AssetKind::Host,
            TargetModel::CodeWeakness | TargetModel::Repository => AssetKind::Repository,
            TargetModel::PackageVulnerability => AssetKind::Package,
        }
    }
    pub fn finding_kind(self) -> Option<FindingKind> {
        match self {
            TargetModel::HostVulnerability | TargetModel::PackageVulnerability => Some(FindingKind::Vulnerability),
            TargetModel::CodeWeakness => Some(FindingKind::CodeWeakness),
            TargetModel::Repository | TargetModel::Host => None,
        }
    }
}

/// A transform map as users read and write it (JSON or YAML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformMapSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Connector kind whose records this map reads, e.g. `cortex-xdr`.
    pub connector: String,
    /// Which of the connector's record streams it reads, e.g. `endpoint`, `sast`, `sca`.
    pub source_model: String,
    pub target_model: TargetModel,
    /// `vendorProductName` of the findings (defaults to the connector's product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub rules: Vec<RuleSpec>,
}

/// One row: source path → target field, with optional conversions applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub source: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub convert: Vec<String>,
}

impl RuleSpec {
    pub fn new(source: &str, target: &str) -> Self {
        RuleSpec { source: source.into(), target: target.into(), convert: vec![] }
    }
}

/// A per-rule conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Convert {
    Lower,
    Upper,
    Trim,
    /// Parse a date (epoch s/ms, RFC 3339, YYYY-MM-DD).
    Date,
    /// Normalize a severity spelling.
    Severity,
    Number,
    /// Split text on a separator into a list (default `,`).
    Split(String),
    /// Join a list into text with a separator (default `,`).
    Join(String),
    /// Keep the first element of a list.
    First,
    /// Keep what a regular expression matches (its first capture group when it has one);
    /// no match → empty. Lists: applied to each element, non-matches dropped.
    Regex(Pattern),
}

/// A compiled regular expression that compares by its source text.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for Pattern {}

impl Convert {
    pub fn parse(text: &str) -> Result<Convert, String> {
        let (name, arg) = match text.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a)),
            None => (text.trim(), None),
        };
        let c = match name.to_ascii_lowercase().as_str() {
            "lower" | "lowercase" => Convert::Lower,
            "upper" | "uppercase" => Convert::Upper,
            "trim" => Convert::Trim,
            "date" | "datetime" => Convert::Date,
            "severity" => Convert::Severity,
            "number" => Convert::Number,
            "split" => Convert::Split(arg.filter(|a| !a.is_empty()).unwrap_or(",").to_string()),
            "join" => Convert::Join(arg.filter(|a| !a.is_empty()).unwrap_or(",").to_string()),
            "first" => Convert::First,
            "regex" => {
                let pattern =
                    arg.filter(|a| !a.is_empty()).ok_or_else(|| "conversion 'regex' needs a pattern: regex:PATTERN".to_string())?;
                let re = regex::Regex::new(pattern).map_err(|e| format!("conversion 'regex': invalid pattern: {e}"))?;
                Convert::Regex(Pattern(re))
            }
            _ => {
                return Err(format!(
                    "unknown conversion '{text}' (known: lower, upper, trim, date, severity, number, split[:SEP], join[:SEP], first, regex:PATTERN)"
                ));
            }
        };
        if arg.is_some() && !matches!(c, Convert::Split(_) | Convert::Join(_) | Convert::Regex(_)) {
            return Err(format!("conversion '{name}' takes no argument"));
        }
        Ok(c)
    }

    /// The type this conversion produces, if it fixes one.
    fn output(&self) -> Option<FieldType> {
        match self {
            Convert::Lower | Convert::Upper | Convert::Join(_) => Some(FieldType::String),
            Convert::Date => Some(FieldType::DateTime),
            Convert::Severity => Some(FieldType::Severity),
            Convert::Number => Some(FieldType::Number),
            Convert::Split(_) => Some(FieldType::StringList),
            Convert::Trim | Convert::First | Convert::Regex(_) => None,
        }
    }
}

/// Can a value of type `produced` be stored in a field of type `target`?
fn compatible(produced: FieldType, target: FieldType) -> bool {
    use FieldType::*;
    produced == target
        || target == Any
        || matches!(
            (produced, target),
            (String, Severity | Status | StringList)
                | (Severity, String)
                | (Number, Integer | String)
                | (DateTime, String | Integer | Number)
        )
}

/// What is wrong with a map, rule by rule (rule numbers are 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("the map has no name")]
    NoName,
    #[error("{0}")]
    BadName(String),
    #[error("the map has no rules")]
    NoRules,
    #[error("rule {rule}: {source}")]
    Path { rule: usize, source: PathError },
    #[error("rule {rule}: unknown target field '{target}'{hint}")]
    UnknownTarget { rule: usize, target: String, hint: String },
    #[error("rule {rule}: type mismatch: {reason}")]
    TypeMismatch { rule: usize, reason: String },
    #[error("rule {rule}: {reason}")]
    Convert { rule: usize, reason: String },
    #[error("no rule writes finding[].externalFindingId, so a {model} map would produce no findings")]
    NoFindingId { model: TargetModel },
    #[error("no rule writes an identity of the asset ({needs}), so a {model} map would produce no asset")]
    NoAssetIdentity { model: TargetModel, needs: &'static str },
}

/// Where a compiled rule writes.
#[derive(Debug, Clone)]
pub struct Slot {
    pub place: Place,
    /// Field path segments inside the place, e.g. `["operatingSystem", "name"]`.
    pub field: Vec<String>,
    pub ty: FieldType,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// 1-based rule number, for messages.
    pub number: usize,
    pub source: Path,
    pub slot: Slot,
    pub converts: Vec<Convert>,
}

/// A validated map, ready to apply.
#[derive(Debug, Clone)]
pub struct TransformMap {
    pub spec: TransformMapSpec,
    pub rules: Vec<CompiledRule>,
    /// The record is one finding (its `externalFindingId` source does not fan out), so a
    /// fanned-out source fills a list field of that finding instead of making findings.
    pub single_finding: bool,
    /// Every rule's source path as one tree, for reading records from text ([`TransformMap::read`]).
    pub sources: SourceTree,
    /// Where a record keeps its list of findings: the keys of the finding id's source up to
    /// its fan-out (`cves` for `cves[].name`). `None`: a record is one finding.
    pub finding_list: Option<Vec<String>>,
}

impl TransformMap {
    /// Validates every rule; returns all problems, not just the first.
    pub fn compile(spec: TransformMapSpec) -> Result<TransformMap, Vec<MapError>> {
        let mut errors = Vec::new();
        if spec.name.trim().is_empty() {
            errors.push(MapError::NoName);
        } else if let Err(e) = crate::model::check_name("map", &spec.name) {
            errors.push(MapError::BadName(e));
        }
        if spec.rules.is_empty() {
            errors.push(MapError::NoRules);
        }
        let mut rules = Vec::new();
        let single_finding = spec
            .rules
            .iter()
            .find(|r| r.target.replace(' ', "") == "finding[].externalFindingId")
            .and_then(|r| Path::parse(&r.source).ok())
            .is_some_and(|p| p.fan_outs() == 0);
        for (i, r) in spec.rules.iter().enumerate() {
            match compile_rule(i + 1, r, spec.target_model, single_finding) {
                Ok(c) => rules.push(c),
                Err(e) => errors.push(e),
            }
        }
        let writes_id = rules.iter().any(|r| r.slot.place == Place::Finding && r.slot.field == ["externalFindingId"]);
        if spec.target_model.finding_kind().is_some() && !writes_id && !spec.rules.is_empty() {
            errors.push(MapError::NoFindingId { model: spec.target_model });
        }
        // The asset a model stages needs one identifying field (see `staged::stage_asset`);
        // code weaknesses attach to the repository named outside the record.
        let asset_ids: &[(Place, &str)] = match spec.target_model {
            TargetModel::HostVulnerability | TargetModel::Host => &[
                (Place::Asset, "externalAssetId"),
                (Place::Asset, "asset.assetDetail.agentId"),
                (Place::Asset, "hostName"),
                (Place::Asset, "fqdn"),
                (Place::Asset, "asset.assetDetail.cloudInfo.instanceId"),
                (Place::Nic, "macAddress"),
            ],
            TargetModel::PackageVulnerability => &[(Place::Asset, "package.purl"), (Place::Asset, "package.name")],
            TargetModel::Repository => &[(Place::Asset, "repository.url"), (Place::Asset, "externalAssetId")],
            TargetModel::CodeWeakness => &[],
        };
        let names_asset =
            asset_ids.is_empty() || rules.iter().any(|r| asset_ids.iter().any(|(p, f)| r.slot.place == *p && r.slot.field.join(".") == *f));
        if !names_asset && !spec.rules.is_empty() {
            let needs = match spec.target_model {
                TargetModel::HostVulnerability | TargetModel::Host => {
                    "externalAssetId, an agent id, hostName, fqdn, a cloud instance id or networkInterfaces[].macAddress"
                }
                TargetModel::PackageVulnerability => "package.purl, or package.name with package.ecosystem",
                _ => "repository.url or externalAssetId",
            };
            errors.push(MapError::NoAssetIdentity { model: spec.target_model, needs });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let sources = SourceTree::new(rules.iter().map(|r| &r.source));
        let finding_list = rules.iter().find(|r| r.slot.place == Place::Finding && r.slot.field == ["externalFindingId"]).and_then(|r| {
            let upto = r.source.segments.iter().position(|s| s.each)?;
            Some(r.source.segments[..=upto].iter().map(|s| s.key.clone()).collect())
        });
        Ok(TransformMap { spec, rules, single_finding, sources, finding_list })
    }

    /// Whether `record` carries its list of findings. A record without the list (the key
    /// absent or null, not an empty list) says nothing about its findings: none of them
    /// may be closed for it. Records that are one finding always qualify; records of a map
    /// without findings never do.
    pub fn lists_findings(&self, record: &serde_json::Value) -> bool {
        // A map that stages no findings (a host's or repository's context) lists none.
        if self.spec.target_model.finding_kind().is_none() {
            return false;
        }
        let Some(keys) = &self.finding_list else { return true };
        let mut cur = record;
        for k in keys {
            match cur.get(k) {
                Some(v) if !v.is_null() => cur = v,
                _ => return false,
            }
        }
        true
    }
}

fn compile_rule(number: usize, r: &RuleSpec, model: TargetModel, single_finding: bool) -> Result<CompiledRule, MapError> {
    let source = Path::parse(&r.source).map_err(|source| MapError::Path { rule: number, source })?;
    let target = Path::parse(&r.target).map_err(|source| MapError::Path { rule: number, source })?;
    let mismatch = |reason: String| MapError::TypeMismatch { rule: number, reason };
    if source.fan_outs() > 1 {
        return Err(mismatch(format!("source '{}' fans out twice; only one [] per source is supported", r.source)));
    }
    let first = &target.segments[0];
    let (place, rest) = match (first.key.as_str(), first.each) {
        ("finding", true) => (Place::Finding, &target.segments[1..]),
        ("networkInterfaces", true) => (Place::Nic, &target.segments[1..]),
        ("finding" | "networkInterfaces", false) => {
            return Err(mismatch(format!("'{}' is a list of objects; write '{}[].<field>'", first.key, first.key)));
        }
        _ => (Place::Asset, &target.segments[..]),
    };
    if rest.is_empty() {
        return Err(MapError::UnknownTarget { rule: number, target: r.target.clone(), hint: " (name a field inside the list)".into() });
    }
    if let Some(seg) = rest.iter().find(|s| s.each) {
        return Err(mismatch(format!("'{}[]' cannot fan out here; only finding[] and networkInterfaces[] hold lists of objects", seg.key)));
    }
    let field: Vec<String> = rest.iter().map(|s| s.key.clone()).collect();
    let joined = field.join(".");
    let Some(ty) = targets::lookup(place, &joined) else {
        let hint = targets::suggest(place, &joined).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
        return Err(MapError::UnknownTarget { rule: number, target: r.target.clone(), hint });
    };
    if place == Place::Finding && model.finding_kind().is_none() {
        return Err(mismatch(format!("a {model} map produces no findings, so it cannot write '{}'", r.target)));
    }
    let mut converts = Vec::new();
    for c in &r.convert {
        converts.push(Convert::parse(c).map_err(|reason| MapError::Convert { rule: number, reason })?);
    }
    // The last conversion that fixes a type decides what reaches the field.
    if let Some(produced) = converts.iter().rev().find_map(Convert::output)
        && !compatible(produced, ty)
    {
        return Err(mismatch(format!("the conversions produce a {produced} but '{}' holds a {ty}", r.target)));
    }
    // A fanned-out source into one scalar field on the asset (or on the record's one
    // finding) would silently drop values.
    if source.fan_outs() == 1
        && (place == Place::Asset || (place == Place::Finding && single_finding))
        && !matches!(ty, FieldType::StringList | FieldType::Any)
        && !converts.iter().any(|c| matches!(c, Convert::First | Convert::Join(_)))
    {
        return Err(mismatch(format!(
            "source '{}' yields many values but '{}' holds one {ty}; write to a [] target, a list field, or add 'first'/'join'",
            r.source, r.target
        )));
    }
    Ok(CompiledRule { number, source, slot: Slot { place, field, ty }, converts })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host map of `rules`, plus an asset identity rule at the end (when they have none).
    fn spec(mut rules: Vec<RuleSpec>) -> TransformMapSpec {
        if !rules.iter().any(|r| r.target == "externalAssetId") {
            rules.push(RuleSpec::new("endpoint_id", "externalAssetId"));
        }
        bare(rules)
    }

    fn bare(rules: Vec<RuleSpec>) -> TransformMapSpec {
        TransformMapSpec {
            name: "t".into(),
            description: None,
            connector: "cortex-xdr".into(),
            source_model: "endpoint".into(),
            target_model: TargetModel::HostVulnerability,
            product: None,
            rules,
        }
    }

    fn errors(rules: Vec<RuleSpec>) -> Vec<String> {
        TransformMap::compile(spec(rules)).err().unwrap_or_default().iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn names_rule_numbers_and_problems() {
        let id = RuleSpec::new("cves[].name", "finding[].externalFindingId");
        let got = errors(vec![id.clone(), RuleSpec::new("endpoint_name", "hostname")]);
        assert_eq!(got, vec!["rule 2: unknown target field 'hostname' (did you mean 'hostName'?)"]);
        let got = errors(vec![id.clone(), RuleSpec::new("cves[.name", "hostName")]);
        assert!(got[0].starts_with("rule 2: malformed path 'cves[.name'"), "{got:?}");
        let got = errors(vec![id.clone(), RuleSpec::new("cves[].name", "hostName")]);
        assert!(got[0].starts_with("rule 2: type mismatch: source 'cves[].name' yields many values"), "{got:?}");
        let got = errors(vec![id.clone(), RuleSpec { source: "x".into(), target: "firstFoundDate".into(), convert: vec!["lower".into()] }]);
        assert!(
            got[0].contains("rule 2: type mismatch: the conversions produce a string but 'firstFoundDate' holds a datetime"),
            "{got:?}"
        );
        let got = errors(vec![id.clone(), RuleSpec { source: "x".into(), target: "hostName".into(), convert: vec!["shout".into()] }]);
        assert!(got[0].starts_with("rule 2: unknown conversion 'shout'"), "{got:?}");
        let got = errors(vec![RuleSpec::new("endpoint_name", "hostName")]);
        assert!(got[0].contains("externalFindingId"), "{got:?}");
        let got: Vec<String> = TransformMap::compile(bare(vec![id.clone(), RuleSpec::new("domain", "domain")]))
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(got[0].contains("no rule writes an identity of the asset (externalAssetId, an agent id, hostName"), "{got:?}");
        assert!(errors(vec![id.clone(), RuleSpec::new("endpoint_id", "externalAssetId")]).is_empty());
    }

    #[test]
    fn an_absent_finding_list_is_not_an_empty_one() {
        let m = TransformMap::compile(spec(vec![RuleSpec::new("cves[].name", "finding[].externalFindingId")])).unwrap();
        assert!(m.lists_findings(&serde_json::json!({"cves": []})));
        assert!(!m.lists_findings(&serde_json::json!({"endpoint_id": "a"})));
        assert!(!m.lists_findings(&serde_json::json!({"cves": null})));
    }
}
