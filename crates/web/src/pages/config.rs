//! Configuring Tributary: the add-integration wizard (credentials, what to collect, then
//! the projects Semgrep detected with their repositories, auto-mapped or overridden by
//! hand), an integration's page, and the transform map editor with validate and a preview
//! of the map on stored records (input beside output).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::json;
use tributary_app::integrations::{AddIntegration, ConnectorSettings};
use tributary_app::{App, AppError, Role};
use tributary_core::secret::Secret;

use super::{Layout, PageError, PageResult, flatten, render, short_time};
use crate::session::Session;

/// The kinds the wizard offers: (kind, label, what its credential is called).
const KINDS: &[(&str, &str, &str)] = &[
    ("semgrep", "Semgrep", "API token (Web API scope)"),
    ("cortex-xdr", "Cortex XDR", "API key"),
    ("cortex-cloud", "Cortex Cloud", "API key"),
];

#[derive(Deserialize, Default, Clone)]
pub struct WizardForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub fqdn: String,
    #[serde(default)]
    pub key_id: String,
    #[serde(default)]
    pub security: String,
    /// The credential (never rendered back into the page).
    #[serde(default)]
    secret: String,
    #[serde(default)]
    pub sast: Option<String>,
    #[serde(default)]
    pub sca: Option<String>,
    #[serde(default)]
    pub auto_map_future: Option<String>,
    #[serde(default)]
    pub write_back: Option<String>,
    #[serde(default)]
    pub vulnerability: Option<String>,
    #[serde(default)]
    pub host_asset: Option<String>,
    #[serde(default)]
    pub internet_exposure: Option<String>,
}

#[derive(Template)]
#[template(path = "wizard.html")]
struct WizardPage {
    layout: Layout,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    kind: String,
    secret_label: &'static str,
    form: WizardForm,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct KindParam {
    kind: Option<String>,
}

fn wizard(s: &Session, kind: &str, form: WizardForm, error: Option<String>) -> PageResult {
    let kind = if KINDS.iter().any(|(k, ..)| *k == kind) { kind.to_string() } else { "semgrep".to_string() };
    let secret_label = KINDS.iter().find(|(k, ..)| *k == kind).map(|(_, _, l)| *l).unwrap_or("credential");
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    let page = WizardPage { layout: Layout::new(s, "integrations"), kinds: KINDS.to_vec(), kind, secret_label, form, error };
    Ok((status, render(&page)).into_response())
}

pub async fn new_integration(s: Session, Query(k): Query<KindParam>) -> PageResult {
    s.who.require(Role::Admin, "adding an integration (it stores a credential)")?;
    let kind = k.kind.unwrap_or_else(|| "semgrep".into());
    let form = WizardForm {
        sast: Some("on".into()),
        sca: Some("on".into()),
        auto_map_future: Some("on".into()),
        vulnerability: Some("on".into()),
        host_asset: Some("on".into()),
        internet_exposure: Some("on".into()),
        ..Default::default()
    };
    wizard(&s, &kind, form, None)
}

fn settings_of(f: &WizardForm) -> tributary_app::Result<ConnectorSettings> {
    let on = |v: &Option<String>| v.is_some();
    let security = if f.security == "advanced" { "advanced" } else { "standard" };
    let config = match f.kind.as_str() {
        "semgrep" => {
            let mut scan = Vec::new();
            if on(&f.sast) {
                scan.push("sast");
            }
            if on(&f.sca) {
                scan.push("sca");
            }
            if scan.is_empty() {
                return Err(AppError::invalid("scan", "choose Code (SAST), Supply Chain (SCA) or both"));
            }
            json!({"scan": scan, "auto_map_future": on(&f.auto_map_future), "write_back": on(&f.write_back)})
        }
        "cortex-xdr" => {
            let mut types = Vec::new();
            for (flag, t) in
                [(&f.vulnerability, "vulnerability"), (&f.host_asset, "host-asset"), (&f.internet_exposure, "internet-exposure")]
            {
                if on(flag) {
                    types.push(t);
                }
            }
            if types.is_empty() {
                return Err(AppError::invalid("types", "choose at least one kind of data"));
            }
            json!({"key_id": f.key_id.trim(), "security": security, "types": types})
        }
        "cortex-cloud" => json!({"key_id": f.key_id.trim(), "security": security}),
        other => return Err(AppError::invalid("kind", format!("'{other}' is not a kind of integration"))),
    };
    ConnectorSettings::from_json(&f.kind, config)
}

/// Adds the integration (its credential tested against the vendor first), then shows its
/// page: for Semgrep, the projects it detected and how they map.
pub async fn add_integration(State(app): State<App>, s: Session, Form(f): Form<WizardForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let base_url = match (f.kind.as_str(), f.fqdn.trim(), f.base_url.trim()) {
        ("cortex-cloud" | "cortex-xdr", fqdn, "") if !fqdn.is_empty() => match tributary_app::integrations::cortex_api_base(fqdn) {
            Ok(u) => u,
            Err(e) => return wizard(&s, &f.kind, f.clone(), Some(e.to_string())),
        },
        (_, _, url) => url.to_string(),
    };
    let settings = match settings_of(&f) {
        Ok(st) => st,
        Err(e) => return wizard(&s, &f.kind, f.clone(), Some(e.to_string())),
    };
    let add = AddIntegration { name: f.name.trim().to_string(), base_url, settings, secret: Secret::new(f.secret.trim()), test: true };
    match app.add_integration(&s.who, add).await {
        Ok((i, _)) => Ok(Redirect::to(&format!("/integrations/{}", super::encode(&i.name))).into_response()),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_) | AppError::Unavailable(_))) => {
            let message = match &e {
                AppError::Unavailable(m) => {
                    format!("Connection Error: {m}. Check the URL, the key (and key id) and that the key's role may read this data.")
                }
                other => other.to_string(),
            };
            wizard(&s, &f.kind, f.clone(), Some(message))
        }
        Err(e) => Err(PageError(e)),
    }
}

