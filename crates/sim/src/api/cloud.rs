//! Cortex Cloud AppSec (`/cortex-cloud/public_api/...`): repositories with deployment
//! status and internet exposure (REST style: GET with `page`/`page_size`, epoch-ms times,
//! replies not wrapped in `reply`), plus the platform healthcheck.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::auth::{self, Cortex};
use super::{Sim, cortex_error, ok, one, query_pairs};
use crate::types::RepositoriesPage;

pub const MAX_PAGE_SIZE: u64 = 500;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/public_api/appsec/v1/repositories", get(repositories))
        .route("/public_api/appsec/v1/repositories/", get(repositories))
        .route("/public_api/v1/healthcheck", get(healthcheck).post(healthcheck))
        .route("/public_api/v1/healthcheck/", get(healthcheck).post(healthcheck))
}

async fn healthcheck(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::cortex(&sim.world, &sim.nonces, Cortex::Cloud, &headers, false) {
        return r;
    }
    ok(&json!({"status": "available"}))
}

async fn repositories(State(sim): State<Sim>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = auth::cortex(&sim.world, &sim.nonces, Cortex::Cloud, &headers, true) {
        return r;
    }
    let pairs = query_pairs(q.as_deref());
    let page = one(&pairs, "page").map(str::parse::<u64>).transpose();
    let size = one(&pairs, "page_size").map(str::parse::<u64>).transpose();
    let (Ok(page), Ok(size)) = (page, size) else {
        return cortex_error(
            422,
            422,
            "Validation error",
            json!([{"type": "int_parsing", "loc": ["query", "page"], "msg": "Input should be a valid integer"}]),
        );
    };
    let (page, size) = (page.unwrap_or(0), size.unwrap_or(100));
    if size == 0 || size > MAX_PAGE_SIZE {
        return cortex_error(
            422,
            422,
            "Validation error",
            json!([{"type": "less_than_equal", "loc": ["query", "page_size"], "msg": format!("Input should be between 1 and {MAX_PAGE_SIZE}")}]),
        );
    }
    let w = &sim.world;
    let day = w.day();
    let total = w.repository_count();
    let start = page.saturating_mul(size);
    let end = (start + size).min(total);
    let data = (start..end).map(|r| w.repository(r, day)).collect();
    ok(&RepositoriesPage { data, total_count: total as i64, next_page: (end < total).then_some(page as i64 + 1) })
}
