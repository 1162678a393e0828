//! `cargo xtask bench read`: the reference tenant (100,000 endpoints × 20 CVEs from
//! Cortex XDR, 500k SAST + 200k SCA from Semgrep) synced into SQLite once and kept in
//! `target/bench-read` (delete it or pass --rebuild to build again); then
//!
//! 1. ten typical reads through the application layer (what the API and UI call), each
//!    run `--iterations` times after warm-up: p50, p95, max, and the database's plan;
//! 2. `GET /api/v1/findings?limit=100` from `--connections` concurrent clients for
//!    `--seconds`: requests/s, p50, p99 (server and load generator share the 2 cores).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use tributary_app::integrations::{AddIntegration, ConnectorSettings};
use tributary_app::query::{ListRequest, Listing};
use tributary_app::{App, Principal, Role, StoreOptions, SyncOptions};
use tributary_core::secret::Secret;
use tributary_sim::config::{DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_store::Store;
use tributary_store::query::{self, QueryContext, Sort};

#[derive(clap::Args)]
pub struct Args {
    /// Where the tenant is kept.
    #[arg(long, default_value = "target/bench-read")]
    dir: PathBuf,
    /// Build the tenant again even if it is there.
    #[arg(long)]
    rebuild: bool,
    /// Runs of each query after warm-up.
    #[arg(long, default_value_t = 40)]
    iterations: usize,
    /// HTTP load: concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// HTTP load: seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Web UI: loads of each page (one connection, one after another).
    #[arg(long, default_value_t = 1000)]
    pages: usize,
    /// Skip the export measurement.
    #[arg(long)]
    no_export: bool,
    /// Measure only the export.
    #[arg(long, conflicts_with = "no_export")]
    export_only: bool,
}

const MASTER_KEY: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";

fn options(dir: &std::path::Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.join("data"));
    o.master_key = Some(MASTER_KEY.into());
    o
}

fn build(a: &Args) -> Result<()> {
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)?;
    let (mut sim, base) = super::sim::spawn_server("reference", None)?;
    let result = (|| {
        let app = App::open(&options(&a.dir))?;
        let who = Principal::local();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let t = Instant::now();
        rt.block_on(async {
            let xdr = ConnectorSettings::from_json("cortex-xdr", json!({"key_id": DEFAULT_XDR_KEY_ID}))?;
            let sg = ConnectorSettings::from_json("semgrep", json!({"scan": ["sast", "sca"], "auto_map_future": true}))?;
            for (name, url, settings, secret) in [
                ("xdr", format!("{base}/cortex-xdr"), xdr, DEFAULT_XDR_KEY),
                ("semgrep", format!("{base}/semgrep"), sg, DEFAULT_SEMGREP_TOKEN),
            ] {
                app.add_integration(
                    &who,
                    AddIntegration { name: name.into(), base_url: url, settings, secret: Secret::new(secret), test: true },
                )
                .await?;
                let run = app.sync(&who, name, SyncOptions::default(), Arc::new(tributary_app::NoProgress)).await?;
                eprintln!("built: {name} {} records in {:.0}s", run.counts.fetched, t.elapsed().as_secs_f64());
            }
            anyhow::Ok(())
        })?;
        std::fs::write(a.dir.join("built"), format!("{:.0}s", t.elapsed().as_secs_f64()))?;
        anyhow::Ok(())
    })();
    let _ = sim.kill();
    let _ = sim.wait();
    result
}

/// p50, p95 and max of a sample, in ms.
fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.95), v[v.len() - 1])
}

fn pick(store: &Store, sql: &str) -> Result<String> {
    store.read(|c| c.scalar::<String>(sql, &[])).with_context(|| format!("picking a sample value: {sql}"))
}

