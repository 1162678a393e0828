//! Default transform maps: Semgrep Code findings → code-weakness findings on the
//! project's repository, and Supply Chain findings → vulnerability findings on package
//! assets (purl from ecosystem, name and version) linked to that repository.

use tributary_core::transform::{RuleSpec, TargetModel, TransformMapSpec};

pub const SAST_MAP: &str = "semgrep-sast-default";
pub const SCA_MAP: &str = "semgrep-sca-default";

/// `(source, target, conversions)`.
type Row = (&'static str, &'static str, &'static [&'static str]);

/// The commit a finding was seen at lives only in its line link (`…/blob/<sha>/path#L1`).
const SHA_FROM_URL: &str = "regex:/blob/([0-9a-fA-F]{7,40})/";

const SHARED: &[Row] = &[
    ("id", "finding[].externalFindingId", &[]),
    ("severity", "finding[].severity", &[]),
    ("severity", "finding[].sourceSeverity", &[]),
    // `rule.message` / `rule.name` are current; the flat `rule_message` / `rule_name` are
    // deprecated and may be missing on newer findings: flat first, so the current field
    // wins when both are there (a later rule overwrites an earlier one).
    ("rule_message", "finding[].description", &[]),
    ("rule.message", "finding[].description", &[]),
    ("status", "finding[].status", &[]),
    ("status", "finding[].sourceStatus", &[]),
    ("triage_state", "finding[].triage.state", &[]),
    ("triage_reason", "finding[].triage.reason", &[]),
    ("triage_comment", "finding[].triage.comment", &[]),
    ("created_at", "finding[].firstFoundOn", &[]),
    ("relevant_since", "finding[].relevantSince", &[]),
    ("line_of_code_url", "finding[].url", &[]),
    ("line_of_code_url", "finding[].commit.sha", &[SHA_FROM_URL]),
    ("ref", "finding[].commit.ref", &[]),
    ("match_based_id", "finding[].matchBasedId", &[]),
    ("syntactic_id", "finding[].syntacticId", &[]),
    ("location.file_path", "finding[].location.filePath", &[]),
    ("location.line", "finding[].location.startLine", &[]),
    ("location.end_line", "finding[].location.endLine", &[]),
];

const SAST_ROWS: &[Row] = &[
    ("rule_name", "finding[].name", &[]),
    ("rule.name", "finding[].name", &[]),
    ("rule_name", "finding[].findingType.codeWeakness.ruleId", &[]),
    ("rule.name", "finding[].findingType.codeWeakness.ruleId", &[]),
    ("rule_name", "finding[].findingType.codeWeakness.ruleName", &[]),
    ("rule.name", "finding[].findingType.codeWeakness.ruleName", &[]),
    ("rule_message", "finding[].findingType.codeWeakness.message", &[]),
    ("rule.message", "finding[].findingType.codeWeakness.message", &[]),
    ("confidence", "finding[].findingType.codeWeakness.confidence", &[]),
    ("rule.cwe_names", "finding[].findingType.codeWeakness.cwe", &[]),
    ("rule.owasp_names", "finding[].findingType.codeWeakness.owasp", &[]),
    ("categories", "finding[].findingType.codeWeakness.categories", &[]),
    ("rule.vulnerability_classes", "finding[].findingType.codeWeakness.vulnerabilityClasses", &[]),
    ("location.column", "finding[].location.startColumn", &[]),
    ("location.end_column", "finding[].location.endColumn", &[]),
];

const SCA_ROWS: &[Row] = &[
    ("vulnerability_identifier", "finding[].name", &[]),
    ("vulnerability_identifier", "finding[].findingType.vulnerability.cveId", &[r"regex:(?i)^\s*(CVE-\d{4}-\d{4,})\s*$"]),
    ("vulnerability_identifier", "finding[].findingType.vulnerability.ghsaId", &[r"regex:(?i)^\s*(GHSA(?:-[0-9a-z]{4}){3})\s*$"]),
    ("rule.cwe_names", "finding[].findingType.vulnerability.cwe", &[]),
    ("found_dependency.package", "finding[].findingType.vulnerability.affectedProduct", &[]),
    ("found_dependency.version", "finding[].findingType.vulnerability.vulnerableVersion", &[]),
    ("found_dependency.transitivity", "finding[].findingType.vulnerability.transitivity", &[]),
    ("fix_recommendations[].version", "finding[].findingType.vulnerability.fixedVersions", &[]),
    ("reachability", "finding[].findingType.vulnerability.reachability", &[]),
    ("reachable_condition", "finding[].findingType.vulnerability.reachableCondition", &[]),
    ("epss_score.score", "finding[].findingType.vulnerability.epssScore", &[]),
    ("epss_score.percentile", "finding[].findingType.vulnerability.epssPercentile", &[]),
    ("found_dependency.ecosystem", "package.ecosystem", &[]),
    ("found_dependency.package", "package.name", &[]),
    ("found_dependency.version", "package.version", &[]),
];

