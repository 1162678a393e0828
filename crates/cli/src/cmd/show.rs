//! `tributary show finding|asset ID`: one item in full, as JSON (it is nested).

use anyhow::Result;

use super::Ctx;
use crate::args::ShowCommand;

pub fn run(ctx: &Ctx, cmd: ShowCommand) -> Result<()> {
    let app = ctx.app()?;
    let v = match cmd {
        ShowCommand::Finding { id } => serde_json::to_value(app.finding(&ctx.who(), id)?)?,
        ShowCommand::Asset { id } => serde_json::to_value(app.asset(&ctx.who(), id)?)?,
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// `tributary summary`.
pub fn summary(ctx: &Ctx) -> Result<()> {
    let s = ctx.app()?.summary(&ctx.who())?;
    let mut t = crate::output::Tabular::new(&["by", "value", "findings"]);
    t.row(vec!["open".into(), "all".into(), s.open.to_string()], serde_json::json!({"by": "open", "value": "all", "findings": s.open}));
    for (by, list) in [("severity", &s.by_severity), ("source", &s.by_source), ("kind", &s.by_kind), ("status", &s.by_status)] {
        for b in list {
            t.row(vec![by.into(), b.key.clone(), b.count.to_string()], serde_json::json!({"by": by, "value": b.key, "findings": b.count}));
        }
    }
    t.print(ctx.format);
    Ok(())
}
