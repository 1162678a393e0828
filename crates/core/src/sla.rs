//! Service levels: how many days a finding of each severity may stay open before it is
//! overdue. Days count from when the finding was first seen; `None` means no deadline.
//! (Deadlines per CISA BOD 26-04 decision follow once decisions are stored.)

use serde::{Deserialize, Serialize};

use crate::model::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlaDays {
    pub critical: Option<u32>,
    pub high: Option<u32>,
    pub medium: Option<u32>,
    pub low: Option<u32>,
    pub info: Option<u32>,
}

impl Default for SlaDays {
    /// 7 / 30 / 90 / 180 days, no deadline for informational findings: the common policy
    /// shape (and what the demo shows); set your own with `tributary sla --file`.
    fn default() -> Self {
        SlaDays { critical: Some(7), high: Some(30), medium: Some(90), low: Some(180), info: None }
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

    /// At most ten years per severity.
    pub fn check(&self) -> Result<(), String> {
        match self.deadlines().into_iter().find(|(_, d)| *d == 0 || *d > 3650) {
            Some((s, d)) => Err(format!("{s}: {d} days; give 1 to 3650 days, or null for no deadline")),
            None => Ok(()),
        }
    }
}
