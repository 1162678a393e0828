//! Semgrep end to end against the simulator, on SQLite and PostgreSQL: projects and
//! their mapping, SAST and SCA ingestion, deltas, remapping, revoked tokens.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use tributary_core::ident::repo::RepoKey;
use tributary_core::model::{IntegrationStatus, SyncMode, SyncStatus};
use tributary_sim::tenant::semgrep::{IssueType, Status};
use tributary_store::params;
use tributary_store::repo::integrations;

/// Open findings of one project on `day`, as the simulator defines them.
fn open_in_project(sim: &tributary_sim::SimServer, t: IssueType, project: u64) -> i64 {
    let w = &sim.world;
    let day = w.day();
    (0..w.finding_count(t, day)).filter(|f| w.finding_project(t, *f) == project && w.finding_state(t, *f, day).status.is_open()).count()
        as i64
}

/// Distinct repositories of projects that have a URL.
fn repositories_with_url(sim: &tributary_sim::SimServer) -> i64 {
    let w = &sim.world;
    (0..w.project_count()).filter_map(|p| w.project(p).url).filter_map(|u| RepoKey::parse(&u).ok()).collect::<HashSet<_>>().len() as i64
}

fn attrs(e: &tributary_engine::Engine, sql: &str, id: &str) -> Value {
    let text: String = sb(|| e.store.read(|c| c.scalar(sql, params![id]))).expect("row");
    serde_json::from_str(&text).expect("json")
}

