//! Issues: the ranked list, and one issue with the factors that add up to its score and
//! its findings by source, their records side by side.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tributary_app::App;
use tributary_app::issues::{IssueRow, IssuesRequest};

use super::{Layout, PageResult, encode, flatten, render, short_time};
use crate::session::Session;

#[derive(Deserialize, Default)]
pub struct IssueParams {
    /// `all` lists closed issues too.
    pub status: Option<String>,
    /// `1`: only issues seen by more than one source.
    pub multi: Option<String>,
    /// A findings query: issues with a finding it matches.
    #[serde(default)]
    pub q: String,
    pub cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "issues.html")]
struct IssuesPage {
    layout: Layout,
    issues: Vec<IssueRow>,
    all: bool,
    multi: bool,
    q: String,
    next: Option<String>,
    error: Option<String>,
    fields: Vec<String>,
}

/// Issues one page lists.
const PAGE_ROWS: i64 = 100;

pub async fn list(State(app): State<App>, s: Session, Query(p): Query<IssueParams>) -> PageResult {
    let all = p.status.as_deref() == Some("all");
    let multi = p.multi.as_deref().is_some_and(|m| m == "1" || m == "true");
    let who = s.who.clone();
    let req = IssuesRequest {
        q: p.q.clone(),
        status: if all { None } else { Some("open".into()) },
        multi_source: multi,
        cursor: p.cursor.clone(),
        limit: PAGE_ROWS,
    };
    let fields = tributary_app::query::fields().into_iter().map(|f| f.name.to_string()).collect();
    let mut page =
        IssuesPage { layout: Layout::new(&s, "issues"), issues: Vec::new(), all, multi, q: p.q.clone(), next: None, error: None, fields };
    match app.blocking(move |a| a.issues_page(&who, &req)).await {
        Ok(r) => {
            page.next = r.next_cursor.map(|c| {
                format!(
                    "/issues?q={}&status={}&multi={}&cursor={}",
                    encode(&p.q),
                    if all { "all" } else { "open" },
                    if multi { "1" } else { "0" },
                    encode(&c)
                )
            });
            page.issues = r.items;
        }
        Err(tributary_app::AppError::Invalid { reason, .. }) => page.error = Some(reason),
        Err(e) => return Err(e.into()),
    }
    Ok(render(&page))
}

pub struct SourceColumn {
    pub finding_id: i64,
    pub product: String,
    pub integration: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage {
    layout: Layout,
    issue: IssueRow,
    factors: Vec<(String, String, String)>,
    total: String,
    columns: Vec<SourceColumn>,
    /// Field paths, and each column's value for it.
    side_by_side: Vec<(String, Vec<String>)>,
    more: usize,
}

/// Source records shown side by side.
const SIDE_BY_SIDE: usize = 4;

pub async fn detail(State(app): State<App>, s: Session, Path(id): Path<i64>) -> PageResult {
    let who = s.who.clone();
    let (detail, records) = app
        .blocking(move |a| {
            let d = a.issue(&who, id)?;
            let mut records = Vec::new();
            for f in d.findings.iter().take(SIDE_BY_SIDE) {
                let rec = a.finding(&who, f.finding_id)?;
                records.push(rec.source.map(|r| r.record).unwrap_or(rec.attributes));
            }
            Ok((d, records))
        })
        .await?;
    let factors: Vec<(String, String, String)> =
        detail.factors.iter().map(|f| (f.factor.replace('_', " "), f.observed.clone(), format!("{:+.1}", f.points))).collect();
    let total = format!("{:.1}", detail.factors.iter().map(|f| f.points).sum::<f64>());
    // One row per field any record has, in first-seen order.
    let flat: Vec<Vec<(String, String)>> = records.iter().map(flatten).collect();
    let mut keys: Vec<String> = Vec::new();
    for rows in &flat {
        for (k, _) in rows {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let side_by_side = keys
        .into_iter()
        .map(|k| {
            let vals = flat.iter().map(|rows| rows.iter().find(|(x, _)| *x == k).map(|(_, v)| v.clone()).unwrap_or_default()).collect();
            (k, vals)
        })
        .collect();
    let columns = detail
        .findings
        .iter()
        .take(SIDE_BY_SIDE)
        .map(|f| SourceColumn {
            finding_id: f.finding_id,
            product: f.product.clone(),
            integration: f.integration.clone(),
            status: f.status.clone(),
        })
        .collect();
    let more = detail.findings.len().saturating_sub(SIDE_BY_SIDE);
    let mut issue = detail.issue;
    issue.first_seen = short_time(&issue.first_seen);
    Ok(render(&IssuePage { layout: Layout::new(&s, "issues"), issue, factors, total, columns, side_by_side, more }))
}
