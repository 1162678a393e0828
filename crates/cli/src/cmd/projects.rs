//! `tributary projects list|map|unmap`: an integration's projects (Semgrep) and the
//! repositories they map to. Only mapped projects are ingested.

use anyhow::Result;
use serde_json::json;

use super::{Ctx, runtime};
use crate::args::ProjectsCommand;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: ProjectsCommand) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    let rt = runtime()?;
    match cmd {
        ProjectsCommand::List { integration, cached } => {
            let list = rt.block_on(app.projects(&who, &integration, !cached))?;
            let mut t = Tabular::new(&["project", "detected repository", "mapping", "repository", "open findings", "reason"]);
            let (mut mapped, mut unmapped) = (0, 0);
            for p in &list {
                let (s, open) = (&p.scope, p.open_findings);
                if s.is_mapped() {
                    mapped += 1;
                } else {
                    unmapped += 1;
                }
                let repo = s.repo_key.as_deref().map(|k| format!("https://{k}")).unwrap_or_default();
                t.row(
                    vec![
                        s.name.clone(),
                        s.url.clone().unwrap_or_default(),
                        s.mapping.clone(),
                        repo.clone(),
                        open.to_string(),
                        s.reason.clone().unwrap_or_default(),
                    ],
                    json!({"project": s.name, "detected_url": s.url, "mapping": s.mapping, "repository": s.repo_key.as_ref().map(|_| repo),
                           "repository_asset_id": s.repo_asset_id, "open_findings": open, "reason": s.reason, "mapped": s.is_mapped()}),
                );
            }
            t.print(ctx.format);
            if matches!(ctx.format, crate::args::Format::Table) {
                eprintln!("{mapped} mapped, {unmapped} not mapped (only mapped projects are ingested)");
            }
        }
        ProjectsCommand::Map { project, integration, repo } => {
            let s = rt.block_on(app.map_project(&who, &integration, &project, &repo))?;
            println!(
                "Mapped {} to https://{}; its findings are on that repository now, and the next sync of {integration} fetches its history in full.",
                s.name,
                s.repo_key.as_deref().unwrap_or("")
            );
        }
        ProjectsCommand::Unmap { project, integration } => {
            let (s, removed) = rt.block_on(app.unmap_project(&who, &integration, &project))?;
            println!("Unmapped {}: {removed} findings removed; it is no longer ingested (map it again to undo).", s.name);
        }
    }
    Ok(())
}
