//! `tributary integration add|list|test|delete`.

use anyhow::{Result, bail};
use serde_json::json;
use tributary_app::integrations::{
    AddIntegration, CloudConfig, ConnectorSettings, HttpSettings, SecurityLevel, SemgrepConfig, XdrConfig, cortex_api_base,
};
use tributary_core::time::to_rfc3339;

use super::{Ctx, confirm, runtime, secret_from_stdin};
use crate::args::{IntegrationCommand, IntegrationKindArgs, SecurityArg};
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: IntegrationCommand) -> Result<()> {
    match cmd {
        IntegrationCommand::Add(kind) => add(ctx, kind),
        IntegrationCommand::List => list(ctx),
        IntegrationCommand::Test { name } => test(ctx, &name),
        IntegrationCommand::Delete { name, yes } => delete(ctx, &name, yes),
    }
}

fn security_level(a: SecurityArg) -> SecurityLevel {
    match a {
        SecurityArg::Standard => SecurityLevel::Standard,
        SecurityArg::Advanced => SecurityLevel::Advanced,
    }
}

fn add(ctx: &Ctx, kind: IntegrationKindArgs) -> Result<()> {
    let (common, base_url, settings, secret) = match kind {
        IntegrationKindArgs::CortexXdr(a) => {
            let secret = secret_from_stdin("API key", "--key-stdin")?;
            let config = XdrConfig {
                key_id: a.key.key_id.trim().to_string(),
                security: security_level(a.key.security),
                types: a.types,
                http: HttpSettings { rate_limit: a.common.rate_limit, ..HttpSettings::default() },
            };
            (a.common, a.base_url, ConnectorSettings::CortexXdr(config), secret)
        }
        IntegrationKindArgs::Semgrep(a) => {
            let secret = secret_from_stdin("API token", "--token-stdin")?;
            let config = SemgrepConfig {
                scan: a.scan,
                auto_map_future: a.auto_map_future,
                write_back: a.write_back_tags,
                deployment: None,
                deployment_name: None,
                page_size: None,
                listing_cap: None,
                http: HttpSettings { rate_limit: a.common.rate_limit, ..HttpSettings::default() },
            };
            (a.common, a.base_url, ConnectorSettings::Semgrep(config), secret)
        }
        IntegrationKindArgs::CortexCloud(a) => {
            let base_url = match (a.fqdn, a.api_url) {
                (Some(fqdn), _) => cortex_api_base(&fqdn)?,
                (None, Some(url)) => url,
                (None, None) => bail!("give the tenant with --fqdn (as the Cortex console shows it) or --api-url"),
            };
            let secret = secret_from_stdin("API key", "--key-stdin")?;
            let config = CloudConfig {
                key_id: a.key.key_id.trim().to_string(),
                security: security_level(a.key.security),
                page_size: None,
                http: HttpSettings { rate_limit: a.common.rate_limit, ..HttpSettings::default() },
            };
            (a.common, base_url, ConnectorSettings::CortexCloud(config), secret)
        }
    };
    if let Some(r) = common.rate_limit
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate-limit must be a positive number of requests per second");
    }
    let kind = settings.kind();
    let app = ctx.app()?;
    let add = AddIntegration { name: common.name.clone(), base_url, settings, secret, test: !common.skip_test };
    let (integration, report) = runtime()?
        .block_on(app.add_integration(&ctx.who(), add))
        .map_err(|e| anyhow::anyhow!("cannot add integration '{}': {e}", common.name))?;
    match report {
        Some(r) => println!("Added {} integration {}: {}.", kind, integration.name, r),
        None => println!("Added {} integration {} (connection not tested).", kind, integration.name),
    }
    println!("Its profile is {}-default; run it with `tributary sync {}`.", integration.name, integration.name);
    Ok(())
}

fn list(ctx: &Ctx) -> Result<()> {
    let items = ctx.app()?.integrations(&ctx.who())?;
    let mut t = Tabular::new(&["name", "kind", "status", "detail", "last sync", "data age", "base url"]);
    let now = tributary_core::time::now_ms();
    for v in items {
        let i = &v.integration;
        let detail = i.status_reason.clone().unwrap_or_default();
        let since = i.status_at.map(to_rfc3339).unwrap_or_default();
        let last = v.last_sync_at.clone();
        let age = last
            .as_deref()
            .and_then(tributary_core::time::parse_loose)
            .map(|t| age_words(now - t))
            .unwrap_or_else(|| "never synced".into());
        t.row(
            vec![
                i.name.clone(),
                i.kind.clone(),
                i.status.label().into(),
                detail.clone(),
                last.clone().unwrap_or_default(),
                age.clone(),
                i.base_url.clone(),
            ],
            json!({"name": i.name, "kind": i.kind, "status": i.status.label(), "detail": detail, "since": since, "base_url": i.base_url,
                   "config": i.config, "last_run": v.last_run, "last_sync_at": last, "data_age": age}),
        );
    }
    t.print(ctx.format);
    Ok(())
}

/// A duration in the largest unit that fits: 45s, 12m, 5h, 3d.
fn age_words(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn test(ctx: &Ctx, name: &str) -> Result<()> {
    let app = ctx.app()?;
    match runtime()?.block_on(app.test_integration(&ctx.who(), name))? {
        Ok(summary) => {
            println!("Connected: {summary}");
            Ok(())
        }
        Err(e) => bail!("{name}: Connection Error: {e}"),
    }
}

fn delete(ctx: &Ctx, name: &str, yes: bool) -> Result<()> {
    let app = ctx.app()?;
    app.integration(&ctx.who(), name)?;
    if !yes && !confirm(&format!("Delete integration {name} and every finding and attribution it brought in?")) {
        bail!("not deleted (confirm with --yes)");
    }
    app.delete_integration(&ctx.who(), name)?;
    println!("Deleted integration {name}.");
    Ok(())
}
