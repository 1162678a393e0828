//! Assets, findings, the query language, triage.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_app::query::{AssetDetail, FieldInfo, FindingDetail, ListRequest, Listing, Page};
use tributary_app::triage::{BulkOutcome, Comment, FindingTriage, TriageInput, TriageRule};
use tributary_app::{App, AppError};

use crate::extract::{Body, Params, PathParams, Who};
use crate::problem::ApiResult;

pub async fn list_fields(Who(_who): Who) -> Json<Vec<FieldInfo>> {
    Json(tributary_app::query::fields())
}

pub async fn summary(State(app): State<App>, Who(who): Who) -> ApiResult<Json<tributary_app::query::Summary>> {
    Ok(Json(app.blocking(move |a| a.summary(&who)).await?))
}

#[derive(Deserialize)]
pub struct CountParams {
    #[serde(default)]
    pub q: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Count {
    pub count: i64,
}

pub async fn count(State(app): State<App>, Who(who): Who, Params(p): Params<CountParams>) -> ApiResult<Json<Count>> {
    Ok(Json(Count { count: app.blocking(move |a| a.count(&who, &p.q, None)).await? }))
}

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub fields: Option<String>,
}

impl ListParams {
    fn request(self) -> ListRequest {
        let fields = self.fields.map(|f| f.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect());
        ListRequest { q: self.q, sort: self.sort, cursor: self.cursor, limit: self.limit.unwrap_or(100), fields }
    }
}

pub async fn list_assets(State(app): State<App>, Who(who): Who, Params(p): Params<ListParams>) -> ApiResult<Json<Page>> {
    Ok(Json(app.blocking(move |a| a.list(&who, &p.request(), Some(Listing::Asset))).await?))
}

pub async fn list_findings(State(app): State<App>, Who(who): Who, Params(p): Params<ListParams>) -> ApiResult<Json<Page>> {
    Ok(Json(app.blocking(move |a| a.list(&who, &p.request(), Some(Listing::Finding))).await?))
}

pub async fn get_asset(State(app): State<App>, Who(who): Who, PathParams(id): PathParams<i64>) -> ApiResult<Json<AssetDetail>> {
    Ok(Json(app.blocking(move |a| a.asset(&who, id)).await?))
}

pub async fn get_finding(State(app): State<App>, Who(who): Who, PathParams(id): PathParams<i64>) -> ApiResult<Json<FindingDetail>> {
    Ok(Json(app.blocking(move |a| a.finding(&who, id)).await?))
}

