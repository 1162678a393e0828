//! `tributary integration add|list|test|delete`.

use anyhow::{Result, bail};
use serde_json::json;
use tributary_core::time::to_rfc3339;
use tributary_engine::integrations::NewIntegration;
use tributary_store::repo::{audit, integrations, runs};

use super::{Ctx, confirm, runtime, secret_from_stdin};
use crate::args::{CommonAddArgs, IntegrationCommand, IntegrationKindArgs, SecurityArg};
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: IntegrationCommand) -> Result<()> {
    match cmd {
        IntegrationCommand::Add(kind) => add(ctx, kind),
        IntegrationCommand::List => list(ctx),
        IntegrationCommand::Test { name } => test(ctx, &name),
        IntegrationCommand::Delete { name, yes } => delete(ctx, &name, yes),
    }
}

fn with_rate(mut config: serde_json::Value, common: &CommonAddArgs) -> serde_json::Value {
    if let (Some(r), Some(obj)) = (common.rate_limit, config.as_object_mut()) {
        obj.insert("rate_limit".into(), json!(r));
    }
    config
}

fn add(ctx: &Ctx, kind: IntegrationKindArgs) -> Result<()> {
    let (kind, common, base_url, config, secret) = match kind {
        IntegrationKindArgs::CortexXdr(a) => {
            let secret = secret_from_stdin("API key", "--key-stdin")?;
            let security = match a.security {
                SecurityArg::Standard => "standard",
                SecurityArg::Advanced => "advanced",
            };
            let config = json!({"key_id": a.key_id.trim(), "security": security, "types": a.types});
            ("cortex-xdr", a.common, a.base_url, config, secret)
        }
        IntegrationKindArgs::Semgrep(a) => {
            let secret = secret_from_stdin("API token", "--token-stdin")?;
            let config = json!({"scan": a.scan, "auto_map_future": a.auto_map_future});
            ("semgrep", a.common, a.base_url, config, secret)
        }
    };
    if let Some(r) = common.rate_limit
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate-limit must be a positive number of requests per second");
    }
    let config = with_rate(config, &common);
    let engine = ctx.engine()?;
    let new = NewIntegration { name: common.name.clone(), kind: kind.into(), base_url, config, secret, test: !common.skip_test };
    let (integration, report) = runtime()?
        .block_on(engine.add_integration(new, &ctx.actor()))
        .map_err(|e| anyhow::anyhow!("cannot add integration '{}': {e}", common.name))?;
    match report {
        Some(r) => println!("Added {} integration {}: {}.", kind, integration.name, r.summary),
        None => println!("Added {} integration {} (connection not tested).", kind, integration.name),
    }
    println!("Its profile is {}-default; run it with `tributary sync {}`.", integration.name, integration.name);
    Ok(())
}

fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.store()?;
    let (items, latest) = store.read(|c| {
        let items = integrations::list(c)?;
        let mut latest = Vec::new();
        for i in &items {
            latest.push(runs::latest(c, i.id)?);
        }
        Ok((items, latest))
    })?;
    let mut t = Tabular::new(&["name", "kind", "status", "detail", "since", "base url"]);
    for (i, run) in items.iter().zip(latest) {
        let detail = i.status_reason.clone().unwrap_or_default();
        let since = i.status_at.map(to_rfc3339).unwrap_or_default();
        t.row(
            vec![i.name.clone(), i.kind.clone(), i.status.label().into(), detail.clone(), since.clone(), i.base_url.clone()],
            json!({"name": i.name, "kind": i.kind, "status": i.status.label(), "detail": detail, "since": since, "base_url": i.base_url,
                   "config": i.config, "last_run": run}),
        );
    }
    t.print(ctx.format);
    Ok(())
}

fn test(ctx: &Ctx, name: &str) -> Result<()> {
    let engine = ctx.engine()?;
    match runtime()?.block_on(engine.test_integration(name))? {
        Ok(report) => {
            println!("Connected: {}", report.summary);
            Ok(())
        }
        Err(e) => bail!("{name}: Connection Error: {e}"),
    }
}

fn delete(ctx: &Ctx, name: &str, yes: bool) -> Result<()> {
    let store = ctx.store()?;
    let integration = store.read(|c| integrations::get(c, name))?;
    if !yes && !confirm(&format!("Delete integration {name} and every finding and attribution it brought in?")) {
        bail!("not deleted (confirm with --yes)");
    }
    store.write(|c| {
        integrations::delete(c, integration.id)?;
        audit::record(c, &ctx.actor(), "integration.delete", name, json!({"kind": integration.kind}))
    })?;
    println!("Deleted integration {name}.");
    Ok(())
}
