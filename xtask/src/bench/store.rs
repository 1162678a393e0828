//! `cargo xtask bench store`: the store's bulk upsert path against a plain-INSERT floor.
//!
//! Workload: N synthetic findings, 20 per host asset, in pages of 100 assets (2,000
//! findings), committed every 25 pages (50,000 findings, the ingest writer's commit
//! size) — the shape of a Cortex XDR sync.
//! Phases, each on the same database, through `ingest::write_page`:
//! 1. first load (empty tables), 2. unchanged re-upsert, 3. 1 % of findings changed.
//!
//! Floor: the same rows, same tables and indexes, inserted with one plain prepared
//! single-row INSERT per row in 10,000-row transactions, into a fresh database.
//!
//! Each backend runs in its own child process so its peak RSS is its own.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;
use tributary_core::identify::{self, Identifier, IdentifierKind};
use tributary_core::model::{AssetKind, FindingKind, FindingStatus, Severity};
use tributary_core::secret::{MasterKey, Secret};
use tributary_core::transform::{StagedAsset, StagedFinding, seal_attributes};
use tributary_store::ingest::{self, Completeness, PageIn, RecordIn, RunContext};
use tributary_store::repo::{integrations, runs};
use tributary_store::{Store, StoreOptions, params};

use super::{Phase, fmt_rate};
use crate::{pg::Pg, rss};

const PER_ASSET: usize = 20;
const ASSETS_PER_PAGE: usize = 100;
/// Pages per write transaction (50,000 findings): what the ingest writer commits at once.
const PAGES_PER_TX: usize = 25;
/// The floor's transaction size, as the issue defines it.
const FLOOR_TX_PAGES: usize = 5;

#[derive(clap::Args)]
pub struct Args {
    /// Findings to upsert (20 per host asset).
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Repetitions; each phase reports its median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    backend: String,
    #[arg(long)]
    rows: usize,
    #[arg(long)]
    dir: PathBuf,
    #[arg(long)]
    pg: Option<String>,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Skip the floor (for profiling the upsert phases alone); ratios print as 0.
    #[arg(long, hide = true)]
    skip_floor: bool,
    /// Stop after the first load (for profiling it alone).
    #[arg(long, hide = true)]
    first_only: bool,
}

