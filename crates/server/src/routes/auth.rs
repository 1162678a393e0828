//! Sign-in, tokens, users, audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_app::auth::IssuedToken;
use tributary_app::{App, Role};
use tributary_core::model::{ApiToken, AuditEvent, User};

use crate::extract::{Body, Params, PathParams, Who};
use crate::problem::ApiResult;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
}

pub async fn login(State(app): State<App>, Body(r): Body<LoginRequest>) -> ApiResult<Json<IssuedToken>> {
    Ok(Json(app.blocking(move |a| a.login(&r.user, &r.password)).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Me {
    pub name: String,
    pub role: Role,
}

pub async fn me(Who(who): Who) -> Json<Me> {
    Json(Me { name: who.name, role: who.role })
}

pub async fn list_tokens(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(app.blocking(move |a| a.tokens(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for, e.g. `ci-export`.
    pub name: String,
    /// Days until it expires, 1-366 (default 90).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    /// Another user's token (administrators).
    #[serde(default)]
    pub user: Option<String>,
}

pub async fn create_token(State(app): State<App>, Who(who): Who, Body(r): Body<NewToken>) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let t = app.blocking(move |a| a.create_token(&who, &r.name, r.expires_in_days, r.user.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

pub async fn revoke_token(State(app): State<App>, Who(who): Who, PathParams(id): PathParams<i64>) -> ApiResult<Json<ApiToken>> {
    Ok(Json(app.blocking(move |a| a.revoke_token(&who, id)).await?))
}

pub async fn list_users(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(app.blocking(move |a| a.users(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    /// At least 12 characters; omitted: one is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct AddedUser {
    #[serde(flatten)]
    pub user: User,
    /// The generated password, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

pub async fn add_user(State(app): State<App>, Who(who): Who, Body(r): Body<NewUser>) -> ApiResult<(StatusCode, Json<AddedUser>)> {
    let (user, password) = app.blocking(move |a| a.add_user(&who, &r.name, r.role, r.password.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(AddedUser { user, password })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub password: Option<String>,
}

pub async fn update_user(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(r): Body<UserPatch>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        app.blocking(move |a| {
            if r.role.is_none() && r.password.is_none() {
                return Err(tributary_app::AppError::invalid("", "give a role or a password"));
            }
            if let Some(p) = &r.password {
                a.set_password(&who, &name, p)?;
            }
            match r.role {
                Some(role) => a.set_role(&who, &name, role),
                None => a.users(&who)?.into_iter().find(|u| u.name == name).ok_or(tributary_app::AppError::NotFound { what: "user", name }),
            }
        })
        .await?,
    ))
}

pub async fn delete_user(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_user(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    pub limit: Option<i64>,
}

pub async fn audit(State(app): State<App>, Who(who): Who, Params(p): Params<AuditParams>) -> ApiResult<Json<Vec<AuditEvent>>> {
    Ok(Json(app.blocking(move |a| a.audit_events(&who, p.limit.unwrap_or(100))).await?))
}
