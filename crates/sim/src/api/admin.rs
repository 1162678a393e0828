//! `/_sim`: controls for tests and demos (not a vendor API): advance the simulated
//! clock, read the state and ground truth, revoke and restore credentials.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::{Sim, ok, one, query_pairs, semgrep_error};

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/advance", post(advance))
        .route("/state", get(state))
        .route("/truth", get(truth))
        .route("/revoke", post(revoke))
        .route("/restore", post(restore))
        .route("/faults", post(faults))
}

async fn advance(State(sim): State<Sim>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let days = match one(&pairs, "days").map(str::parse::<u32>).transpose() {
        Ok(d) => d.unwrap_or(1),
        Err(_) => return semgrep_error(400, "days must be a positive integer"),
    };
    let day = sim.world.advance(days);
    ok(&json!({"day": day, "now": sim.world.now_ms()}))
}

async fn state(State(sim): State<Sim>) -> Response {
    let w = &sim.world;
    ok(&json!({
        "seed": w.seed(),
        "scale": w.cfg.scale.name,
        "day": w.day(),
        "now": w.now_ms(),
        "requests": w.requests.load(std::sync::atomic::Ordering::SeqCst),
    }))
}

async fn truth(State(sim): State<Sim>) -> Response {
    let w = sim.world.clone();
    match tokio::task::spawn_blocking(move || w.truth(w.day())).await {
        Ok(t) => ok(&t),
        Err(e) => semgrep_error(500, &e.to_string()),
    }
}

fn vendor(q: Option<&str>) -> Result<String, Response> {
    let pairs = query_pairs(q);
    match one(&pairs, "vendor") {
        Some(v @ ("semgrep" | "cortex-xdr" | "cortex-cloud")) => Ok(v.to_string()),
        _ => Err(semgrep_error(400, "vendor must be semgrep, cortex-xdr or cortex-cloud")),
    }
}

async fn revoke(State(sim): State<Sim>, RawQuery(q): RawQuery) -> Response {
    match vendor(q.as_deref()) {
        Ok(v) => {
            sim.world.revoked.lock().unwrap_or_else(|p| p.into_inner()).insert(v.clone());
            ok(&json!({"revoked": v}))
        }
        Err(r) => r,
    }
}

async fn restore(State(sim): State<Sim>, RawQuery(q): RawQuery) -> Response {
    match vendor(q.as_deref()) {
        Ok(v) => {
            sim.world.revoked.lock().unwrap_or_else(|p| p.into_inner()).remove(&v);
            ok(&json!({"restored": v}))
        }
        Err(r) => r,
    }
}

/// `POST /_sim/faults?spec=500=1` replaces the fault probabilities (empty spec: none).
async fn faults(State(sim): State<Sim>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let spec = one(&pairs, "spec").unwrap_or("");
    match spec.parse::<crate::config::Faults>() {
        Ok(mut f) => {
            let mut current = sim.world.faults.lock().unwrap_or_else(|p| p.into_inner());
            f.slow_delay = current.slow_delay;
            *current = f;
            ok(&json!({"faults": spec}))
        }
        Err(e) => semgrep_error(400, &e),
    }
}