pub fn run(a: Args) -> Result<()> {
    if a.rebuild || !a.dir.join("built").exists() {
        eprintln!("building the reference tenant in {} (several minutes; kept for the next run)", a.dir.display());
        build(&a)?;
    }
    let app = App::open(&options(&a.dir))?;
    let store = Store::open(&options(&a.dir))?;
    let who = Principal::local();
    let findings: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM findings", &[]))?;
    if a.export_only {
        return export(&app, findings);
    }
    let assets: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM assets", &[]))?;
    // Sample values from the tenant itself.
    let cve = pick(&store, "SELECT cve FROM findings WHERE cve IS NOT NULL AND product = 'Cortex XDR' ORDER BY id LIMIT 1 OFFSET 5000")?;
    let host = pick(&store, "SELECT name FROM assets WHERE kind = 'host' ORDER BY id LIMIT 1 OFFSET 777")?;
    let repo = pick(
        &store,
        "SELECT a.name FROM assets a WHERE a.kind = 'repository' AND EXISTS (SELECT 1 FROM findings f WHERE f.asset_id = a.id AND f.kind = 'code_weakness') ORDER BY a.id LIMIT 1 OFFSET 50",
    )?;

    println!("cargo xtask bench read --iterations {} --connections {} --seconds {}\n", a.iterations, a.connections, a.seconds);
    println!("tenant: {findings} findings, {assets} assets (SQLite, {})\n", a.dir.display());
    type Read<'a> = Box<dyn Fn() -> Result<usize> + 'a>;
    let list = |q: String, sort: Option<&str>| -> Read<'_> {
        let (app, who) = (&app, &who);
        let sort = sort.map(str::to_string);
        Box::new(move || {
            let p = app.list(
                who,
                &ListRequest { q: q.clone(), sort: sort.clone(), cursor: None, limit: 100, fields: None },
                Some(Listing::Finding),
            )?;
            Ok(p.items.len())
        })
    };
    // The cursor of page 50 of the default order, for "a page deep in a sorted list".
    let mut deep = None;
    for _ in 0..50 {
        let p = app.list(
            &who,
            &ListRequest { q: String::new(), sort: None, cursor: deep.clone(), limit: 100, fields: None },
            Some(Listing::Finding),
        )?;
        deep = p.next_cursor;
    }
    let reads: Vec<(&str, String, Option<&str>, Read<'_>)> = vec![
        ("counts by severity, source, kind, status (summary)", String::new(), None, Box::new(|| Ok(app.summary(&who)?.by_severity.len()))),
        ("count: open critical", "finding.severity:critical".into(), None, {
            let (app, who) = (&app, &who);
            Box::new(move || Ok(app.count(who, "finding.severity:critical", None)? as usize))
        }),
        ("count: one source (Semgrep Code)", "finding.vendorProductName:`Semgrep Code`".into(), None, {
            let (app, who) = (&app, &who);
            Box::new(move || Ok(app.count(who, "finding.vendorProductName:`Semgrep Code`", None)? as usize))
        }),
        ("a CVE across all assets", format!("finding.cve:{cve}"), Some("-severity"), list(format!("finding.cve:{cve}"), None)),
        ("one host's findings", format!("asset.name:{host}"), Some("-severity"), list(format!("asset.name:{host}"), None)),
        (
            "newest critical findings",
            "finding.severity:critical".into(),
            Some("-id"),
            list("finding.severity:critical".into(), Some("-id")),
        ),
        (
            "SAST findings of one repository",
            format!("finding.kind:code_weakness asset.name:\"{repo}\""),
            Some("-severity"),
            list(format!("finding.kind:code_weakness asset.name:\"{repo}\""), None),
        ),
        (
            "package findings with a fix",
            "finding.kind:vulnerability finding.findingType.vulnerability.fixedVersions:*".into(),
            Some("-severity"),
            list("finding.kind:vulnerability finding.findingType.vulnerability.fixedVersions:*".into(), None),
        ),
        ("page 51 of the default order (keyset)", String::new(), Some("-severity"), {
            let (app, who, deep) = (&app, &who, deep.clone());
            Box::new(move || {
                let p = app.list(
                    who,
                    &ListRequest { q: String::new(), sort: None, cursor: deep.clone(), limit: 100, fields: None },
                    Some(Listing::Finding),
                )?;
                Ok(p.items.len())
            })
        }),
        ("text search on titles", "finding.title:*injection*".into(), Some("-severity"), list("finding.title:*injection*".into(), None)),
        // Not one of the ten: the worst case of a substring search, a word no title has
        // (the whole open set is read to say so).
        (
            "(worst case) text search matching nothing",
            "finding.title:*zzqx*".into(),
            Some("-severity"),
            list("finding.title:*zzqx*".into(), None),
        ),
    ];
    // What the first count after a sync pays: every integration's maintained counts were
    // marked stale by its run and are rebuilt on that read.
    store.write(tributary_store::repo::stats::mark_stale)?;
    let t = Instant::now();
    app.summary(&who)?;
    println!("first summary after the syncs (rebuilds the maintained counts): {:.0} ms\n", t.elapsed().as_secs_f64() * 1000.0);
    println!("| read | rows | p50 ms | p95 ms | max ms | target p95 ≤ 50 ms |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut plans = Vec::new();
    for (name, q, sort, f) in &reads {
        for _ in 0..3 {
            f()?;
        }
        let mut times = Vec::with_capacity(a.iterations);
        let mut rows = 0;
        for _ in 0..a.iterations {
            let t = Instant::now();
            rows = f()?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p95, max) = percentiles(times);
        let verdict = if name.starts_with("(worst case)") {
            "(not a target)"
        } else if p95 <= 50.0 {
            "met"
        } else {
            "**missed**"
        };
        println!("| {name} | {rows} | {p50:.1} | {p95:.1} | {max:.1} | {verdict} |");
        if !q.is_empty() {
            let compiled = store.read(|c| {
                let products = tributary_store::repo::maps::products(c)?;
                let e = tributary_core::query::parse(q).map_err(|e| tributary_store::StoreError::Invalid(e.message))?;
                query::compile_as(&e, c.dialect(), &QueryContext { products, ..Default::default() }, Some(query::Entity::Finding))
                    .map_err(|e| tributary_store::StoreError::Invalid(e.message))
            })?;
            let sort = sort.map(|s| Sort::parse(query::Entity::Finding, s).map_err(anyhow::Error::msg)).transpose()?;
            plans.push((name.to_string(), store.read(|c| query::explain(c, &compiled, sort, 100))?));
        }
    }
    println!("\nPlans (SQLite EXPLAIN QUERY PLAN):\n");
    for (name, plan) in &plans {
        println!("* {name}: {}", plan.join("; "));
    }
    drop(reads);
    http_load(&a, app.clone())?;
    if !a.no_export {
        export(&app, findings)?;
    }
    Ok(())
}

