//! Cortex Cloud AppSec (`/cortex-cloud/public_api/...`): repositories as the Cortex docs
//! describe them (GET with `offset`/`limit`, filters `source[]` and `search`, one
//! repository by `assetId`, replies not wrapped in `reply`), with deployment status and
//! internet exposure (those fields are our choice: `crate::types::Repository`), plus the
//! platform healthcheck.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::auth::{self, Cortex};
use super::{Sim, all, cortex_error, ok, one, query_pairs};
use crate::types::RepositoriesPage;

pub const MAX_PAGE_SIZE: u64 = 500;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/public_api/appsec/v1/repositories", get(repositories))
        .route("/public_api/appsec/v1/repositories/", get(repositories))
        .route("/public_api/appsec/v1/repositories/{asset_id}", get(repository))
        .route("/public_api/v1/healthcheck", get(healthcheck).post(healthcheck))
        .route("/public_api/v1/healthcheck/", get(healthcheck).post(healthcheck))
}

async fn healthcheck(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::cortex(&sim.world, &sim.nonces, Cortex::Cloud, &headers, false) {
        return r;
    }
    ok(&json!({"status": "available"}))
}

fn validation(loc: &str, msg: &str, kind: &str) -> Response {
    cortex_error(422, 422, "Validation error", json!([{"type": kind, "loc": ["query", loc], "msg": msg}]))
}

/// `GET /repositories?offset=&limit=&source[]=&search=` (Cortex docs "Get repositories").
async fn repositories(State(sim): State<Sim>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = auth::cortex(&sim.world, &sim.nonces, Cortex::Cloud, &headers, true) {
        return r;
    }
    let pairs = query_pairs(q.as_deref());
    let Ok(offset) = one(&pairs, "offset").map(str::parse::<u64>).transpose() else {
        return validation("offset", "Input should be a valid integer", "int_parsing");
    };
    let Ok(limit) = one(&pairs, "limit").map(str::parse::<u64>).transpose() else {
        return validation("limit", "Input should be a valid integer", "int_parsing");
    };
    let (offset, limit) = (offset.unwrap_or(0), limit.unwrap_or(100));
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return validation("limit", &format!("Input should be between 1 and {MAX_PAGE_SIZE}"), "less_than_equal");
    }
    let sources: Vec<String> = all(&pairs, "source").into_iter().map(str::to_ascii_uppercase).collect();
    let search = one(&pairs, "search").map(str::to_ascii_lowercase).filter(|s| !s.is_empty());
    let w = &sim.world;
    let day = w.day();
    let matching: Vec<u64> = (0..w.repository_count())
        .filter(|r| {
            let host = crate::tenant::cloud::repo_host(w.seed(), *r);
            let source = if host == "github.com" { "GITHUB" } else { "GITLAB" };
            (sources.is_empty() || sources.iter().any(|s| s == source))
                && search.as_ref().is_none_or(|q| crate::tenant::cloud::repo_full_name(*r).to_ascii_lowercase().contains(q.as_str()))
        })
        .collect();
    let data = matching.iter().skip(offset as usize).take(limit as usize).map(|r| w.repository(*r, day)).collect();
    ok(&RepositoriesPage { data, total_count: matching.len() as i64 })
}

/// `GET /repositories/{assetId}` (Cortex docs "Get a repository").
async fn repository(State(sim): State<Sim>, headers: HeaderMap, Path(asset_id): Path<String>) -> Response {
    if let Err(r) = auth::cortex(&sim.world, &sim.nonces, Cortex::Cloud, &headers, true) {
        return r;
    }
    match sim.world.repository_index(&asset_id) {
        Some(r) => ok(&sim.world.repository(r, sim.world.day())),
        None => cortex_error(404, 404, "Requested resource not found", json!(format!("no repository with assetId '{asset_id}'"))),
    }
}
