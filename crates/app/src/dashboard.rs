//! The dashboard in one call: open findings by severity and source (maintained counts),
//! the trend (daily snapshots), the riskiest open issues (an index read), and the
//! aggregates that need a pass over a table — issue counts, SLA breaches, repositories by
//! deployment and exposure. Those are shared by every reader (`as_of` says when they were
//! taken) and recomputed in the background — when they are a minute old, or when a user
//! changed something — while readers keep getting the last ones: a page load never waits
//! for the pass, except the very first (bench/RESULTS.md, web UI).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Who takes the shared aggregates: the system, reading.
fn reader() -> Principal {
    Principal { name: "system".into(), role: Role::Viewer, user_id: None }
}

/// The shared copy of the aggregates.
#[derive(Default)]
pub(crate) struct AggregateCache {
    /// When taken, the last run's end then, and the aggregates.
    last: Mutex<Option<(Instant, Option<i64>, Aggregates)>>,
    /// Something changed since `last` was taken.
    stale: AtomicBool,
    /// A background pass is running.
    refreshing: AtomicBool,
}

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
        let cached = self.aggregates.last.lock().ok().and_then(|g| g.clone());
        match cached {
            Some((at, runs, a)) => {
                // A run (of any node, any process) ended since: the data changed.
                let ran = self.store().read(tributary_store::repo::runs::last_ended)? != runs;
                if ran || at.elapsed() >= AGGREGATES_TTL || self.aggregates.stale.load(Ordering::Acquire) {
                    self.refresh_in_background();
                }
                Ok(a)
            }
            None => self.compute_aggregates(who),
        }
    }

    /// One pass, stored for every reader.
    fn compute_aggregates(&self, who: &Principal) -> Result<Aggregates> {
        // Changes from here on make the result stale again.
        self.aggregates.stale.store(false, Ordering::Release);
        let runs = self.store().read(tributary_store::repo::runs::last_ended)?;
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
        if let Ok(mut guard) = self.aggregates.last.lock() {
            *guard = Some((Instant::now(), runs, a.clone()));
        }
        Ok(a)
    }

    /// Starts a pass on a thread of its own unless one is running.
    fn refresh_in_background(&self) {
        if self.aggregates.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let app = self.clone();
        let spawned = std::thread::Builder::new().name("dashboard-aggregates".into()).spawn(move || {
            if let Err(e) = app.compute_aggregates(&reader()) {
                tracing::warn!(message = "Dashboard aggregates failed.", error = %e);
            }
            app.aggregates.refreshing.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            self.aggregates.refreshing.store(false, Ordering::Release);
        }
    }

    /// Takes the aggregates now (a server does this when it starts, so the first page
    /// load does not pay for it).
    pub fn warm_dashboard(&self) -> Result<()> {
        self.compute_aggregates(&reader()).map(|_| ())
    }

    /// Marks the shared aggregates stale after a change: the next reader starts a pass
    /// in the background (and sees the new counts once it ends).
    pub fn refresh_dashboard(&self) {
        self.aggregates.stale.store(true, Ordering::Release);
    }
}
