//! `tributary query 'Q' [--limit N] [--count] [--sort F] [--cursor C]` and `query --fields`.

use anyhow::Result;
use tributary_app::query::{ListRequest, fields};

use super::Ctx;
use crate::args::QueryArgs;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, a: QueryArgs) -> Result<()> {
    if a.fields {
        let mut t = Tabular::new(&["field", "type", "operators", "description"]);
        for f in fields() {
            let mut name = f.name.to_string();
            if !f.aliases.is_empty() {
                name.push_str(&format!(" ({})", f.aliases.join(", ")));
            }
            t.row(vec![name, f.type_name.clone(), f.operators.into(), f.description.into()], serde_json::to_value(&f)?);
        }
        t.print(ctx.format);
        if ctx.format == crate::args::Format::Table {
            eprintln!(
                "Also: every target-model attribute, e.g. asset.hostName, finding.findingType.vulnerability.fixedVersions (docs/query.md)."
            );
        }
        return Ok(());
    }
    let q = a.query.unwrap_or_default();
    let app = ctx.app()?;
    if a.count {
        println!("{}", app.count(&ctx.who(), &q, None)?);
        return Ok(());
    }
    let page = app.list(&ctx.who(), &ListRequest { q, sort: a.sort, cursor: a.cursor, limit: a.limit, fields: None }, None)?;
    let cols = page.columns;
    let mut t = Tabular::new(cols);
    for r in page.items {
        let cells = cols.iter().map(|c| match &r[*c] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        });
        t.row(cells.collect(), r);
    }
    t.print(ctx.format);
    if let Some(c) = page.next_cursor
        && ctx.format == crate::args::Format::Table
    {
        eprintln!("more: --cursor {c}");
    }
    Ok(())
}
