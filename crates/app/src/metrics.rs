//! Trends: daily snapshots of open findings by severity, source and status, with new,
//! fixed and the mean time to remediate.

use tributary_core::model::Role;
use tributary_store::repo::metrics;
pub use tributary_store::repo::metrics::DayMetrics;

use crate::{App, AppError, Principal, Result};

impl App {
    /// The last `days` days that have a snapshot (one is taken after every run), oldest first.
    pub fn metrics(&self, who: &Principal, days: i64) -> Result<Vec<DayMetrics>> {
        who.require(Role::Viewer, "reading metrics")?;
        if !(1..=3650).contains(&days) {
            return Err(AppError::invalid("days", "a number of days from 1 to 3650"));
        }
        Ok(self.store().read(|c| metrics::trend(c, days))?)
    }

    /// Takes today's snapshot now (runs take one when they end). Analyst.
    pub fn snapshot_metrics(&self, who: &Principal) -> Result<usize> {
        who.require(Role::Analyst, "taking a metrics snapshot")?;
        Ok(self.store().write(|c| metrics::snapshot(c, tributary_core::time::now_ms()))?)
    }
}
