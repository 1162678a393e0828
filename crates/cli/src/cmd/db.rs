//! `tributary db migrate|status`.

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::args::DbCommand;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: DbCommand) -> Result<()> {
    // `status` reports on the key even when it is the wrong one (that is what it is for).
    let store = match cmd {
        DbCommand::Status => tributary_store::Store::open(&ctx.store_options().report_key_only())?,
        DbCommand::Migrate => ctx.store()?,
    };
    match cmd {
        DbCommand::Migrate => {
            let m = store.migration();
            match m.from {
                None => println!("Created schema version {} in {}", m.to, store.url()),
                Some(v) if v < m.to => println!("Upgraded schema from version {v} to {} in {}", m.to, store.url()),
                Some(_) => println!("Schema is up to date (version {}) in {}", m.to, store.url()),
            }
        }
        DbCommand::Status => {
            let version = store.read(|c| tributary_store::migrate::version(c))?;
            let mut t = Tabular::new(&["setting", "value"]);
            let rows = [
                ("database", store.url().to_string()),
                ("backend", store.backend().to_string()),
                ("schema_version", version.map(|v| v.to_string()).unwrap_or_default()),
                ("master_key", store.key_origin().to_string()),
                ("master_key_check", store.key_problem().map_or("matches this database".to_string(), |p| format!("FAILS: {p}"))),
            ];
            for (k, v) in rows {
                t.row(vec![k.to_string(), v.clone()], json!({"setting": k, "value": v}));
            }
            t.print(ctx.format);
            if let Some(p) = store.key_problem() {
                anyhow::bail!("{p}");
            }
        }
    }
    Ok(())
}
