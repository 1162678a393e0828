//! `cargo xtask bench semgrep`: a Semgrep full sync (reference tenant: 500,000 SAST +
//! 200,000 SCA findings over 2,000 projects) through the whole pipeline against a floor
//! measured in the same run, a delta after one simulated day, and the import of a
//! generated ~100 MB SARIF file.
//!
//! The floor fetches the same pages with the same client, parses them, and inserts one
//! findings row per record with a plain prepared INSERT in 10,000-row transactions — no
//! transform map, projects, identification, diff, raw records or checkpoints.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use tributary_connectors::Settings;
use tributary_connectors::import::FileFormat;
use tributary_core::secret::Secret;
use tributary_engine::Engine;
use tributary_engine::import::ImportRequest;
use tributary_engine::integrations::NewIntegration;
use tributary_engine::pipeline::NoProgress;
use tributary_sim::config::DEFAULT_SEMGREP_TOKEN;
use tributary_store::params;

use super::phases;
use crate::rss;

#[derive(clap::Args)]
pub struct Args {
    /// Simulated tenant: small, medium or reference (500k SAST + 200k SCA).
    #[arg(long, default_value = "reference")]
    scale: String,
    /// Size of the generated SARIF file to import, in MB.
    #[arg(long, default_value_t = 100)]
    sarif_mb: u64,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    /// fetch | floor | sync | parse | import | generate
    #[arg(long)]
    phase: String,
    /// Simulator URL (sync phases) or SARIF file (import phases).
    #[arg(long)]
    url: String,
    #[arg(long)]
    dir: std::path::PathBuf,
    /// `generate`: size of the SARIF file written to --url, in MB.
    #[arg(long, default_value_t = 100)]
    mb: u64,
}

