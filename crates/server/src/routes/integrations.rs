//! Integrations, projects, sync runs, imports.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_app::imports::{FileFormat, ImportFile};
use tributary_app::integrations::{AddIntegration, ConnectorSettings, IntegrationView};
use tributary_app::projects::{ProjectView, Scope};
use tributary_app::{App, AppError, Fuses, SyncOptions};
use tributary_core::model::{Integration, SyncRun};
use tributary_core::secret::Secret;

use crate::extract::{Body, Params, PathParams, Who};
use crate::problem::{ApiResult, Problem, problem};

pub async fn list_connectors(Who(_who): Who) -> Json<Vec<tributary_app::integrations::ConnectorInfo>> {
    Json(tributary_app::integrations::connectors())
}

pub async fn list_integrations(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<IntegrationView>>> {
    Ok(Json(app.blocking(move |a| a.integrations(&who)).await?))
}

pub async fn get_integration(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
) -> ApiResult<Json<IntegrationView>> {
    Ok(Json(app.blocking(move |a| a.integration(&who, &name)).await?))
}

/// A new integration. `secret` (API key or token) is stored encrypted and never returned.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegration {
    pub name: String,
    /// `cortex-xdr`, `semgrep` or `cortex-cloud`.
    pub kind: String,
    /// The tenant's API URL (Semgrep: default https://semgrep.dev).
    #[serde(default)]
    pub base_url: String,
    /// Cortex: the tenant's FQDN as the console shows it, instead of `base_url` (the API is
    /// https://api-FQDN).
    #[serde(default)]
    pub fqdn: Option<String>,
    /// The connector's settings (GET /api/v1/connectors has each one's JSON Schema).
    #[serde(default = "empty")]
    pub config: serde_json::Value,
    /// The API key or token: write-only.
    pub secret: String,
    /// Test the credentials before saving (default true).
    #[serde(default = "yes")]
    pub test: bool,
}

