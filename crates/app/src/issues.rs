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