pub fn run(a: Args) -> Result<()> {
    let (sim, base) = super::sim::spawn_server(&a.scale, None)?;
    let phases = phases::sync_phases("semgrep-child", sim, &base)?;

    // The import: a generated SARIF file, parsed alone, then imported.
    let dir = std::env::temp_dir().join(format!("tributary-bench-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("bench.sarif");
    let results = write_sarif(&file, a.sarif_mb * 1_000_000)?;
    let mb = std::fs::metadata(&file)?.len() as f64 / 1e6;
    let imports = phases::run_phases_with(
        "semgrep-child",
        &file.display().to_string(),
        &[("parse", "SARIF parse only (peek + stream)"), ("import", "tributary import sarif")],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let imports = imports?;

    println!("cargo xtask bench semgrep --scale {} --sarif-mb {}\n", a.scale, a.sarif_mb);
    phases::print_table(&phases, "findings");
    phases::print_delta(&phases, |f| {
        format!(
            "findings fetched: {}; new/closed: {}/{}; open and triaged equal sim truth",
            f("delta_fetched"),
            f("delta_created"),
            f("delta_closed")
        )
    });
    println!("\nSARIF import: {mb:.1} MB, {results} results");
    for (label, v) in &imports {
        println!(
            "{:<32} {:>10} {:>7.2} {:>11} {:>9} {:>5.0} MiB",
            label,
            phases::num(v, "records"),
            phases::num(v, "secs"),
            "",
            "",
            phases::num(v, "rss_mib")
        );
    }
    println!(
        "\n(vs floor: phase secs / floor secs; 1.00 = as fast as the floor. sim CPU: the simulator's own CPU time in that phase, on the same 2 cores)"
    );
    Ok(())
}

pub fn child(a: ChildArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let out = match a.phase.as_str() {
        "fetch" => fetch(&rt, &a)?,
        "floor" => floor(&rt, &a)?,
        "sync" => sync(&rt, &a)?,
        "parse" => parse(&a)?,
        "import" => import(&rt, &a)?,
        // Not a measured phase: writes the SARIF file the import phases read.
        "generate" => json!({"records": write_sarif(Path::new(&a.url), a.mb * 1_000_000)?}),
        other => bail!("unknown phase {other}"),
    };
    println!("{out}");
    Ok(())
}

fn settings(url: &str) -> Settings {
    Settings {
        base_url: format!("{url}/semgrep"),
        config: json!({"scan": ["sast", "sca"], "auto_map_future": true}),
        secret: Secret::new(DEFAULT_SEMGREP_TOKEN),
        http: Default::default(),
    }
}

fn fetch(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let connector = (tributary_connectors::semgrep::KIND.build)(settings(&a.url))?;
    let t = Instant::now();
    let (records, _) = phases::fetch_only(rt, connector.as_ref(), |_| 1)?;
    Ok(json!({"records": records, "secs": t.elapsed().as_secs_f64(), "rss_mib": rss::peak_mib()}))
}

fn floor(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let store = phases::open_store(&a.dir)?;
    let connector = (tributary_connectors::semgrep::KIND.build)(settings(&a.url))?;
    let (n, _, secs) = phases::floor(
        rt,
        &store,
        connector.as_ref(),
        |_| 1,
        |tx, n, r| {
            let kind = if r.stream == "sast" { "code_weakness" } else { "vulnerability" };
            let title = r.body["rule_name"].as_str().unwrap_or("");
            let fkey = tributary_store::ingest::finding_key(1, tributary_core::model::FindingKind::CodeWeakness, &r.key);
            tx.execute(
            "INSERT INTO findings (asset_id, fkey, integration_id, kind, product, external_id, title, severity, source_severity, status, \
             first_seen, last_seen, chash, attributes, created_at, updated_at) \
             VALUES (?, ?, 1, ?, 'Semgrep', ?, ?, 3, ?, 'open', 1, 1, 0, ?, 1, 1)",
            params![(n % 2000) as i64, fkey, kind, r.key.as_str(), title, r.body["severity"].as_str(), r.body.to_string().as_str()],
        )?;
            Ok(())
        },
    )?;
    Ok(json!({"records": n, "secs": secs, "rss_mib": rss::peak_mib()}))
}

fn sync(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let s = settings(&a.url);
    let integration = NewIntegration {
        name: "semgrep".into(),
        kind: "semgrep".into(),
        base_url: s.base_url,
        config: s.config,
        secret: s.secret,
        test: true,
    };
    let r = phases::full_then_delta(rt, &a.dir, &a.url, integration)?;
    // The counts after the delta (and the reconcile, which changed nothing) against the
    // simulator's truth: open and triaged per product.
    let truth: Value = rt.block_on(async { reqwest::get(format!("{}/_sim/truth", a.url)).await?.json().await })?;
    let mut matches = true;
    for (product, key) in [("Semgrep Code", "sast"), ("Semgrep Supply Chain", "sca")] {
        let open: i64 =
            r.engine.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings WHERE product = ? AND status = 'open'", params![product]))?;
        let triaged: i64 = r.engine.store.read(|c| {
            c.scalar("SELECT COUNT(*) FROM findings WHERE product = ? AND status IN ('risk_accepted', 'false_positive')", params![product])
        })?;
        let (want_open, want_triaged) =
            (truth["semgrep"][format!("{key}_findings")].as_i64(), truth["semgrep"][format!("{key}_findings_triaged")].as_i64());
        if Some(open) != want_open || Some(triaged) != want_triaged {
            eprintln!("{product}: open {open} vs truth {want_open:?}, triaged {triaged} vs truth {want_triaged:?}");
            matches = false;
        }
    }
    if !matches {
        bail!("after the delta the open / triaged counts differ from sim truth");
    }
    Ok(json!({
        "records": r.full.counts.fetched, "secs": r.secs, "rss_mib": r.rss_mib, "checkpoint_secs": r.checkpoint_secs,
        "delta_secs": r.delta_secs, "delta_fetched": r.delta.counts.fetched, "delta_created": r.delta.counts.created, "delta_closed": r.delta.counts.closed,
        "reconcile_secs": r.reconcile_secs, "reconcile_changed": r.reconcile.counts.created + r.reconcile.counts.updated, "reconcile_closed": r.reconcile.counts.closed,
    }))
}

/// Parse alone: the SARIF peeked and streamed, each result built as a value, nothing kept
/// (the reading `tributary import` does).
fn parse(a: &ChildArgs) -> Result<Value> {
    let path = Path::new(&a.url);
    let t = Instant::now();
    let inspected = tributary_connectors::import::peek(path, FileFormat::Sarif)?;
    let mut n = 0u64;
    tributary_connectors::import::read(path, FileFormat::Sarif, &inspected, "github.com/acme/bench", &mut |_| {
        n += 1;
        Ok(())
    })?;
    Ok(json!({"records": n, "secs": t.elapsed().as_secs_f64(), "rss_mib": rss::peak_mib()}))
}

fn import(rt: &tokio::runtime::Runtime, a: &ChildArgs) -> Result<Value> {
    let engine = Engine::new(phases::open_store(&a.dir)?);
    engine.bootstrap()?;
    let t = Instant::now();
    let req = ImportRequest {
        format: FileFormat::Sarif,
        path: a.url.clone().into(),
        repo_url: "https://github.com/acme/bench".into(),
        tool: None,
        allow_mass_close: false,
    };
    let out = rt.block_on(engine.import_file(req, "bench", Arc::new(NoProgress)))?;
    Ok(json!({"records": out.run.map_or(0, |r| r.counts.created), "secs": t.elapsed().as_secs_f64(), "rss_mib": rss::peak_mib()}))
}

/// Writes a SARIF 2.1.0 log of about `bytes` bytes (deterministic), returns its results.
fn write_sarif(path: &Path, bytes: u64) -> Result<u64> {
    const CWES: [u32; 8] = [89, 78, 79, 502, 22, 798, 327, 94];
    const LEVELS: [&str; 3] = ["error", "warning", "note"];
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let rules: Vec<Value> = (0..50)
        .map(|i| {
            json!({"id": format!("bench.rule-{i}"), "name": format!("bench.rule-{i}"),
                   "shortDescription": {"text": format!("Rule {i}")}, "defaultConfiguration": {"level": LEVELS[i % 3]},
                   "properties": {"precision": "high", "tags": [format!("CWE-{}: something", CWES[i % 8]), "security"]}})
        })
        .collect();
    write!(w, "{{\"version\":\"2.1.0\",\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"runs\":[{{\"tool\":")?;
    serde_json::to_writer(&mut w, &json!({"driver": {"name": "BenchScanner", "semanticVersion": "1.0.0", "rules": rules}}))?;
    write!(w, ",\"results\":[")?;
    let (mut written, mut n) = (0u64, 0u64);
    while written < bytes {
        let line = 1 + (n * 7919) % 5000;
        let r = json!({
            "ruleId": format!("bench.rule-{}", n % 50),
            "level": LEVELS[(n % 3) as usize],
            "message": {"text": format!("Finding {n}: user input reaches a sensitive sink without validation in handler {}.", n % 997)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("src/module{}/file{}.py", n % 131, n % 1009), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line, "startColumn": 5, "endLine": line + 1, "endColumn": 40,
                           "snippet": {"text": format!("    result = handler_{n}(request.args.get('q'))")}}}}],
            "fingerprints": {"matchBasedId/v1": format!("{:064x}", (n as u128).wrapping_mul(0x9E3779B97F4A7C15))},
            "properties": {}
        });
        if n > 0 {
            w.write_all(b",")?;
        }
        let text = serde_json::to_vec(&r)?;
        written += text.len() as u64 + 1;
        w.write_all(&text)?;
        n += 1;
    }
    write!(w, "]}}]}}")?;
    w.flush()?;
    Ok(n)
}
