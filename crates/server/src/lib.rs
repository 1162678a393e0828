//! Tributary's HTTP server. Handlers are thin: they take typed input, call one use case
//! of the application layer (`tributary-app`) and render its result; nothing here
//! touches the store. Routes:
//!
//! * `GET /healthz` — liveness and database reachability: `{status, version, db, schema_version}`.
//! * `/api/v1/…` — the REST API ([`routes`]; every route is documented where it is added, see [`api`]).
//! * `GET /api/openapi.json` — the OpenAPI 3.1 document, generated from the route table.
//! * `GET /api/docs` — a page that reads it (embedded; no CDN).
//! * everything else: the web UI (`tributary-web`), signed in with a session cookie.
//!
//! Every error is an RFC 9457 problem ([`problem`]). Bodies are limited to [`MAX_BODY`]
//! (uploads to [`MAX_UPLOAD`]).

pub mod api;
pub mod extract;
pub mod problem;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tributary_app::App;

use crate::problem::problem;

/// The largest JSON body.
pub const MAX_BODY: usize = 1024 * 1024;
/// The largest uploaded scan file.
pub const MAX_UPLOAD: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    /// `sqlite` or `postgres`.
    pub db: &'static str,
    pub schema_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn healthz(State(app): State<App>) -> Response {
    let db = app.backend();
    let probe = app.blocking(tributary_app::admin::probe).await;
    let (code, schema_version, error) = match probe {
        Ok(v) => (StatusCode::OK, v, None),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, None, Some(e.to_string())),
    };
    let body = Health {
        status: if code == StatusCode::OK { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        db,
        schema_version,
        error,
    };
    (code, Json(body)).into_response()
}

const DOCS_HTML: &str = include_str!("../assets/docs.html");

async fn not_found(uri: Uri) -> problem::Problem {
    problem(StatusCode::NOT_FOUND, format!("no route {}; the API is under /api/v1 (GET /api/openapi.json lists it)", uri.path()))
}

/// The OpenAPI document of the API, built once.
pub fn openapi_document(app: &App) -> serde_json::Value {
    let (_, routes) = routes::api(app.clone()).into_parts();
    api::openapi(&routes)
}

pub fn router(app: App) -> Router {
    let (api_router, routes) = routes::api(app.clone()).into_parts();
    let doc = Arc::new(api::openapi(&routes).to_string());
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()) }
            }),
        )
        .route("/api/docs", get(|| async { Html(DOCS_HTML) }))
        .merge(api_router)
        .merge(tributary_web::router())
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            problem(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method (see /api/docs)")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `addr` and serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    on_ready(listener.local_addr()?);
    // The dashboard's table-pass counts, taken now so the first page load does not wait.
    let warm = app.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = warm.warm_dashboard() {
            tracing::warn!(message = "Dashboard counts not taken at start.", error = %e);
        }
    });
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