pub fn run(a: Args) -> Result<()> {
    let backends: Vec<&str> = match a.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => bail!("unknown backend '{other}' (sqlite, postgres or both)"),
    };
    let pg = if backends.contains(&"postgres") { Some(Pg::get()?) } else { None };
    println!("cargo xtask bench store --rows {} --backend {} --reps {}", a.rows, a.backend, a.reps);
    println!(
        "{} findings + {} host assets; pages of {} findings; commit every {} findings\n",
        a.rows,
        a.rows / PER_ASSET,
        ASSETS_PER_PAGE * PER_ASSET,
        ASSETS_PER_PAGE * PER_ASSET * PAGES_PER_TX
    );
    println!("{:<9} {:<20} {:>10} {:>8} {:>11} {:>9}", "backend", "phase", "rows", "secs", "rows/s", "vs floor");
    for b in backends {
        let dir = std::env::temp_dir().join(format!("tributary-bench-store-{}-{b}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["bench", "store-child", "--backend", b, "--rows", &a.rows.to_string(), "--reps", &a.reps.to_string(), "--dir"]).arg(&dir);
        if b == "postgres"
            && let Some(pg) = &pg
        {
            cmd.args(["--pg", &pg.url]);
        }
        let status = cmd.status().context("running the benchmark child")?;
        let _ = std::fs::remove_dir_all(&dir);
        if !status.success() {
            bail!("the {b} benchmark failed");
        }
    }
    Ok(())
}

/// One synthetic page: `ASSETS_PER_PAGE` hosts with `PER_ASSET` CVEs each. Every
/// `change_every`-th finding gets a different severity (the "1 % changed" phase).
fn page(n: usize, change_every: Option<usize>) -> PageIn {
    let mut records = Vec::with_capacity(ASSETS_PER_PAGE);
    for a in 0..ASSETS_PER_PAGE {
        let asset_no = n * ASSETS_PER_PAGE + a;
        let agent = format!("{:032x}", (asset_no as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let host = format!("host-{asset_no:07}");
        let mac = format!("00:16:3e:{:02x}:{:02x}:{:02x}", (asset_no >> 16) & 0xff, (asset_no >> 8) & 0xff, asset_no & 0xff);
        let attributes = json!({
            "externalAssetId": agent, "hostName": host, "operatingSystem": {"name": "Ubuntu", "version": "22.04"},
            "networkInterfaces": [{"ipv4Address": format!("10.{}.{}.{}", (asset_no >> 16) & 0xff, (asset_no >> 8) & 0xff, asset_no & 0xff), "macAddress": mac}],
        });
        let (attributes, content_hash) = seal_attributes(&attributes);
        let asset = StagedAsset {
            kind: AssetKind::Host,
            source_key: Some(agent.clone()),
            name: host,
            identifiers: vec![
                Identifier { kind: IdentifierKind::AgentId, value: format!("synthetic:{agent}") },
                Identifier { kind: IdentifierKind::Mac, value: mac },
            ],
            first_seen: Some(1_767_225_600_000),
            last_seen: Some(1_795_420_800_000),
            retired: false,
            content_hash,
            attributes,
        };
        let mut findings = Vec::with_capacity(PER_ASSET);
        for f in 0..PER_ASSET {
            let global = asset_no * PER_ASSET + f;
            let changed = change_every.is_some_and(|k| global.is_multiple_of(k));
            let cve = format!("CVE-{}-{:05}", 2015 + (global * 7 + f) % 11, (global * 31 + f * 977) % 99_991);
            let severity = if changed { Severity::Critical } else { [Severity::Low, Severity::Medium, Severity::High][f % 3] };
            let attributes = json!({
                "externalFindingId": cve, "name": cve, "severity": severity.as_str(), "sourceSeverity": severity.as_str().to_uppercase(),
                "description": format!("{cve}: a synthetic vulnerability in package lib{f} that allows remote attackers to do something unpleasant through a crafted request to the service endpoint of host {asset_no}."),
                "findingType": {"vulnerability": {"cveId": cve, "affectedProduct": format!("lib{f}")}},
            });
            let (attributes, content_hash) = seal_attributes(&attributes);
            findings.push(StagedFinding {
                kind: FindingKind::Vulnerability,
                product: "Synthetic".into(),
                external_id: format!("{cve}#{f}"),
                title: cve.clone(),
                severity,
                source_severity: Some(severity.as_str().to_uppercase()),
                source_score: Some(5.0 + (f % 5) as f64),
                status: FindingStatus::Open,
                correlation: tributary_core::transform::Correlation::Cve { cve: cve.clone() },
                traits: Default::default(),
                cve: Some(cve),
                cvss: None,
                first_seen: Some(1_790_000_000_000),
                last_seen: Some(1_795_420_800_000),
                content_hash,
                attributes,
            });
        }
        records.push(RecordIn {
            stream: "endpoint".into(),
            key: format!("{asset_no}"),
            asset: Some(asset),
            findings,
            ..RecordIn::default()
        });
    }
    PageIn { fetched: ASSETS_PER_PAGE as i64, cursor: Some(json!({"page": n + 1})), records, ..PageIn::default() }
}

struct Db {
    store: Store,
    ctx: RunContext,
    /// PostgreSQL: (admin URL, schema) to drop afterwards.
    cleanup: Option<(String, String)>,
}

fn open(a: &ChildArgs, name: &str) -> Result<Db> {
    let key = MasterKey::generate();
    let data = a.dir.join(name);
    let (url, cleanup) = match a.backend.as_str() {
        "sqlite" => (format!("sqlite://{}", data.join("bench.db").display()), None),
        _ => {
            let base = a.pg.clone().context("--pg is required for postgres")?;
            let schema = format!("bench_{name}_{}", std::process::id());
            let mut admin = postgres::Client::connect(&base, postgres::NoTls)?;
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))?;
            let sep = if base.contains('?') { '&' } else { '?' };
            (format!("{base}{sep}options=-csearch_path%3D{schema}"), Some((base, schema)))
        }
    };
    let store = Store::open(&StoreOptions::new(&data).db(url).master_key(key.to_hex()))?;
    let secret = Secret::new("bench");
    let integration = store.write(|c| {
        integrations::create(
            c,
            store.key(),
            integrations::NewIntegration {
                name: "bench",
                kind: "synthetic",
                base_url: "http://127.0.0.1",
                config: json!({}),
                secret: &secret,
            },
        )
    })?;
    let run = store.write(|c| runs::start(c, integration.id, None, tributary_core::model::SyncMode::Delta, "bench"))?;
    let ctx = RunContext {
        run_id: run.id,
        integration_id: integration.id,
        source: "Synthetic".into(),
        full: false,
        completeness: Completeness::PerAsset,
        rules: identify::default_rules(),
        scope: None,
        seen_in_memory: None,
        scope_is_new: false,
    };
    Ok(Db { store, ctx, cleanup })
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.cleanup
            && let Ok(mut admin) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Upserts every page through the ingest path; returns (findings written, seconds).
fn upsert_all(db: &Db, pages: usize, change_every: Option<usize>, expect: impl Fn(&tributary_core::model::RunCounts)) -> Result<Phase> {
    let mut secs = 0.0;
    let mut total = tributary_core::model::RunCounts::default();
    let mut p = 0;
    while p < pages {
        let group: Vec<PageIn> = (p..(p + PAGES_PER_TX).min(pages)).map(|n| page(n, change_every)).collect();
        p += group.len();
        let t = Instant::now();
        let counts = db.store.write(|c| {
            let mut sum = tributary_core::model::RunCounts::default();
            for pg in group {
                sum.add(&ingest::write_page(c, &db.ctx, pg)?);
            }
            Ok(sum)
        })?;
        secs += t.elapsed().as_secs_f64();
        total.add(&counts);
    }
    expect(&total);
    Ok(Phase { name: String::new(), rows: (pages * ASSETS_PER_PAGE * PER_ASSET) as u64, secs })
}

/// The floor: the same rows with plain single-row INSERTs, 10,000 rows per transaction.
fn floor(db: &Db, pages: usize) -> Result<Phase> {
    let mut secs = 0.0;
    let mut next_asset = 1i64;
    let mut next_finding = 1i64;
    let finding_sql = "INSERT INTO findings (id, asset_id, fkey, integration_id, kind, product, external_id, title, severity, \
        source_severity, source_score, status, cve, first_seen, last_seen, chash, attributes, created_at, updated_at) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let asset_sql = "INSERT INTO assets (id, kind, name, identity, matched_rule, attributes, first_seen, last_seen, created_at, updated_at) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let mut p = 0;
    while p < pages {
        let group: Vec<PageIn> = (p..(p + FLOOR_TX_PAGES).min(pages)).map(|n| page(n, None)).collect();
        p += group.len();
        let t = Instant::now();
        db.store.write(|c| {
            for pg in &group {
                for r in &pg.records {
                    let Some(a) = &r.asset else { continue };
                    let attrs = a.attributes.as_str();
                    let identity = format!("agent_id:{}", a.identifiers[0].value);
                    c.execute(
                        asset_sql,
                        params![next_asset, "host", a.name.as_str(), identity.as_str(), "agent_id", attrs, 1i64, 1i64, 1i64, 1i64],
                    )?;
                    for f in &r.findings {
                        let fkey = ingest::finding_key(db.ctx.integration_id, f.kind, &f.external_id);
                        let attrs = f.attributes.as_str();
                        c.execute(
                            finding_sql,
                            params![
                                next_finding,
                                next_asset,
                                fkey,
                                db.ctx.integration_id,
                                "vulnerability",
                                f.product.as_str(),
                                f.external_id.as_str(),
                                f.title.as_str(),
                                f.severity.ocsf_id(),
                                f.source_severity.as_deref(),
                                f.source_score,
                                "open",
                                f.cve.as_deref(),
                                1i64,
                                1i64,
                                f.content_hash,
                                attrs,
                                1i64,
                                1i64
                            ],
                        )?;
                        next_finding += 1;
                    }
                    next_asset += 1;
                }
            }
            Ok(())
        })?;
        secs += t.elapsed().as_secs_f64();
    }
    Ok(Phase { name: String::new(), rows: (pages * ASSETS_PER_PAGE * PER_ASSET) as u64, secs })
}

fn median(mut v: Vec<Phase>, name: &str) -> Phase {
    v.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let mid = v.swap_remove(v.len() / 2);
    Phase { name: name.to_string(), ..mid }
}

pub fn child(a: ChildArgs) -> Result<()> {
    let pages = a.rows.div_ceil(ASSETS_PER_PAGE * PER_ASSET);
    let n = (pages * ASSETS_PER_PAGE * PER_ASSET) as i64;
    let (mut floors, mut firsts, mut sames, mut changes) = (vec![], vec![], vec![], vec![]);
    for rep in 0..a.reps.max(1) {
        if a.skip_floor {
            floors.push(Phase { name: String::new(), rows: 0, secs: 1.0 });
        } else {
            let floor_db = open(&a, &format!("floor{rep}"))?;
            floors.push(floor(&floor_db, pages)?);
            drop(floor_db);
        }
        let db = open(&a, &format!("upsert{rep}"))?;
        firsts.push(upsert_all(&db, pages, None, |c| assert_eq!((c.created, c.assets_created), (n, n / PER_ASSET as i64)))?);
        if a.first_only {
            drop(db);
            let _ = std::fs::remove_dir_all(a.dir.join(format!("upsert{rep}")));
            println!("{:<9} first load {:.2} s", a.backend, firsts[rep].secs);
            return Ok(());
        }
        sames.push(upsert_all(&db, pages, None, |c| assert_eq!((c.unchanged, c.created, c.updated), (n, 0, 0)))?);
        changes.push(upsert_all(&db, pages, Some(100), |c| assert_eq!(c.updated, n / 100))?);
        drop(db);
        let _ = std::fs::remove_dir_all(a.dir.join(format!("floor{rep}")));
        let _ = std::fs::remove_dir_all(a.dir.join(format!("upsert{rep}")));
    }
    let f = median(floors, "floor (plain INSERT)");
    let phases = [median(firsts, "first load"), median(sames, "unchanged re-upsert"), median(changes, "1% changed")];
    let floor_rate = f.rate();
    for ph in std::iter::once(&f).chain(phases.iter()) {
        println!(
            "{:<9} {:<20} {:>10} {:>8.2} {:>11} {:>8.2}x",
            a.backend,
            ph.name,
            ph.rows,
            ph.secs,
            fmt_rate(ph.rate()),
            ph.rate() / floor_rate
        );
    }
    println!("{:<9} peak RSS {:.0} MiB (median of {} runs per phase)\n", a.backend, rss::peak_mib(), a.reps.max(1));
    Ok(())
}
