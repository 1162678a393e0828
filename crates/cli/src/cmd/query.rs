//! `tributary query 'Q' [--limit N] [--count]`.

use anyhow::{Result, bail};
use tributary_store::query::{self, QueryContext};
use tributary_store::repo::maps;

use super::Ctx;
use crate::args::QueryArgs;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, a: QueryArgs) -> Result<()> {
    let expr = match tributary_core::query::parse(&a.query) {
        Ok(e) => e,
        Err(e) => bail!("{}", e.render(&a.query)),
    };
    let engine = ctx.engine()?;
    let store = &engine.store;
    let mut qctx = QueryContext { products: store.read(maps::products)? };
    qctx.products.extend(tributary_connectors::CONNECTORS.iter().map(|k| k.product.to_string()));
    let dialect = store.read(|c| Ok(c.dialect()))?;
    let compiled = match query::compile(&expr, dialect, &qctx) {
        Ok(c) => c,
        Err(e) => bail!("{}", e.render(&a.query)),
    };
    if a.count {
        println!("{}", store.read(|c| query::count(c, &compiled))?);
        return Ok(());
    }
    if a.limit < 1 {
        bail!("--limit must be at least 1");
    }
    let rows = store.read(|c| query::rows(c, &compiled, a.limit, 0))?;
    let cols = query::columns(compiled.entity);
    let mut t = Tabular::new(cols);
    for r in rows {
        let cells = cols.iter().map(|c| match &r[*c] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        });
        t.row(cells.collect(), r);
    }
    t.print(ctx.format);
    Ok(())
}
