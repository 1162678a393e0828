//! Integrations with their status, projects (repositories) with deployment and exposure,
//! and coverage per repository and source.

use askama::Template;
use axum::extract::State;
use tributary_app::App;
use tributary_app::issues::RepoContext;
use tributary_app::policies::RepoCoverage;

use super::{Layout, PageResult, cell, render, short_time};
use crate::session::Session;

pub struct IntegrationRow {
    pub name: String,
    pub kind: String,
    pub status: String,
    pub status_class: String,
    pub reason: String,
    pub last_sync: String,
    pub last_run: String,
    pub base_url: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    layout: Layout,
    rows: Vec<IntegrationRow>,
    is_admin: bool,
}

pub async fn integrations(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let list = app.blocking(move |a| a.integrations(&who)).await?;
    let rows = list
        .into_iter()
        .map(|v| {
            let label = v.integration.status.label();
            IntegrationRow {
                name: v.integration.name,
                kind: v.integration.kind,
                status: label.to_string(),
                status_class: label.to_ascii_lowercase().replace(' ', "-"),
                reason: v.integration.status_reason.unwrap_or_default(),
                last_sync: v.last_sync_at.as_deref().map(short_time).unwrap_or_else(|| "never".into()),
                last_run: v
                    .last_run
                    .map(|r| format!("{} {} — {} fetched", r.mode, r.status, r.counts.fetched))
                    .unwrap_or_else(|| "—".into()),
                base_url: v.integration.base_url,
            }
        })
        .collect();
    Ok(render(&IntegrationsPage { layout: Layout::new(&s, "integrations"), rows, is_admin: s.who.role == tributary_app::Role::Admin }))
}

pub struct ProjectRow {
    pub asset_id: i64,
    pub repository: String,
    pub deployment: String,
    pub exposure: String,
    pub evidence: String,
    pub reason: String,
    pub scanned_at: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    layout: Layout,
    rows: Vec<ProjectRow>,
    with_context: usize,
}

fn project_row(c: RepoContext) -> ProjectRow {
    ProjectRow {
        asset_id: c.asset_id,
        repository: c.repository,
        deployment: c.deployment.unwrap_or_default(),
        exposure: c.exposure.unwrap_or_default(),
        evidence: if c.evidence.is_null() { String::new() } else { cell(&c.evidence) },
        reason: c.reason.unwrap_or_default(),
        scanned_at: c.scanned_at.as_deref().map(short_time).unwrap_or_else(|| "—".into()),
    }
}

pub async fn projects(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let list = app.blocking(move |a| a.repository_context(&who)).await?;
    let with_context = list.iter().filter(|c| c.deployment.is_some()).count();
    let rows = list.into_iter().map(project_row).collect();
    Ok(render(&ProjectsPage { layout: Layout::new(&s, "projects"), rows, with_context }))
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    layout: Layout,
    rows: Vec<RepoCoverage>,
    sources: Vec<String>,
    stale_days: i64,
}

impl CoveragePage {
    /// A repository's status for one source kind (Disabled when no integration covers it).
    fn status(&self, row: &RepoCoverage, source: &str) -> String {
        row.sources.iter().find(|s| s.source == source).map(|s| s.status.clone()).unwrap_or_else(|| "Disabled".into())
    }
}

/// Days without a scan after which a source is Stale.
const STALE_DAYS: i64 = 30;

pub async fn coverage(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let rows = app.blocking(move |a| a.coverage(&who, STALE_DAYS)).await?;
    let mut sources: Vec<String> = Vec::new();
    for r in &rows {
        for src in &r.sources {
            if !sources.contains(&src.source) {
                sources.push(src.source.clone());
            }
        }
    }
    Ok(render(&CoveragePage { layout: Layout::new(&s, "coverage"), rows, sources, stale_days: STALE_DAYS }))
}
