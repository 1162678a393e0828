//! Risk: a 0–100 score that explains itself, and the CISA BOD 26-04 (SSVC) decision
//! beside it.
//!
//! The score is a sum of factors — CVSS base (or the severity when no score is known),
//! CISA KEV, EPSS percentile, CWE Top 25, reachability, fix available, deployed,
//! internet-exposed, asset criticality — each worth the points its weight gives
//! ([`RiskWeights`], configurable). Points are kept in tenths, so the factors of an
//! explanation add up to its score exactly; a total outside 0–100 gets a `bounds` factor
//! that brings it back, so it still adds up. The same input always gives the same score.
//!
//! The decision follows the BOD 26-04 response-timeline tree
//! (`CERTCC/SSVC:data/csv/cisa/cisa_bod_26_04_1_0_0.csv`; ../shared/reference/data-model.md
//! §5): in KEV × publicly exposed × automatable × technical impact. Automatable and
//! technical impact are read from the CVSS vector where there is one (network, low
//! complexity, no privileges, no user interaction → automatable; high confidentiality and
//! integrity impact → total); without one they are "no" and "partial", and unknown
//! exposure counts as not exposed — each said in the decision's reasons.

use serde::{Deserialize, Serialize};

use crate::model::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    Reachable,
    Unreachable,
    Unknown,
}

impl Reachability {
    /// Semgrep's exposure words: `reachable`, `always_reachable`, `conditionally_reachable`
    /// count as reachable; `unreachable` as unreachable; anything else is unknown.
    pub fn parse_loose(text: &str) -> Reachability {
        match text.trim().to_ascii_lowercase().as_str() {
            "reachable" | "always_reachable" | "conditionally_reachable" => Reachability::Reachable,
            "unreachable" => Reachability::Unreachable,
            _ => Reachability::Unknown,
        }
    }
}

/// The risk inputs a finding's attributes carry, kept as columns (`findings.cwe_top25`,
/// `reach`, `fix`, `vector`) so issues aggregate them in SQL instead of reading JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskTraits {
    pub cwe_top25: Option<u8>,
    /// 2 reachable, 1 unreachable (`None`: unknown). The larger wins in an issue.
    pub reach: Option<i64>,
    pub fix: Option<bool>,
    /// From the CVSS vector: bit 0 automatable, bit 1 total technical impact.
    pub vector: Option<i64>,
}

impl RiskTraits {
    /// From a finding's target-model attributes (as staged: `cweTop25Rank`, `fixAvailable`
    /// and the vector are filled in by staging).
    pub fn read(attrs: &serde_json::Value) -> RiskTraits {
        let vuln = &attrs["findingType"]["vulnerability"];
        let rank = |b: &serde_json::Value| b["cweTop25Rank"].as_u64().and_then(|r| u8::try_from(r).ok());
        let cwe_top25 = match (rank(vuln), rank(&attrs["findingType"]["codeWeakness"])) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let reach = match vuln["reachability"].as_str().map(Reachability::parse_loose) {
            Some(Reachability::Reachable) => Some(2),
            Some(Reachability::Unreachable) => Some(1),
            _ => None,
        };
        let fix = vuln["fixAvailable"].as_bool().or_else(|| vuln["fixedVersions"].as_array().map(|v| !v.is_empty()));
        let vector = vuln["cvssVector"].as_str().and_then(vector_facts).map(|(a, t)| i64::from(a) | (i64::from(t) << 1));
        RiskTraits { cwe_top25, reach, fix, vector }
    }
}

/// What the score is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RiskInput {
    pub severity: Severity,
    pub cvss: Option<f64>,
    pub cvss_vector: Option<String>,
    pub epss: Option<f64>,
    pub epss_percentile: Option<f64>,
    pub kev: bool,
    /// Rank of its most dangerous CWE in the 2025 Top 25.
    pub cwe_top25_rank: Option<u8>,
    pub reachability: Reachability,
    pub fix_available: Option<bool>,
    pub deployed: Option<bool>,
    pub internet_exposed: Option<bool>,
    /// 1 (lowest) to 5 (highest); 3 when not set.
    pub criticality: Option<u8>,
    /// `(automatable, total technical impact)` when known without the vector itself (an
    /// issue's aggregated traits); the vector, when given, wins.
    #[serde(default, skip)]
    pub vector_facts: Option<(bool, bool)>,
}

