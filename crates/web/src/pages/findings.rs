//! Findings: the list with the query bar (the query language, field suggestions, sorting,
//! keyset pages), and one finding with its score explanation, source record, triage and
//! comments.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tributary_app::query::{ListRequest, Listing};
use tributary_app::triage::TriageInput;
use tributary_app::{App, AppError};

use super::{Layout, PageError, PageResult, cell, encode, flatten, render, short_time, when};
use crate::session::Session;

/// Rows per page of a list.
pub const PAGE_ROWS: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    pub sort: Option<String>,
    pub cursor: Option<String>,
}

pub struct Row {
    pub id: i64,
    pub cells: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    layout: Layout,
    q: String,
    q_encoded: String,
    sort: String,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    total: Option<i64>,
    next: Option<String>,
    error: Option<String>,
    fields: Vec<String>,
    sorts: Vec<(&'static str, &'static str)>,
    views: Vec<tributary_app::views::SavedView>,
}

const SORTS: &[(&str, &str)] = &[
    ("", "Most severe first"),
    ("-last_seen", "Last seen, newest first"),
    ("-first_seen", "First seen, newest first"),
    ("first_seen", "First seen, oldest first"),
    ("title", "Title"),
];

/// The columns the list shows (of the API's item keys).
const SHOWN: &[&str] = &["severity", "title", "product", "asset", "cve", "status", "triage", "last_seen"];

