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
    let data = app
        .blocking(move |a| {
            Ok((
                a.summary(&who)?,
                a.issue_counts(&who)?,
                a.sla(&who)?,
                a.metrics(&who, 30)?,
                a.issues(&who, Some("open"), false, 10)?,
                a.repository_context(&who)?,
            ))
        })
        .await?;
    let (summary, issues, sla, trend, top, context) = data;
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
    let count = |f: &dyn Fn(&tributary_app::issues::RepoContext) -> bool| context.iter().filter(|c| f(c)).count() as i64;
    let exposed_repos = count(&|c| c.exposure.as_deref() == Some("exposed"));
    let parts = [
        Bar {
            label: "Deployed, internet-exposed".into(),
            value: count(&|c| c.deployment.as_deref() == Some("deployed") && c.exposure.as_deref() == Some("exposed")),
            class: "ctx-exposed".into(),
            href: None,
        },
        Bar {
            label: "Deployed, not exposed".into(),
            value: count(&|c| c.deployment.as_deref() == Some("deployed") && c.exposure.as_deref() != Some("exposed")),
            class: "ctx-deployed".into(),
            href: None,
        },
        Bar {
            label: "Not deployed".into(),
            value: count(&|c| c.deployment.as_deref() == Some("not_deployed")),
            class: "ctx-idle".into(),
            href: None,
        },
        Bar {
            label: "Unknown".into(),
            value: count(&|c| c.deployment.as_deref() == Some("unknown")),
            class: "ctx-unknown".into(),
            href: None,
        },
        Bar { label: "No context".into(), value: count(&|c| c.deployment.is_none()), class: "ctx-none".into(), href: None },
    ];
    let exposure_chart = charts::stacked("Repositories by deployment and exposure", &parts);
    let sla_chart =
        charts::bars("SLA breaches by severity", &sev_bars(&sla.by_severity, |k| format!("finding.slaBreached:true finding.severity:{k}")));
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
        breached: sla.breached,
        exposed_repos,
        severity_chart,
        source_chart,
        trend_chart,
        exposure_chart,
        sla_chart,
        top,
    }))
}