pub struct ProjectRow {
    pub name: String,
    pub url: String,
    pub repo: String,
    pub mapping: String,
    pub reason: String,
    pub open_findings: i64,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct IntegrationPage {
    layout: Layout,
    name: String,
    kind: String,
    status: String,
    status_class: String,
    reason: String,
    last_sync: String,
    base_url: String,
    config: Vec<(String, String)>,
    projects: Vec<ProjectRow>,
    has_projects: bool,
    error: Option<String>,
}

async fn integration_page(app: &App, s: &Session, name: &str, refresh: bool, error: Option<String>) -> PageResult {
    let who = s.who.clone();
    let n = name.to_string();
    let v = app.blocking(move |a| a.integration(&who, &n)).await?;
    let has_projects = v.integration.kind == "semgrep";
    let projects = if has_projects {
        // Asking the vendor needs the analyst role; a viewer sees what was last listed.
        let refresh = refresh && s.who.role != Role::Viewer;
        app.projects(&s.who, name, refresh)
            .await?
            .into_iter()
            .map(|p| ProjectRow {
                name: p.scope.name,
                url: p.scope.url.unwrap_or_default(),
                repo: p.scope.repo_key.unwrap_or_default(),
                mapping: p.scope.mapping,
                reason: p.scope.reason.unwrap_or_default(),
                open_findings: p.open_findings,
            })
            .collect()
    } else {
        Vec::new()
    };
    let label = v.integration.status.label();
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    let page = IntegrationPage {
        layout: Layout::new(s, "integrations"),
        name: v.integration.name.clone(),
        kind: v.integration.kind.clone(),
        status: label.to_string(),
        status_class: label.to_ascii_lowercase().replace(' ', "-"),
        reason: v.integration.status_reason.clone().unwrap_or_default(),
        last_sync: v.last_sync_at.as_deref().map(short_time).unwrap_or_else(|| "never".into()),
        base_url: v.integration.base_url.clone(),
        config: flatten(&v.integration.config),
        projects,
        has_projects,
        error,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn integration(State(app): State<App>, s: Session, Path(name): Path<String>) -> PageResult {
    integration_page(&app, &s, &name, true, None).await
}

#[derive(Deserialize)]
pub struct MapProjectForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    project: String,
    #[serde(default)]
    repository: String,
}

/// A manual override: map a project to a repository (any URL spelling), or stop
/// ingesting it (an empty repository).
pub async fn map_project(State(app): State<App>, s: Session, Path(name): Path<String>, Form(f): Form<MapProjectForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let result = if f.repository.trim().is_empty() {
        app.unmap_project(&s.who, &name, &f.project).await.map(|_| ())
    } else {
        app.map_project(&s.who, &name, &f.project, f.repository.trim()).await.map(|_| ())
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/integrations/{}#projects", super::encode(&name))).into_response()),
        Err(e @ (AppError::Invalid { .. } | AppError::NotFound { .. } | AppError::Conflict(_))) => {
            integration_page(&app, &s, &name, false, Some(e.to_string())).await
        }
        Err(e) => Err(PageError(e)),
    }
}

pub struct MapRow {
    pub name: String,
    pub connector: String,
    pub target: String,
    pub rules: usize,
    pub builtin: bool,
    pub version: i64,
}

#[derive(Template)]
#[template(path = "maps.html")]
struct MapsPage {
    layout: Layout,
    maps: Vec<MapRow>,
}

pub async fn maps(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let list = app.blocking(move |a| a.maps(&who)).await?;
    let maps = list
        .into_iter()
        .map(|m| MapRow {
            name: m.spec.name.clone(),
            connector: m.spec.connector.clone(),
            target: format!("{:?}", m.spec.target_model),
            rules: m.spec.rules.len(),
            builtin: m.builtin,
            version: m.version,
        })
        .collect();
    Ok(render(&MapsPage { layout: Layout::new(&s, "maps"), maps }))
}

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    layout: Layout,
    name: String,
    builtin: bool,
    text: String,
    integrations: Vec<String>,
    message: Option<(bool, String)>,
}

async fn map_page(app: &App, s: &Session, name: &str, text: Option<String>, message: Option<(bool, String)>) -> PageResult {
    let who = s.who.clone();
    let n = name.to_string();
    let (m, integrations) = app.blocking(move |a| Ok((a.map(&who, &n)?, a.integrations(&who)?))).await?;
    let connector = m.spec.connector.clone();
    let integrations = integrations.into_iter().filter(|v| v.integration.kind == connector).map(|v| v.integration.name).collect();
    let text = match text {
        Some(t) => t,
        None => serde_norway::to_string(&m.spec).map_err(|e| PageError(AppError::Internal(e.to_string())))?,
    };
    let status = match &message {
        Some((false, _)) => axum::http::StatusCode::BAD_REQUEST,
        _ => axum::http::StatusCode::OK,
    };
    Ok((
        status,
        render(&MapPage { layout: Layout::new(s, "maps"), name: name.to_string(), builtin: m.builtin, text, integrations, message }),
    )
        .into_response())
}

pub async fn map(State(app): State<App>, s: Session, Path(name): Path<String>) -> PageResult {
    map_page(&app, &s, &name, None, None).await
}

#[derive(Deserialize)]
pub struct MapForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    text: String,
    #[serde(default)]
    integration: String,
    #[serde(default)]
    new_name: String,
}