/// Points per factor (at full strength). Negative weights lower the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RiskWeights {
    /// CVSS base 10.0 (or a critical severity) is worth this much.
    pub cvss: f64,
    pub kev: f64,
    /// EPSS percentile 1.0 is worth this much.
    pub epss: f64,
    pub cwe_top25: f64,
    pub reachable: f64,
    pub unreachable: f64,
    pub fix_available: f64,
    pub deployed: f64,
    pub not_deployed: f64,
    pub internet_exposed: f64,
    /// Per criticality step away from 3 (so 1 → −2 steps, 5 → +2 steps).
    pub criticality_step: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            cvss: 40.0,
            kev: 20.0,
            epss: 15.0,
            cwe_top25: 5.0,
            reachable: 10.0,
            unreachable: -15.0,
            fix_available: 5.0,
            deployed: 5.0,
            not_deployed: -10.0,
            internet_exposed: 10.0,
            criticality_step: 3.0,
        }
    }
}

/// One part of a score: what it is, what was seen, how many points.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Factor {
    pub factor: &'static str,
    pub observed: String,
    pub points: f64,
}

/// BOD 26-04 outcomes, most urgent last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    FixOnSystemUpgrade,
    Days60,
    Days14,
    Days3,
    Days3Forensics,
}

impl Decision {
    pub const ALL: [Decision; 5] =
        [Decision::Days3Forensics, Decision::Days3, Decision::Days14, Decision::Days60, Decision::FixOnSystemUpgrade];

