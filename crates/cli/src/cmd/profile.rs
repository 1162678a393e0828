//! `tributary profile add|list|enable|disable|delete`.

use anyhow::{Result, anyhow, bail};
use serde_json::json;
use tributary_core::model::Schedule;
use tributary_core::time::{now_ms, parse_loose, to_rfc3339};
use tributary_store::repo::{audit, integrations, maps, profiles};

use super::Ctx;
use crate::args::{ProfileAddArgs, ProfileCommand};
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: ProfileCommand) -> Result<()> {
    match cmd {
        ProfileCommand::Add(a) => add(ctx, a),
        ProfileCommand::List => list(ctx),
        ProfileCommand::Enable { name } => toggle(ctx, &name, true),
        ProfileCommand::Disable { name } => toggle(ctx, &name, false),
        ProfileCommand::Delete { name } => {
            let store = ctx.store()?;
            store.write(|c| {
                profiles::delete(c, &name)?;
                audit::record(c, &ctx.actor(), "profile.delete", &name, json!({}))
            })?;
            println!("Deleted profile {name}.");
            Ok(())
        }
    }
}

fn time(flag: &str, text: &str) -> Result<i64> {
    parse_loose(text).ok_or_else(|| anyhow!("{flag}: '{text}' is not a time; use RFC 3339, e.g. 2026-12-01T10:00Z"))
}

fn schedule(a: &ProfileAddArgs) -> Result<Schedule> {
    if (a.start.is_some() || a.end.is_some()) && a.every.is_none() && a.cron.is_none() {
        bail!("--start and --end go with a recurring schedule (--every or --cron)");
    }
    let start = a.start.as_deref().map(|t| time("--start", t)).transpose()?.unwrap_or_else(now_ms);
    let end = a.end.as_deref().map(|t| time("--end", t)).transpose()?;
    Ok(match (&a.once, &a.every, &a.cron) {
        (Some(at), _, _) => {
            let at = time("--once", at)?;
            if at <= now_ms() {
                bail!("--once {} is in the past", to_rfc3339(at));
            }
            Schedule::Once { at }
        }
        (None, Some(every), _) => Schedule::recurring_every(every, start, end)?,
        (None, None, Some(expr)) => Schedule::recurring_cron(expr, start, end)?,
        (None, None, None) => Schedule::Manual,
    })
}

fn add(ctx: &Ctx, a: ProfileAddArgs) -> Result<()> {
    let schedule = schedule(&a)?;
    let engine = ctx.engine()?;
    let p = engine.store.write(|c| {
        let integration = integrations::get(c, &a.integration)?;
        let mut stream_maps = Vec::new();
        for name in &a.maps {
            let m = maps::get(c, name)?;
            if m.spec.connector != integration.kind {
                return Err(tributary_store::StoreError::Invalid(format!(
                    "map '{name}' reads {} records but '{}' is a {} integration",
                    m.spec.connector, integration.name, integration.kind
                )));
            }
            if stream_maps.iter().any(|(s, _)| *s == m.spec.source_model) {
                return Err(tributary_store::StoreError::Invalid(format!("two maps given for the '{}' records", m.spec.source_model)));
            }
            stream_maps.push((m.spec.source_model.clone(), m.id));
        }
        let p = profiles::create(
            c,
            profiles::NewProfile {
                name: &a.name,
                description: a.description.as_deref(),
                integration_id: integration.id,
                maps: stream_maps,
                active: !a.inactive,
                is_default: false,
                schedule: schedule.clone(),
            },
        )?;
        audit::record(c, &ctx.actor(), "profile.add", &a.name, json!({"integration": a.integration, "schedule": schedule.describe()}))?;
        Ok(p)
    })?;
    let next = p.next_run_at.map(|t| format!("; next run {}", to_rfc3339(t))).unwrap_or_default();
    println!("Created profile {} ({}, {}{next}).", p.name, if p.active { "active" } else { "inactive" }, p.schedule.describe());
    Ok(())
}

fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.store()?;
    let (all, names) = store.read(|c| {
        let all = profiles::list(c)?;
        let mut names = Vec::new();
        for p in &all {
            names.push(integrations::by_id(c, p.integration_id)?.name);
        }
        Ok((all, names))
    })?;
    let mut t = Tabular::new(&["name", "integration", "active", "schedule", "next run", "last run", "maps"]);
    for (p, integration) in all.iter().zip(names) {
        let maps: Vec<String> = p.maps.iter().map(|(s, m)| format!("{s}: {m}")).collect();
        let next = p.next_run_at.map(to_rfc3339).unwrap_or_default();
        let last = p.last_run_at.map(to_rfc3339).unwrap_or_default();
        t.row(
            vec![p.name.clone(), integration.clone(), if p.active { "yes".into() } else { "no".into() }, p.schedule.describe(), next.clone(), last.clone(), maps.join(", ")],
            json!({"name": p.name, "integration": integration, "active": p.active, "schedule": p.schedule, "next_run": next, "last_run": last, "maps": p.maps, "description": p.description}),
        );
    }
    t.print(ctx.format);
    Ok(())
}

fn toggle(ctx: &Ctx, name: &str, active: bool) -> Result<()> {
    let store = ctx.store()?;
    let p = store.write(|c| {
        let p = profiles::set_active(c, name, active)?;
        audit::record(c, &ctx.actor(), if active { "profile.enable" } else { "profile.disable" }, name, json!({}))?;
        Ok(p)
    })?;
    let next = p.next_run_at.map(|t| format!(", next run {}", to_rfc3339(t))).unwrap_or_default();
    println!("Profile {name} is {}{next}.", if active { "active" } else { "inactive" });
    Ok(())
}
