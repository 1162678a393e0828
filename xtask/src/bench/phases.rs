//! Shared plumbing of the sync benchmarks (`bench xdr`, `bench semgrep`): each measured
//! phase runs in its own child process (so peak RSS is its own) on a fresh SQLite
//! database, against one simulator process; the table prints each phase's time, rate,
//! ratio to the floor and the simulator's CPU in that phase.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tributary_connectors::{RawPage, RawRecord, SyncPlan};
use tributary_core::model::SyncMode;
use tributary_store::{Store, StoreOptions};

use super::fmt_rate;

/// Runs `xtask bench <child> --phase P --url U --dir D`; its last stdout line is JSON.
pub fn child_run(child: &str, phase: &str, url: &str, dir: &Path) -> Result<Value> {
    let out = Command::new(std::env::current_exe()?).args(["bench", child, "--phase", phase, "--url", url, "--dir"]).arg(dir).output()?;
    if !out.status.success() {
        bail!("{phase} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).with_context(|| format!("{phase} printed: {text}"))
}

/// Runs each `(phase, label)` with no simulator involved (e.g. file imports).
pub fn run_phases_with(child: &str, arg: &str, phases: &[(&str, &'static str)]) -> Result<Vec<(&'static str, Value)>> {
    run_phases(child, arg, 0, phases)
}

/// Runs each `(phase, label)` against the simulator `sim_pid` serves at `url`, in order
/// (`sim_pid` 0: no simulator).
pub fn run_phases(child: &str, url: &str, sim_pid: u32, phases: &[(&str, &'static str)]) -> Result<Vec<(&'static str, Value)>> {
    let root = std::env::temp_dir().join(format!("tributary-bench-{child}-{}", std::process::id()));
    let result = (|| {
        let mut out = Vec::new();
        for (phase, label) in phases {
            let cpu = || if sim_pid == 0 { 0.0 } else { super::sim::cpu_seconds(sim_pid) };
            let before = cpu();
            let mut v = child_run(child, phase, url, &root.join(phase))?;
            v["sim_cpu"] = json!(cpu() - before);
            // Each phase starts on a quiet disk: drop this phase's files (and their dirty
            // pages) and flush the rest before the next one.
            let _ = std::fs::remove_dir_all(root.join(phase));
            let _ = Command::new("sync").status();
            out.push((*label, v));
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&root);
    result
}

pub fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

/// Prints the phase table; `unit` names what `records` counts.
pub fn print_table(phases: &[(&str, Value)], unit: &str) {
    println!("{:<32} {:>10} {:>7} {:>11} {:>8} {:>9} {:>8}", "phase", unit, "secs", format!("{unit}/s"), "vs floor", "peak RSS", "sim CPU");
    let floor_secs = phases.iter().find(|(l, _)| l.starts_with("floor")).map_or(1.0, |(_, v)| num(v, "secs"));
    for (name, v) in phases {
        println!(
            "{:<32} {:>10} {:>7.2} {:>11} {:>7.2}x {:>5.0} MiB {:>7.1}s",
            name,
            num(v, "records"),
            num(v, "secs"),
            fmt_rate(num(v, "records") / num(v, "secs").max(1e-9)),
            num(v, "secs") / floor_secs.max(1e-9),
            num(v, "rss_mib"),
            num(v, "sim_cpu")
        );
    }
}

/// A store in `dir` with a throwaway master key.
pub fn open_store(dir: &Path) -> Result<Store> {
    Ok(Store::open(&StoreOptions::new(dir).master_key(tributary_core::secret::MasterKey::generate().to_hex()))?)
}

/// Fetches every page of a full sync from `connector` and hands each to `tx` (the
/// floors' writer threads); stops early if the receiver is gone.
pub fn pump(
    rt: &tokio::runtime::Runtime,
    connector: &dyn tributary_connectors::Connector,
    tx: std::sync::mpsc::SyncSender<RawPage>,
) -> Result<()> {
    rt.block_on(async {
        let mut source = connector.source(&SyncPlan { mode: SyncMode::Full, watermark: None });
        let mut cursor = None;
        loop {
            let mut page = source.next_page(cursor.as_ref()).await?;
            // The floors parse every record whole, where the fetch runs (as syncs did
            // before sources learned to send text and the transform to read only what a
            // map needs): the floor stays the same work whatever the pipeline does.
            for r in &mut page.records {
                if r.text_only().is_some() {
                    r.body = r.parsed()?.into_owned();
                }
            }
            let next = page.next.clone();
            if tx.send(page).is_err() {
                break;
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        anyhow::Ok(())
    })
}

/// The floors: every page of a full sync fetched and parsed as in a sync, and `insert`
/// called for each record (with its 1-based number) on the writer thread, a transaction
/// per 10,000 rows (`rows` of each record). Returns (records, rows, seconds).
pub fn floor(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    connector: &dyn tributary_connectors::Connector,
    rows: fn(&RawRecord) -> u64,
    mut insert: impl FnMut(&mut dyn tributary_store::Conn, u64, &RawRecord) -> tributary_store::Result<()> + Send + 'static,
) -> Result<(u64, u64, f64)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<RawPage>(4);
    let t = std::time::Instant::now();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || -> Result<(u64, u64)> {
            let (mut records, mut total_rows, mut in_tx) = (0u64, 0u64, 0u64);
            let mut pending: Vec<RawPage> = Vec::new();
            let mut flush = |pages: &mut Vec<RawPage>, records: &mut u64| -> Result<()> {
                store.with_writer(|c| {
                    c.transaction(|tx| {
                        for p in pages.drain(..) {
                            for r in &p.records {
                                *records += 1;
                                insert(tx, *records, r)?;
                            }
                        }
                        Ok(())
                    })
                })?;
                Ok(())
            };
            while let Ok(p) = rx.recv() {
                let n: u64 = p.records.iter().map(rows).sum();
                total_rows += n;
                in_tx += n;
                pending.push(p);
                if in_tx >= 10_000 {
                    flush(&mut pending, &mut records)?;
                    in_tx = 0;
                }
            }
            flush(&mut pending, &mut records)?;
            Ok((records, total_rows))
        })
    };
    pump(rt, connector, tx)?;
    let (records, total_rows) = writer.join().map_err(|_| anyhow::anyhow!("floor writer panicked"))??;
    Ok((records, total_rows, t.elapsed().as_secs_f64()))
}

/// Fetches and parses every page, keeping nothing; returns (records, items) where
/// `items` counts what `count` finds in each record.
pub fn fetch_only(
    rt: &tokio::runtime::Runtime,
    connector: &dyn tributary_connectors::Connector,
    count: fn(&RawRecord) -> u64,
) -> Result<(u64, u64)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<RawPage>(4);
    let counter = std::thread::spawn(move || {
        let (mut records, mut items) = (0u64, 0u64);
        while let Ok(p) = rx.recv() {
            records += p.records.len() as u64;
            items += p.records.iter().map(count).sum::<u64>();
        }
        (records, items)
    });
    pump(rt, connector, tx)?;
    counter.join().map_err(|_| anyhow::anyhow!("counter panicked"))
}

/// What [`full_then_delta`] measured.
pub struct FullAndDelta {
    pub engine: tributary_engine::Engine,
    pub full: tributary_core::model::SyncRun,
    pub secs: f64,
    pub rss_mib: f64,
    /// The WAL checkpoint between the two, untimed in the sync figures.
    pub checkpoint_secs: f64,
    pub delta: tributary_core::model::SyncRun,
    pub delta_secs: f64,
    /// A forced full sync right after the delta: every record fetched again, unchanged,
    /// and the sweep for unseen items (the first full sync of an empty integration
    /// needs none; this one does).
    pub reconcile: tributary_core::model::SyncRun,
    pub reconcile_secs: f64,
}

/// Adds the integration, runs a full sync, lets the simulator at `url` advance one day,
/// and runs the delta sync (which must be a delta).
pub fn full_then_delta(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    url: &str,
    integration: tributary_engine::integrations::NewIntegration,
) -> Result<FullAndDelta> {
    use std::sync::Arc;
    use std::time::Instant;
    use tributary_engine::SyncOptions;
    use tributary_engine::pipeline::NoProgress;
    let engine = tributary_engine::Engine::new(open_store(dir)?);
    engine.bootstrap()?;
    let name = integration.name.clone();
    rt.block_on(engine.add_integration(integration, "bench"))?;
    let t = Instant::now();
    let full = rt.block_on(engine.sync(&name, SyncOptions::default(), Arc::new(NoProgress)))?;
    let secs = t.elapsed().as_secs_f64();
    let rss_mib = crate::rss::peak_mib();
    // A day passes between the two syncs; the background checkpointer would have folded
    // the full sync's WAL into the database by then. Do it now, outside the timing.
    let t = Instant::now();
    engine.store.checkpoint()?;
    let checkpoint_secs = t.elapsed().as_secs_f64();
    rt.block_on(async { reqwest::Client::new().post(format!("{url}/_sim/advance?days=1")).send().await?.error_for_status() })?;
    let t = Instant::now();
    let delta = rt.block_on(engine.sync(&name, SyncOptions::default(), Arc::new(NoProgress)))?;
    let delta_secs = t.elapsed().as_secs_f64();
    if delta.mode != SyncMode::Delta {
        bail!("expected a delta sync, got {}", delta.mode);
    }
    engine.store.checkpoint()?;
    let t = Instant::now();
    let reconcile = rt.block_on(engine.sync(&name, SyncOptions { force_full: true, ..SyncOptions::default() }, Arc::new(NoProgress)))?;
    let reconcile_secs = t.elapsed().as_secs_f64();
    if reconcile.mode != SyncMode::Full || reconcile.initial {
        bail!("expected a sweeping full sync, got {} (initial: {})", reconcile.mode, reconcile.initial);
    }
    Ok(FullAndDelta { engine, full, secs, rss_mib, checkpoint_secs, delta, delta_secs, reconcile, reconcile_secs })
}

/// The three sync phases (fetch only, floor, full + delta sync) of `child` against the
/// simulator `sim` serving at `base`; the simulator is stopped afterwards.
pub fn sync_phases(child: &str, mut sim: std::process::Child, base: &str) -> Result<Vec<(&'static str, Value)>> {
    let phases = run_phases(
        child,
        base,
        sim.id(),
        &[("fetch", "fetch + parse only (no store)"), ("floor", "floor (fetch + parse + INSERT)"), ("sync", "full sync (tributary)")],
    );
    let _ = sim.kill();
    let _ = sim.wait();
    phases
}

/// The delta row under the table: its time and `detail` (what changed) from the sync phase.
pub fn print_delta(phases: &[(&str, Value)], detail: impl Fn(&dyn Fn(&str) -> f64) -> String) {
    let sync = phases.last().map(|(_, v)| v.clone()).unwrap_or_default();
    let f = |k: &str| num(&sync, k);
    println!(
        "{:<32} {:>10} {:>7.2}   ({}; WAL checkpoint before it, untimed: {:.2}s)",
        "delta sync after one day",
        "",
        f("delta_secs"),
        detail(&f),
        f("checkpoint_secs")
    );
    println!(
        "{:<32} {:>10} {:>7.2}   (forced full sync right after: all fetched again, {} changed, {} closed by the sweep)",
        "full reconcile, nothing new",
        "",
        f("reconcile_secs"),
        f("reconcile_changed"),
        f("reconcile_closed")
    );
}
