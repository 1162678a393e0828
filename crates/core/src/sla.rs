//! Service levels: how many days a finding may stay open before it is overdue — per
//! severity, and per CISA BOD 26-04 decision of its issue (`risk::Decision`, stored with
//! the score); the earlier deadline wins. Days count from when the finding was
//! first seen; `None` means no deadline.

use serde::{Deserialize, Serialize};

use crate::model::Severity;
use crate::risk::Decision;

/// Days per BOD 26-04 decision. The defaults are the directive's own timelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionDays {
    pub days_3_forensics: Option<u32>,
    pub days_3: Option<u32>,
    pub days_14: Option<u32>,
    pub days_60: Option<u32>,
    pub fix_on_system_upgrade: Option<u32>,
}

impl Default for DecisionDays {
    fn default() -> Self {
        DecisionDays { days_3_forensics: Some(3), days_3: Some(3), days_14: Some(14), days_60: Some(60), fix_on_system_upgrade: None }
    }
}

impl DecisionDays {
    pub fn days(&self, d: Decision) -> Option<u32> {
        match d {
            Decision::Days3Forensics => self.days_3_forensics,
            Decision::Days3 => self.days_3,
            Decision::Days14 => self.days_14,
            Decision::Days60 => self.days_60,
            Decision::FixOnSystemUpgrade => self.fix_on_system_upgrade,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlaDays {
    pub critical: Option<u32>,
    pub high: Option<u32>,
    pub medium: Option<u32>,
    pub low: Option<u32>,
    pub info: Option<u32>,
    /// Per BOD 26-04 decision of the finding's issue; the earlier deadline wins.
    pub by_decision: DecisionDays,
}

impl Default for SlaDays {
    /// 7 / 30 / 90 / 180 days, no deadline for informational findings: the common policy
    /// shape (and what the demo shows); set your own with `tributary sla --file`.
    fn default() -> Self {
        SlaDays { critical: Some(7), high: Some(30), medium: Some(90), low: Some(180), info: None, by_decision: DecisionDays::default() }
    }
}

impl SlaDays {
    pub fn days(&self, s: Severity) -> Option<u32> {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            _ => self.info,
        }
    }

    /// Every severity with a deadline, and its days.
    pub fn deadlines(&self) -> Vec<(Severity, u32)> {
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info]
            .into_iter()
            .filter_map(|s| self.days(s).map(|d| (s, d)))
            .collect()
    }

    /// Every decision with a deadline, and its days.
    pub fn decision_deadlines(&self) -> Vec<(Decision, u32)> {
        Decision::ALL.into_iter().filter_map(|d| self.by_decision.days(d).map(|n| (d, n))).collect()
    }

    /// At most ten years per severity or decision.
    pub fn check(&self) -> Result<(), String> {
        if let Some((s, d)) = self.deadlines().into_iter().find(|(_, d)| *d == 0 || *d > 3650) {
            return Err(format!("{s}: {d} days; give 1 to 3650 days, or null for no deadline"));
        }
        match self.decision_deadlines().into_iter().find(|(_, d)| *d == 0 || *d > 3650) {
            Some((s, d)) => Err(format!("decision \"{}\": {d} days; give 1 to 3650 days, or null for no deadline", s.label())),
            None => Ok(()),
        }
    }
}
