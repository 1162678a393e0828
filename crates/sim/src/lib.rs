//! Loopback simulators of the Semgrep, Cortex XDR and Cortex Cloud APIs, so nobody needs a
//! vendor account to try, test or benchmark Tributary.
//!
//! One server, one port, a path prefix per vendor — each prefix is that vendor's base URL:
//! `/semgrep`, `/cortex-xdr`, `/cortex-cloud`; `/_sim` controls the simulation.
//!
//! * [`tenant`]: the tenants, generated deterministically from a seed at any scale, with
//!   day-by-day churn; memory is O(page) plus small per-day caches of what changed.
//! * [`api`]: vendor paths, auth (Semgrep bearer; Cortex standard and advanced keys),
//!   paging, envelopes, error bodies; fault injection and latency.
//! * [`types`]: the wire types (also used by tests to read fixtures).

pub mod api;
pub mod config;
pub mod rng;
pub mod tenant;
pub mod types;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{Churn, Credentials, Faults, Scale, Security, SimConfig};
pub use tenant::World;

/// A running simulator.
pub struct SimServer {
    pub addr: SocketAddr,
    pub world: Arc<World>,
    /// The Cortex XDR tenant's XQL engine (queries started, quota used).
    pub xql: Arc<api::xql::Engine>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimServer {
    /// Base URL of a vendor: `semgrep`, `cortex-xdr` or `cortex-cloud`.
    pub fn base_url(&self, vendor: &str) -> String {
        format!("http://{}/{vendor}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts the simulator on `addr` (use port 0 for an ephemeral port) in the current runtime.
pub async fn start(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<SimServer> {
    let world = Arc::new(World::new(cfg));
    let sim = api::Sim::new(world.clone());
    let xql = sim.xql.clone();
    let app = api::router(sim);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimServer { addr, world, xql, shutdown: Some(tx), task })
}

/// The start-up text: base URLs and the credentials the tenants accept.
pub fn banner(cfg: &SimConfig, addr: SocketAddr) -> String {
    let c = &cfg.credentials;
    format!(
        "tributary sim: seed {seed}, scale {scale}, day {day}\n\
         \n  Semgrep       http://{addr}/semgrep\n\
         \x20                token (Web API scope)      {st}\n\
         \x20                token (Agent CI scope, 404) {ct}\n\
         \n  Cortex XDR    http://{addr}/cortex-xdr\n\
         \x20                key id {xid} ({sec})  key {xk}\n\
         \x20                key id {nr} has no Viewer role (403)\n\
         \n  Cortex Cloud  http://{addr}/cortex-cloud\n\
         \x20                key id {cid} (standard)  key {ck}\n\
         \n  Control       http://{addr}/_sim/state  POST /_sim/advance?days=1  GET /_sim/truth\n\
         \n  tenants: {ep} endpoints x ~{cpe} CVEs, {pr} projects with {sast} SAST + {sca} SCA findings, {repos} repositories\n",
        seed = cfg.seed,
        scale = cfg.scale.name,
        day = cfg.start_day,
        st = c.semgrep_token,
        ct = c.semgrep_ci_token,
        xid = c.xdr_key_id,
        sec = c.xdr_security,
        xk = c.xdr_key,
        nr = c.xdr_no_role_key_id,
        cid = c.cloud_key_id,
        ck = c.cloud_key,
        ep = cfg.scale.xdr_endpoints,
        cpe = cfg.scale.cves_per_endpoint,
        pr = cfg.scale.semgrep_projects,
        sast = cfg.scale.sast_findings,
        sca = cfg.scale.sca_findings,
        repos = cfg.scale.cloud_repositories,
    )
}