tributary_store::backend_tests! {
    fn full_sync_matches_truth_field_by_field(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(21)).await;
            let e = engine(&db);
            let (i, report) = e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            assert!(report.unwrap().summary.contains("acme-sec"), "the test names the deployment");
            assert_eq!(i.config["deployment"], "acme-sec", "the deployment is recorded");
            assert_eq!(i.status, IntegrationStatus::Connected);
            let run = sync(&e, "sg", false).await.unwrap();
            assert_eq!((run.mode, run.status), (SyncMode::Full, SyncStatus::Succeeded));
            let t = truth(&sim);
            let sg = &t["semgrep"];
            assert_eq!(count(&e, SAST_FINDINGS), n(&sg["sast_findings"]));
            assert_eq!(count(&e, SCA_FINDINGS), n(&sg["sca_findings"]));
            assert_eq!(count(&e, "finding.kind:code_weakness"), n(&sg["sast_findings"]));
            assert_eq!(count(&e, "finding.kind:vulnerability"), n(&sg["sca_findings"]));
            assert_eq!(count(&e, "finding.vendorProductName:`Semgrep Code` finding.status:*"), n(&sg["sast_findings_stored"]));
            assert_eq!(count(&e, PACKAGES), n(&sg["package_assets"]));
            assert_eq!(count(&e, REPOSITORIES), repositories_with_url(&sim));
            assert_eq!(count(&e, "asset.inventory:(source:Semgrep)"), n(&sg["package_assets"]) + repositories_with_url(&sim));

            // Projects: those with a URL are mapped (future projects map automatically), the
            // rest are listed with the reason.
            let projects = e.scopes("sg", false).await.unwrap();
            let mapped = projects.iter().filter(|(s, _)| s.is_mapped()).count() as i64;
            assert_eq!(mapped, n(&sg["projects_with_url"]));
            let unmapped: Vec<_> = projects.iter().filter(|(s, _)| !s.is_mapped()).collect();
            assert_eq!(unmapped.len() as i64, n(&sg["projects_without_url"]));
            assert!(unmapped.iter().all(|(s, _)| s.reason.as_deref().is_some_and(|r| r.contains("no repository URL"))));

            // One SAST finding, field by field.
            let w = &sim.world;
            let f = (0..w.finding_count(IssueType::Sast, 0))
                .find(|f| w.finding_state(IssueType::Sast, *f, 0).status == Status::Open && w.project(w.finding_project(IssueType::Sast, *f)).url.is_some())
                .unwrap();
            let api = w.finding(IssueType::Sast, f, 0);
            let a = attrs(&e, "SELECT attributes FROM findings WHERE external_id = ?", &api.id.to_string());
            assert_eq!(a["findingType"]["codeWeakness"]["ruleId"], *api.rule_name);
            assert_eq!(a["findingType"]["codeWeakness"]["cwe"][0], *api.rule.cwe_names[0]);
            assert!(a["findingType"]["codeWeakness"]["cweIds"][0].as_u64().is_some());
            assert!(a["findingType"]["codeWeakness"].get("cweTop25Rank").is_some());
            assert_eq!(a["location"]["filePath"], *api.location.file_path);
            assert_eq!(a["location"]["startLine"], api.location.line);
            assert_eq!(a["location"]["endColumn"], api.location.end_column);
            assert_eq!(a["commit"]["ref"], json!(api.r#ref));
            let sha = a["commit"]["sha"].as_str().unwrap();
            assert!(api.line_of_code_url.as_deref().unwrap().contains(&format!("/blob/{sha}/")));
            assert_eq!(a["matchBasedId"], json!(api.match_based_id));
            assert_eq!(a["severity"], *api.severity);
            // It sits on the project's repository.
            let project = w.project(w.finding_project(IssueType::Sast, f));
            let key = RepoKey::parse(project.url.as_deref().unwrap()).unwrap();
            let on_repo = scalar(&e, "SELECT COUNT(*) FROM findings f JOIN asset_identifiers i ON i.asset_id = f.asset_id \
                                     WHERE f.external_id = ? AND i.kind = 'repo_url' AND i.value = ?", params![&api.id.to_string(), key.as_str()]);
            assert_eq!(on_repo, 1);

            // One SCA finding: package asset by purl, linked to the repository.
            let f = (0..w.finding_count(IssueType::Sca, 0))
                .find(|f| w.finding_state(IssueType::Sca, *f, 0).status == Status::Open && w.project(w.finding_project(IssueType::Sca, *f)).url.is_some())
                .unwrap();
            let api = w.finding(IssueType::Sca, f, 0);
            let a = attrs(&e, "SELECT attributes FROM findings WHERE external_id = ?", &api.id.to_string());
            let dep = api.found_dependency.as_ref().unwrap();
            assert_eq!(a["findingType"]["vulnerability"]["vulnerableVersion"], *dep.version);
            assert_eq!(a["findingType"]["vulnerability"]["reachability"], json!(api.reachability));
            let fixes: Vec<String> = api.fix_recommendations.as_ref().unwrap().iter().map(|r| r.version.to_string()).collect();
            assert_eq!(a["findingType"]["vulnerability"]["fixedVersions"], json!(if fixes.is_empty() { Value::Null } else { json!(fixes) }));
            assert_eq!(a["findingType"]["vulnerability"]["fixAvailable"], json!(if fixes.is_empty() { Value::Null } else { json!(true) }));
            let purl = w.sca_purl(f).unwrap();
            let on_package = scalar(&e, "SELECT COUNT(*) FROM findings f JOIN asset_identifiers i ON i.asset_id = f.asset_id \
                                         WHERE f.external_id = ? AND i.kind = 'purl' AND i.value = ?", params![&api.id.to_string(), purl.as_str()]);
            assert_eq!(on_package, 1, "{purl}");
            let linked = scalar(&e, "SELECT COUNT(*) FROM asset_relations r JOIN asset_identifiers p ON p.asset_id = r.child_id \
                                     JOIN asset_identifiers q ON q.asset_id = r.parent_id WHERE p.value = ? AND q.kind = 'repo_url'", params![purl.as_str()]);
            assert!(linked >= 1, "the package is linked to its repository");
            if let Some(fix) = fixes.first() {
                let q = format!("finding.findingType.vulnerability.fixedVersions:{fix}");
                assert!(count(&e, &q) >= 1, "{q}");
            }
            let vid = api.vulnerability_identifier.as_deref().unwrap();
            if vid.starts_with("CVE-") {
                assert_eq!(a["findingType"]["vulnerability"]["cveId"], vid);
            } else {
                assert_eq!(a["findingType"]["vulnerability"]["ghsaId"], vid);
            }

            // A second full sync changes nothing.
            let again = sync(&e, "sg", true).await.unwrap();
            assert_eq!((again.counts.created, again.counts.updated, again.counts.closed), (0, 0, 0), "{:?}", again.counts);
            sim.stop().await;
        });
    }

    fn applying_one_streams_map_leaves_the_other_streams_assets_alone(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(23)).await;
            let e = engine(&db);
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            let first = sync(&e, "sg", false).await.unwrap();
            assert!(first.initial);
            let inventory = count(&e, "asset.inventory:(source:Semgrep)");
            let open = count(&e, "finding.vendorProductName:`Semgrep Supply Chain`");
            assert!(inventory > 0 && open > 0);
            // Replaying the SAST stream sees no package (SCA) or repository attribution:
            // none of them may be retired for it, and no SCA finding closed.
            let mut spec = sb(|| e.store.read(|c| tributary_store::repo::maps::get(c, "semgrep-sast-default"))).unwrap().spec;
            spec.name = "my-sast".into();
            sb(|| e.store.write(|c| tributary_store::repo::maps::create(c, &spec, false))).unwrap();
            let run = e.apply_map("my-sast", "sg", "test", std::sync::Arc::new(tributary_engine::pipeline::NoProgress)).await.unwrap();
            assert_eq!(run.mode, SyncMode::Replay);
            assert_eq!((run.counts.assets_retired, run.counts.closed), (0, 0), "{:?}", run.counts);
            assert_eq!(count(&e, "asset.inventory:(source:Semgrep)"), inventory);
            assert_eq!(count(&e, "finding.vendorProductName:`Semgrep Supply Chain`"), open);
            // And the next full sync finds nothing to repair.
            let again = sync(&e, "sg", true).await.unwrap();
            assert!(!again.initial);
            assert_eq!(
                (again.counts.created, again.counts.updated, again.counts.closed, again.counts.assets_updated, again.counts.assets_retired),
                (0, 0, 0, 0, 0),
                "{:?}",
                again.counts
            );
            sim.stop().await;
        });
    }

    fn scan_types_are_ingested_separately(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(22)).await;
            let e = engine(&db);
            e.add_integration(semgrep("code", &sim, json!({"scan": ["sast"], "auto_map_future": true})), "test").await.unwrap();
            sync(&e, "code", false).await.unwrap();
            let t = truth(&sim);
            assert_eq!(count(&e, SAST_FINDINGS), n(&t["semgrep"]["sast_findings"]));
            assert_eq!((count(&e, SCA_FINDINGS), count(&e, PACKAGES)), (0, 0));
            e.add_integration(semgrep("deps", &sim, json!({"scan": ["sca"], "auto_map_future": true})), "test").await.unwrap();
            sync(&e, "deps", false).await.unwrap();
            assert_eq!(count(&e, SCA_FINDINGS), n(&t["semgrep"]["sca_findings"]));
            assert_eq!(count(&e, SAST_FINDINGS), n(&t["semgrep"]["sast_findings"]), "the SCA integration brought no SAST");
            // Both integrations found the same repositories: one asset each.
            assert_eq!(count(&e, REPOSITORIES), repositories_with_url(&sim));
            sim.stop().await;
        });
    }

    fn only_mapped_projects_are_ingested_and_remapping_moves_findings(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(23)).await;
            let e = engine(&db);
            // No repository assets exist and future projects are not auto-mapped: nothing maps.
            e.add_integration(semgrep("sg", &sim, json!({})), "test").await.unwrap();
            let run = sync(&e, "sg", false).await.unwrap();
            assert_eq!(run.status, SyncStatus::Succeeded);
            assert_eq!(count(&e, SAST_FINDINGS) + count(&e, SCA_FINDINGS), 0);
            let projects = e.scopes("sg", true).await.unwrap();
            assert!(projects.iter().all(|(s, _)| !s.is_mapped()));
            assert!(projects.iter().any(|(s, _)| s.reason.as_deref().is_some_and(|r| r.contains("no repository asset matches"))));

            // Map one project by hand (a URL spelled the ssh way): the next sync ingests it.
            let w = &sim.world;
            let p = (0..w.project_count()).max_by_key(|p| open_in_project(&sim, IssueType::Sast, *p)).unwrap();
            let info = w.project(p);
            let s = e.map_scope("sg", &info.name, "git@github.com:acme/chosen-repo.git", "test").await.unwrap();
            assert!(s.is_mapped());
            let run = sync(&e, "sg", false).await.unwrap();
            assert_eq!(run.mode, SyncMode::Full, "a newly mapped project's history needs a full fetch");
            let expected = open_in_project(&sim, IssueType::Sast, p);
            assert!(expected > 0);
            assert_eq!(count(&e, SAST_FINDINGS), expected);
            assert_eq!(count(&e, SCA_FINDINGS), open_in_project(&sim, IssueType::Sca, p));
            let on = |url: &str| {
                let key = RepoKey::parse(url).unwrap();
                scalar(&e, "SELECT COUNT(*) FROM findings f JOIN asset_identifiers i ON i.asset_id = f.asset_id \
                            WHERE f.status = 'open' AND i.kind = 'repo_url' AND i.value = ?", params![key.as_str()])
            };
            assert_eq!(on("https://github.com/acme/chosen-repo"), expected);

            // Remap by hand: the findings move now, before any sync.
            e.map_scope("sg", &info.name, "https://gitlab.com/acme/elsewhere", "test").await.unwrap();
            assert_eq!(on("https://gitlab.com/acme/elsewhere"), expected);
            assert_eq!(on("https://github.com/acme/chosen-repo"), 0);
            let again = sync(&e, "sg", false).await.unwrap();
            assert_eq!(on("https://gitlab.com/acme/elsewhere"), expected, "{:?}", again.counts);
            assert_eq!(again.counts.created, 0, "nothing is duplicated after the move");

            // Unmap: its findings go, and stay gone.
            let (_, removed) = e.unmap_scope("sg", &info.name, "test").await.unwrap();
            assert!(removed as i64 >= expected);
            sync(&e, "sg", true).await.unwrap();
            assert_eq!(count(&e, SAST_FINDINGS) + count(&e, SCA_FINDINGS), 0);
            sim.stop().await;
        });
    }

    fn a_delta_sees_fixes_triage_and_removals_of_the_projects_scanned(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(24);
            cfg.churn.project_scan = 0.3;
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "sg", false).await.unwrap();
            sim.world.advance(1);
            let run = sync(&e, "sg", false).await.unwrap();
            assert_eq!(run.mode, SyncMode::Delta);
            let t = truth(&sim);
            let sg = &t["semgrep"];
            assert!(run.counts.fetched < n(&sg["sast_findings_total"]) / 2, "a delta reads only the projects scanned: {:?}", run.counts);
            assert!(run.notes.as_deref().unwrap_or("").contains("projects scanned since the last sync"), "{:?}", run.notes);
            // Exactly the findings fixed or removed since: closed.
            let w = &sim.world;
            let mut expected_closed = 0;
            for ty in [IssueType::Sast, IssueType::Sca] {
                for f in 0..w.finding_count(ty, 0) {
                    if w.project(w.finding_project(ty, f)).url.is_none() {
                        continue;
                    }
                    let (before, after) = (w.finding_state(ty, f, 0).status, w.finding_state(ty, f, 1).status);
                    let gone = |s: Status| matches!(s, Status::Fixed | Status::Removed);
                    if !gone(before) && gone(after) {
                        expected_closed += 1;
                    }
                }
            }
            assert!(expected_closed > 0);
            assert_eq!(run.counts.closed, expected_closed, "{:?}", run.counts);
            // Open and triaged counts equal the truth.
            let triaged = |product: &str| {
                scalar(&e, "SELECT COUNT(*) FROM findings WHERE product = ? AND status IN ('risk_accepted', 'false_positive')", params![product])
            };
            assert_eq!(count(&e, SAST_FINDINGS), n(&sg["sast_findings"]));
            assert_eq!(count(&e, SCA_FINDINGS), n(&sg["sca_findings"]));
            assert_eq!(triaged("Semgrep Code"), n(&sg["sast_findings_triaged"]));
            assert_eq!(triaged("Semgrep Supply Chain"), n(&sg["sca_findings_triaged"]));
            // A full sync after it finds nothing left to reconcile.
            let full = sync(&e, "sg", true).await.unwrap();
            assert_eq!((full.counts.created, full.counts.updated, full.counts.closed), (0, 0, 0), "the delta left nothing: {:?}", full.counts);
            // Nothing scanned since: a delta reads no findings at all.
            let quiet = sync(&e, "sg", false).await.unwrap();
            assert_eq!((quiet.mode, quiet.counts.fetched), (SyncMode::Delta, 0));
            sim.stop().await;
        });
    }

    fn a_listing_cut_at_the_cap_is_read_again_by_project(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(26);
            cfg.semgrep_listing_cap = Some(1_000);
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true, "listing_cap": 1000, "page_size": 100})), "test").await.unwrap();
            let run = sync(&e, "sg", false).await.unwrap();
            let t = truth(&sim);
            assert_eq!(count(&e, SAST_FINDINGS), n(&t["semgrep"]["sast_findings"]), "nothing cut: {:?}", run.notes);
            assert!(run.notes.unwrap_or_default().contains("read again project by project"));
            sim.stop().await;
        });
    }

    fn bad_tokens_are_refused_in_words_and_data_survives(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(25)).await;
            let e = engine(&db);
            let mut ci = semgrep("ci", &sim, json!({}));
            ci.secret = tributary_core::secret::Secret::new(tributary_sim::config::DEFAULT_SEMGREP_CI_TOKEN);
            let err = e.add_integration(ci, "test").await.unwrap_err().to_string();
            assert!(err.contains("Web API scope"), "{err}");
            let mut wrong = semgrep("wrong", &sim, json!({}));
            wrong.secret = tributary_core::secret::Secret::new("sgp_nope");
            let err = e.add_integration(wrong, "test").await.unwrap_err().to_string();
            assert!(err.contains("rejected the credentials"), "{err}");

            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "sg", false).await.unwrap();
            let before = count(&e, SAST_FINDINGS);
            assert!(before > 0);
            sim.world.revoked.lock().unwrap().insert("semgrep".into());
            let err = sync(&e, "sg", false).await.unwrap_err().to_string();
            assert!(err.contains("rejected the credentials"), "{err}");
            let i = sb(|| e.store.read(|c| integrations::get(c, "sg"))).unwrap();
            assert_eq!(i.status, IntegrationStatus::ConnectionError);
            assert!(i.status_reason.unwrap().contains("revoked"));
            assert_eq!(count(&e, SAST_FINDINGS), before, "previous data intact");
            sim.stop().await;
        });
    }
}
