//! Operating Tributary: sync runs with live progress (htmx polls a running row until it
//! ends), "sync now", profiles and their schedules, policies, webhooks with their
//! delivery log, and API tokens and users.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tributary_app::notify::{AddWebhook, EventKind, WebhookKind};
use tributary_app::{App, AppError, Role, SyncOptions};
use tributary_core::model::SyncRun;
use tributary_core::secret::Secret;

use super::{Layout, PageError, PageResult, render, when};
use crate::session::Session;

/// A run as a table row shows it.
pub struct RunRow {
    pub id: i64,
    pub integration: String,
    pub mode: String,
    pub status: String,
    pub running: bool,
    pub started: String,
    pub ended: String,
    pub fetched: i64,
    pub written: String,
    pub error: String,
}

fn run_row(r: &SyncRun, names: &std::collections::HashMap<i64, String>) -> RunRow {
    let k = &r.counts;
    RunRow {
        id: r.id,
        integration: names.get(&r.integration_id).cloned().unwrap_or_else(|| format!("#{}", r.integration_id)),
        mode: r.mode.as_str().to_string(),
        status: r.status.as_str().to_string(),
        running: r.status.as_str() == "running",
        started: when(Some(r.started_at)),
        ended: when(r.ended_at),
        fetched: k.fetched,
        written: format!("{} new, {} changed, {} closed", k.created, k.updated, k.closed),
        error: r.error.clone().unwrap_or_default(),
    }
}

fn names(app: &App, who: &tributary_app::Principal) -> tributary_app::Result<std::collections::HashMap<i64, String>> {
    Ok(app.integrations(who)?.into_iter().map(|v| (v.integration.id, v.integration.name)).collect())
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    layout: Layout,
    rows: Vec<RunRow>,
}

pub async fn runs(State(app): State<App>, s: Session) -> PageResult {
    let who = s.who.clone();
    let rows = app
        .blocking(move |a| {
            let names = names(a, &who)?;
            Ok(a.runs(&who, None, 100)?.iter().map(|r| run_row(r, &names)).collect())
        })
        .await?;
    Ok(render(&RunsPage { layout: Layout::new(&s, "runs"), rows }))
}

#[derive(Template)]
#[template(path = "run_row.html")]
struct RunRowFragment {
    r: RunRow,
}

/// One run's row, polled by the runs page while it runs.
pub async fn run_row_fragment(State(app): State<App>, s: Session, Path(id): Path<i64>) -> PageResult {
    let who = s.who.clone();
    let r = app
        .blocking(move |a| {
            let names = names(a, &who)?;
            Ok(run_row(&a.run(&who, id)?, &names))
        })
        .await?;
    Ok(render(&RunRowFragment { r }))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// "Sync now" on the integrations page: starts the integration's run in the background
/// and shows the runs, where it is followed live.
pub async fn sync_now(State(app): State<App>, s: Session, Path(name): Path<String>, Form(f): Form<CsrfForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    app.start_sync(&s.who, &name, SyncOptions::default()).await?;
    Ok(Redirect::to("/runs").into_response())
}

pub struct ProfileRow {
    pub name: String,
    pub integration: String,
    pub schedule: String,
    pub active: bool,
    pub is_default: bool,
    pub next_run: String,
    pub last_run: String,
}

#[derive(Template)]
#[template(path = "profiles.html")]
struct ProfilesPage {
    layout: Layout,
    rows: Vec<ProfileRow>,
    integrations: Vec<String>,
    error: Option<String>,
}

pub async fn profiles(State(app): State<App>, s: Session) -> PageResult {
    profiles_page(&app, &s, None).await
}

async fn profiles_page(app: &App, s: &Session, error: Option<String>) -> PageResult {
    let who = s.who.clone();
    let (list, integrations) = app.blocking(move |a| Ok((a.profiles(&who)?, a.integrations(&who)?))).await?;
    let integrations = integrations.into_iter().map(|v| v.integration.name).collect();
    let rows = list
        .into_iter()
        .map(|p| ProfileRow {
            name: p.profile.name,
            integration: p.integration,
            schedule: p.schedule_text,
            active: p.profile.active,
            is_default: p.profile.is_default,
            next_run: when(p.profile.next_run_at),
            last_run: when(p.profile.last_run_at),
        })
        .collect();
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    Ok((status, render(&ProfilesPage { layout: Layout::new(s, "profiles"), rows, integrations, error })).into_response())
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    integration: String,
    /// manual, once, every or cron.
    when: String,
    #[serde(default)]
    value: String,
}

/// A profile from the form: manual, once at a time, every N (e.g. 6h), or a cron expression.
pub async fn add_profile(State(app): State<App>, s: Session, Form(f): Form<ProfileForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let v = Some(f.value.trim().to_string()).filter(|v| !v.is_empty());
    let schedule = match f.when.as_str() {
        "once" => tributary_app::profiles::ScheduleInput { once: v, ..Default::default() },
        "every" => tributary_app::profiles::ScheduleInput { every: v, ..Default::default() },
        "cron" => tributary_app::profiles::ScheduleInput { cron: v, ..Default::default() },
        _ => tributary_app::profiles::ScheduleInput::default(),
    };
    if f.when != "manual" && schedule.once.is_none() && schedule.every.is_none() && schedule.cron.is_none() {
        return profiles_page(&app, &s, Some(format!("{}: give the schedule's value", f.when))).await;
    }
    let add = tributary_app::profiles::AddProfile {
        name: f.name.trim().to_string(),
        description: None,
        integration: f.integration,
        maps: Vec::new(),
        active: true,
        schedule,
    };
    let who = s.who.clone();
    match app.blocking(move |a| a.add_profile(&who, add)).await {
        Ok(_) => Ok(Redirect::to("/profiles").into_response()),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_) | AppError::NotFound { .. })) => {
            profiles_page(&app, &s, Some(e.to_string())).await
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    active: String,
}

