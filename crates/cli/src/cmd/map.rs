//! `tributary map list|show|clone|edit|validate|preview|apply`.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use tributary_app::maps::{parse_map, validate_map};
use tributary_core::transform::TransformMapSpec;

use super::sync::ProgressView;
use super::{Ctx, runtime};
use crate::args::{Format, FuseArgs, MapCommand};
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: MapCommand) -> Result<()> {
    match cmd {
        MapCommand::List => list(ctx),
        MapCommand::Show { name } => show(ctx, &name),
        MapCommand::Clone { name, new_name } => clone(ctx, &name, &new_name),
        MapCommand::Edit { name, file } => edit(ctx, &name, &file),
        MapCommand::Validate { file } => validate(&file),
        MapCommand::Preview { name, integration, sample } => preview(ctx, &name, &integration, sample),
        MapCommand::Apply { name, integration, fuses } => apply(ctx, &name, &integration, fuses),
    }
}

/// Reads a map definition from JSON or YAML, with the file and position in errors.
pub fn read_spec(file: &Path) -> Result<TransformMapSpec> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let yaml = matches!(file.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    Ok(parse_map(&text, yaml, &file.display().to_string())?)
}

fn list(ctx: &Ctx) -> Result<()> {
    let all = ctx.app()?.maps(&ctx.who())?;
    let mut t = Tabular::new(&["name", "connector", "source model", "target model", "rules", "built-in", "version"]);
    for m in all {
        t.row(
            vec![
                m.spec.name.clone(),
                m.spec.connector.clone(),
                m.spec.source_model.clone(),
                m.spec.target_model.to_string(),
                m.spec.rules.len().to_string(),
                if m.builtin { "yes".into() } else { "no".into() },
                m.version.to_string(),
            ],
            json!({"name": m.spec.name, "connector": m.spec.connector, "source_model": m.spec.source_model, "target_model": m.spec.target_model,
                   "rules": m.spec.rules.len(), "builtin": m.builtin, "version": m.version}),
        );
    }
    t.print(ctx.format);
    Ok(())
}

fn show(ctx: &Ctx, name: &str) -> Result<()> {
    let m = ctx.app()?.map(&ctx.who(), name)?;
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&m.spec)?);
        return Ok(());
    }
    if ctx.format == Format::Table {
        println!(
            "{} ({} {} → {}{}), version {}",
            m.spec.name,
            m.spec.connector,
            m.spec.source_model,
            m.spec.target_model,
            if m.builtin { ", built-in" } else { "" },
            m.version
        );
        if let Some(d) = &m.spec.description {
            println!("{d}");
        }
    }
    let mut t = Tabular::new(&["#", "source field", "target field", "convert"]);
    for (i, r) in m.spec.rules.iter().enumerate() {
        t.row(vec![(i + 1).to_string(), r.source.clone(), r.target.clone(), r.convert.join(", ")], serde_json::to_value(r)?);
    }
    t.print(ctx.format);
    Ok(())
}

fn clone(ctx: &Ctx, name: &str, new_name: &str) -> Result<()> {
    let created = ctx.app()?.clone_map(&ctx.who(), name, new_name)?;
    println!(
        "Created map {} ({} rules) from {name}. Edit it with `tributary map edit {} --file F`.",
        created.spec.name,
        created.spec.rules.len(),
        created.spec.name
    );
    Ok(())
}

fn edit(ctx: &Ctx, name: &str, file: &Path) -> Result<()> {
    let spec = read_spec(file)?;
    let m = ctx.app()?.edit_map(&ctx.who(), name, spec)?;
    println!(
        "Saved map {} ({} rules, version {}). Re-run it over stored records with `tributary map apply {} --integration NAME`.",
        name,
        m.spec.rules.len(),
        m.version,
        name
    );
    Ok(())
}

fn validate(file: &Path) -> Result<()> {
    let spec = read_spec(file)?;
    validate_map(&spec)?;
    println!("{}: map '{}' is valid ({} rules).", file.display(), spec.name, spec.rules.len());
    Ok(())
}

fn preview(ctx: &Ctx, name: &str, integration: &str, sample: usize) -> Result<()> {
    let app = ctx.app()?;
    let pairs = runtime()?.block_on(app.preview_map(&ctx.who(), name, integration, sample))?;
    let mut t = Tabular::new(&["input (vendor record)", "output (Tributary)"]);
    for (input, output) in pairs {
        t.row(
            vec![serde_json::to_string_pretty(&input)?, serde_json::to_string_pretty(&output)?],
            json!({"input": input, "output": output}),
        );
    }
    t.print(ctx.format);
    Ok(())
}

fn apply(ctx: &Ctx, name: &str, integration: &str, fuses: FuseArgs) -> Result<()> {
    let app = ctx.app()?;
    let view = ProgressView::new(&format!("apply {name} to {integration}"));
    let run = match runtime()?.block_on(app.apply_map(&ctx.who(), name, integration, fuses.fuses(), view.clone())) {
        Ok(run) => run,
        Err(e) => {
            view.abandon();
            return Err(e.into());
        }
    };
    view.finish(&run);
    println!("{} is now the map {integration} uses.", name);
    Ok(())
}
