//! `cargo xtask bench context`: issues and risk over the reference tenant (Cortex XDR
//! 100,000 endpoints × ~20 CVEs, Semgrep 500k SAST + 200k SCA, Cortex Cloud
//! repositories), built fresh in `--dir` (SQLite) each run:
//!
//! 1. from scratch: every issue rebuilt and scored (`repo::issues::refresh_all`), and
//!    every finding's issue id and risk traits computed again from its stored attributes
//!    (`recorrelate`, what the schema-5 upgrade runs once on an existing database);
//! 2. after a one-day delta of each integration: what the run's derivation costs
//!    (context, the touched issues, policies, today's metrics snapshot), timed on its own;
//! 3. deleting the Semgrep integration: first in a child process killed midway (the
//!    database must be exactly as before), then for real.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tributary_core::secret::Secret;
use tributary_engine::integrations::NewIntegration;
use tributary_engine::pipeline::NoProgress;
use tributary_engine::{Engine, SyncOptions};
use tributary_sim::config::{DEFAULT_CLOUD_KEY, DEFAULT_CLOUD_KEY_ID, DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_store::repo::{integrations, issues};

#[derive(clap::Args)]
pub struct Args {
    /// Where the tenant is built (replaced on every run).
    #[arg(long, default_value = "target/bench-context")]
    dir: PathBuf,
    /// Kill the child deleting Semgrep after this many milliseconds.
    #[arg(long, default_value_t = 1500)]
    kill_after_ms: u64,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    #[arg(long)]
    dir: PathBuf,
}

fn integration(name: &str, kind: &str, url: String, config: serde_json::Value, secret: &str) -> NewIntegration {
    NewIntegration { name: name.into(), kind: kind.into(), base_url: url, config, secret: Secret::new(secret), test: true }
}

/// Counts that a deletion must leave exactly as they were when it is killed.
fn fingerprint(engine: &Engine) -> Result<Vec<i64>> {
    let sqls = [
        "SELECT COUNT(*) FROM findings",
        "SELECT COUNT(*) FROM assets",
        "SELECT COUNT(*) FROM asset_sources",
        "SELECT COUNT(*) FROM raw_records",
        "SELECT COUNT(*) FROM issues",
        "SELECT COUNT(*) FROM integrations",
        "SELECT COUNT(*) FROM metrics_daily",
        "SELECT COALESCE(MAX(score), 0) FROM issues",
    ];
    sqls.iter().map(|s| Ok(engine.store.read(|c| c.scalar::<i64>(s, &[]))?)).collect()
}

const MASTER_KEY: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

/// The tenant's store (one key for the parent and the child).
fn open(dir: &std::path::Path) -> Result<tributary_store::Store> {
    Ok(tributary_store::Store::open(&tributary_store::StoreOptions::new(dir).master_key(MASTER_KEY))?)
}

fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed().as_secs_f64()))
}

pub fn run(a: Args) -> Result<()> {
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)?;
    let (mut sim, base) = super::sim::spawn_server("reference", None)?;
    let out = measure(&a, &base);
    let _ = sim.kill();
    let _ = sim.wait();
    out
}

