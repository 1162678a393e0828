//! `cargo xtask bench xdr`: a Cortex XDR full sync through the whole pipeline, against a
//! floor measured in the same run, then a delta after one simulated day.
//!
//! The simulator (its own process) serves the reference tenant: 100,000 endpoints with
//! ~20 CVEs each (~2 M findings). The floor fetches the same pages with the same client,
//! parses them, and inserts one row per endpoint and per CVE with plain prepared
//! INSERTs in 10,000-row transactions — pipelined like the product (fetch on the runtime,
//! insert on a writer thread) but with no transform map, identification, diff, raw
//! records or checkpoints. Each phase runs in its own process (peak RSS is its own) on a
//! fresh SQLite database.

use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use tributary_connectors::Settings;
use tributary_connectors::http::ClientOptions;
use tributary_core::secret::Secret;
use tributary_engine::integrations::NewIntegration;
use tributary_sim::config::{DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_store::params;

use super::phases;
use crate::rss;

#[derive(clap::Args)]
pub struct Args {
    /// Endpoints in the simulated tenant (reference: 100,000).
    #[arg(long, default_value_t = 100_000)]
    endpoints: u64,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    /// floor | sync
    #[arg(long)]
    phase: String,
    #[arg(long)]
    url: String,
    #[arg(long)]
    dir: std::path::PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let (sim, base) = super::sim::spawn_server("reference", Some(a.endpoints))?;
    let phases = phases::sync_phases("xdr-child", sim, &base)?;
    println!("cargo xtask bench xdr --endpoints {}\n", a.endpoints);
    phases::print_table(&phases, "findings");
    phases::print_delta(&phases, |f| {
        format!("endpoints changed: {}; findings new/closed: {}/{}", f("delta_fetched"), f("delta_created"), f("delta_closed"))
    });
    println!(
        "\n(vs floor: phase secs / floor secs; 1.00 = as fast as the floor. sim CPU: the simulator's own CPU time in that phase, on the same 2 cores)"
    );
    Ok(())
}

fn open(dir: &std::path::Path) -> Result<tributary_store::Store> {
    phases::open_store(dir)
}

pub fn child(a: ChildArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let out = match a.phase.as_str() {
        "floor" => floor(&rt, &a)?,
        "sync" => sync(&rt, &a)?,
        "fetch" => fetch(&rt, &a)?,
        other => bail!("unknown phase {other}"),
    };
    println!("{out}");
    Ok(())
}

fn xdr_settings(url: &str) -> Settings {
    Settings {
        base_url: format!("{url}/cortex-xdr"),
        config: json!({"key_id": DEFAULT_XDR_KEY_ID, "security": "standard"}),
        secret: Secret::new(DEFAULT_XDR_KEY),
        http: ClientOptions::default(),
    }
}

fn floor(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let store = open(&a.dir)?;
    let connector = (tributary_connectors::cortex_xdr::KIND.build)(xdr_settings(&a.url))?;
    // A row per endpoint and one per CVE on it.
    let rows = |r: &tributary_connectors::RawRecord| 1 + r.body["cves"].as_array().map_or(0, Vec::len) as u64;
    let (endpoints, rows, secs) = phases::floor(rt, &store, connector.as_ref(), rows, |tx, n, r| {
        let asset_id = n as i64;
        let attrs = r.body.to_string();
        tx.execute(
            "INSERT INTO assets (id, kind, name, identity, matched_rule, attributes, first_seen, last_seen, created_at, updated_at) VALUES (?, 'host', ?, ?, 'agent_id', ?, 1, 1, 1, 1)",
            params![asset_id, r.body["endpoint_name"].as_str().unwrap_or(""), r.key.as_str(), attrs.as_str()],
        )?;
        for cve in r.body["cves"].as_array().into_iter().flatten() {
            let name = cve["name"].as_str().unwrap_or("");
            let fkey = tributary_store::ingest::finding_key(1, tributary_core::model::FindingKind::Vulnerability, name);
            tx.execute(
                "INSERT INTO findings (asset_id, fkey, integration_id, kind, product, external_id, title, severity, source_severity, source_score, status, cve, first_seen, last_seen, chash, attributes, created_at, updated_at) \
                 VALUES (?, ?, 1, 'vulnerability', 'Cortex XDR', ?, ?, 3, ?, ?, 'open', ?, 1, 1, 0, ?, 1, 1)",
                params![asset_id, fkey, name, name, cve["severity"].as_str(), cve["severity_score"].as_f64(), name, cve.to_string().as_str()],
            )?;
        }
        Ok(())
    })?;
    Ok(json!({"endpoints": endpoints, "records": rows - endpoints, "secs": secs, "rss_mib": rss::peak_mib()}))
}

/// Only the source: pages fetched and parsed, then dropped (where the time goes).
fn fetch(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let connector = (tributary_connectors::cortex_xdr::KIND.build)(xdr_settings(&a.url))?;
    let t = Instant::now();
    let (endpoints, findings) = phases::fetch_only(rt, connector.as_ref(), |r| r.body["cves"].as_array().map_or(0, Vec::len) as u64)?;
    Ok(json!({"endpoints": endpoints, "records": findings, "secs": t.elapsed().as_secs_f64(), "rss_mib": rss::peak_mib()}))
}

fn sync(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let s = xdr_settings(&a.url);
    let integration = NewIntegration {
        name: "xdr".into(),
        kind: "cortex-xdr".into(),
        base_url: s.base_url,
        config: s.config,
        secret: s.secret,
        test: true,
    };
    let r = phases::full_then_delta(rt, &a.dir, &a.url, integration)?;
    let findings: i64 = r.engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings", &[]))?;
    Ok(json!({
        "endpoints": r.full.counts.fetched, "records": findings - r.delta.counts.created, "secs": r.secs, "rss_mib": r.rss_mib,
        "delta_secs": r.delta_secs, "checkpoint_secs": r.checkpoint_secs, "delta_fetched": r.delta.counts.fetched, "delta_created": r.delta.counts.created, "delta_closed": r.delta.counts.closed,
        "reconcile_secs": r.reconcile_secs, "reconcile_changed": r.reconcile.counts.created + r.reconcile.counts.updated, "reconcile_closed": r.reconcile.counts.closed,
    }))
}
