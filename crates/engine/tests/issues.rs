//! Repository context from Cortex Cloud, correlation into issues, stored scores that add
//! up, and what deleting an integration does to them — on SQLite and PostgreSQL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::*;
use serde_json::{Value, json};
use tributary_connectors::import::FileFormat;
use tributary_core::secret::Secret;
use tributary_engine::import::ImportRequest;
use tributary_engine::integrations::NewIntegration;
use tributary_engine::pipeline::NoProgress;
use tributary_sim::tenant::semgrep::RepoLink;
use tributary_store::repo::{context, coverage, integrations, issues, metrics, policies};

fn cloud(name: &str, sim: &tributary_sim::SimServer) -> NewIntegration {
    NewIntegration {
        name: name.into(),
        kind: "cortex-cloud".into(),
        base_url: sim.base_url("cortex-cloud"),
        config: json!({"key_id": tributary_sim::config::DEFAULT_CLOUD_KEY_ID}),
        secret: Secret::new(tributary_sim::config::DEFAULT_CLOUD_KEY),
        test: true,
    }
}

/// Every issue with its score and stored factors.
fn issue_table(e: &tributary_engine::Engine) -> BTreeMap<i64, (i64, i64, String)> {
    sb(|| {
        e.store.read(|c| {
            let rows = c.query("SELECT id, score, sources, factors FROM issues", &[])?;
            rows.into_iter().map(|mut r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.take(3)?)))).collect()
        })
    })
    .unwrap()
}

