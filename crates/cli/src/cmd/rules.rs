//! `tributary rules list|set`.

use anyhow::Result;
use serde_json::json;
use tributary_core::identify::IdentifierKind;
use tributary_core::model::AssetKind;
use tributary_store::repo::{audit, rules};

use super::Ctx;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: crate::args::RulesCommand) -> Result<()> {
    match cmd {
        crate::args::RulesCommand::List => {
            let store = ctx.store()?;
            let mut t = Tabular::new(&["asset kind", "precedence", "identifier"]);
            for r in store.read(rules::list)? {
                t.row(vec![r.asset_kind.to_string(), r.precedence.to_string(), r.identifier.to_string()], serde_json::to_value(&r)?);
            }
            t.print(ctx.format);
        }
        crate::args::RulesCommand::Set { kind, order } => {
            let kind: AssetKind = kind.parse()?;
            let order = order.iter().map(|o| o.parse::<IdentifierKind>()).collect::<Result<Vec<_>, _>>()?;
            let store = ctx.store()?;
            let set = store.write(|c| {
                let set = rules::set(c, kind, &order)?;
                audit::record(
                    c,
                    &ctx.actor(),
                    "rules.set",
                    kind.as_str(),
                    json!({"order": order.iter().map(|o| o.as_str()).collect::<Vec<_>>()}),
                )?;
                Ok(set)
            })?;
            let names: Vec<&str> = set.iter().map(|r| r.identifier.as_str()).collect();
            println!("{kind} assets are now identified by: {} (in this order). New and changed records use it.", names.join(" > "));
        }
    }
    Ok(())
}
