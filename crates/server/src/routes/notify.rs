//! Webhooks and their delivery log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tributary_app::notify::{AddWebhook, AddedWebhook, Delivery, EventKind, Webhook, WebhookKind};
use tributary_app::{App, AppError};
use tributary_core::secret::Secret;

use crate::extract::{Body, Params, PathParams, Who};
use crate::problem::ApiResult;

pub async fn list_webhooks(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(app.blocking(move |a| a.webhooks(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub name: String,
    /// The receiver's http(s) URL (write-only: never returned).
    pub url: String,
    /// generic (default), slack or teams.
    #[serde(default)]
    pub kind: Option<WebhookKind>,
    /// policy_matched and/or issues_new (default: both).
    #[serde(default)]
    pub events: Vec<EventKind>,
    /// The HMAC-SHA256 signing secret, 16+ characters (default: generated and returned once).
    #[serde(default)]
    pub secret: Option<String>,
}

pub async fn add_webhook(State(app): State<App>, Who(who): Who, Body(w): Body<NewWebhook>) -> ApiResult<(StatusCode, Json<AddedWebhook>)> {
    let add = AddWebhook {
        name: w.name,
        url: Secret::new(w.url),
        kind: w.kind.unwrap_or(WebhookKind::Generic),
        events: w.events,
        secret: w.secret.map(Secret::new),
    };
    let added = app.blocking(move |a| a.add_webhook(&who, add)).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

pub async fn delete_webhook(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_webhook(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test_webhook(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<Json<Delivery>> {
    Ok(Json(app.test_webhook(&who, &name).await?))
}

#[derive(Deserialize)]
pub struct DeliveryParams {
    pub webhook: Option<String>,
    pub limit: Option<i64>,
}

pub async fn deliveries(State(app): State<App>, Who(who): Who, Params(p): Params<DeliveryParams>) -> ApiResult<Json<Vec<Delivery>>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid("limit", format!("between 1 and 1000, got {limit}")).into());
    }
    Ok(Json(app.blocking(move |a| a.webhook_deliveries(&who, p.webhook.as_deref(), limit)).await?))
}
