//! Helpers shared by the application layer's tests.
#![allow(dead_code)]

use std::sync::Arc;

use tributary_app::integrations::{AddIntegration, ConnectorSettings};
use tributary_app::{App, NoProgress, Principal, SyncOptions};
use tributary_core::secret::Secret;
use tributary_sim::SimServer;
use tributary_sim::config::{DEFAULT_CLOUD_KEY, DEFAULT_CLOUD_KEY_ID, DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};

/// Adds each named integration against `sim` and syncs it once, in order: `xdr` (Cortex
/// XDR), `sg` (Semgrep, SAST and SCA, future projects auto-mapped), `cloud` (Cortex Cloud).
pub async fn add_and_sync(app: &App, sim: &SimServer, names: &[&str]) {
    let who = Principal::local();
    for name in names {
        let (kind, config, secret) = match *name {
            "xdr" => ("cortex-xdr", serde_json::json!({"key_id": DEFAULT_XDR_KEY_ID}), DEFAULT_XDR_KEY),
            "sg" => ("semgrep", serde_json::json!({"scan": ["sast", "sca"], "auto_map_future": true}), DEFAULT_SEMGREP_TOKEN),
            "cloud" => ("cortex-cloud", serde_json::json!({"key_id": DEFAULT_CLOUD_KEY_ID}), DEFAULT_CLOUD_KEY),
            other => panic!("no test integration named {other}"),
        };
        let settings = ConnectorSettings::from_json(kind, config).expect("settings");
        let add =
            AddIntegration { name: name.to_string(), base_url: sim.base_url(kind), settings, secret: Secret::new(secret), test: true };
        app.add_integration(&who, add).await.expect("add integration");
        app.sync(&who, name, SyncOptions::default(), Arc::new(NoProgress)).await.expect("sync");
    }
}

/// [`add_and_sync`] against a simulator of its own (seed `seed`, small scale), stopped after.
pub fn synced(app: &App, seed: u64, names: &[&str]) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let sim =
            tributary_sim::start(tributary_sim::SimConfig::new(seed, tributary_sim::Scale::small()), "127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("simulator");
        add_and_sync(app, &sim, names).await;
        sim.stop().await;
    });
}