pub async fn set_profile_active(State(app): State<App>, s: Session, Path(name): Path<String>, Form(f): Form<ActiveForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let (who, active) = (s.who.clone(), f.active == "true");
    app.blocking(move |a| a.set_profile_active(&who, &name, active)).await?;
    Ok(Redirect::to("/profiles").into_response())
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesPage {
    layout: Layout,
    policies: Vec<tributary_app::policies::Policy>,
    error: Option<String>,
    form: PolicyForm,
}

#[derive(Deserialize, Default, Clone)]
pub struct PolicyForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub action: String,
}

async fn policies_page(app: &App, s: &Session, error: Option<String>, form: PolicyForm) -> PageResult {
    let who = s.who.clone();
    let policies = app.blocking(move |a| a.policies(&who)).await?;
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    Ok((status, render(&PoliciesPage { layout: Layout::new(s, "policies"), policies, error, form })).into_response())
}

pub async fn policies(State(app): State<App>, s: Session) -> PageResult {
    policies_page(&app, &s, None, PolicyForm::default()).await
}

pub async fn add_policy(State(app): State<App>, s: Session, Form(f): Form<PolicyForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let (who, g) = (s.who.clone(), f.clone());
    match app.blocking(move |a| a.add_policy(&who, g.name.trim(), &g.query, g.action.trim())).await {
        Ok(_) => Ok(Redirect::to("/policies").into_response()),
        Err(AppError::Invalid { field, reason }) => policies_page(&app, &s, Some(format!("{field}: {reason}")), f).await,
        Err(AppError::Conflict(m)) => policies_page(&app, &s, Some(m), f).await,
        Err(e) => Err(PageError(e)),
    }
}

pub async fn delete_policy(State(app): State<App>, s: Session, Path(name): Path<String>, Form(f): Form<CsrfForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let who = s.who.clone();
    app.blocking(move |a| a.delete_policy(&who, &name)).await?;
    Ok(Redirect::to("/policies").into_response())
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    is_admin: bool,
    webhooks: Vec<tributary_app::notify::Webhook>,
    deliveries: Vec<tributary_app::notify::Delivery>,
    error: Option<String>,
    /// A secret generated for the webhook just added (shown this once).
    secret: Option<(String, String)>,
}

async fn webhooks_page(app: &App, s: &Session, error: Option<String>, secret: Option<(String, String)>) -> PageResult {
    let who = s.who.clone();
    let (webhooks, deliveries) = app.blocking(move |a| Ok((a.webhooks(&who)?, a.webhook_deliveries(&who, None, 50)?))).await?;
    let status = if error.is_some() { axum::http::StatusCode::BAD_REQUEST } else { axum::http::StatusCode::OK };
    let page =
        WebhooksPage { layout: Layout::new(s, "webhooks"), is_admin: s.who.role == Role::Admin, webhooks, deliveries, error, secret };
    Ok((status, render(&page)).into_response())
}