pub async fn list(State(app): State<App>, s: Session, Query(p): Query<ListParams>) -> PageResult {
    let who = s.who.clone();
    let req = ListRequest {
        q: p.q.clone(),
        sort: p.sort.clone().filter(|x| !x.is_empty()),
        cursor: p.cursor.clone(),
        limit: PAGE_ROWS,
        fields: None,
    };
    let q = p.q.clone();
    let result = app
        .blocking(move |a| {
            let page = a.list(&who, &req, Some(Listing::Finding))?;
            let total = if req.cursor.is_none() { Some(a.count(&who, &q, Some(Listing::Finding))?) } else { None };
            Ok((page, total, a.saved_views(&who)?))
        })
        .await;
    let fields = tributary_app::query::fields().into_iter().map(|f| f.name.to_string()).collect();
    let sort = p.sort.clone().unwrap_or_default();
    let mut page = FindingsPage {
        layout: Layout::new(&s, "findings"),
        q: p.q.clone(),
        q_encoded: encode(&p.q),
        sort: sort.clone(),
        columns: SHOWN.to_vec(),
        rows: Vec::new(),
        total: None,
        next: None,
        error: None,
        fields,
        sorts: SORTS.to_vec(),
        views: Vec::new(),
    };
    match result {
        Ok((items, total, views)) => {
            page.views = views;
            page.total = total;
            page.next = items.next_cursor.map(|c| format!("/findings?q={}&sort={}&cursor={}", encode(&p.q), encode(&sort), encode(&c)));
            page.rows = items
                .items
                .iter()
                .map(|item| Row {
                    id: item.get("id").and_then(|v| v.as_i64()).unwrap_or_default(),
                    cells: SHOWN
                        .iter()
                        .map(|k| {
                            let v = item.get(*k).map(cell).unwrap_or_else(|| "—".into());
                            let v = if k.ends_with("_seen") { short_time(&v) } else { v };
                            (k.to_string(), v)
                        })
                        .collect(),
                })
                .collect();
        }
        // A query that does not parse is shown on the page, where it can be fixed.
        Err(AppError::Invalid { reason, .. }) => {
            page.error = Some(reason);
            let who = s.who.clone();
            page.views = app.blocking(move |a| a.saved_views(&who)).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct ViewForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    /// Set: delete the view instead.
    #[serde(default)]
    delete: Option<String>,
}

/// Save (or delete) a view of the findings list: its query and sort, under a name.
pub async fn save_view(State(app): State<App>, s: Session, Form(f): Form<ViewForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let who = s.who.clone();
    let (name, q, sort, delete) = (f.name.clone(), f.q.clone(), f.sort.clone(), f.delete.is_some());
    app.blocking(move |a| if delete { a.delete_view(&who, &name) } else { a.save_view(&who, &name, &q, &sort).map(|_| ()) }).await?;
    let back = if delete { "/findings".to_string() } else { format!("/findings?q={}&sort={}", encode(&f.q), encode(&f.sort)) };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
pub struct ExportParams {
    format: String,
    #[serde(default)]
    q: String,
}

/// The list's findings as a download (the buttons beside the query bar).
pub async fn export(State(app): State<App>, s: Session, Query(p): Query<ExportParams>) -> PageResult {
    let format = tributary_app::export::parse_format(&p.format)?;
    let who = s.who.clone();
    let rx = app.blocking(move |a| a.export_chunks(&who, format, &p.q)).await?;
    Ok(crate::export_download(format, rx))
}

pub struct Factor {
    pub factor: String,
    pub observed: String,
    pub points: String,
}

pub struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub what: String,
}

pub struct CommentView {
    pub author: String,
    pub body: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "finding.html")]
struct FindingPage {
    layout: Layout,
    f: tributary_app::query::FindingDetail,
    score: String,
    decision: String,
    decision_reasons: Vec<String>,
    factors: Vec<Factor>,
    attributes: Vec<(String, String)>,
    record: Vec<(String, String)>,
    triage_status: String,
    /// The status value the triage form starts at.
    current_status: String,
    triage_until: String,
    first_seen: String,
    last_seen: String,
    comments: Vec<CommentView>,
    history: Vec<HistoryRow>,
    statuses: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

const STATUSES: &[(&str, &str)] = &[
    ("open", "Open"),
    ("in_progress", "In progress"),
    ("risk_accepted", "Risk accepted"),
    ("false_positive", "False positive"),
    ("fixed", "Fixed"),
];

async fn finding_page(app: &App, s: &Session, id: i64, error: Option<String>) -> PageResult {
    let who = s.who.clone();
    let (f, ex, events) = app.blocking(move |a| Ok((a.finding(&who, id)?, a.explain(&who, id)?, a.finding_history(&who, id)?))).await?;
    let history = events
        .into_iter()
        .map(|e| {
            let detail =
                flatten(&e.detail).into_iter().filter(|(_, v)| v != "—").map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
            let action = e.action.trim_start_matches("triage.").to_string();
            HistoryRow {
                at: when(Some(e.at)),
                actor: e.actor,
                what: if detail.is_empty() { action } else { format!("{action} — {detail}") },
            }
        })
        .collect();
    let factors = ex
        .risk
        .factors
        .iter()
        .map(|x| Factor { factor: x.factor.replace('_', " "), observed: x.observed.clone(), points: format!("{:+.1}", x.points) })
        .collect();
    let attributes = flatten(&f.attributes);
    let record = f.source.as_ref().map(|r| flatten(&r.record)).unwrap_or_default();
    let triage_status = f.triage.status.map(|t| t.as_str().replace('_', " ")).unwrap_or_else(|| "untriaged".into());
    let triage_until = f.triage.until.map(|u| when(Some(u))).unwrap_or_default();
    let comments =
        f.comments.iter().map(|c| CommentView { author: c.author.clone(), body: c.body.clone(), at: when(Some(c.created_at)) }).collect();
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    let page = FindingPage {
        layout: Layout::new(s, "findings"),
        score: format!("{:.1}", ex.risk.score),
        decision: ex.risk.decision.label().to_string(),
        decision_reasons: ex.risk.decision_reasons.clone(),
        factors,
        attributes,
        record,
        current_status: f.triage.status.map(|t| t.as_str().to_string()).unwrap_or_else(|| "open".into()),
        triage_status,
        triage_until,
        first_seen: short_time(&f.first_seen),
        last_seen: short_time(&f.last_seen),
        comments,
        history,
        statuses: STATUSES.to_vec(),
        error,
        f,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn detail(State(app): State<App>, s: Session, Path(id): Path<i64>) -> PageResult {
    finding_page(&app, &s, id, None).await
}

#[derive(Deserialize)]
pub struct TriageForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    assignee: String,
}

pub async fn triage(State(app): State<App>, s: Session, Path(id): Path<i64>, Form(f): Form<TriageForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let status = match serde_json::from_value(serde_json::Value::String(f.status.clone())) {
        Ok(st) => st,
        Err(_) => return finding_page(&app, &s, id, Some(format!("status: '{}' is not a triage status", f.status))).await,
    };
    let input = TriageInput {
        status,
        reason: Some(f.reason).filter(|r| !r.trim().is_empty()),
        until: Some(f.until).filter(|u| !u.trim().is_empty()),
        assignee: Some(f.assignee.trim().to_string()).filter(|a| !a.is_empty()),
    };
    let who = s.who.clone();
    match app.blocking(move |a| a.triage(&who, id, &input)).await {
        Ok(_) => Ok(Redirect::to(&format!("/findings/{id}")).into_response()),
        Err(AppError::Invalid { field, reason }) => finding_page(&app, &s, id, Some(format!("{field}: {reason}"))).await,
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    body: String,
}

pub async fn comment(State(app): State<App>, s: Session, Path(id): Path<i64>, Form(f): Form<CommentForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let who = s.who.clone();
    match app.blocking(move |a| a.comment(&who, id, &f.body)).await {
        Ok(_) => Ok(Redirect::to(&format!("/findings/{id}#comments")).into_response()),
        Err(AppError::Invalid { field, reason }) => finding_page(&app, &s, id, Some(format!("{field}: {reason}"))).await,
        Err(e) => Err(PageError(e)),
    }
}
