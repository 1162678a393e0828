//! `tributary rules list|set`.

use anyhow::Result;

use super::Ctx;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: crate::args::RulesCommand) -> Result<()> {
    match cmd {
        crate::args::RulesCommand::List => {
            let mut t = Tabular::new(&["asset kind", "precedence", "identifier"]);
            for r in ctx.app()?.identification_rules(&ctx.who())? {
                t.row(vec![r.asset_kind.to_string(), r.precedence.to_string(), r.identifier.to_string()], serde_json::to_value(&r)?);
            }
            t.print(ctx.format);
        }
        crate::args::RulesCommand::Set { kind, order } => {
            let set = ctx.app()?.set_identification_rules(&ctx.who(), &kind, &order)?;
            let names: Vec<&str> = set.iter().map(|r| r.identifier.as_str()).collect();
            println!("{kind} assets are now identified by: {} (in this order). New and changed records use it.", names.join(" > "));
        }
    }
    Ok(())
}
