//! Shared helpers for the engine's end-to-end tests: a simulator, an engine on the
//! test database, integrations, and query counts.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use tributary_core::secret::Secret;
use tributary_engine::integrations::NewIntegration;
use tributary_engine::pipeline::NoProgress;
use tributary_engine::{Engine, SyncOptions};
use tributary_sim::config::{DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_sim::{Scale, SimConfig, SimServer};
use tributary_store::query::{self, QueryContext};
use tributary_store::testing::TestDb;

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

pub async fn sim(cfg: SimConfig) -> SimServer {
    tributary_sim::start(cfg, "127.0.0.1:0".parse().unwrap()).await.expect("sim")
}

pub fn small(seed: u64) -> SimConfig {
    SimConfig::new(seed, Scale::small())
}

/// Runs blocking store work from inside the tests' async blocks (the PostgreSQL client
/// blocks; a multi-threaded runtime lets this worker step aside while it does).
pub fn sb<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub fn engine(db: &TestDb) -> Engine {
    sb(|| {
        let e = Engine::new(db.open());
        e.bootstrap().expect("bootstrap");
        e
    })
}

pub fn xdr(name: &str, sim: &SimServer, extra: Value) -> NewIntegration {
    let mut config = json!({"key_id": DEFAULT_XDR_KEY_ID, "security": "standard"});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    NewIntegration {
        name: name.into(),
        kind: "cortex-xdr".into(),
        base_url: sim.base_url("cortex-xdr"),
        config,
        secret: Secret::new(DEFAULT_XDR_KEY),
        test: true,
    }
}

pub async fn sync(e: &Engine, name: &str, full: bool) -> tributary_engine::Result<tributary_core::model::SyncRun> {
    e.sync(name, SyncOptions { force_full: full, ..SyncOptions::default() }, Arc::new(NoProgress)).await
}

/// `tributary query --count`.
pub fn count(e: &Engine, q: &str) -> i64 {
    let expr = tributary_core::query::parse(q).expect("parse");
    sb(|| {
        let ctx = QueryContext { products: e.store.read(tributary_store::repo::maps::products).expect("products"), ..Default::default() };
        let dialect = e.store.read(|c| Ok(c.dialect())).unwrap();
        let compiled = query::compile(&expr, dialect, &ctx).expect("compile");
        e.store.read(|c| query::count(c, &compiled)).expect("count")
    })
}

pub fn truth(sim: &SimServer) -> Value {
    sim.world.truth(sim.world.day())
}

pub fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

pub const XDR_ASSETS: &str = "asset.inventory:(source:`Cortex XDR`)";
pub const XDR_FINDINGS: &str = "finding.vendorProductName:`Cortex XDR`";

pub fn semgrep(name: &str, sim: &SimServer, extra: Value) -> NewIntegration {
    let mut config = json!({"scan": ["sast", "sca"]});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    NewIntegration {
        name: name.into(),
        kind: "semgrep".into(),
        base_url: sim.base_url("semgrep"),
        config,
        secret: Secret::new(tributary_sim::config::DEFAULT_SEMGREP_TOKEN),
        test: true,
    }
}

pub const SAST_FINDINGS: &str = "finding.vendorProductName:`Semgrep Code`";
pub const SCA_FINDINGS: &str = "finding.vendorProductName:`Semgrep Supply Chain`";
pub const PACKAGES: &str = "asset.type:package";
pub const REPOSITORIES: &str = "asset.type:repository";

/// SQL scalar on the engine's store.
pub fn scalar(e: &Engine, sql: &str, params: &[tributary_store::Param<'_>]) -> i64 {
    sb(|| e.store.read(|c| c.scalar(sql, params))).expect("scalar")
}