    /// The word stored and queried (`finding.decision:days_14`).
    pub fn slug(self) -> &'static str {
        match self {
            Decision::FixOnSystemUpgrade => "fix_on_system_upgrade",
            Decision::Days60 => "days_60",
            Decision::Days14 => "days_14",
            Decision::Days3 => "days_3",
            Decision::Days3Forensics => "days_3_forensics",
        }
    }

    pub fn from_slug(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.slug() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Decision::FixOnSystemUpgrade => "fix on system upgrade",
            Decision::Days60 => "60 days",
            Decision::Days14 => "14 days",
            Decision::Days3 => "3 days",
            Decision::Days3Forensics => "3 days + forensics",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Risk {
    /// 0–100, one decimal; the sum of `factors`.
    pub score: f64,
    pub factors: Vec<Factor>,
    pub decision: Decision,
    /// The decision's four inputs, and how each was known.
    pub decision_reasons: Vec<String>,
}

fn tenths(points: f64) -> i64 {
    (points * 10.0).round() as i64
}

fn severity_as_cvss(s: Severity) -> f64 {
    match s {
        Severity::Critical => 9.5,
        Severity::High => 7.5,
        Severity::Medium => 5.0,
        Severity::Low => 2.5,
        _ => 0.0,
    }
}

/// `(automatable, technical impact total)` from a CVSS v3.x or v4.0 vector.
fn vector_facts(vector: &str) -> Option<(bool, bool)> {
    let v = vector.trim();
    if !(v.starts_with("CVSS:3") || v.starts_with("CVSS:4")) {
        return None;
    }
    let m = |k: &str| v.split('/').find_map(|p| p.strip_prefix(k).and_then(|r| r.strip_prefix(':')));
    let v4 = v.starts_with("CVSS:4");
    let automatable =
        m("AV") == Some("N") && m("AC") == Some("L") && m("PR") == Some("N") && m("UI") == Some("N") && (!v4 || m("AT") == Some("N"));
    let total = if v4 {
        let (c, i) = (m("VC"), m("VI"));
        (c == Some("H") && i == Some("H")) || (m("PR") == Some("N") && matches!((c, i), (Some("H"), Some("L")) | (Some("L"), Some("H"))))
    } else {
        m("C") == Some("H") && m("I") == Some("H")
    };
    Some((automatable, total))
}

/// The BOD 26-04 tree.
pub fn decide(kev: bool, exposed: bool, automatable: bool, total: bool) -> Decision {
    use Decision::*;
    match (kev, exposed, automatable, total) {
        (false, false, false, _) => FixOnSystemUpgrade,
        (false, false, true, _) => Days60,
        (false, true, false, false) => Days60,
        (false, true, false, true) => Days14,
        (false, true, true, false) => Days14,
        (false, true, true, true) => Days3,
        (true, false, false, _) => Days14,
        (true, false, true, false) => Days14,
        (true, false, true, true) => Days3Forensics,
        (true, true, false, false) => Days14,
        (true, true, false, true) => Days3Forensics,
        (true, true, true, false) => Days3,
        (true, true, true, true) => Days3Forensics,
    }
}

/// Scores a finding and explains it.
pub fn assess(input: &RiskInput, w: &RiskWeights) -> Risk {
    let mut factors: Vec<(&'static str, String, i64)> = Vec::new();
    let (base, seen) = match input.cvss {
        Some(c) => (c.clamp(0.0, 10.0), format!("CVSS {c:.1}")),
        None => (severity_as_cvss(input.severity), format!("no CVSS score; severity {}", input.severity)),
    };
    factors.push(("cvss", seen, tenths(base / 10.0 * w.cvss)));
    if input.kev {
        factors.push(("kev", "in the CISA KEV catalog".into(), tenths(w.kev)));
    }
    if let Some(p) = input.epss_percentile {
        let e = input.epss.map(|e| format!("EPSS {e:.4}, ")).unwrap_or_default();
        factors.push(("epss", format!("{e}percentile {p:.4}"), tenths(p.clamp(0.0, 1.0) * w.epss)));
    }
    if let Some(r) = input.cwe_top25_rank {
        factors.push(("cwe_top25", format!("CWE Top 25 (2025) rank {r}"), tenths(w.cwe_top25)));
    }
    match input.reachability {
        Reachability::Reachable => factors.push(("reachability", "the vulnerable code is reachable".into(), tenths(w.reachable))),
        Reachability::Unreachable => factors.push(("reachability", "the vulnerable code is not reachable".into(), tenths(w.unreachable))),
        Reachability::Unknown => {}
    }
    if input.fix_available == Some(true) {
        factors.push(("fix_available", "a fixed version exists".into(), tenths(w.fix_available)));
    }
    match input.deployed {
        Some(true) => factors.push(("deployed", "deployed".into(), tenths(w.deployed))),
        Some(false) => factors.push(("deployed", "not deployed".into(), tenths(w.not_deployed))),
        None => {}
    }
    if input.internet_exposed == Some(true) {
        factors.push(("internet_exposed", "exposed to the internet".into(), tenths(w.internet_exposed)));
    }
    if let Some(c) = input.criticality.filter(|c| (1..=5).contains(c) && *c != 3) {
        factors.push(("criticality", format!("asset criticality {c} of 5"), tenths((c as f64 - 3.0) * w.criticality_step)));
    }
    let total: i64 = factors.iter().map(|f| f.2).sum();
    let bounded = total.clamp(0, 1000);
    if bounded != total {
        factors.push(("bounds", format!("the factors sum to {:.1}; scores run 0–100", total as f64 / 10.0), bounded - total));
    }
    let facts = input.cvss_vector.as_deref().and_then(vector_facts).or(input.vector_facts);
    let (automatable, total_impact) = facts.unwrap_or((false, false));
    let exposed = input.internet_exposed.unwrap_or(false);
    let reasons = vec![
        format!("in KEV: {}", if input.kev { "yes" } else { "no" }),
        match input.internet_exposed {
            Some(e) => format!("publicly exposed: {}", if e { "yes" } else { "no" }),
            None => "publicly exposed: unknown (counted as no)".into(),
        },
        match facts {
            Some((a, _)) => format!("automatable: {} (from the CVSS vector)", if a { "yes" } else { "no" }),
            None => "automatable: unknown, no CVSS v3/v4 vector (counted as no)".into(),
        },
        match facts {
            Some((_, t)) => format!("technical impact: {} (from the CVSS vector)", if t { "total" } else { "partial" }),
            None => "technical impact: unknown (counted as partial)".into(),
        },
    ];
    Risk {
        score: bounded as f64 / 10.0,
        factors: factors.into_iter().map(|(factor, observed, t)| Factor { factor, observed, points: t as f64 / 10.0 }).collect(),
        decision: decide(input.kev, exposed, automatable, total_impact),
        decision_reasons: reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RiskInput {
        RiskInput {
            severity: Severity::High,
            cvss: Some(9.8),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
            epss: Some(0.943),
            epss_percentile: Some(0.9996),
            kev: true,
            cwe_top25_rank: Some(15),
            reachability: Reachability::Reachable,
            fix_available: Some(true),
            deployed: Some(true),
            internet_exposed: Some(true),
            criticality: Some(5),
            vector_facts: None,
        }
    }

    fn sum(r: &Risk) -> i64 {
        r.factors.iter().map(|f| tenths(f.points)).sum()
    }

    #[test]
    fn the_parts_add_up_to_the_score_and_it_stays_in_bounds() {
        let w = RiskWeights::default();
        let r = assess(&input(), &w);
        assert_eq!(r.score, 100.0);
        assert_eq!(sum(&r), tenths(r.score));
        assert!(r.factors.iter().any(|f| f.factor == "bounds"), "{r:?}");
        assert_eq!(r.decision, Decision::Days3Forensics);
        let low = RiskInput {
            cvss: Some(2.0),
            kev: false,
            epss_percentile: Some(0.1),
            reachability: Reachability::Unreachable,
            deployed: Some(false),
            internet_exposed: Some(false),
            criticality: Some(1),
            cwe_top25_rank: None,
            fix_available: None,
            ..input()
        };
        let r = assess(&low, &w);
        assert_eq!(r.score, 0.0);
        assert_eq!(sum(&r), 0);
        let mid = RiskInput {
            cvss: None,
            severity: Severity::Medium,
            cvss_vector: None,
            kev: false,
            epss: None,
            epss_percentile: None,
            cwe_top25_rank: None,
            reachability: Reachability::Unknown,
            fix_available: None,
            deployed: None,
            internet_exposed: None,
            criticality: None,
            vector_facts: None,
        };
        let r = assess(&mid, &w);
        assert_eq!((r.score, r.factors.len()), (20.0, 1));
        assert_eq!(r.decision, Decision::FixOnSystemUpgrade);
        assert!(r.decision_reasons.iter().any(|x| x.contains("unknown (counted as no)")));
        // The same input always gives the same score.
        assert_eq!(assess(&input(), &w), assess(&input(), &w));
    }

    #[test]
    fn bod_26_04_tree() {
        use Decision::*;
        assert_eq!(decide(false, false, false, true), FixOnSystemUpgrade);
        assert_eq!(decide(false, true, true, true), Days3);
        assert_eq!(decide(true, false, false, false), Days14);
        assert_eq!(decide(true, true, true, false), Days3);
        assert_eq!(decide(true, false, true, true), Days3Forensics);
        assert_eq!(vector_facts("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), Some((true, true)));
        assert_eq!(vector_facts("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:H"), Some((false, false)));
        assert_eq!(vector_facts("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"), Some((true, true)));
        assert_eq!(vector_facts("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(Reachability::parse_loose("conditionally_reachable"), Reachability::Reachable);
    }
}

#[cfg(test)]
mod trait_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn traits_come_from_the_staged_attributes_and_give_the_vectors_decision() {
        let attrs = json!({"findingType": {"vulnerability": {
            "cweTop25Rank": 7, "reachability": "always_reachable", "fixedVersions": ["2.0.1"],
            "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        }, "codeWeakness": {"cweTop25Rank": 3}}});
        let t = RiskTraits::read(&attrs);
        assert_eq!(t, RiskTraits { cwe_top25: Some(3), reach: Some(2), fix: Some(true), vector: Some(3) });
        assert_eq!(RiskTraits::read(&json!({})), RiskTraits::default());
        // An issue scored from traits decides as its finding scored from the vector does.
        let base = RiskInput {
            severity: Severity::Critical,
            cvss: Some(9.8),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
            epss: None,
            epss_percentile: None,
            kev: true,
            cwe_top25_rank: None,
            reachability: Reachability::Unknown,
            fix_available: None,
            deployed: None,
            internet_exposed: Some(true),
            criticality: None,
            vector_facts: None,
        };
        let from_traits = RiskInput { cvss_vector: None, vector_facts: Some((true, true)), ..base.clone() };
        let w = RiskWeights::default();
        assert_eq!(assess(&base, &w), assess(&from_traits, &w));
    }
}
