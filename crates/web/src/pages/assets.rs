//! One asset — a host, a repository or a package — with its identity, its sources and
//! their records, its context (deployment and exposure of a repository), its business
//! criticality, and its open findings.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tributary_app::App;
use tributary_app::query::{ListRequest, Listing};

use super::{Layout, PageResult, cell, flatten, render, short_time};
use crate::session::Session;

pub struct SourceRow {
    pub integration: String,
    pub source: String,
    pub key: String,
    pub active: bool,
    pub first_seen: String,
    pub last_seen: String,
}

pub struct FindingRow {
    pub id: i64,
    pub severity: String,
    pub title: String,
    pub product: String,
    pub cve: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    layout: Layout,
    a: tributary_app::query::AssetDetail,
    attributes: Vec<(String, String)>,
    sources: Vec<SourceRow>,
    findings: Vec<FindingRow>,
    context: Option<tributary_app::issues::RepoContext>,
    evidence: String,
}

pub struct AssetRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub identity: String,
    pub sources: String,
    pub last_seen: String,
}

#[derive(Template)]
#[template(path = "assets.html")]
struct AssetsPage {
    layout: Layout,
    q: String,
    rows: Vec<AssetRow>,
    total: Option<i64>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AssetParams {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
}

/// Hosts, repositories and packages: the query language over assets, keyset pages.
pub async fn list(State(app): State<App>, s: Session, axum::extract::Query(p): axum::extract::Query<AssetParams>) -> PageResult {
    let who = s.who.clone();
    let (q, cursor) = (p.q.clone(), p.cursor.clone());
    let result = app
        .blocking(move |a| {
            let req = ListRequest { q: q.clone(), cursor: cursor.clone(), limit: 50, ..Default::default() };
            let page = a.list(&who, &req, Some(Listing::Asset))?;
            let total = if cursor.is_none() { Some(a.count(&who, &q, Some(Listing::Asset))?) } else { None };
            Ok((page, total))
        })
        .await;
    let mut page = AssetsPage { layout: Layout::new(&s, "assets"), q: p.q.clone(), rows: Vec::new(), total: None, next: None, error: None };
    match result {
        Ok((items, total)) => {
            page.total = total;
            page.next = items.next_cursor.map(|c| format!("/assets?q={}&cursor={}", super::encode(&p.q), super::encode(&c)));
            let text = |v: &serde_json::Value, k: &str| v.get(k).map(cell).unwrap_or_default();
            page.rows = items
                .items
                .iter()
                .map(|a| AssetRow {
                    id: a.get("id").and_then(|v| v.as_i64()).unwrap_or_default(),
                    kind: text(a, "kind"),
                    name: text(a, "name"),
                    identity: text(a, "identity"),
                    sources: text(a, "sources"),
                    last_seen: short_time(&text(a, "last_seen")),
                })
                .collect();
        }
        Err(tributary_app::AppError::Invalid { reason, .. }) => page.error = Some(reason),
        Err(e) => return Err(e.into()),
    }
    Ok(render(&page))
}

/// Open findings the page lists.
const FINDINGS: i64 = 50;

pub async fn detail(State(app): State<App>, s: Session, Path(id): Path<i64>) -> PageResult {
    let who = s.who.clone();
    let (a, page, context) = app
        .blocking(move |app| {
            let a = app.asset(&who, id)?;
            let req = ListRequest { q: format!("asset.id:{id}"), limit: FINDINGS, ..Default::default() };
            let page = app.list(&who, &req, Some(Listing::Finding))?;
            let context = if a.kind == "repository" { app.repository_context(&who)?.into_iter().find(|c| c.asset_id == id) } else { None };
            Ok((a, page, context))
        })
        .await?;
    let text = |v: &serde_json::Value, k: &str| v.get(k).map(cell).unwrap_or_default();
    let findings = page
        .items
        .iter()
        .map(|f| FindingRow {
            id: f.get("id").and_then(|v| v.as_i64()).unwrap_or_default(),
            severity: text(f, "severity"),
            title: text(f, "title"),
            product: text(f, "product"),
            cve: text(f, "cve"),
        })
        .collect();
    let sources = a
        .sources
        .iter()
        .map(|x| SourceRow {
            integration: x.integration.clone(),
            source: x.source.clone(),
            key: x.source_key.clone(),
            active: x.active,
            first_seen: short_time(&x.first_seen),
            last_seen: short_time(&x.last_seen),
        })
        .collect();
    let evidence = context.as_ref().map(|c| if c.evidence.is_null() { String::new() } else { cell(&c.evidence) }).unwrap_or_default();
    let attributes = flatten(&a.attributes);
    Ok(render(&AssetPage { layout: Layout::new(&s, "projects"), a, attributes, sources, findings, context, evidence }))
}

#[derive(Deserialize)]
pub struct CriticalityForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    value: String,
}

/// Business criticality 1-5 (or none: counts as 3); the asset's issues are rescored.
pub async fn criticality(State(app): State<App>, s: Session, Path(id): Path<i64>, Form(f): Form<CriticalityForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let value = match f.value.trim() {
        "" | "none" => None,
        v => Some(
            v.parse::<u8>()
                .map_err(|_| tributary_app::AppError::invalid("criticality", format!("1 (lowest) to 5 (highest), or none; got '{v}'")))?,
        ),
    };
    let who = s.who.clone();
    app.blocking(move |a| a.set_criticality(&who, id, value)).await?;
    Ok(Redirect::to(&format!("/assets/{id}")).into_response())
}