fn rules(rows: &[&[Row]]) -> Vec<RuleSpec> {
    rows.iter()
        .flat_map(|r| r.iter())
        .map(|(s, t, c)| RuleSpec { source: s.to_string(), target: t.to_string(), convert: c.iter().map(|x| x.to_string()).collect() })
        .collect()
}

pub fn sast_map() -> TransformMapSpec {
    TransformMapSpec {
        name: SAST_MAP.into(),
        description: Some("Semgrep Code findings → code-weakness findings on the project's repository.".into()),
        connector: "semgrep".into(),
        source_model: super::SAST.into(),
        target_model: TargetModel::CodeWeakness,
        product: Some(super::SAST_PRODUCT.into()),
        rules: rules(&[SHARED, SAST_ROWS]),
    }
}

pub fn sca_map() -> TransformMapSpec {
    TransformMapSpec {
        name: SCA_MAP.into(),
        description: Some(
            "Semgrep Supply Chain findings → vulnerability findings on package assets (by purl), linked to the project's repository."
                .into(),
        ),
        connector: "semgrep".into(),
        source_model: super::SCA.into(),
        target_model: TargetModel::PackageVulnerability,
        product: Some(super::SCA_PRODUCT.into()),
        rules: rules(&[SHARED, SCA_ROWS]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_core::model::{FindingStatus, Severity};
    use tributary_core::transform::{TransformMap, stage};

    #[test]
    fn the_current_rule_fields_win_and_the_deprecated_ones_fill_in() {
        let m = TransformMap::compile(sast_map()).unwrap();
        let attrs = |rec: serde_json::Value| -> serde_json::Value {
            let staged = stage(m.apply(&rec), m.spec.target_model, "semgrep", "Semgrep Code");
            serde_json::from_str(&staged.findings[0].attributes).unwrap()
        };
        // Newer findings: only `rule.*`.
        let a = attrs(json!({"id": 1, "rule": {"name": "r.new", "message": "new text"}, "location": {"file_path": "a.py", "line": 1}}));
        assert_eq!((a["name"].as_str(), a["description"].as_str()), (Some("r.new"), Some("new text")));
        assert_eq!(a["findingType"]["codeWeakness"]["ruleId"], "r.new");
        // Older findings: only the flat fields.
        let a = attrs(json!({"id": 2, "rule_name": "r.old", "rule_message": "old text", "rule": {}}));
        assert_eq!((a["name"].as_str(), a["findingType"]["codeWeakness"]["message"].as_str()), (Some("r.old"), Some("old text")));
        // Both: the current one.
        let a = attrs(json!({"id": 3, "rule_name": "r.flat", "rule": {"name": "r.nested", "message": "m"}, "rule_message": "flat"}));
        assert_eq!((a["name"].as_str(), a["description"].as_str()), (Some("r.nested"), Some("m")));
    }

    #[test]
    fn sast_record_becomes_a_code_weakness() {
        let m = TransformMap::compile(sast_map()).unwrap();
        let rec = json!({
            "id": 77120031, "ref": "refs/heads/main", "match_based_id": "9be1", "status": "ignored",
            "triage_state": "ignored", "triage_reason": "false_positive",
            "created_at": "2026-10-02T08:14:55.120Z", "relevant_since": "2026-10-02T08:14:55.120Z",
            "severity": "high", "confidence": "medium", "categories": ["security"],
            "rule_name": "python.django.security.injection.sql.sql-injection-using-raw",
            "rule_message": "User input reaches a raw SQL query.",
            "rule": {"name": "python.django.security.injection.sql.sql-injection-using-raw",
                     "cwe_names": "CWE-89: Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')",
                     "owasp_names": ["A03:2021 - Injection"]},
            "location": {"file_path": "payments/views.py", "line": 118, "column": 9, "end_line": 118, "end_column": 61},
            "repository": {"name": "acme/payments-api", "url": "https://github.com/acme/payments-api"},
            "line_of_code_url": "https://github.com/acme/payments-api/blob/4e1c2a9/payments/views.py#L118"
        });
        assert_eq!(m.apply(&m.read(&rec.to_string()).unwrap()), m.apply(&rec), "the pruned read applies like the record");
        let staged = stage(m.apply(&rec), m.spec.target_model, "semgrep", "Semgrep Code");
        assert!(staged.asset.is_none(), "SAST findings attach to the mapped repository");
        assert_eq!(staged.findings.len(), 1, "{:?}", staged.warnings);
        let f = &staged.findings[0];
        assert_eq!((f.external_id.as_str(), f.severity, f.status), ("77120031", Severity::High, FindingStatus::FalsePositive));
        let a: serde_json::Value = serde_json::from_str(&f.attributes).unwrap();
        assert_eq!(a["commit"]["sha"], "4e1c2a9");
        assert_eq!(a["location"]["startLine"], 118);
        assert_eq!(a["findingType"]["codeWeakness"]["cweIds"], json!([89]), "a CWE given as one string still counts");
        assert_eq!(a["findingType"]["codeWeakness"]["cweTop25Rank"], 2);
    }

    #[test]
    fn sca_record_becomes_a_package_vulnerability() {
        let m = TransformMap::compile(sca_map()).unwrap();
        let rec = json!({
            "id": 80455102, "status": "open", "severity": "critical",
            "rule_name": "ssc-6f2d1e0a-lodash", "rule_message": "lodash before 4.17.21 allows ...",
            "rule": {"cwe_names": ["CWE-1321: Improperly Controlled Modification of Object Prototype Attributes"]},
            "vulnerability_identifier": "CVE-2021-23337",
            "found_dependency": {"package": "lodash", "version": "4.17.15", "ecosystem": "npm", "transitivity": "transitive"},
            "fix_recommendations": [{"package": "lodash", "version": "4.17.21"}, {"package": "lodash", "version": "5.0.0"}],
            "reachability": "conditionally reachable", "epss_score": {"score": 0.0112, "percentile": 0.83},
            "location": {"file_path": "package-lock.json", "line": 2210},
            "repository": {"name": "acme/web", "url": "https://github.com/acme/web"}
        });
        assert_eq!(m.apply(&m.read(&rec.to_string()).unwrap()), m.apply(&rec), "the pruned read applies like the record");
        let staged = stage(m.apply(&rec), m.spec.target_model, "semgrep", "Semgrep Supply Chain");
        let asset = staged.asset.expect("a package asset");
        assert_eq!(asset.identifiers[0].value, "pkg:npm/lodash@4.17.15");
        assert_eq!(staged.findings.len(), 1, "fixed versions fill one finding's list: {:?}", staged.warnings);
        let f = &staged.findings[0];
        assert_eq!(f.cve.as_deref(), Some("CVE-2021-23337"));
        let a: serde_json::Value = serde_json::from_str(&f.attributes).unwrap();
        assert_eq!(a["findingType"]["vulnerability"]["fixedVersions"], json!(["4.17.21", "5.0.0"]));
        assert_eq!(a["findingType"]["vulnerability"]["fixAvailable"], true);
        assert!(a["findingType"]["vulnerability"].get("ghsaId").is_none());
        let ghsa = json!({"id": 1, "vulnerability_identifier": "GHSA-29mw-wpgm-hmr9", "found_dependency": {"package": "x", "version": "1", "ecosystem": "pypi"}});
        let f = &stage(m.apply(&ghsa), m.spec.target_model, "semgrep", "Semgrep Supply Chain").findings[0];
        assert!(f.cve.is_none());
        let a: serde_json::Value = serde_json::from_str(&f.attributes).unwrap();
        assert_eq!(a["findingType"]["vulnerability"]["ghsaId"], "GHSA-29mw-wpgm-hmr9");
    }
}
