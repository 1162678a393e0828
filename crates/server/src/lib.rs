//! Tributary's HTTP server. Handlers are thin: they parse, call the store or engine on
//! a blocking thread, and render. Routes:
//!
//! * `GET /healthz` — liveness and database reachability: `{status, version, db, schema_version}`.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tributary_store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

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

async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let probe = tokio::task::spawn_blocking(move || store.read(|c| tributary_store::migrate::version(c))).await;
    let (code, schema_version, error) = match probe {
        Ok(Ok(v)) => (StatusCode::OK, v, None),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, None, Some(e.to_string())),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, None, Some(e.to_string())),
    };
    let body = Health {
        status: if code == StatusCode::OK { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        db: state.store.backend(),
        schema_version,
        error,
    };
    (code, Json(body)).into_response()
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).with_state(state)
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
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
