//! The dashboard in one call: open findings by severity and source (maintained counts),
//! the trend (daily snapshots), the riskiest open issues (an index read), and the
//! aggregates that need a pass over a table — issue counts, SLA breaches, repositories by
//! deployment and exposure. Those are computed at most once a minute and shared by every
//! reader (`as_of` says when): a dashboard loaded by a whole team costs one pass, not one
//! per load (bench/RESULTS.md, web UI).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::issues::{IssueCounts, IssueRow};
use crate::metrics::DayMetrics;
use crate::query::{Bucket, Summary};
use crate::{App, Principal, Result, Role};

/// How long the aggregates are reused.
pub const AGGREGATES_TTL: Duration = Duration::from_secs(60);

/// Repositories by deployment and exposure.
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct ContextBreakdown {
    pub deployed_exposed: i64,
    pub deployed_not_exposed: i64,
    pub not_deployed: i64,
    pub unknown: i64,
    pub no_context: i64,
}

/// The aggregates of a pass over the data, and when they were taken.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Aggregates {
    pub issues: IssueCounts,
    pub sla_breached: i64,
    /// Breached open findings by severity, most severe first.
    pub sla_by_severity: Vec<Bucket>,
    pub repositories: ContextBreakdown,
    /// RFC 3339.
    pub as_of: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Dashboard {
    pub summary: Summary,
    pub trend: Vec<DayMetrics>,
    pub top_issues: Vec<IssueRow>,
    #[serde(flatten)]
    pub aggregates: Aggregates,
}

/// The shared copy of the aggregates.
#[derive(Default)]
pub(crate) struct AggregateCache(Mutex<Option<(Instant, Aggregates)>>);

impl App {
    pub fn dashboard(&self, who: &Principal) -> Result<Dashboard> {
        who.require(Role::Viewer, "reading the dashboard")?;
        let aggregates = self.aggregates(who)?;
        Ok(Dashboard {
            summary: self.summary(who)?,
            trend: self.metrics(who, 30)?,
            top_issues: self.issues(who, Some("open"), false, 10)?,
            aggregates,
        })
    }

    fn aggregates(&self, who: &Principal) -> Result<Aggregates> {
        if let Ok(guard) = self.aggregates.0.lock()
            && let Some((at, a)) = guard.as_ref()
            && at.elapsed() < AGGREGATES_TTL
        {
            return Ok(a.clone());
        }
        let sla = self.sla(who)?;
        let mut repositories = ContextBreakdown::default();
        for c in self.repository_context(who)? {
            let exposed = c.exposure.as_deref() == Some("exposed");
            match c.deployment.as_deref() {
                Some("deployed") if exposed => repositories.deployed_exposed += 1,
                Some("deployed") => repositories.deployed_not_exposed += 1,
                Some("not_deployed") => repositories.not_deployed += 1,
                Some(_) => repositories.unknown += 1,
                None => repositories.no_context += 1,
            }
        }
        let a = Aggregates {
            issues: self.issue_counts(who)?,
            sla_breached: sla.breached,
            sla_by_severity: sla.by_severity,
            repositories,
            as_of: tributary_core::time::to_rfc3339(tributary_core::time::now_ms()),
        };
        if let Ok(mut guard) = self.aggregates.0.lock() {
            *guard = Some((Instant::now(), a.clone()));
        }
        Ok(a)
    }

    /// Forgets the shared aggregates (after a change a user should see at once).
    pub fn refresh_dashboard(&self) {
        if let Ok(mut guard) = self.aggregates.0.lock() {
            *guard = None;
        }
    }
}