tributary_store::backend_tests! {
    fn issue_counts_equal_the_simulators_truth_with_code_to_runtime(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(5)).await;
            let e = engine(&db);
            e.add_integration(cloud("cloud", &sim), "test").await.unwrap();
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            for name in ["cloud", "xdr", "sg"] {
                sync(&e, name, true).await.unwrap();
            }
            let truth = truth(&sim);
            // Hosts are marked internet-exposed from the attack-surface records.
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM host_context", &[]), n(&truth["cortex_xdr"]["endpoints_in_attack_surface"]));
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM host_context WHERE exposed = 1", &[]), n(&truth["cortex_xdr"]["endpoints_internet_exposed"]));
            assert!(n(&truth["cortex_xdr"]["endpoints_internet_exposed"]) > 0);
            let want = &truth["issues"];
            assert!(n(&want["code_to_runtime"]) > 0, "the tenant has code-to-runtime issues: {want}");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues", &[]), n(&want["total"]), "{want}");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues WHERE sources > 1", &[]), n(&want["multi_source"]), "{want}");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues WHERE kind = 'code_to_runtime'", &[]), n(&want["code_to_runtime"]), "{want}");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issue_links", &[]), n(&want["host_findings_linked"]), "{want}");
            // A code-to-runtime issue shows both ends: the package in the repository, and
            // the host where that repository runs.
            let id = scalar(&e, "SELECT id FROM issues WHERE kind = 'code_to_runtime' ORDER BY id LIMIT 1", &[]);
            let ends = sb(|| e.store.read(|c| issues::findings(c, id))).unwrap();
            assert!(ends.iter().any(|f| f.product == "Cortex XDR"), "{ends:?}");
            assert!(ends.iter().any(|f| f.product == "Semgrep Supply Chain"), "{ends:?}");
            // Two derivations at once (two runs ending together, two nodes) both succeed and
            // change nothing here.
            let before = issue_table(&e);
            for _ in 0..5 {
                let results = std::thread::scope(|s| {
                    let a = s.spawn(|| e.store.write(|c| issues::follow(c, vec![], true, false)));
                    let b = s.spawn(|| e.store.write(|c| issues::follow(c, vec![], true, false)));
                    [a.join().unwrap(), b.join().unwrap()]
                });
                for r in results {
                    r.expect("a derivation beside another");
                }
            }
            assert_eq!(issue_table(&e), before);
            // The same input gives the same issues: rebuilt from scratch, all the same.
            sb(|| e.store.write(|c| issues::refresh_all(c))).unwrap();
            assert_eq!(issue_table(&e), before);
            // An upgrade from schema 6 (whose issue ids had another shape: here the negated
            // ids stand for them) gives every finding today's id, links code to runtime
            // again, and keeps which issues a webhook was told of, under their new ids.
            let pairs = |sql: &str| -> BTreeSet<(i64, i64)> {
                sb(|| e.store.read(|c| c.query(sql, &[])?.into_iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect())).unwrap()
            };
            sb(|| {
                e.store.write(|c| {
                    c.execute("INSERT INTO webhooks (name, kind, url_hint, events, created_at, updated_at) VALUES ('w', 'generic', 'h', '[]', 0, 0)", &[])?;
                    c.execute(
                        "INSERT INTO notified_issues (webhook_id, issue_id, notified_at) SELECT (SELECT id FROM webhooks), id, 1 FROM issues \
                         WHERE kind = 'code_to_runtime' OR id IN (SELECT id FROM issues ORDER BY score DESC LIMIT 5)",
                        &[],
                    )
                })
            })
            .unwrap();
            let notified = pairs("SELECT webhook_id, issue_id FROM notified_issues");
            let links = pairs("SELECT finding_id, issue_id FROM issue_links");
            let members = pairs("SELECT id, issue_id FROM findings");
            assert!(notified.len() > 5 && !links.is_empty());
            sb(|| {
                e.store.write(|c| {
                    for sql in [
                        "UPDATE findings SET issue_id = -issue_id",
                        "UPDATE issues SET id = -id",
                        "UPDATE issue_links SET issue_id = -issue_id",
                        "UPDATE notified_issues SET issue_id = -issue_id",
                        "UPDATE meta SET value = '6' WHERE key = 'schema_version'",
                    ] {
                        c.execute(sql, &[])?;
                    }
                    Ok(())
                })
            })
            .unwrap();
            let upgraded = sb(|| db.open());
            assert_eq!(upgraded.migration().from, Some(6));
            drop(upgraded);
            assert_eq!(pairs("SELECT id, issue_id FROM findings"), members);
            assert_eq!(pairs("SELECT finding_id, issue_id FROM issue_links"), links);
            assert_eq!(pairs("SELECT webhook_id, issue_id FROM notified_issues"), notified);
            assert_eq!(issue_table(&e), before);
            // Deleting Cortex XDR, by the seed's rules, on this tenant where one CVE is seen by
            // Semgrep Supply Chain and Cortex XDR: the code-to-runtime issues keep their
            // Semgrep findings, XDR's policy results and metrics go, the policy stays.
            let vulns = || scalar(&e, "SELECT COUNT(*) FROM findings WHERE kind = 'vulnerability' AND status = 'open'", &[]);
            let p = sb(|| e.store.write(|c| policies::add(c, "vulns", "finding.kind:vulnerability", "patch"))).unwrap();
            assert_eq!(p.matched, vulns());
            let x = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap().id;
            assert!(scalar(&e, "SELECT COUNT(*) FROM metrics_daily WHERE integration_id = ?", tributary_store::params![x]) > 0);
            sb(|| e.store.write(|c| integrations::delete(c, x))).unwrap();
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM integrations WHERE id = ?", tributary_store::params![x]), 0, "configuration and key gone");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM findings WHERE integration_id = ?", tributary_store::params![x]), 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policy_results", &[]), vulns(), "only XDR's results went");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policies", &[]), 1, "the policy stays");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM metrics_daily WHERE integration_id = ?", tributary_store::params![x]), 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues WHERE kind = 'vulnerability' AND asset_id IN (SELECT id FROM assets WHERE kind = 'host')", &[]), 0, "host-only issues went");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues WHERE sources > 1", &[]), 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issue_links", &[]), 0);
            let (kept, _) = sb(|| e.store.read(|c| issues::get(c, id))).unwrap();
            assert_eq!((kept.kind.as_str(), kept.sources), ("vulnerability", 1));
        });
    }

    fn cortex_cloud_context_follows_the_seed_rules(db) {
        let rt = rt();
        rt.block_on(async {
            // Enough repositories that some sit behind an AWS classic load balancer.
            let sim = sim(tributary_sim::SimConfig::new(7, tributary_sim::Scale { cloud_repositories: 400, semgrep_projects: 400, ..tributary_sim::Scale::small() })).await;
            let e = engine(&db);
            e.add_integration(cloud("cloud", &sim), "test").await.unwrap();
            // A second one is refused, by name.
            let err = e.add_integration(cloud("cloud2", &sim), "test").await.unwrap_err().to_string();
            assert!(err.contains("only one Cortex Cloud integration") && err.contains("'cloud'"), "{err}");
            // Its own profile runs every 24 hours (the seed's sync interval).
            let profile = sb(|| e.store.read(|c| {
                let id = integrations::get(c, "cloud")?.id;
                tributary_store::repo::profiles::default_for(c, id)
            })).unwrap().expect("a default profile");
            assert!(profile.active);
            assert!(
                matches!(profile.schedule, tributary_core::model::Schedule::Every { every_ms, .. } if every_ms == 24 * 3_600_000),
                "{:?}", profile.schedule
            );
            sync(&e, "cloud", true).await.unwrap();
            e.add_integration(semgrep("sg", &sim, json!({"write_back": true})), "test").await.unwrap();
            sync(&e, "sg", true).await.unwrap();

            // Write-back: every project of a repository with context carries its tags in
            // Semgrep itself; a second run changes nothing more.
            let tagged = |p: &tributary_sim::tenant::semgrep::ProjectInfo| -> Vec<String> {
                sim.world.project_json(p, true).tags.into_iter().map(|t| t.into_owned()).filter(|t| t.starts_with("tributary:")).collect()
            };
            let writes = scalar(&e, "SELECT COUNT(*) FROM audit_events WHERE action = 'project.tags'", &[]);
            assert!(writes > 0);
            sync(&e, "sg", true).await.unwrap();
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM audit_events WHERE action = 'project.tags'", &[]), writes, "nothing more to write");

            let rows: BTreeMap<String, context::RepoContext> =
                sb(|| e.store.read(context::list)).unwrap().into_iter().map(|r| (r.repository.clone(), r)).collect();
            let w = &sim.world;
            // Which repositories a fresh, SCM-connected project maps to, and which only stale ones.
            let (mut fresh, mut stale) = (BTreeSet::new(), BTreeSet::new());
            for p in 0..w.project_count() {
                let info = w.project(p);
                if let RepoLink::Cloud(r) = info.link {
                    if info.stale { stale.insert(r) } else { fresh.insert(r) };
                }
            }
            let (mut unsupported, mut checked_stale) = (0, 0);
            for r in 0..w.repository_count() {
                let name = tributary_sim::tenant::cloud::repo_full_name(r);
                let (exposure, _) = w.repository_exposure(r, w.day());
                let Some(row) = rows.get(&name) else { panic!("no context row for {name}") };
                let projects: Vec<_> =
                    (0..w.project_count()).map(|p| w.project(p)).filter(|p| matches!(p.link, RepoLink::Cloud(x) if x == r)).collect();
                for p in &projects {
                    let mut want = Vec::new();
                    if fresh.contains(&r) && exposure.deployment_status() == "DEPLOYED" {
                        want.push("tributary:deployed".to_string());
                    }
                    if fresh.contains(&r) && exposure.internet_exposure() == "EXPOSED" {
                        want.push("tributary:internet-exposed".to_string());
                    }
                    assert_eq!(tagged(p), want, "{name}: project {}", p.name);
                }
                if fresh.contains(&r) {
                    assert_eq!(row.reason, None, "{name}");
                    assert_eq!(row.exposure.as_deref(), Some(exposure.internet_exposure().to_ascii_lowercase().as_str()), "{name}");
                    assert_eq!(row.deployment.as_deref(), Some(exposure.deployment_status().to_ascii_lowercase().as_str()), "{name}");
                    if exposure.internet_exposure() == "UNSUPPORTED" {
                        unsupported += 1;
                        let why = row.evidence["exposureReason"].as_str().unwrap_or_default();
                        assert!(why.contains("AWS classic load balancers"), "{name}: {why}");
                    }
                } else {
                    assert_eq!((row.deployment.as_deref(), row.exposure.as_deref()), (None, None), "{name} must have no context");
                    let why = row.reason.clone().unwrap_or_default();
                    if stale.contains(&r) {
                        checked_stale += 1;
                        assert!(why.contains("last scanned") && why.contains("within 30 days"), "{name}: {why}");
                    } else {
                        assert!(why.contains("no Semgrep project"), "{name}: {why}");
                    }
                }
            }
            assert!(unsupported > 0, "the tenant has a repository behind a classic ELB");
            assert!(checked_stale > 0, "the tenant has a repository whose project is stale");

            // Scores read the context: an exposed, deployed repository's findings say so.
            let (id, factors): (i64, String) = sb(|| e.store.read(|c| {
                let mut r = c.query_one(
                    "SELECT i.id, i.factors FROM issues i JOIN repo_context x ON x.asset_id = i.repo_asset_id \
                     WHERE x.exposure = 'exposed' ORDER BY i.id LIMIT 1", &[])?;
                Ok((r.get(0)?, r.take(1)?))
            })).unwrap();
            assert!(factors.contains("internet_exposed") && factors.contains("\"deployed\""), "issue {id}: {factors}");
        });
    }

    fn issues_correlate_score_and_survive_deletion_by_the_seed_rules(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(11)).await;
            let e = engine(&db);
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "sg", true).await.unwrap();
            let findings = scalar(&e, "SELECT COUNT(*) FROM findings", &[]);
            let before = issue_table(&e);
            assert!(!before.is_empty() && before.len() as i64 <= findings);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM findings WHERE issue_id IS NULL", &[]), 0);
            assert_eq!(scalar(&e, "SELECT CAST(COALESCE(SUM(findings), 0) AS BIGINT) FROM issues", &[]), findings, "every finding is in one issue");

            // Every stored score is the sum of its stored factors.
            for (id, (score, _, factors)) in &before {
                let parts: Vec<Value> = serde_json::from_str(factors).unwrap();
                let sum: i64 = parts.iter().map(|p| p[2].as_i64().unwrap()).sum();
                assert_eq!(sum, *score, "issue {id}: {factors}");
            }
            // Every run leaves today's metrics snapshot: every finding counted once.
            let trend = sb(|| e.store.read(|c| metrics::trend(c, 7))).unwrap();
            assert_eq!(trend.len(), 1, "{trend:?}");
            assert_eq!(trend[0].by_status.values().sum::<i64>(), findings);
            assert_eq!(trend[0].open_by_source.values().sum::<i64>(), scalar(&e, "SELECT COUNT(*) FROM findings WHERE status = 'open'", &[]));
            // The same input gives the same issues and scores: rebuilt from scratch, and
            // after a full re-sync that changes nothing.
            sb(|| e.store.write(|c| issues::refresh_all(c))).unwrap();
            assert_eq!(issue_table(&e), before);
            sync(&e, "sg", true).await.unwrap();
            assert_eq!(issue_table(&e).keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());

            // The same rule at the same place, imported from `semgrep --json`: one issue,
            // two sources.
            let (rule, path, line, repo_url, issue_id): (String, String, i64, String, i64) = sb(|| e.store.read(|c| {
                let mut r = c.query_one(
                    "SELECT f.attributes, a.identity, f.issue_id FROM findings f JOIN assets a ON a.id = f.repo_asset_id \
                     WHERE f.kind = 'code_weakness' AND f.status = 'open' ORDER BY f.id LIMIT 1", &[])?;
                let attrs: Value = serde_json::from_str(&r.take::<String>(0)?).unwrap();
                let identity: String = r.take(1)?;
                Ok((
                    attrs["findingType"]["codeWeakness"]["ruleId"].as_str().unwrap().to_string(),
                    attrs["location"]["filePath"].as_str().unwrap().to_string(),
                    attrs["location"]["startLine"].as_i64().unwrap(),
                    format!("https://{}", identity.strip_prefix("repo_url:").unwrap()),
                    r.get(2)?,
                ))
            })).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("scan.json");
            let scan = json!({"version": "1.100.0", "errors": [], "paths": {"scanned": [path]}, "results": [{
                "check_id": rule, "path": path,
                "start": {"line": line, "col": 1, "offset": 0}, "end": {"line": line, "col": 20, "offset": 19},
                "extra": {"message": "seen by the CLI too", "severity": "ERROR", "metadata": {}, "fingerprint": "requires login", "lines": "requires login"}
            }]});
            std::fs::write(&file, scan.to_string()).unwrap();
            let req = ImportRequest { format: FileFormat::SemgrepJson, path: file, repo_url: repo_url.clone(), tool: None, allow_mass_close: false };
            e.import_file(req, "test", Arc::new(NoProgress)).await.unwrap();
            let (issue, _) = sb(|| e.store.read(|c| issues::get(c, issue_id))).unwrap();
            assert_eq!((issue.sources, issue.findings), (2, 2), "the import joined the synced finding's issue");

            // A policy is evaluated when added and after every run; coverage shows both sources.
            let open_code = || scalar(&e, "SELECT COUNT(*) FROM findings WHERE kind = 'code_weakness' AND status = 'open'", &[]);
            let p = sb(|| e.store.write(|c| policies::add(c, "code", "finding.kind:code_weakness", "fix before release"))).unwrap();
            assert_eq!(p.matched, open_code());
            let repo_id = scalar(&e, "SELECT repo_asset_id FROM findings WHERE issue_id = ? LIMIT 1", tributary_store::params![issue_id]);
            let cov = |e: &tributary_engine::Engine| -> Vec<(String, String)> {
                let rows = sb(|| e.store.read(|c| coverage::report(c, 30, tributary_core::time::now_ms()))).unwrap();
                rows.into_iter().find(|r| r.asset_id == repo_id).map(|r| r.sources.into_iter().map(|s| (s.source, s.status)).collect()).unwrap_or_default()
            };
            assert_eq!(cov(&e), vec![("Semgrep".into(), "Enabled".into()), ("Semgrep CLI import".into(), "Enabled".into()), ("SARIF import".into(), "Disabled".into())]);

            // Deleting the import: the multi-source issue keeps the synced finding, the
            // policy results of the imported one go (the policy stays), its coverage column
            // reads Disabled.
            let imported = sb(|| e.store.read(|c| integrations::get(c, "import-semgrep"))).unwrap().id;
            sb(|| e.store.write(|c| integrations::delete(c, imported))).unwrap();
            let (issue, _) = sb(|| e.store.read(|c| issues::get(c, issue_id))).unwrap();
            assert_eq!((issue.sources, issue.findings), (1, 1), "the multi-source issue kept its other finding");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policy_results", &[]), open_code(), "only the deleted findings' results went");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policies", &[]), 1, "policies stay");
            assert_eq!(cov(&e)[1], ("Semgrep CLI import".into(), "Disabled".into()));

            // Deleting Semgrep: its issues go with it; nothing refers to its findings.
            let sg = sb(|| e.store.read(|c| integrations::get(c, "sg"))).unwrap().id;
            sb(|| e.store.write(|c| integrations::delete(c, sg))).unwrap();
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM issues", &[]), 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policy_results", &[]), 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policies", &[]), 1);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM repo_context WHERE deployment IS NOT NULL", &[]), 0);
            let enabled = sb(|| e.store.read(|c| coverage::report(c, 30, tributary_core::time::now_ms()))).unwrap()
                .into_iter().flat_map(|r| r.sources).filter(|s| s.status != "Disabled").count();
            assert_eq!(enabled, 0, "no repository is covered by a deleted source");
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM metrics_daily", &[]), 0, "the trends no longer count it");

            // Re-adding it re-ingests on its next run, into the same issues.
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "sg", true).await.unwrap();
            assert_eq!(issue_table(&e).len(), before.len());
            // …and the standing policy was evaluated again after that run.
            assert!(open_code() > 0);
            assert_eq!(scalar(&e, "SELECT COUNT(*) FROM policy_results", &[]), open_code());
        });
    }
}
