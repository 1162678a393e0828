//! Imports of real SARIF from five producers (Bandit, Ruff, Flawfinder, ESLint, Semgrep)
//! run over the vulnerable sample app; the outputs are committed under
//! tests/fixtures/sarif with the script that regenerates them. On SQLite and PostgreSQL.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use serde_json::Value;
use tributary_connectors::import::FileFormat;
use tributary_engine::import::ImportRequest;
use tributary_engine::pipeline::NoProgress;
use tributary_store::params;

const REPO: &str = "https://github.com/acme/sample-app";

async fn import(e: &tributary_engine::Engine, file: &str) -> tributary_core::model::SyncRun {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sarif").join(file);
    let req = ImportRequest { format: FileFormat::Sarif, path, repo_url: REPO.into(), tool: None, allow_mass_close: false };
    e.import_file(req, "test", Arc::new(NoProgress)).await.expect("import").run.expect("a run")
}

/// Attributes of the findings of `product` with rule `rule`, by start line.
fn by_line(e: &tributary_engine::Engine, product: &str, rule: &str) -> Vec<(i64, String, Value)> {
    let rows: Vec<(String, String)> = sb(|| {
        e.store.read(|c| {
            let mut out = Vec::new();
            c.query_each(
                "SELECT attributes, status FROM findings WHERE product = ? AND title = ? ORDER BY id",
                params![product, rule],
                &mut |mut r| {
                    out.push((r.take(0)?, r.take(1)?));
                    Ok(())
                },
            )?;
            Ok(out)
        })
    })
    .expect("findings");
    let mut out: Vec<(i64, String, Value)> = rows
        .into_iter()
        .map(|(a, s)| {
            let v: Value = serde_json::from_str(&a).expect("json");
            (v["location"]["startLine"].as_i64().unwrap_or(0), s, v)
        })
        .collect();
    out.sort_by_key(|x| x.0);
    out
}

tributary_store::backend_tests! {
    fn five_producers_import_exactly_and_again_change_nothing(db) {
        let rt = rt();
        rt.block_on(async {
            let e = engine(&db);
            // (file, tool, results, findings open, risk-accepted)
            for (file, tool, total, open, accepted) in [
                ("bandit.sarif", "Bandit", 13, 13, 0),
                ("ruff.sarif", "ruff", 10, 10, 0),
                ("flawfinder.sarif", "Flawfinder", 7, 7, 0),
                ("eslint.sarif", "ESLint", 4, 3, 1),
                ("semgrep.sarif", "Semgrep OSS", 12, 12, 0),
            ] {
                let run = import(&e, file).await;
                assert_eq!((run.counts.fetched, run.counts.created), (total, total), "{file}: every result is its own finding");
                assert_eq!(count(&e, &format!("finding.vendorProductName:`{tool}` finding.status:open")), open, "{file}");
                assert_eq!(count(&e, &format!("finding.vendorProductName:`{tool}` finding.status:risk_accepted")), accepted, "{file}");
                let again = import(&e, file).await;
                assert_eq!(
                    (again.counts.created, again.counts.updated, again.counts.unchanged, again.counts.closed),
                    (0, 0, total, 0),
                    "{file}: importing it again is a no-op"
                );
            }
            assert_eq!(count(&e, "asset.type:repository"), 1, "one repository, five tools");

            // One rule at two places in one file: two findings (Bandit and Ruff, SQL built by formatting).
            let b608 = by_line(&e, "Bandit", "B608");
            assert_eq!(b608.iter().map(|x| x.0).collect::<Vec<_>>(), [14, 20]);
            assert!(b608.iter().all(|x| x.2["location"]["filePath"] == "app/views.py"));
            assert!(b608[0].2["externalFindingId"] != b608[1].2["externalFindingId"]);
            let s608 = by_line(&e, "ruff", "S608");
            assert_eq!(s608.iter().map(|x| x.0).collect::<Vec<_>>(), [14, 20]);
            assert_eq!(s608[0].2["location"]["filePath"], "app/views.py", "relative URIs");
            // One rule in two files: two findings.
            let b404 = by_line(&e, "Bandit", "B404");
            assert_eq!(b404.len(), 2);
            assert_ne!(b404[0].2["location"]["filePath"], b404[1].2["location"]["filePath"]);
            // Flawfinder: strcpy three times, each with its own contextHash fingerprint.
            let strcpy = by_line(&e, "Flawfinder", "FF1001");
            assert_eq!(strcpy.iter().map(|x| x.0).collect::<Vec<_>>(), [7, 13, 14]);
            assert_eq!(strcpy[0].2["location"]["snippet"], "    strcpy(buf, \"Hello, \");");
            assert_eq!(strcpy[0].2["findingType"]["codeWeakness"]["cweIds"], serde_json::json!([120]), "CWE from the rule's tags");
            // ESLint: the eval under eslint-disable is imported as risk-accepted, with why.
            let evals = by_line(&e, "ESLint", "no-eval");
            assert_eq!(evals.len(), 3);
            let reviewed = evals.iter().find(|x| x.1 == "risk_accepted").expect("suppressed");
            assert_eq!(reviewed.2["triage"]["comment"], "reviewed: expr comes from a constant table");
            assert_eq!(reviewed.2["triage"]["reason"], "inSource");
            assert_eq!(reviewed.2["location"]["filePath"], "js/widgets.js");
        });
    }
}
