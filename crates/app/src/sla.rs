//! Service levels: days per severity (the team's, kept in the database) and how many open
//! findings are past them. `finding.slaBreached:true` finds them.

use serde::Serialize;
use serde_json::json;
use tributary_core::model::Role;
use tributary_core::sla::SlaDays;
use tributary_store::repo::intel;

use crate::query::Bucket;
use crate::{App, AppError, Principal, Result};

const SLA_KEY: &str = "sla_days";

/// The deadlines and the open findings past them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SlaReport {
    pub days: SlaDays,
    pub breached: i64,
    /// Breached open findings by severity, most severe first.
    pub by_severity: Vec<Bucket>,
}

impl App {
    /// The deadlines (defaults until set). Internal reads skip the role check.
    pub(crate) fn sla_days_unchecked(&self) -> Result<SlaDays> {
        let text: Option<String> = self.store().read(|c| {
            c.query_opt("SELECT value FROM meta WHERE key = ?", tributary_store::params![SLA_KEY])?.map(|mut r| r.take(0)).transpose()
        })?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(|e| AppError::Internal(format!("stored SLA days: {e}"))),
            None => Ok(SlaDays::default()),
        }
    }

    pub fn set_sla_days(&self, who: &Principal, days: &SlaDays) -> Result<SlaDays> {
        who.require(Role::Analyst, "changing service levels")?;
        days.check().map_err(|e| AppError::invalid("days", e))?;
        let text = serde_json::to_string(days).map_err(|e| AppError::Internal(e.to_string()))?;
        self.change(who, "sla.days", SLA_KEY, |c| {
            intel::set_meta(c, SLA_KEY, &text)?;
            Ok((*days, json!(days)))
        })
    }

    /// Deadlines and breach counts.
    pub fn sla(&self, who: &Principal) -> Result<SlaReport> {
        who.require(Role::Viewer, "reading service levels")?;
        let days = self.sla_days_unchecked()?;
        let mut by_severity = Vec::new();
        for (sev, _) in days.deadlines() {
            let n = self.count(who, &format!("finding.slaBreached:true finding.severity:{sev}"), None)?;
            by_severity.push(Bucket { key: sev.to_string(), count: n });
        }
        Ok(SlaReport { days, breached: by_severity.iter().map(|b| b.count).sum(), by_severity })
    }
}
