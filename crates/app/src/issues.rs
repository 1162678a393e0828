//! Issues (findings of one problem correlated across sources, scored), repository
//! context from Cortex Cloud, and asset criticality.

use serde::Serialize;
use serde_json::json;
use tributary_core::model::Role;
pub use tributary_store::repo::context::RepoContext;
pub use tributary_store::repo::issues::{IssueFinding, IssueRow};
use tributary_store::repo::{context, issues};

use crate::{App, AppError, Principal, Result};

/// One part of an issue's stored score.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IssueFactor {
    pub factor: String,
    pub observed: String,
    pub points: f64,
}

/// An issue in full: its row, the stored factors that add up to its score, and its
/// findings by source.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub issue: IssueRow,
    pub factors: Vec<IssueFactor>,
    pub findings: Vec<IssueFinding>,
}

/// What issues to list.
#[derive(Debug, Clone, Default)]
pub struct IssuesRequest {
    /// A findings query: issues with a finding it matches (empty: every issue).
    pub q: String,
    /// open or closed (none: both).
    pub status: Option<String>,
    pub multi_source: bool,
    pub cursor: Option<String>,
    pub limit: i64,
}

/// A page of issues and the cursor of the next (none: the last page).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IssuesPage {
    pub items: Vec<IssueRow>,
    pub next_cursor: Option<String>,
}

/// Issue counts.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct IssueCounts {
    pub total: i64,
    pub open: i64,
    pub multi_source: i64,
}

impl App {
    /// Issues, highest score first.
    pub fn issues(&self, who: &Principal, status: Option<&str>, multi_source: bool, limit: i64) -> Result<Vec<IssueRow>> {
        who.require(Role::Viewer, "listing issues")?;
        if let Some(s) = status
            && !matches!(s, "open" | "closed")
        {
            return Err(AppError::invalid("status", format!("'{s}' is not an issue status (open, closed)")));
        }
        Ok(self.store().read(|c| issues::list(c, status, multi_source, limit.clamp(1, 10_000)))?)
    }

    /// A page of issues, highest risk first: those with a finding `q` matches (the
    /// findings query language; empty: all), keyset-paged (`next_cursor`).
    pub fn issues_page(&self, who: &Principal, req: &IssuesRequest) -> Result<IssuesPage> {
        who.require(Role::Viewer, "listing issues")?;
        if let Some(s) = req.status.as_deref()
            && !matches!(s, "open" | "closed")
        {
            return Err(AppError::invalid("status", format!("'{s}' is not an issue status (open, closed)")));
        }
        if !(1..=crate::query::MAX_LIMIT).contains(&req.limit) {
            return Err(AppError::invalid("limit", format!("between 1 and {}, got {}", crate::query::MAX_LIMIT, req.limit)));
        }
        let filter =
            if req.q.trim().is_empty() { None } else { Some(self.compile(&req.q, Some(tributary_store::query::Entity::Finding))?) };
        let after = match req.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => {
                let bad = || AppError::invalid("cursor", "not a cursor from a previous page (pass next_cursor back as it is)");
                let (score, id) = c.split_once('_').ok_or_else(bad)?;
                Some((score.parse().map_err(|_| bad())?, id.parse().map_err(|_| bad())?))
            }
        };
        let mut items =
            self.store().read(|c| issues::page(c, filter.as_ref(), req.status.as_deref(), req.multi_source, after, req.limit + 1))?;
        let next_cursor = if items.len() as i64 > req.limit {
            items.truncate(req.limit as usize);
            items.last().map(|i| format!("{}_{}", (i.score * 10.0).round() as i64, i.id))
        } else {
            None
        };
        Ok(IssuesPage { items, next_cursor })
    }

    pub fn issue_counts(&self, who: &Principal) -> Result<IssueCounts> {
        who.require(Role::Viewer, "counting issues")?;
        let (total, open, multi_source) = self.store().read(issues::counts)?;
        Ok(IssueCounts { total, open, multi_source })
    }

    /// An issue with its score's factors and its findings by source.
    pub fn issue(&self, who: &Principal, id: i64) -> Result<IssueDetail> {
        who.require(Role::Viewer, "reading an issue")?;
        Ok(self.store().read(|c| {
            let (issue, factors) = issues::get(c, id)?;
            let findings = issues::findings(c, id)?;
            let factors =
                factors.into_iter().map(|(factor, observed, t)| IssueFactor { factor, observed, points: t as f64 / 10.0 }).collect();
            Ok(IssueDetail { issue, factors, findings })
        })?)
    }

    /// Whether `id` names an issue (front ends that take "an issue or a finding").
    pub fn is_issue(&self, who: &Principal, id: i64) -> Result<bool> {
        who.require(Role::Viewer, "reading an issue")?;
        Ok(self.store().read(|c| Ok(c.query_opt("SELECT 1 FROM issues WHERE id = ?", tributary_store::params![id])?.is_some()))?)
    }

    /// Every repository's deployment and exposure context, or why it has none.
    pub fn repository_context(&self, who: &Principal) -> Result<Vec<RepoContext>> {
        who.require(Role::Viewer, "reading repository context")?;
        Ok(self.store().read(context::list)?)
    }

    /// Sets (or clears) an asset's business criticality, 1–5, and rescores the issues it
    /// carries. For a repository it applies to every finding in it. Analyst.
    pub fn set_criticality(&self, who: &Principal, asset_id: i64, criticality: Option<u8>) -> Result<()> {
        who.require(Role::Analyst, "setting asset criticality")?;
        if let Some(c) = criticality
            && !(1..=5).contains(&c)
        {
            return Err(AppError::invalid("criticality", format!("{c} is out of range: criticality runs from 1 (lowest) to 5 (highest)")));
        }
        self.change(who, "asset.criticality", &asset_id.to_string(), |c| {
            let n = c.execute(
                "UPDATE assets SET criticality = ? WHERE id = ?",
                tributary_store::params![criticality.map(i64::from), asset_id],
            )?;
            if n == 0 {
                return Err(tributary_store::StoreError::NotFound { what: "asset", name: asset_id.to_string() });
            }
            let ids = issues::ids_of(c, "(asset_id = ? OR repo_asset_id = ?)", tributary_store::params![asset_id, asset_id])?;
            issues::refresh_many(c, &ids)?;
            Ok(((), json!({"criticality": criticality})))
        })
    }

    /// Rescores every issue (weights or exploit intelligence changed).
    pub(crate) fn rescore_all(&self) -> Result<u64> {
        Ok(self.store().write(issues::refresh_all)?)
    }
}
