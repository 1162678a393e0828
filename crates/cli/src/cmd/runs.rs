//! `tributary runs list`.

use anyhow::Result;
use tributary_core::time::to_rfc3339;

use super::Ctx;
use crate::args::RunsCommand;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: RunsCommand) -> Result<()> {
    let RunsCommand::List { integration, limit } = cmd;
    let list = ctx.app()?.runs(&ctx.who(), integration.as_deref(), limit)?;
    let mut t =
        Tabular::new(&["run", "mode", "status", "started", "fetched", "created", "updated", "unchanged", "closed", "error", "notes"]);
    for r in list {
        let k = r.counts;
        t.row(
            vec![
                r.id.to_string(),
                r.mode.to_string(),
                r.status.to_string(),
                to_rfc3339(r.started_at),
                k.fetched.to_string(),
                k.created.to_string(),
                k.updated.to_string(),
                k.unchanged.to_string(),
                k.closed.to_string(),
                r.error.clone().unwrap_or_default(),
                r.notes.clone().unwrap_or_default().replace('\n', "; "),
            ],
            serde_json::to_value(&r)?,
        );
    }
    t.print(ctx.format);
    Ok(())
}