/// Every finding as OCSF into a sink: findings per second, and the peak memory it added.
fn export(app: &App, findings: i64) -> Result<()> {
    let who = Principal::local();
    let before = crate::rss::peak_mib();
    let t = Instant::now();
    let mut bytes = 0u64;
    struct Count<'a>(&'a mut u64);
    impl std::io::Write for Count<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            *self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (_, summary) = app.export(&who, tributary_app::export::ExportFormat::Ocsf, "finding.status:*", Count(&mut bytes), &mut |_| {})?;
    let secs = t.elapsed().as_secs_f64();
    let rate = summary.written as f64 / secs;
    let grew = crate::rss::peak_mib() - before;
    println!("\n| export | findings | seconds | findings/s | MiB written | peak RSS growth MiB | target |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    println!(
        "| OCSF, every finding (`finding.status:*`; {findings} in the tenant) | {} | {secs:.1} | {rate:.0} | {:.0} | {grew:.0} | ≥ 200,000 findings/s {}; constant memory |",
        summary.written,
        bytes as f64 / 1048576.0,
        if rate >= 200_000.0 { "met" } else { "**missed**" },
    );
    Ok(())
}

fn http_load(a: &Args, app: App) -> Result<()> {
    let admin = Principal { name: "bench".into(), role: Role::Admin, user_id: None };
    let _ = app.add_user(&admin, "bench", Role::Viewer, Some("bench password 123"));
    let token = app.create_token(&admin, "bench", Some(1), Some("bench"))?.token;
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    server_rt.spawn(async move {
        let _ = tributary_server::serve(
            "127.0.0.1:0".parse().expect("addr"),
            served,
            async move {
                let _ = stop_rx.await;
            },
            |addr| {
                let _ = tx.send(addr);
            },
        )
        .await;
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).context("the server did not start")?;
    let url = format!("http://{addr}/api/v1/findings?limit=100");
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let (n, secs, lat) = client_rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(a.connections).build()?;
        let until = Instant::now() + Duration::from_secs(a.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..a.connections {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < until {
                    let t = Instant::now();
                    let r = client.get(&url).bearer_auth(&token).send().await?;
                    anyhow::ensure!(r.status().is_success(), "HTTP {}", r.status());
                    let _ = r.bytes().await?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                anyhow::Ok(lat)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok((all.len(), started.elapsed().as_secs_f64(), all))
    })?;
    // The web UI: a signed-in viewer loading the dashboard and the findings list, one
    // page after another (the latency of each load, as a browser would wait for it).
    let session = app.login("bench", "bench password 123")?.token;
    let base = format!("http://{addr}");
    let mut pages = Vec::new();
    for path in ["/", "/findings", "/issues"] {
        let lat = client_rt.block_on(async {
            let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
            let mut lat = Vec::with_capacity(a.pages);
            let mut cold = 0.0;
            for i in 0..a.pages + 5 {
                let t = Instant::now();
                let r = client.get(format!("{base}{path}")).header("cookie", format!("tributary_session={session}")).send().await?;
                anyhow::ensure!(r.status().is_success(), "GET {path}: HTTP {}", r.status());
                let _ = r.bytes().await?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if i == 0 {
                    cold = ms;
                }
                if i >= 5 {
                    lat.push(ms);
                }
            }
            anyhow::Ok((lat, cold))
        })?;
        pages.push((path, lat.0, lat.1));
    }
    let _ = stop_tx.send(());
    println!("\n| web UI page | first load ms | loads | p50 ms | p95 ms | max ms | target p95 |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (path, lat, cold) in pages {
        let n = lat.len();
        let (p50, p95, max) = percentiles(lat);
        let target = match path {
            "/" => 100.0,
            "/findings" => 50.0,
            _ => f64::INFINITY,
        };
        let verdict = if target.is_infinite() {
            "(not a target)".to_string()
        } else {
            format!("≤ {target:.0} ms {}", if p95 <= target { "met" } else { "**missed**" })
        };
        println!("| GET {path} | {cold:.0} | {n} | {p50:.1} | {p95:.1} | {max:.1} | {verdict} |");
    }
    let (p50, _, _) = percentiles(lat.clone());
    let mut sorted = lat;
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[((sorted.len() as f64 - 1.0) * 0.99).round() as usize];
    let rps = n as f64 / secs;
    println!("\n| HTTP | requests | req/s | p50 ms | p99 ms | target |");
    println!("|---|---:|---:|---:|---:|---|");
    println!(
        "| GET /api/v1/findings?limit=100, {} connections, {}s | {n} | {rps:.0} | {p50:.1} | {p99:.1} | ≥ 3,000 req/s {}; p99 ≤ 50 ms {} |",
        a.connections,
        a.seconds,
        if rps >= 3000.0 { "met" } else { "**missed**" },
        if p99 <= 50.0 { "met" } else { "**missed**" }
    );
    Ok(())
}