fn empty() -> serde_json::Value {
    serde_json::json!({})
}
fn yes() -> bool {
    true
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct AddedIntegration {
    #[serde(flatten)]
    pub integration: Integration,
    /// What the connection test found.
    pub test: Option<String>,
}

pub async fn add_integration(
    State(app): State<App>,
    Who(who): Who,
    Body(r): Body<NewIntegration>,
) -> ApiResult<(StatusCode, Json<AddedIntegration>)> {
    if r.secret.trim().is_empty() {
        return Err(AppError::invalid("secret", "the API key or token is empty").into());
    }
    let settings = ConnectorSettings::from_json(&r.kind, r.config)?;
    let base_url = match (r.fqdn.as_deref().filter(|f| !f.trim().is_empty()), r.base_url.trim().is_empty()) {
        (Some(f), true) => tributary_app::integrations::cortex_api_base(f)?,
        (Some(_), false) => return Err(AppError::invalid("fqdn", "give the tenant's FQDN or its base_url, not both").into()),
        (None, _) => r.base_url,
    };
    let add = AddIntegration { name: r.name, base_url, settings, secret: Secret::new(r.secret.trim()), test: r.test };
    let (integration, test) = app.add_integration(&who, add).await?;
    Ok((StatusCode::CREATED, Json(AddedIntegration { integration, test })))
}

pub async fn delete_integration(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_integration(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct TestOutcome {
    pub connected: bool,
    /// What the test found, or the connection error and what to check.
    pub detail: String,
}

pub async fn test_integration(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<Json<TestOutcome>> {
    Ok(Json(match app.test_integration(&who, &name).await? {
        Ok(detail) => TestOutcome { connected: true, detail },
        Err(detail) => TestOutcome { connected: false, detail },
    }))
}

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Fetch everything and close what is gone (instead of a delta).
    #[serde(default)]
    pub full: bool,
    /// Go ahead even if the run would close most of what it covers.
    #[serde(default)]
    pub allow_mass_close: bool,
}

pub async fn sync_now(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SyncRun>)> {
    // The body is optional: an empty POST runs with the defaults.
    let r: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::invalid("body", e.to_string()))?
    };
    let opts = SyncOptions {
        force_full: r.full,
        fuses: Fuses { allow_mass_close: r.allow_mass_close, ..Default::default() },
        ..Default::default()
    };
    let run = app.start_sync(&who, &name, opts).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

#[derive(Deserialize)]
pub struct ProjectsParams {
    #[serde(default)]
    pub refresh: bool,
}

pub async fn list_projects(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Params(p): Params<ProjectsParams>,
) -> ApiResult<Json<Vec<ProjectView>>> {
    Ok(Json(app.projects(&who, &name, p.refresh).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectMapping {
    /// The repository URL (any spelling: https, ssh, host/path).
    pub repository: String,
}

pub async fn map_project(
    State(app): State<App>,
    Who(who): Who,
    PathParams((name, project)): PathParams<(String, String)>,
    Body(r): Body<ProjectMapping>,
) -> ApiResult<Json<Scope>> {
    Ok(Json(app.map_project(&who, &name, &project, &r.repository).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Unmapped {
    pub project: Scope,
    pub findings_removed: u64,
}

pub async fn unmap_project(
    State(app): State<App>,
    Who(who): Who,
    PathParams((name, project)): PathParams<(String, String)>,
) -> ApiResult<Json<Unmapped>> {
    let (project, findings_removed) = app.unmap_project(&who, &name, &project).await?;
    Ok(Json(Unmapped { project, findings_removed }))
}

#[derive(Deserialize)]
pub struct RunsParams {
    #[serde(default)]
    pub integration: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn list_runs(State(app): State<App>, Who(who): Who, Params(p): Params<RunsParams>) -> ApiResult<Json<Vec<SyncRun>>> {
    Ok(Json(app.blocking(move |a| a.runs(&who, p.integration.as_deref(), p.limit.unwrap_or(20))).await?))
}

pub async fn get_run(State(app): State<App>, Who(who): Who, PathParams(id): PathParams<i64>) -> ApiResult<Json<SyncRun>> {
    Ok(Json(app.blocking(move |a| a.run(&who, id)).await?))
}

#[derive(Deserialize)]
pub struct ImportParams {
    pub format: String,
    pub repository: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub allow_mass_close: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Imported {
    /// None: a valid log with nothing to import.
    pub run: Option<SyncRun>,
    pub integration: String,
    pub product: String,
    pub tool: String,
}

/// Saves the body to a temporary file ([`save_upload`]), then imports it.
pub async fn import_file(
    State(app): State<App>,
    Who(who): Who,
    Params(p): Params<ImportParams>,
    body: axum::body::Body,
) -> ApiResult<Json<Imported>> {
    let format = match p.format.as_str() {
        "semgrep-json" => FileFormat::SemgrepJson,
        "sarif" => FileFormat::Sarif,
        other => return Err(AppError::invalid("format", format!("'{other}' is not a format: semgrep-json or sarif")).into()),
    };
    // Authorization before reading a byte of a possibly huge body.
    who.require(tributary_app::Role::Analyst, "importing scan results")?;
    let tmp = save_upload(body).await?;
    let req =
        ImportFile { format, path: tmp.path().to_path_buf(), repo_url: p.repository, tool: p.tool, allow_mass_close: p.allow_mass_close };
    let out = app.import_file(&who, req, std::sync::Arc::new(tributary_app::NoProgress)).await?;
    drop(tmp);
    Ok(Json(Imported { run: out.run, integration: out.integration, product: out.product, tool: out.inspected.tool }))
}

/// Streams a request body to a temporary file (never all in memory), up to
/// [`crate::MAX_UPLOAD`]; an empty body is refused.
pub async fn save_upload(body: axum::body::Body) -> ApiResult<tempfile::NamedTempFile> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let internal = |e: std::io::Error| problem(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot buffer the upload: {e}"));
    let tmp = tempfile::NamedTempFile::new().map_err(internal)?;
    let mut file = tokio::fs::File::create(tmp.path()).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| too_large_or(e.to_string()))?;
        total += chunk.len() as u64;
        if total > crate::MAX_UPLOAD {
            return Err(too_large_or("length limit".into()));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    if total == 0 {
        return Err(AppError::invalid("body", "the request body is empty: send the file as the body").into());
    }
    Ok(tmp)
}

fn too_large_or(e: String) -> Problem {
    if e.contains("length limit") {
        problem(StatusCode::PAYLOAD_TOO_LARGE, format!("the file is larger than {} bytes", crate::MAX_UPLOAD))
    } else {
        problem(StatusCode::BAD_REQUEST, format!("reading the upload: {e}"))
    }
}

pub async fn intel_status(State(app): State<App>, Who(who): Who) -> ApiResult<Json<tributary_app::intel::IntelStatus>> {
    Ok(Json(app.blocking(move |a| a.intel_status(&who)).await?))
}

pub async fn load_epss(State(app): State<App>, Who(who): Who, body: axum::body::Body) -> ApiResult<Json<tributary_app::intel::IntelLoad>> {
    who.require(tributary_app::Role::Analyst, "loading exploit intelligence")?;
    let tmp = save_upload(body).await?;
    let path = tmp.path().to_path_buf();
    let out = app.blocking(move |a| a.load_epss(&who, &path)).await?;
    drop(tmp);
    Ok(Json(out))
}

pub async fn load_kev(State(app): State<App>, Who(who): Who, body: axum::body::Body) -> ApiResult<Json<tributary_app::intel::IntelLoad>> {
    who.require(tributary_app::Role::Analyst, "loading exploit intelligence")?;
    let tmp = save_upload(body).await?;
    let path = tmp.path().to_path_buf();
    let out = app.blocking(move |a| a.load_kev(&who, &path)).await?;
    drop(tmp);
    Ok(Json(out))
}