pub async fn triage_finding(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
    Body(r): Body<TriageInput>,
) -> ApiResult<Json<FindingTriage>> {
    Ok(Json(app.blocking(move |a| a.triage(&who, id, &r)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignee {
    /// Who (empty: unassign).
    pub assignee: String,
}

pub async fn assign_finding(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
    Body(r): Body<Assignee>,
) -> ApiResult<Json<FindingTriage>> {
    Ok(Json(app.blocking(move |a| a.assign(&who, id, &r.assignee)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
}

pub async fn comment_finding(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
    Body(r): Body<NewComment>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    Ok((StatusCode::CREATED, Json(app.blocking(move |a| a.comment(&who, id, &r.body)).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTriage {
    /// The findings: a query, e.g. `finding.cve:CVE-2024-3094`.
    pub q: String,
    pub decision: TriageInput,
    /// Only count what it would touch.
    #[serde(default)]
    pub preview: bool,
}

pub async fn bulk_triage(State(app): State<App>, Who(who): Who, Body(r): Body<BulkTriage>) -> ApiResult<Json<BulkOutcome>> {
    if r.q.trim().is_empty() {
        return Err(AppError::invalid("q", "a bulk decision needs a query (it would touch every open finding)").into());
    }
    Ok(Json(app.blocking(move |a| a.bulk_triage(&who, &r.q, &r.decision, r.preview)).await?))
}

pub async fn list_triage_rules(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<TriageRule>>> {
    Ok(Json(app.blocking(move |a| a.triage_rules(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTriageRule {
    pub name: String,
    pub q: String,
    pub decision: TriageInput,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct AddedTriageRule {
    pub rule: TriageRule,
    /// Findings it set at once.
    pub applied_now: usize,
}

pub async fn add_triage_rule(
    State(app): State<App>,
    Who(who): Who,
    Body(r): Body<NewTriageRule>,
) -> ApiResult<(StatusCode, Json<AddedTriageRule>)> {
    if r.q.trim().is_empty() {
        return Err(AppError::invalid("q", "a standing rule needs a query").into());
    }
    let (rule, ids) = app.blocking(move |a| a.add_triage_rule(&who, &r.name, &r.q, &r.decision)).await?;
    Ok((StatusCode::CREATED, Json(AddedTriageRule { rule, applied_now: ids.len() })))
}

pub async fn delete_triage_rule(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_triage_rule(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn explain_finding(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
) -> ApiResult<Json<tributary_app::risk::Explanation>> {
    Ok(Json(app.blocking(move |a| a.explain(&who, id)).await?))
}

pub async fn risk_weights(State(app): State<App>, Who(who): Who) -> ApiResult<Json<tributary_core::risk::RiskWeights>> {
    Ok(Json(app.blocking(move |a| a.risk_weights(&who)).await?))
}

pub async fn set_risk_weights(
    State(app): State<App>,
    Who(who): Who,
    Body(w): Body<tributary_core::risk::RiskWeights>,
) -> ApiResult<Json<tributary_core::risk::RiskWeights>> {
    Ok(Json(app.blocking(move |a| a.set_risk_weights(&who, &w)).await?))
}

pub async fn sla(State(app): State<App>, Who(who): Who) -> ApiResult<Json<tributary_app::sla::SlaReport>> {
    Ok(Json(app.blocking(move |a| a.sla(&who)).await?))
}

pub async fn set_sla_days(
    State(app): State<App>,
    Who(who): Who,
    Body(d): Body<tributary_core::sla::SlaDays>,
) -> ApiResult<Json<tributary_core::sla::SlaDays>> {
    Ok(Json(app.blocking(move |a| a.set_sla_days(&who, &d)).await?))
}

#[derive(Deserialize)]
pub struct IssuesParams {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub multi_source: Option<bool>,
    #[serde(default)]
    pub limit: Option<i64>,
    /// A findings query: issues with a finding it matches.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

pub async fn list_issues(
    State(app): State<App>,
    Who(who): Who,
    Params(p): Params<IssuesParams>,
) -> ApiResult<Json<tributary_app::issues::IssuesPage>> {
    let status = match p.status.as_deref() {
        None => Some("open".to_string()),
        Some("all") => None,
        Some(s) => Some(s.to_string()),
    };
    let req = tributary_app::issues::IssuesRequest {
        q: p.q.unwrap_or_default(),
        status,
        multi_source: p.multi_source.unwrap_or(false),
        cursor: p.cursor,
        limit: p.limit.unwrap_or(100),
    };
    Ok(Json(app.blocking(move |a| a.issues_page(&who, &req)).await?))
}

pub async fn get_issue(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
) -> ApiResult<Json<tributary_app::issues::IssueDetail>> {
    Ok(Json(app.blocking(move |a| a.issue(&who, id)).await?))
}

pub async fn repository_context(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<tributary_app::issues::RepoContext>>> {
    Ok(Json(app.blocking(move |a| a.repository_context(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CriticalityInput {
    /// 1 (lowest) to 5 (highest); null clears it (counts as 3).
    pub criticality: Option<u8>,
}

pub async fn set_criticality(
    State(app): State<App>,
    Who(who): Who,
    PathParams(id): PathParams<i64>,
    Body(b): Body<CriticalityInput>,
) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.set_criticality(&who, id, b.criticality)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct CoverageParams {
    #[serde(default)]
    pub stale_days: Option<i64>,
}

pub async fn coverage(
    State(app): State<App>,
    Who(who): Who,
    Params(p): Params<CoverageParams>,
) -> ApiResult<Json<Vec<tributary_app::policies::RepoCoverage>>> {
    Ok(Json(app.blocking(move |a| a.coverage(&who, p.stale_days.unwrap_or(30))).await?))
}

pub async fn list_policies(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<tributary_app::policies::Policy>>> {
    Ok(Json(app.blocking(move |a| a.policies(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct NewPolicy {
    pub name: String,
    /// A findings query in the query language.
    pub query: String,
    /// What a match means, e.g. "block release".
    pub action: String,
}

pub async fn add_policy(
    State(app): State<App>,
    Who(who): Who,
    Body(p): Body<NewPolicy>,
) -> ApiResult<(StatusCode, Json<tributary_app::policies::Policy>)> {
    let p = app.blocking(move |a| a.add_policy(&who, &p.name, &p.query, &p.action)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

pub async fn delete_policy(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_policy(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct LimitParams {
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn policy_results(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Params(p): Params<LimitParams>,
) -> ApiResult<Json<Vec<tributary_app::policies::PolicyMatch>>> {
    Ok(Json(app.blocking(move |a| a.policy_results(&who, &name, p.limit.unwrap_or(100))).await?))
}

#[derive(Deserialize)]
pub struct MetricsParams {
    #[serde(default)]
    pub days: Option<i64>,
}

pub async fn metrics(
    State(app): State<App>,
    Who(who): Who,
    Params(p): Params<MetricsParams>,
) -> ApiResult<Json<Vec<tributary_app::metrics::DayMetrics>>> {
    Ok(Json(app.blocking(move |a| a.metrics(&who, p.days.unwrap_or(30))).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Snapshot {
    /// Rows written (integration × product × severity × status).
    pub rows: usize,
}

pub async fn snapshot_metrics(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Snapshot>> {
    Ok(Json(Snapshot { rows: app.blocking(move |a| a.snapshot_metrics(&who)).await? }))
}

#[derive(Deserialize)]
pub struct ExportParams {
    pub format: String,
    #[serde(default)]
    pub q: String,
}

pub async fn export_findings(
    State(app): State<App>,
    Who(who): Who,
    Params(p): Params<ExportParams>,
) -> ApiResult<axum::response::Response> {
    let format = tributary_app::export::parse_format(&p.format)?;
    let rx = app.blocking(move |a| a.export_chunks(&who, format, &p.q)).await?;
    Ok(tributary_web::export_download(format, rx))
}
