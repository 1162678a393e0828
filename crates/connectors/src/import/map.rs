//! Default transform maps of file imports: `semgrep --json` results and SARIF results
//! (with their rule joined in) → code-weakness findings on the repository named at import.

use tributary_core::transform::{RuleSpec, TargetModel, TransformMapSpec};

pub const SEMGREP_JSON_MAP: &str = "semgrep-json-default";
pub const SARIF_MAP: &str = "sarif-default";

type Row = (&'static str, &'static str, &'static [&'static str]);

/// CWE ids out of any spelling: `CWE-89: …`, `external/cwe/cwe-089`, `cwe_79`.
const CWE: &str = r"regex:(?i)\bcwe[-_/ ]?0*([1-9][0-9]*)";

const SEMGREP_ROWS: &[Row] = &[
    ("key", "finding[].externalFindingId", &[]),
    ("result.check_id", "finding[].name", &[]),
    ("result.check_id", "finding[].findingType.codeWeakness.ruleId", &[]),
    ("result.check_id", "finding[].findingType.codeWeakness.ruleName", &[]),
    ("result.extra.message", "finding[].description", &[]),
    ("result.extra.message", "finding[].findingType.codeWeakness.message", &[]),
    ("result.extra.severity", "finding[].severity", &[]),
    ("result.extra.severity", "finding[].sourceSeverity", &[]),
    ("result.extra.metadata.confidence", "finding[].findingType.codeWeakness.confidence", &["lower"]),
    ("result.extra.metadata.cwe", "finding[].findingType.codeWeakness.cwe", &[]),
    ("result.extra.metadata.owasp", "finding[].findingType.codeWeakness.owasp", &[]),
    ("result.extra.metadata.category", "finding[].findingType.codeWeakness.categories", &[]),
    ("result.extra.metadata.vulnerability_class", "finding[].findingType.codeWeakness.vulnerabilityClasses", &[]),
    ("result.extra.fingerprint", "finding[].matchBasedId", &["regex:^([0-9a-fA-F]{16,})$"]),
    ("result.path", "finding[].location.filePath", &[]),
    ("result.start.line", "finding[].location.startLine", &[]),
    ("result.start.col", "finding[].location.startColumn", &[]),
    ("result.end.line", "finding[].location.endLine", &[]),
    ("result.end.col", "finding[].location.endColumn", &[]),
    // `nosemgrep`-ignored results (reported with `is_ignored`): risk-accepted, not dropped.
    ("status", "finding[].status", &[]),
];

const SARIF_ROWS: &[Row] = &[
    ("key", "finding[].externalFindingId", &[]),
    ("result.ruleId", "finding[].name", &[]),
    ("result.ruleId", "finding[].findingType.codeWeakness.ruleId", &[]),
    ("rule.name", "finding[].findingType.codeWeakness.ruleName", &[]),
    ("result.message.text", "finding[].description", &[]),
    ("result.message.text", "finding[].findingType.codeWeakness.message", &[]),
    // The result's own level wins over the rule's default (later rules win).
    ("rule.defaultConfiguration.level", "finding[].severity", &[]),
    ("result.level", "finding[].severity", &[]),
    ("rule.defaultConfiguration.level", "finding[].sourceSeverity", &[]),
    ("result.level", "finding[].sourceSeverity", &[]),
    ("rule.properties.security-severity", "finding[].sourceRiskScore", &["number"]),
    ("rule.properties.precision", "finding[].findingType.codeWeakness.confidence", &[]),
    ("rule.properties.tags", "finding[].findingType.codeWeakness.cwe", &[CWE]),
    // Taxonomy references (Flawfinder, CodeQL): `relationships[].target.id` = "CWE-120".
    ("rule.relationships[].target.id", "finding[].findingType.codeWeakness.cwe", &[CWE]),
    ("rule.properties.tags", "finding[].findingType.codeWeakness.categories", &[]),
    ("tool.name", "finding[].findingType.codeWeakness.tool", &[]),
    ("result.locations[].physicalLocation.artifactLocation.uri", "finding[].location.filePath", &["first"]),
    ("result.locations[].physicalLocation.region.startLine", "finding[].location.startLine", &["first"]),
    ("result.locations[].physicalLocation.region.startColumn", "finding[].location.startColumn", &["first"]),
    ("result.locations[].physicalLocation.region.endLine", "finding[].location.endLine", &["first"]),
    ("result.locations[].physicalLocation.region.endColumn", "finding[].location.endColumn", &["first"]),
    ("result.locations[].physicalLocation.region.snippet.text", "finding[].location.snippet", &["first"]),
    // Suppressed results (an accepted SARIF suppression): risk-accepted, with the reason.
    ("status", "finding[].status", &[]),
    ("suppression.kind", "finding[].triage.reason", &[]),
    ("suppression.justification", "finding[].triage.comment", &[]),
];

fn rules(rows: &[Row]) -> Vec<RuleSpec> {
    rows.iter()
        .map(|(s, t, c)| RuleSpec { source: s.to_string(), target: t.to_string(), convert: c.iter().map(|x| x.to_string()).collect() })
        .collect()
}

pub fn semgrep_json_map() -> TransformMapSpec {
    TransformMapSpec {
        name: SEMGREP_JSON_MAP.into(),
        description: Some("`semgrep --json` results → code-weakness findings on the imported repository.".into()),
        connector: "semgrep-json".into(),
        source_model: super::STREAM.into(),
        target_model: TargetModel::CodeWeakness,
        product: Some("Semgrep Code".into()),
        rules: rules(SEMGREP_ROWS),
    }
}

pub fn sarif_map() -> TransformMapSpec {
    TransformMapSpec {
        name: SARIF_MAP.into(),
        description: Some(
            "SARIF 2.1.0 results (rule joined in) → code-weakness findings on the imported repository; product = the tool.".into(),
        ),
        connector: "sarif".into(),
        source_model: super::STREAM.into(),
        target_model: TargetModel::CodeWeakness,
        product: None,
        rules: rules(SARIF_ROWS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_core::transform::TransformMap;

    #[test]
    fn maps_compile() {
        assert!(TransformMap::compile(semgrep_json_map()).is_ok());
        assert!(TransformMap::compile(sarif_map()).is_ok());
    }
}