pub async fn webhooks(State(app): State<App>, s: Session) -> PageResult {
    webhooks_page(&app, &s, None, None).await
}

#[derive(Deserialize)]
pub struct WebhookForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    url: String,
    kind: String,
    #[serde(default)]
    policy_matched: Option<String>,
    #[serde(default)]
    issues_new: Option<String>,
}

pub async fn add_webhook(State(app): State<App>, s: Session, Form(f): Form<WebhookForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let mut events = Vec::new();
    if f.policy_matched.is_some() {
        events.push(EventKind::PolicyMatched);
    }
    if f.issues_new.is_some() {
        events.push(EventKind::IssuesNew);
    }
    let kind = WebhookKind::parse(&f.kind).unwrap_or(WebhookKind::Generic);
    let add = AddWebhook { name: f.name, url: Secret::new(f.url), kind, events, secret: None };
    let who = s.who.clone();
    match app.blocking(move |a| a.add_webhook(&who, add)).await {
        Ok(added) => {
            let secret = added.generated_secret.map(|g| (added.webhook.name.clone(), g));
            webhooks_page(&app, &s, None, secret).await
        }
        Err(AppError::Invalid { field, reason }) => webhooks_page(&app, &s, Some(format!("{field}: {reason}")), None).await,
        Err(AppError::Conflict(m)) => webhooks_page(&app, &s, Some(m), None).await,
        Err(e) => Err(PageError(e)),
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    users: Vec<(String, String)>,
    /// A token just created (shown this once).
    new_token: Option<String>,
    /// A user just added, with the password generated for them (shown this once).
    new_user: Option<String>,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: bool,
}

async fn settings_page(app: &App, s: &Session, new_token: Option<String>, new_user: Option<String>) -> PageResult {
    let who = s.who.clone();
    let admin = s.who.role == Role::Admin;
    let (tokens, users) = app
        .blocking(move |a| {
            let tokens = a.tokens(&who)?;
            let users =
                if admin { a.users(&who)?.into_iter().map(|u| (u.name, u.role.as_str().to_string())).collect() } else { Vec::new() };
            Ok((tokens, users))
        })
        .await?;
    let tokens = tokens
        .into_iter()
        .filter(|t| t.name != "login")
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: when(Some(t.created_at)),
            expires: when(t.expires_at),
            last_used: when(t.last_used_at),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    Ok(render(&SettingsPage { layout: Layout::new(s, "settings"), tokens, users, new_token, new_user }))
}

pub async fn settings(State(app): State<App>, s: Session) -> PageResult {
    settings_page(&app, &s, None, None).await
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    role: String,
}

/// Adds a user (administrators); the generated password is shown this once.
pub async fn add_user(State(app): State<App>, s: Session, Form(f): Form<UserForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let role = match f.role.as_str() {
        "admin" => Role::Admin,
        "analyst" => Role::Analyst,
        _ => Role::Viewer,
    };
    let who = s.who.clone();
    let (user, password) = app.blocking(move |a| a.add_user(&who, f.name.trim(), role, None)).await?;
    let shown = Some(match password {
        Some(p) => format!("Added {} ({}). One-time password, shown this once: {p}", user.name, user.role.as_str()),
        None => format!("Added {} ({}).", user.name, user.role.as_str()),
    });
    settings_page(&app, &s, None, shown).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    days: Option<i64>,
}

pub async fn create_token(State(app): State<App>, s: Session, Form(f): Form<TokenForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let who = s.who.clone();
    let issued = app.blocking(move |a| a.create_token(&who, f.name.trim(), f.days, None)).await?;
    settings_page(&app, &s, Some(issued.token), None).await
}

pub async fn revoke_token(State(app): State<App>, s: Session, Path(id): Path<i64>, Form(f): Form<CsrfForm>) -> PageResult {
    s.check_csrf(&f.csrf)?;
    let who = s.who.clone();
    app.blocking(move |a| a.revoke_token(&who, id)).await?;
    Ok(Redirect::to("/settings").into_response())
}
