//! Service levels: days per severity (the team's, kept in the database) and how many open
//! findings are past them. `finding.slaBreached:true` finds them.

use serde::Serialize;
use tributary_core::model::Role;
use tributary_core::sla::SlaDays;

use crate::query::Bucket;
use crate::{App, AppError, Principal, Result};

/// Where the days are kept (`meta`); the query context reads them too.
pub(crate) const SLA_KEY: &str = tributary_store::repo::policies::SLA_KEY;

/// The deadlines and the open findings past them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SlaReport {
    pub days: SlaDays,
    pub breached: i64,
    /// Breached open findings by severity, most severe first.
    pub by_severity: Vec<Bucket>,
}

impl App {
    pub fn set_sla_days(&self, who: &Principal, days: &SlaDays) -> Result<SlaDays> {
        who.require(Role::Analyst, "changing service levels")?;
        days.check().map_err(|e| AppError::invalid("days", e))?;
        self.set_setting(who, "sla.days", SLA_KEY, days)?;
        Ok(*days)
    }

    /// Deadlines and breach counts.
    pub fn sla(&self, who: &Principal) -> Result<SlaReport> {
        who.require(Role::Viewer, "reading service levels")?;
        let days: SlaDays = self.setting(SLA_KEY)?;
        let mut by_severity = Vec::new();
        for (sev, _) in days.deadlines() {
            let n = self.count(who, &format!("finding.slaBreached:true finding.severity:{sev}"), None)?;
            by_severity.push(Bucket { key: sev.to_string(), count: n });
        }
        Ok(SlaReport { days, breached: by_severity.iter().map(|b| b.count).sum(), by_severity })
    }
}
