//! Projects (Semgrep) and the repositories they map to: only mapped projects are ingested.

use serde::Serialize;
use tributary_core::model::Role;

use crate::{App, Principal, Result};

pub use tributary_store::repo::scopes::Scope;

/// A project with its mapping and open findings.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProjectView {
    #[serde(flatten)]
    pub scope: Scope,
    pub mapped: bool,
    pub open_findings: i64,
}

impl App {
    /// An integration's projects; `refresh` asks the vendor for the current list first.
    pub async fn projects(&self, who: &Principal, integration: &str, refresh: bool) -> Result<Vec<ProjectView>> {
        who.require(if refresh { Role::Analyst } else { Role::Viewer }, "listing projects")?;
        let list = self.engine.scopes(integration, refresh).await?;
        Ok(list.into_iter().map(|(scope, open_findings)| ProjectView { mapped: scope.is_mapped(), scope, open_findings }).collect())
    }

    /// Maps a project to a repository (any URL spelling); its findings move there.
    pub async fn map_project(&self, who: &Principal, integration: &str, project: &str, repo_url: &str) -> Result<Scope> {
        who.require(Role::Analyst, "mapping a project")?;
        Ok(self.engine.map_scope(integration, project, repo_url, &who.name).await?)
    }

    /// Stops ingesting a project; returns it and how many findings were removed.
    pub async fn unmap_project(&self, who: &Principal, integration: &str, project: &str) -> Result<(Scope, u64)> {
        who.require(Role::Analyst, "unmapping a project")?;
        Ok(self.engine.unmap_scope(integration, project, &who.name).await?)
    }
}
