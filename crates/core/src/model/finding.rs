//! Findings: one problem on one asset as one source reports it.

use serde::Serialize;

use super::{Severity, string_enum};
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A known vulnerability (CVE/GHSA) in a package or host — OCSF 2002.
    Vulnerability,
    /// A weakness in first-party code (SAST) — OCSF 2007.
    CodeWeakness,
}

string_enum!(FindingKind, "finding kind", {
    Vulnerability => "vulnerability", CodeWeakness => "code_weakness",
});

impl FindingKind {
    pub fn ocsf_class_uid(self) -> i64 {
        match self {
            FindingKind::Vulnerability => 2002,
            FindingKind::CodeWeakness => 2007,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingStatus {
    Open,
    Fixed,
    RiskAccepted,
    FalsePositive,
}

string_enum!(FindingStatus, "finding status", {
    Open => "open", Fixed => "fixed", RiskAccepted => "risk_accepted", FalsePositive => "false_positive",
});

impl FindingStatus {
    /// OCSF finding `status_id`: New 1, Suppressed 3, Resolved 4.
    pub fn ocsf_status_id(self) -> i64 {
        match self {
            FindingStatus::Open => 1,
            FindingStatus::RiskAccepted | FindingStatus::FalsePositive => 3,
            FindingStatus::Fixed => 4,
        }
    }
}

impl FindingStatus {
    /// Maps vendor status words: Semgrep `open`/`fixed`/`ignored`/`reviewing`, older
    /// `unresolved`/`muted`, SARIF `suppressed`, generic `resolved`/`closed`/`new`.
    pub fn parse_loose(text: &str) -> Option<Self> {
        for s in [FindingStatus::Open, FindingStatus::Fixed, FindingStatus::RiskAccepted, FindingStatus::FalsePositive] {
            if text.eq_ignore_ascii_case(s.as_str()) {
                return Some(s);
            }
        }
        let t = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Some(match t.as_str() {
            "open"
            | "new"
            | "unresolved"
            | "reopened"
            | "untriaged"
            | "active"
            | "reviewing"
            | "fixing"
            | "in_progress"
            | "provisionally_ignored"
            | "detected"
            | "unfixed" => FindingStatus::Open,
            "fixed" | "resolved" | "closed" | "remediated" | "mitigated" | "removed" => FindingStatus::Fixed,
            "ignored" | "muted" | "accepted" | "risk_accepted" | "acceptable_risk" | "suppressed" | "wont_fix" | "no_time" => {
                FindingStatus::RiskAccepted
            }
            "false_positive" | "falsepositive" | "fp" | "not_affected" => FindingStatus::FalsePositive,
            _ => return None,
        })
    }
}

/// One finding as stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: i64,
    pub asset_id: i64,
    pub integration_id: i64,
    pub kind: FindingKind,
    /// `vendorProductName`: `Cortex XDR`, `Semgrep Code`, `Semgrep Supply Chain`, …
    pub product: String,
    /// The source's id for this finding (CVE on a host, Semgrep finding id, …).
    pub external_id: String,
    pub title: String,
    pub severity: Severity,
    /// The source's own severity text, kept verbatim.
    pub source_severity: Option<String>,
    /// The source's own score (e.g. CVSS as reported).
    pub source_score: Option<f64>,
    pub status: FindingStatus,
    pub cve: Option<String>,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub closed_at: Option<Millis>,
    /// The stored raw vendor record this finding was produced from.
    pub raw_id: Option<i64>,
    pub attributes: serde_json::Value,
}

/// A person's decision on a finding, kept beside the vendor's [`FindingStatus`]: a sync
/// never changes it, and a finding the vendor reports fixed is closed whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriageStatus {
    Open,
    InProgress,
    Fixed,
    RiskAccepted,
    FalsePositive,
}

string_enum!(TriageStatus, "triage status", {
    Open => "open", InProgress => "in_progress", Fixed => "fixed", RiskAccepted => "risk_accepted", FalsePositive => "false_positive",
});
