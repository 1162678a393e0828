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