fn measure(a: &Args, base: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let engine = Engine::new(open(&a.dir)?);
    engine.bootstrap()?;
    println!("cargo xtask bench context\n");
    let sources = [
        integration("cloud", "cortex-cloud", format!("{base}/cortex-cloud"), json!({"key_id": DEFAULT_CLOUD_KEY_ID}), DEFAULT_CLOUD_KEY),
        integration("xdr", "cortex-xdr", format!("{base}/cortex-xdr"), json!({"key_id": DEFAULT_XDR_KEY_ID}), DEFAULT_XDR_KEY),
        integration(
            "semgrep",
            "semgrep",
            format!("{base}/semgrep"),
            json!({"scan": ["sast", "sca"], "auto_map_future": true}),
            DEFAULT_SEMGREP_TOKEN,
        ),
    ];
    for new in sources {
        let name = new.name.clone();
        rt.block_on(engine.add_integration(new, "bench"))?;
        let (run, secs) = time(|| Ok(rt.block_on(engine.sync(&name, SyncOptions::default(), Arc::new(NoProgress)))?))?;
        println!("built: {name}, {} records in {secs:.1} s (the run's issue rebuild included)", run.counts.fetched);
    }
    engine.store.checkpoint()?;
    let findings: i64 = engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings", &[]))?;
    let n_issues: i64 = engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM issues", &[]))?;
    let multi: i64 = engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM issues WHERE sources > 1", &[]))?;
    let with_context: i64 = engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM repo_context WHERE deployment IS NOT NULL", &[]))?;
    println!("tenant: {findings} findings in {n_issues} issues ({multi} multi-source); {with_context} repositories with context\n");

    println!("| phase | rows | seconds | target |");
    println!("|---|---:|---:|---|");
    let (n, secs) = time(|| Ok(engine.store.write(issues::refresh_all)?))?;
    println!("| issues rebuilt and scored from scratch (refresh_all) | {n} | {secs:.2} | ≤ 15 s |");
    let (n, secs) = time(|| Ok(engine.store.write(|c| issues::recorrelate_all(c))?))?;
    println!("| issue ids and risk traits recomputed from stored attributes (upgrade backfill) | {n} | {secs:.2} | — |");

    // One simulated day later: each integration's delta, then its derivation timed alone.
    rt.block_on(async { reqwest::Client::new().post(format!("{base}/_sim/advance?days=1")).send().await?.error_for_status() })?;
    for name in ["cloud", "xdr", "semgrep"] {
        engine.store.checkpoint()?;
        let (run, sync_secs) = time(|| Ok(rt.block_on(engine.sync(name, SyncOptions::default(), Arc::new(NoProgress)))?))?;
        let (d, secs) = time(|| Ok(rt.block_on(engine.derive(run.started_at, false, name != "semgrep"))?))?;
        let changed = run.counts.created + run.counts.updated + run.counts.closed;
        println!(
            "| after a one-day {} of {name} ({changed} findings changed; sync {sync_secs:.1} s): context, {} issues rescored, policies, metrics | {} | {secs:.2} | ≤ 1 s |",
            run.mode, d.issues_rescored, d.issues_rescored
        );
    }

    // Deleting Semgrep, killed midway in a child process: nothing may change.
    engine.store.checkpoint()?;
    let before = fingerprint(&engine)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["bench", "context-delete", "--dir"])
        .arg(&a.dir)
        .spawn()
        .context("starting the deleting child")?;
    std::thread::sleep(Duration::from_millis(a.kill_after_ms));
    let finished = child.try_wait()?.is_some();
    let _ = child.kill();
    let _ = child.wait();
    drop(engine);
    let engine = Engine::new(open(&a.dir)?);
    let after = fingerprint(&engine)?;
    if finished {
        println!("| delete Semgrep, killed after {} ms | — | — | the child finished first: raise --kill-after-ms |", a.kill_after_ms);
    } else if after != before {
        bail!("the killed deletion changed the database: {before:?} → {after:?}");
    } else {
        println!(
            "| delete Semgrep, killed after {} ms: database as before ({} counts compared) | — | — | unchanged |",
            a.kill_after_ms,
            before.len()
        );
    }
    let id = engine.store.read(|c| integrations::get(c, "semgrep"))?.id;
    let sg_findings: i64 =
        engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings WHERE integration_id = ?", tributary_store::params![id]))?;
    let (_, secs) = time(|| Ok(engine.store.write(|c| integrations::delete(c, id))?))?;
    println!(
        "| delete Semgrep (its findings, assets, raw records, issues, policy results, metrics) | {sg_findings} | {secs:.2} | ≤ 10 s |"
    );
    Ok(())
}

/// The child of the kill test: deletes Semgrep (and is killed before it commits).
pub fn delete_child(a: DeleteArgs) -> Result<()> {
    let store = open(&a.dir)?;
    let id = store.read(|c| integrations::get(c, "semgrep"))?.id;
    store.write(|c| integrations::delete(c, id))?;
    Ok(())
}
