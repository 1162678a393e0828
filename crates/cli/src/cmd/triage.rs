//! `tributary triage set|assign|comment|bulk|rule`.

use anyhow::{Result, bail};
use tributary_app::triage::TriageInput;
use tributary_core::time::to_rfc3339;

use super::{Ctx, confirm};
use crate::args::{DecisionArgs, TriageCommand, TriageRuleCommand};
use crate::output::Tabular;

fn input(d: DecisionArgs) -> TriageInput {
    TriageInput { status: d.status.into(), reason: d.reason, until: d.until, assignee: d.assignee }
}

/// Names CLI options in field errors.
fn flagged(e: tributary_app::AppError) -> anyhow::Error {
    match e {
        tributary_app::AppError::Invalid { field, reason } if !field.is_empty() && field != "q" => anyhow::anyhow!("--{field}: {reason}"),
        e => e.into(),
    }
}

pub fn run(ctx: &Ctx, cmd: TriageCommand) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    match cmd {
        TriageCommand::Set { finding, decision } => {
            let t = app.triage(&who, finding, &input(decision)).map_err(flagged)?;
            let until = t.until.map(|u| format!(" until {}", to_rfc3339(u))).unwrap_or_default();
            println!("Finding {finding}: {}{until}.", t.status.map(|s| s.to_string()).unwrap_or_default());
        }
        TriageCommand::Assign { finding, assignee } => {
            let t = app.assign(&who, finding, &assignee)?;
            match t.assignee {
                Some(a) => println!("Finding {finding} assigned to {a}."),
                None => println!("Finding {finding} unassigned."),
            }
        }
        TriageCommand::Comment { finding, text } => {
            let c = app.comment(&who, finding, &text).map_err(flagged)?;
            println!("Comment {} added to finding {finding}.", c.id);
        }
        TriageCommand::Bulk { query, decision, yes, dry_run } => {
            let input = input(decision);
            let preview = app.bulk_triage(&who, &query, &input, true).map_err(flagged)?;
            if dry_run {
                println!("{} findings match; nothing changed (--dry-run).", preview.matched);
                return Ok(());
            }
            if preview.matched == 0 {
                println!("No findings match; nothing changed.");
                return Ok(());
            }
            if !yes && !confirm(&format!("Set {} on {} findings?", input.status, preview.matched)) {
                bail!("not applied: {} findings match (confirm with --yes, or --dry-run to only count)", preview.matched);
            }
            let out = app.bulk_triage(&who, &query, &input, false).map_err(flagged)?;
            println!("Set {} on {} findings (one audit entry lists them).", input.status, out.matched);
        }
        TriageCommand::Rule(TriageRuleCommand::Add { name, query, decision }) => {
            let input = input(decision);
            let (rule, ids) = app.add_triage_rule(&who, &name, &query, &input).map_err(flagged)?;
            println!(
                "Added triage rule {}: {} on findings matching it; set now on {} untriaged findings, and on new ones after every sync and import.",
                rule.name,
                input.status,
                ids.len()
            );
        }
        TriageCommand::Rule(TriageRuleCommand::List) => {
            let mut t = Tabular::new(&["name", "query", "status", "reason", "until", "applied", "by"]);
            for r in app.triage_rules(&who)? {
                t.row(
                    vec![
                        r.name.clone(),
                        r.query.clone(),
                        r.decision.status.to_string(),
                        r.decision.reason.clone().unwrap_or_default(),
                        r.decision.until.map(to_rfc3339).unwrap_or_default(),
                        r.applied.to_string(),
                        r.created_by.clone(),
                    ],
                    serde_json::to_value(&r)?,
                );
            }
            t.print(ctx.format);
        }
        TriageCommand::Rule(TriageRuleCommand::Delete { name }) => {
            app.delete_triage_rule(&who, &name)?;
            println!("Deleted triage rule {name}; the decisions it made stay.");
        }
    }
    Ok(())
}
