//! `tributary db migrate|status`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::args::DbCommand;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Migrate => {
            let m = ctx.app()?.opened();
            match m.from {
                None => println!("Created schema version {} in {}", m.to, m.database),
                Some(v) if v < m.to => println!("Upgraded schema from version {v} to {} in {}", m.to, m.database),
                Some(_) => println!("Schema is up to date (version {}) in {}", m.to, m.database),
            }
        }
        DbCommand::Status => {
            let s = tributary_app::admin::db_status(&ctx.store_options())?;
            let mut t = Tabular::new(&["setting", "value"]);
            let rows = [
                ("database", s.database.clone()),
                ("backend", s.backend.to_string()),
                ("schema_version", s.schema_version.map(|v| v.to_string()).unwrap_or_default()),
                ("master_key", s.master_key.clone()),
                ("master_key_check", s.key_problem.as_ref().map_or("matches this database".to_string(), |p| format!("FAILS: {p}"))),
            ];
            for (k, v) in rows {
                t.row(vec![k.to_string(), v.clone()], json!({"setting": k, "value": v}));
            }
            t.print(ctx.format);
            if let Some(p) = s.key_problem {
                anyhow::bail!("{p}");
            }
        }
    }
    Ok(())
}
