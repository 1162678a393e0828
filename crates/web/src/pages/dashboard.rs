//! The dashboard: open findings by severity over time and by source, the riskiest open
//! issues, deployment and exposure of repositories, SLA breaches — all from maintained
//! counts and stored snapshots (no scan of the findings).

use askama::Template;
use axum::extract::State;
use tributary_app::App;
use tributary_app::issues::IssueCounts;
use tributary_app::query::Bucket;

use super::{Layout, PageResult, encode, render};
use crate::charts::{self, Bar, Series};
use crate::session::Session;

pub struct TopIssue {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub score: String,
    pub decision: String,
    pub sources: i64,
    pub kind: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    open_findings: i64,
    issues: IssueCounts,
    breached: i64,
    exposed_repos: i64,
    severity_chart: String,
    source_chart: String,
    trend_chart: String,
    exposure_chart: String,
    sla_chart: String,
    top: Vec<TopIssue>,
    /// When the issue, SLA and repository counts were taken (they are reused a minute).
    as_of: String,
}

pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

fn sev_bars(buckets: &[Bucket], query: impl Fn(&str) -> String) -> Vec<Bar> {
    buckets
        .iter()
        .map(|b| Bar {
            label: b.key.clone(),
            value: b.count,
            class: format!("sev-{}", b.key),
            href: Some(format!("/findings?q={}", encode(&query(&b.key)))),
        })
        .collect()
}

pub async fn page(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let d = app.blocking(move |a| a.dashboard(&who)).await?;
    let (summary, trend, top, agg) = (d.summary, d.trend, d.top_issues, d.aggregates);
    let issues = agg.issues;
    let severity_chart = charts::bars("Open findings by severity", &sev_bars(&summary.by_severity, |k| format!("finding.severity:{k}")));
    let source_chart = charts::bars(
        "Open findings by source",
        &summary
            .by_source
            .iter()
            .map(|b| Bar {
                label: b.key.clone(),
                value: b.count,
                class: "src".into(),
                href: Some(format!("/findings?q={}", encode(&format!("finding.vendorProductName:`{}`", b.key)))),
            })
            .collect::<Vec<_>>(),
    );
    let days: Vec<String> = trend.iter().map(|d| d.day.clone()).collect();
    let series: Vec<Series> = SEVERITIES[..4]
        .iter()
        .map(|sev| Series {
            name: sev.to_string(),
            class: format!("sev-{sev}"),
            values: trend.iter().map(|d| d.open_by_severity.get(*sev).copied().unwrap_or(0)).collect(),
        })
        .collect();
    let trend_chart = charts::lines("Open findings by severity, last 30 days", &days, &series);
    let r = agg.repositories;
    let exposed_repos = r.deployed_exposed;
    let bar = |label: &str, value: i64, class: &str| Bar { label: label.into(), value, class: class.into(), href: None };
    let parts = [
        bar("Deployed, internet-exposed", r.deployed_exposed, "ctx-exposed"),
        bar("Deployed, not exposed", r.deployed_not_exposed, "ctx-deployed"),
        bar("Not deployed", r.not_deployed, "ctx-idle"),
        bar("Unknown", r.unknown, "ctx-unknown"),
        bar("No context", r.no_context, "ctx-none"),
    ];
    let exposure_chart = charts::stacked("Repositories by deployment and exposure", &parts);
    let sla_chart = charts::bars(
        "SLA breaches by severity",
        &sev_bars(&agg.sla_by_severity, |k| format!("finding.slaBreached:true finding.severity:{k}")),
    );
    let top = top
        .into_iter()
        .map(|i| TopIssue {
            id: i.id,
            title: i.title,
            severity: i.severity,
            score: format!("{:.1}", i.score),
            decision: i.decision_label,
            sources: i.sources,
            kind: i.kind.replace('_', " "),
        })
        .collect();
    Ok(render(&Dashboard {
        layout: Layout::new(&s, "dashboard"),
        open_findings: summary.open,
        issues,
        breached: agg.sla_breached,
        as_of: agg.as_of.replace('T', " ").chars().take(19).collect(),
        exposed_repos,
        severity_chart,
        source_chart,
        trend_chart,
        exposure_chart,
        sla_chart,
        top,
    }))
}