/// A record and what the map made of it, each as (field, value) rows.
type Pair = (Vec<(String, String)>, Vec<(String, String)>);

#[derive(Template)]
#[template(path = "map_result.html")]
struct MapResult {
    ok: bool,
    message: String,
    pairs: Vec<Pair>,
}

fn fragment(ok: bool, message: String, pairs: Vec<Pair>) -> PageResult {
    Ok(render(&MapResult { ok, message, pairs }))
}

/// The editor's Validate (an htmx fragment).
pub async fn validate_map(s: Session, Form(f): Form<MapForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let checked = tributary_app::maps::parse_map(&f.text, true, "the edited map")
        .and_then(|spec| tributary_app::maps::validate_map(&spec).map(|_| spec));
    match checked {
        Ok(spec) => fragment(true, format!("Valid: {} rules.", spec.rules.len()), Vec::new()),
        Err(e) => fragment(false, e.to_string(), Vec::new()),
    }
}

/// The editor's Preview: the edited (unsaved) map on stored records of an integration.
pub async fn preview_map(State(app): State<App>, s: Session, Form(f): Form<MapForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let spec = match tributary_app::maps::parse_map(&f.text, true, "the edited map")
        .and_then(|spec| tributary_app::maps::validate_map(&spec).map(|_| spec))
    {
        Ok(spec) => spec,
        Err(e) => return fragment(false, e.to_string(), Vec::new()),
    };
    if f.integration.is_empty() {
        return fragment(false, "Choose an integration whose stored records to preview on.".into(), Vec::new());
    }
    match app.preview_spec(&s.who, spec, &f.integration, 5).await {
        Ok(pairs) => {
            let n = pairs.len();
            let pairs = pairs.iter().map(|(input, output)| (flatten(input), flatten(output))).collect();
            fragment(true, format!("The edited map on {n} stored records of {}:", f.integration), pairs)
        }
        Err(e) => fragment(false, e.to_string(), Vec::new()),
    }
}

/// Save (a built-in map is cloned under the new name instead).
pub async fn save_map(State(app): State<App>, s: Session, Path(name): Path<String>, Form(f): Form<MapForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let spec = match tributary_app::maps::parse_map(&f.text, true, "the edited map") {
        Ok(spec) => spec,
        Err(e) => return map_page(&app, &s, &name, Some(f.text), Some((false, e.to_string()))).await,
    };
    let who = s.who.clone();
    let (n, new_name) = (name.clone(), f.new_name.trim().to_string());
    let saved = app
        .blocking(move |a| {
            if new_name.is_empty() {
                a.edit_map(&who, &n, spec)
            } else {
                a.clone_map(&who, &n, &new_name)?;
                a.edit_map(&who, &new_name, spec)
            }
        })
        .await;
    match saved {
        Ok(m) => map_page(&app, &s, &m.spec.name, None, Some((true, format!("Saved {} (version {}).", m.spec.name, m.version)))).await,
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            map_page(&app, &s, &name, Some(f.text), Some((false, e.to_string()))).await
        }
        Err(e) => Err(PageError(e)),
    }
}
