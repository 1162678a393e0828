//! `tributary show finding|asset ID`: one item in full, as JSON (it is nested).

use anyhow::Result;

use super::Ctx;
use crate::args::ShowCommand;

pub fn run(ctx: &Ctx, cmd: ShowCommand) -> Result<()> {
    let app = ctx.app()?;
    let v = match cmd {
        ShowCommand::Finding { id } => serde_json::to_value(app.finding(&ctx.who(), id)?)?,
        ShowCommand::Asset { id } => serde_json::to_value(app.asset(&ctx.who(), id)?)?,
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// `tributary summary`.
pub fn summary(ctx: &Ctx) -> Result<()> {
    let s = ctx.app()?.summary(&ctx.who())?;
    let mut t = crate::output::Tabular::new(&["by", "value", "findings"]);
    t.row(vec!["open".into(), "all".into(), s.open.to_string()], serde_json::json!({"by": "open", "value": "all", "findings": s.open}));
    for (by, list) in [("severity", &s.by_severity), ("source", &s.by_source), ("kind", &s.by_kind), ("status", &s.by_status)] {
        for b in list {
            t.row(vec![by.into(), b.key.clone(), b.count.to_string()], serde_json::json!({"by": by, "value": b.key, "findings": b.count}));
        }
    }
    t.print(ctx.format);
    Ok(())
}

/// `tributary intel load epss|kev FILE`, `tributary intel status`.
pub fn intel(ctx: &Ctx, cmd: crate::args::IntelCommand) -> Result<()> {
    use crate::args::{IntelCommand, IntelLoad};
    let app = ctx.app()?;
    match cmd {
        IntelCommand::Load(IntelLoad::Epss { file }) => {
            let l = app.load_epss(&ctx.who(), &file)?;
            println!(
                "Loaded {} EPSS scores (model {}, scores of {}) from {}.",
                l.rows,
                l.version.as_deref().unwrap_or("unknown"),
                l.date.as_deref().unwrap_or("an unknown date"),
                file.display()
            );
        }
        IntelCommand::Load(IntelLoad::Kev { file }) => {
            let l = app.load_kev(&ctx.who(), &file)?;
            println!("Loaded {} KEV entries (catalog {}) from {}.", l.rows, l.version.as_deref().unwrap_or("unknown"), file.display());
        }
        IntelCommand::Status => {
            let s = app.intel_status(&ctx.who())?;
            let mut t = crate::output::Tabular::new(&["feed", "rows", "version", "date", "loaded"]);
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            t.row(
                vec!["epss".into(), s.epss_rows.to_string(), o(&s.epss_model_version), o(&s.epss_score_date), o(&s.epss_loaded_at)],
                serde_json::json!({"feed": "epss", "rows": s.epss_rows, "version": s.epss_model_version, "date": s.epss_score_date, "loaded": s.epss_loaded_at}),
            );
            t.row(
                vec!["kev".into(), s.kev_rows.to_string(), o(&s.kev_catalog_version), String::new(), o(&s.kev_loaded_at)],
                serde_json::json!({"feed": "kev", "rows": s.kev_rows, "version": s.kev_catalog_version, "loaded": s.kev_loaded_at}),
            );
            t.print(ctx.format);
        }
    }
    Ok(())
}

/// `tributary explain FINDING`.
pub fn explain(ctx: &Ctx, id: &str) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    let (kind, number) = match id.split_once(':') {
        Some((k, n)) => (Some(k.trim().to_ascii_lowercase()), n.trim()),
        None => (None, id.trim()),
    };
    let Ok(n) = number.parse::<i64>() else {
        anyhow::bail!("'{id}' is not an issue or finding id (a number, or issue:N / finding:N)");
    };
    let is_issue = match kind.as_deref() {
        Some("issue") => true,
        Some("finding") => false,
        Some(other) => anyhow::bail!("'{other}:' is neither issue: nor finding:"),
        // Finding ids count up from 1; issue ids are 63-bit hashes: a number that is an
        // issue is one.
        None => app.is_issue(&who, n)?,
    };
    if is_issue {
        return issue(ctx, n);
    }
    let e = app.explain(&who, n)?;
    if ctx.format != crate::args::Format::Table {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!("Finding {}: risk {:.1} / 100; BOD 26-04: {}", e.finding_id, e.risk.score, e.risk.decision.label());
    let mut t = crate::output::Tabular::new(&["factor", "observed", "points"]);
    for f in &e.risk.factors {
        t.row(vec![f.factor.into(), f.observed.clone(), format!("{:+.1}", f.points)], serde_json::to_value(f)?);
    }
    t.print(ctx.format);
    for r in &e.risk.decision_reasons {
        println!("  {r}");
    }
    Ok(())
}

/// One issue: score, factors, findings by source.
fn issue(ctx: &Ctx, id: i64) -> Result<()> {
    let d = ctx.app()?.issue(&ctx.who(), id)?;
    if ctx.format != crate::args::Format::Table {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let i = &d.issue;
    println!(
        "Issue {}: {} ({}, {}), {}; risk {:.1} / 100; BOD 26-04: {}",
        i.id, i.title, i.kind, i.severity, i.status, i.score, i.decision_label
    );
    println!("{} findings ({} open) from {} source(s):", i.findings, i.open_findings, i.sources);
    let mut f = crate::output::Tabular::new(&["finding", "product", "integration", "status", "asset"]);
    for x in &d.findings {
        f.row(
            vec![x.finding_id.to_string(), x.product.clone(), x.integration.clone(), x.status.clone(), x.asset_id.to_string()],
            serde_json::to_value(x)?,
        );
    }
    f.print(ctx.format);
    let mut t = crate::output::Tabular::new(&["factor", "observed", "points"]);
    for x in &d.factors {
        t.row(vec![x.factor.clone(), x.observed.clone(), format!("{:+.1}", x.points)], serde_json::to_value(x)?);
    }
    t.print(ctx.format);
    Ok(())
}

/// `tributary issues [ID] [--all] [--multi-source] [--limit N]`.
pub fn issues(ctx: &Ctx, a: crate::args::IssuesArgs) -> Result<()> {
    if let Some(id) = a.id {
        return issue(ctx, id);
    }
    let app = ctx.app()?;
    let rows = app.issues(&ctx.who(), (!a.all).then_some("open"), a.multi_source, a.limit)?;
    let mut t = crate::output::Tabular::new(&["issue", "score", "decision", "severity", "title", "kind", "sources", "findings", "status"]);
    for i in &rows {
        t.row(
            vec![
                i.id.to_string(),
                format!("{:.1}", i.score),
                i.decision_label.clone(),
                i.severity.clone(),
                i.title.clone(),
                i.kind.clone(),
                i.sources.to_string(),
                format!("{} ({} open)", i.findings, i.open_findings),
                i.status.clone(),
            ],
            serde_json::to_value(i)?,
        );
    }
    t.print(ctx.format);
    if ctx.format == crate::args::Format::Table {
        let c = app.issue_counts(&ctx.who())?;
        println!("{} issues, {} open, {} seen by more than one source.", c.total, c.open, c.multi_source);
    }
    Ok(())
}

/// `tributary context`.
pub fn context(ctx: &Ctx) -> Result<()> {
    let rows = ctx.app()?.repository_context(&ctx.who())?;
    let mut t = crate::output::Tabular::new(&["repository", "deployment", "exposure", "evidence", "why none"]);
    for r in &rows {
        let evidence = r.evidence["assets"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["assetName"].as_str().or(x["assetId"].as_str())).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let evidence = match r.evidence["exposureReason"].as_str() {
            Some(why) if evidence.is_empty() => why.to_string(),
            Some(why) => format!("{evidence} ({why})"),
            None => evidence,
        };
        t.row(
            vec![
                r.repository.clone(),
                r.deployment.clone().unwrap_or_default(),
                r.exposure.clone().unwrap_or_default(),
                evidence,
                r.reason.clone().unwrap_or_default(),
            ],
            serde_json::to_value(r)?,
        );
    }
    t.print(ctx.format);
    Ok(())
}

/// `tributary coverage [--stale-days N]`.
pub fn coverage(ctx: &Ctx, stale_days: i64) -> Result<()> {
    let rows = ctx.app()?.coverage(&ctx.who(), stale_days)?;
    let mut head: Vec<&'static str> = vec!["repository"];
    head.extend(tributary_app::policies::coverage_sources());
    head.extend(["vulnerabilities", "code weaknesses"]);
    let mut t = crate::output::Tabular::new(&head);
    let yes = |b: bool, n: i64| format!("{} ({n} open)", if b { "covered" } else { "not covered" });
    for r in &rows {
        let mut cells = vec![r.repository.clone()];
        cells.extend(r.sources.iter().map(|s| s.status.clone()));
        cells.push(yes(r.vulnerabilities_covered, r.vulnerabilities));
        cells.push(yes(r.code_weaknesses_covered, r.code_weaknesses));
        t.row(cells, serde_json::to_value(r)?);
    }
    t.print(ctx.format);
    Ok(())
}

/// `tributary metrics [--days N]`.
pub fn metrics(ctx: &Ctx, days: i64, snapshot: bool) -> Result<()> {
    let app = ctx.app()?;
    if snapshot {
        app.snapshot_metrics(&ctx.who())?;
    }
    let rows = app.metrics(&ctx.who(), days)?;
    let mut t = crate::output::Tabular::new(&["day", "open", "critical", "high", "medium", "low", "new", "fixed", "MTTR (days)"]);
    for d in &rows {
        let sev = |s: &str| d.open_by_severity.get(s).copied().unwrap_or(0).to_string();
        t.row(
            vec![
                d.day.clone(),
                d.open_by_severity.values().sum::<i64>().to_string(),
                sev("critical"),
                sev("high"),
                sev("medium"),
                sev("low"),
                d.new.to_string(),
                d.fixed.to_string(),
                d.mttr_days.map(|m| format!("{m:.1}")).unwrap_or_default(),
            ],
            serde_json::to_value(d)?,
        );
    }
    t.print(ctx.format);
    Ok(())
}

/// `tributary policy add|list|results|delete`.
pub fn policy(ctx: &Ctx, cmd: crate::args::PolicyCommand) -> Result<()> {
    use crate::args::PolicyCommand as P;
    let app = ctx.app()?;
    let who = ctx.who();
    match cmd {
        P::Add { name, query, action } => {
            let p = app.add_policy(&who, &name, &query, &action)?;
            println!("Added policy {}: {} findings match it now ({}).", p.name, p.matched, p.action);
        }
        P::List => {
            let mut t = crate::output::Tabular::new(&["name", "action", "matched", "query"]);
            for p in app.policies(&who)? {
                t.row(vec![p.name.clone(), p.action.clone(), p.matched.to_string(), p.query.clone()], serde_json::to_value(&p)?);
            }
            t.print(ctx.format);
        }
        P::Results { name, limit } => {
            let mut t = crate::output::Tabular::new(&["finding", "title", "product", "matched at"]);
            for m in app.policy_results(&who, &name, limit)? {
                t.row(vec![m.finding_id.to_string(), m.title.clone(), m.product.clone(), m.matched_at.clone()], serde_json::to_value(&m)?);
            }
            t.print(ctx.format);
        }
        P::Delete { name } => {
            app.delete_policy(&who, &name)?;
            println!("Deleted policy {name}.");
        }
    }
    Ok(())
}

/// `tributary criticality ASSET 1-5|none`.
pub fn criticality(ctx: &Ctx, asset: i64, value: &str) -> Result<()> {
    let c = match value.trim() {
        "none" | "clear" => None,
        v => Some(v.parse::<u8>().map_err(|_| anyhow::anyhow!("criticality is 1 (lowest) to 5 (highest), or none; got '{v}'"))?),
    };
    ctx.app()?.set_criticality(&ctx.who(), asset, c)?;
    match c {
        Some(c) => println!("Asset {asset}: criticality {c}; its issues were rescored."),
        None => println!("Asset {asset}: criticality cleared (counts as 3); its issues were rescored."),
    }
    Ok(())
}

/// `tributary risk-weights [--file F]`.
pub fn risk_weights(ctx: &Ctx, file: Option<std::path::PathBuf>) -> Result<()> {
    use anyhow::Context;
    let app = ctx.app()?;
    let w = match file {
        Some(f) => {
            let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let w: tributary_core::risk::RiskWeights =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not a set of risk weights: {e}", f.display()))?;
            app.set_risk_weights(&ctx.who(), &w)?
        }
        None => app.risk_weights(&ctx.who())?,
    };
    println!("{}", serde_json::to_string_pretty(&w)?);
    Ok(())
}

/// `tributary sla [--file F]`.
pub fn sla(ctx: &Ctx, file: Option<std::path::PathBuf>) -> Result<()> {
    use anyhow::Context;
    let app = ctx.app()?;
    if let Some(f) = file {
        let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let days: tributary_core::sla::SlaDays =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not a set of SLA days: {e}", f.display()))?;
        app.set_sla_days(&ctx.who(), &days)?;
    }
    let r = app.sla(&ctx.who())?;
    let mut t = crate::output::Tabular::new(&["severity", "days", "open past it"]);
    for b in &r.by_severity {
        let sev: tributary_core::model::Severity = b.key.parse()?;
        let days = r.days.days(sev).map(|d| d.to_string()).unwrap_or_default();
        t.row(
            vec![b.key.clone(), days.clone(), b.count.to_string()],
            serde_json::json!({"severity": b.key, "days": days, "breached": b.count}),
        );
    }
    t.print(ctx.format);
    if ctx.format == crate::args::Format::Table {
        println!("{} open findings are past their deadline (tributary query 'finding.slaBreached:true').", r.breached);
    }
    Ok(())
}
