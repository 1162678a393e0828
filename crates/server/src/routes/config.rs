//! Transform maps, profiles, identification rules.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tributary_app::maps::{StoredMap, validate_map as check_map};
use tributary_app::profiles::{AddProfile, ProfileView};
use tributary_app::{App, Fuses};
use tributary_core::identify::IdentificationRule;
use tributary_core::model::{Profile, SyncRun};
use tributary_core::transform::TransformMapSpec;

use crate::extract::{Body, PathParams, Who};
use crate::problem::ApiResult;

pub async fn list_maps(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<StoredMap>>> {
    Ok(Json(app.blocking(move |a| a.maps(&who)).await?))
}

pub async fn get_map(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<Json<StoredMap>> {
    Ok(Json(app.blocking(move |a| a.map(&who, &name)).await?))
}

pub async fn edit_map(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(spec): Body<TransformMapSpec>,
) -> ApiResult<Json<StoredMap>> {
    Ok(Json(app.blocking(move |a| a.edit_map(&who, &name, spec)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneMap {
    /// The copy's name.
    pub name: String,
}

pub async fn clone_map(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(r): Body<CloneMap>,
) -> ApiResult<(StatusCode, Json<StoredMap>)> {
    Ok((StatusCode::CREATED, Json(app.blocking(move |a| a.clone_map(&who, &name, &r.name)).await?)))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Valid {
    pub valid: bool,
    pub rules: usize,
}

pub async fn validate_map(Who(_who): Who, Body(spec): Body<TransformMapSpec>) -> ApiResult<Json<Valid>> {
    check_map(&spec)?;
    Ok(Json(Valid { valid: true, rules: spec.rules.len() }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The integration whose stored records to use.
    pub integration: String,
    /// Records, 1-100 (default 5).
    #[serde(default)]
    pub sample: Option<usize>,
    /// An unsaved version of the map to preview instead of the stored one.
    #[serde(default)]
    pub map: Option<TransformMapSpec>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PreviewPair {
    /// The vendor record.
    pub input: serde_json::Value,
    /// What Tributary makes of it.
    pub output: serde_json::Value,
}

pub async fn preview_map(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(r): Body<PreviewRequest>,
) -> ApiResult<Json<Vec<PreviewPair>>> {
    let sample = r.sample.unwrap_or(5);
    let pairs = match r.map {
        Some(spec) => {
            check_map(&spec)?;
            if !(1..=100).contains(&sample) {
                return Err(tributary_app::AppError::invalid("sample", "between 1 and 100 records").into());
            }
            app.preview_spec(&who, spec, &r.integration, sample).await?
        }
        None => app.preview_map(&who, &name, &r.integration, sample).await?,
    };
    Ok(Json(pairs.into_iter().map(|(input, output)| PreviewPair { input, output }).collect()))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyMap {
    pub integration: String,
    #[serde(default)]
    pub allow_mass_close: bool,
}

pub async fn apply_map(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(r): Body<ApplyMap>,
) -> ApiResult<Json<SyncRun>> {
    let fuses = Fuses { allow_mass_close: r.allow_mass_close, ..Default::default() };
    Ok(Json(app.apply_map(&who, &name, &r.integration, fuses, std::sync::Arc::new(tributary_app::NoProgress)).await?))
}

pub async fn list_profiles(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<ProfileView>>> {
    Ok(Json(app.blocking(move |a| a.profiles(&who)).await?))
}

pub async fn add_profile(State(app): State<App>, Who(who): Who, Body(r): Body<AddProfile>) -> ApiResult<(StatusCode, Json<Profile>)> {
    Ok((StatusCode::CREATED, Json(app.blocking(move |a| a.add_profile(&who, r)).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub active: bool,
}

pub async fn update_profile(
    State(app): State<App>,
    Who(who): Who,
    PathParams(name): PathParams<String>,
    Body(r): Body<ProfilePatch>,
) -> ApiResult<Json<Profile>> {
    Ok(Json(app.blocking(move |a| a.set_profile_active(&who, &name, r.active)).await?))
}

pub async fn delete_profile(State(app): State<App>, Who(who): Who, PathParams(name): PathParams<String>) -> ApiResult<StatusCode> {
    app.blocking(move |a| a.delete_profile(&who, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_rules(State(app): State<App>, Who(who): Who) -> ApiResult<Json<Vec<IdentificationRule>>> {
    Ok(Json(app.blocking(move |a| a.identification_rules(&who)).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleOrder {
    /// Identifier kinds, strongest first.
    pub order: Vec<String>,
}

pub async fn set_rules(
    State(app): State<App>,
    Who(who): Who,
    PathParams(kind): PathParams<String>,
    Body(r): Body<RuleOrder>,
) -> ApiResult<Json<Vec<IdentificationRule>>> {
    Ok(Json(app.blocking(move |a| a.set_identification_rules(&who, &kind, &r.order)).await?))
}
