//! `tributary profile add|list|enable|disable|delete`.

use anyhow::Result;
use serde_json::json;
use tributary_app::profiles::{AddProfile, ScheduleInput};
use tributary_core::time::to_rfc3339;

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
            ctx.app()?.delete_profile(&ctx.who(), &name)?;
            println!("Deleted profile {name}.");
            Ok(())
        }
    }
}

fn add(ctx: &Ctx, a: ProfileAddArgs) -> Result<()> {
    let schedule = ScheduleInput { once: a.once, every: a.every, cron: a.cron, start: a.start, end: a.end };
    // Flag names in errors: the CLI spells the fields as options.
    let add =
        AddProfile { name: a.name, description: a.description, integration: a.integration, maps: a.maps, active: !a.inactive, schedule };
    let p = ctx.app()?.add_profile(&ctx.who(), add).map_err(|e| match e {
        tributary_app::AppError::Invalid { field, reason } if !field.is_empty() => anyhow::anyhow!("--{field}: {reason}"),
        e => e.into(),
    })?;
    let next = p.next_run_at.map(|t| format!("; next run {}", to_rfc3339(t))).unwrap_or_default();
    println!("Created profile {} ({}, {}{next}).", p.name, if p.active { "active" } else { "inactive" }, p.schedule.describe());
    Ok(())
}

fn list(ctx: &Ctx) -> Result<()> {
    let all = ctx.app()?.profiles(&ctx.who())?;
    let mut t = Tabular::new(&["name", "integration", "active", "schedule", "next run", "last run", "maps"]);
    for v in all {
        let (p, integration) = (&v.profile, &v.integration);
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
    let p = ctx.app()?.set_profile_active(&ctx.who(), name, active)?;
    let next = p.next_run_at.map(|t| format!(", next run {}", to_rfc3339(t))).unwrap_or_default();
    println!("Profile {name} is {}{next}.", if active { "active" } else { "inactive" });
    Ok(())
}
