//! Cortex XDR end to end against the simulator, on SQLite and PostgreSQL.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::{Value, json};
use tributary_core::model::{IntegrationStatus, SyncMode, SyncStatus};
use tributary_core::secret::Secret;
use tributary_sim::Security;
use tributary_store::repo::{integrations, maps, runs};

fn attrs(e: &tributary_engine::Engine, sql: &str, id: &str) -> Value {
    let text: String = sb(|| e.store.read(|c| c.scalar(sql, tributary_store::params![id]))).expect("row");
    serde_json::from_str(&text).expect("json")
}

tributary_store::backend_tests! {
    fn full_sync_matches_truth_and_the_seed_table(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(7)).await;
            let e = engine(&db);
            let (i, report) = e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            assert!(report.unwrap().summary.contains("200 endpoints"));
            assert_eq!(i.status, IntegrationStatus::Connected);
            let run = sync(&e, "xdr", false).await.unwrap();
            assert_eq!((run.mode, run.status), (SyncMode::Full, SyncStatus::Succeeded));
            let t = truth(&sim);
            assert_eq!(count(&e, XDR_ASSETS), n(&t["cortex_xdr"]["endpoints"]));
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            let status = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert_eq!(status.status, IntegrationStatus::Processed);
            assert!(status.status_reason.unwrap().contains("4"), "processed with counts");

            // Exact matches on target-model fields (a text field, a list field) work.
            let host = sim.world.endpoint(&sim.world.endpoint_state(17, 0)).endpoint_name.to_string();
            assert_eq!(count(&e, &format!("asset.hostName:{host}")), 1);
            let tag = "temp_q_customAttributes.endPointTags";
            assert!(count(&e, &format!("asset.{tag}:*")) > 0);
            // Unquoted RFC 3339 times.
            assert_eq!(count(&e, "asset.lastSeen>2000-01-01T00:00:00Z asset.inventory:(source:`Cortex XDR`)"), n(&t["cortex_xdr"]["endpoints"]));

            // The default map is the seed's 22 rows, stored and used.
            let m = sb(|| e.store.read(|c| maps::get(c, "cortex-xdr-default"))).unwrap();
            assert_eq!(m.spec.rules.len(), 22);
            assert!(m.builtin);

            // Field by field, for a few endpoints.
            let w = &sim.world;
            for idx in [0u64, 17, 133] {
                let st = w.endpoint_state(idx, 0);
                let ep = w.endpoint(&st);
                let a = attrs(&e, "SELECT s.attributes FROM asset_sources s WHERE s.source_key = ?", &ep.endpoint_id);
                assert_eq!(a["externalAssetId"], *ep.endpoint_id);
                assert_eq!(a["hostName"], *ep.endpoint_name);
                assert_eq!(a["operatingSystem"]["name"], json!(ep.operating_system));
                assert_eq!(a["operatingSystem"]["version"], json!(ep.os_version));
                if !ep.domain.is_empty() {
                    assert_eq!(a["domain"], *ep.domain);
                }
                assert_eq!(a["type"], *ep.endpoint_type);
                assert_eq!(a["firstFoundDate"], ep.first_seen);
                let nics = a["networkInterfaces"].as_array().unwrap();
                assert_eq!(nics[0]["ipv4Address"], *ep.ip[0]);
                assert_eq!(nics[0]["ipAddress"], *ep.ip[0], "allIPs starts with the IPv4 addresses");
                assert_eq!(nics[0]["macAddress"], *ep.mac_address[0]);
                if let Some(v6) = ep.ipv6.first() {
                    assert_eq!(nics[0]["ipv6Address"], **v6);
                }
                let tags = ep.tags.as_ref().unwrap();
                if let Some(t) = tags.server_tags.first() {
                    assert_eq!(a["temp_q_customAttributes"]["serverTags"][0], **t);
                }
                if let Some(t) = tags.endpoint_tags.first() {
                    assert_eq!(a["temp_q_customAttributes"]["endPointTags"][0], **t);
                }
                let provider = ep.cloud_provider.clone().unwrap_or_default();
                if !provider.is_empty() {
                    assert_eq!(a["asset"]["assetDetail"]["cloudInfo"]["provider"], *provider);
                }
                // The endpoint's first CVE (va_endpoints) with its details (va_cves).
                let va = w.va_endpoint(&st).unwrap();
                let v = w.va_cve_by_id(&va.cves[0]).unwrap();
                let f = attrs(&e, "SELECT f.attributes FROM findings f JOIN asset_sources s ON s.asset_id = f.asset_id WHERE s.source_key = ? ORDER BY f.id LIMIT 1", &ep.endpoint_id);
                assert_eq!(f["externalFindingId"], *v.name);
                assert_eq!(f["findingType"]["vulnerability"]["cveId"], *v.name);
                assert_eq!(f["name"], *v.name);
                assert_eq!(f["severity"], v.severity.to_ascii_lowercase());
                assert_eq!(f["sourceSeverity"], *v.severity);
                assert_eq!(f["description"], *v.description);
                assert_eq!(f["firstFoundOn"], v.publication_date);
                assert_eq!(f["sourceRiskScore"], v.severity_score);
            }
            sim.stop().await;
        });
    }

    fn delta_after_churn_then_full_reconcile(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(8);
            cfg.churn.endpoint_change = 0.05;
            cfg.churn.endpoint_retire = 0.02;
            let sim = sim(cfg).await;
            let e = engine(&db);
            // Endpoints and CVEs only: attack-surface records are read whole every run.
            e.add_integration(xdr("xdr", &sim, json!({"types": ["vulnerability", "host-asset"]})), "test").await.unwrap();
            let first = sync(&e, "xdr", false).await.unwrap();
            assert!(first.initial, "the first full run of an empty integration needs no sweep");
            assert_eq!(sb(|| e.store.read(|c| c.scalar::<i64>("SELECT COUNT(*) FROM sync_seen", &[]))).unwrap(), 0);
            sim.world.advance(2);
            let before = sim.world.requests.load(Ordering::SeqCst);
            let run = sync(&e, "xdr", false).await.unwrap();
            assert_eq!(run.mode, SyncMode::Delta);
            assert!(run.counts.fetched < 100, "a delta fetches only what changed: {}", run.counts.fetched);
            assert!(run.counts.closed > 0 && run.counts.created > 0, "{:?}", run.counts);
            assert!(sim.world.requests.load(Ordering::SeqCst) - before < 10);
            let t = truth(&sim);
            assert_eq!(count(&e, XDR_ASSETS), n(&t["cortex_xdr"]["endpoints"]), "uninstalled agents leave the inventory");
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            let full = sync(&e, "xdr", true).await.unwrap();
            assert_eq!(full.mode, SyncMode::Full);
            assert!(!full.initial, "a full run over existing data sweeps");
            assert_eq!(sb(|| e.store.read(|c| c.scalar::<i64>("SELECT COUNT(*) FROM sync_seen", &[]))).unwrap(), 0);
            assert_eq!((full.counts.created, full.counts.updated, full.counts.closed), (0, 0, 0), "the delta left nothing to reconcile");
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            sim.stop().await;
        });
    }

    fn an_edited_map_changes_output_on_apply_without_refetching(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(9)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let mut spec = sb(|| e.store.read(|c| maps::get(c, "cortex-xdr-default"))).unwrap().spec;
            spec.name = "xdr-upper".into();
            sb(|| e.store.write(|c| maps::create(c, &spec, false))).unwrap();
            spec.rules[1].convert = vec!["upper".into()];
            spec.rules.push(tributary_core::transform::RuleSpec::new("endpoint_status", "temp_q_customAttributes.agentStatus"));
            sb(|| e.store.write(|c| maps::update(c, "xdr-upper", &spec))).unwrap();
            // A built-in map cannot be edited, and an invalid edit changes nothing.
            assert!(sb(|| e.store.write(|c| maps::update(c, "cortex-xdr-default", &spec))).is_err());
            let mut bad = spec.clone();
            bad.rules.push(tributary_core::transform::RuleSpec::new("x", "hostname"));
            let err = sb(|| e.store.write(|c| maps::update(c, "xdr-upper", &bad))).unwrap_err().to_string();
            assert!(err.contains("rule 24: unknown target field 'hostname' (did you mean 'hostName'?)"), "{err}");
            assert_eq!(sb(|| e.store.read(|c| maps::get(c, "xdr-upper"))).unwrap().spec.rules.len(), 23);

            let before = sim.world.requests.load(Ordering::SeqCst);
            let run = e.apply_map("xdr-upper", "xdr", "test", std::sync::Arc::new(tributary_engine::pipeline::NoProgress)).await.unwrap();
            assert_eq!(run.mode, SyncMode::Replay);
            assert_eq!(sim.world.requests.load(Ordering::SeqCst), before, "apply does not call the vendor");
            assert_eq!(run.counts.assets_updated, 200);
            let ep = sim.world.endpoint(&sim.world.endpoint_state(5, 0));
            let a = attrs(&e, "SELECT s.attributes FROM asset_sources s WHERE s.source_key = ?", &ep.endpoint_id);
            assert_eq!(a["hostName"], ep.endpoint_name.to_uppercase());
            assert_eq!(a["temp_q_customAttributes"]["agentStatus"], *ep.endpoint_status);
            assert_eq!(count(&e, XDR_FINDINGS), n(&truth(&sim)["cortex_xdr"]["host_findings"]), "findings unchanged in number");
            // Later syncs use the applied map.
            let again = sync(&e, "xdr", true).await.unwrap();
            assert_eq!(again.counts.assets_updated, 0, "{:?}", again.counts);
            sim.stop().await;
        });
    }

    fn faults_are_retried_and_counts_still_match(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(10);
            cfg.scale.xdr_endpoints = 600;
            cfg.faults = "429=0.08,500=0.1,reset=0.05,truncate=0.05".parse().unwrap();
            cfg.faults.slow_delay = std::time::Duration::from_millis(50);
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({"retry_base_ms": 20})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let t = truth(&sim);
            assert_eq!(count(&e, XDR_ASSETS), n(&t["cortex_xdr"]["endpoints"]));
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            sim.stop().await;
        });
    }

    fn a_failure_past_the_retry_budget_fails_the_run_and_keeps_committed_pages(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(11);
            cfg.scale.xdr_endpoints = 1_000;
            cfg.latency = std::time::Duration::from_millis(40);
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({"retry_attempts": 2, "retry_base_ms": 10})), "test").await.unwrap();
            let world = sim.world.clone();
            let watcher = e.clone();
            let breaker = tokio::spawn(async move {
                // Let a few pages commit, then every request fails.
                while count(&watcher, XDR_ASSETS) == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                *world.faults.lock().unwrap() = "500=1".parse().unwrap();
            });
            let err = sync(&e, "xdr", false).await.unwrap_err().to_string();
            breaker.await.unwrap();
            assert!(err.contains("gave up after 2 attempts") && err.contains("500"), "{err}");
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert_eq!(i.status, IntegrationStatus::Failed);
            assert!(i.status_reason.unwrap().contains("gave up"));
            let run = sb(|| e.store.read(|c| runs::latest(c, i.id))).unwrap().unwrap();
            assert_eq!(run.status, SyncStatus::Failed);
            let kept = count(&e, XDR_ASSETS);
            assert!(kept > 0 && kept < 1_000, "committed pages stay: {kept}");
            // With the tenant healthy again, the next sync completes.
            *sim.world.faults.lock().unwrap() = Default::default();
            sync(&e, "xdr", false).await.unwrap();
            assert_eq!(count(&e, XDR_ASSETS), 1_000);
            sim.stop().await;
        });
    }

    fn credentials_problems_are_connection_errors_in_words(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(12)).await;
            let e = engine(&db);
            // Wrong key: refused, nothing saved.
            let mut bad = xdr("bad", &sim, json!({}));
            bad.secret = Secret::new("not-the-key");
            let err = e.add_integration(bad, "test").await.unwrap_err().to_string();
            assert!(err.contains("rejected the credentials") && err.contains("Public API request unauthorized"), "{err}");
            assert!(sb(|| e.store.read(|c| integrations::get(c, "bad"))).is_err());
            // Missing role.
            let no_role = xdr("norole", &sim, json!({"key_id": tributary_sim::config::DEFAULT_XDR_NO_ROLE_KEY_ID}));
            let err = e.add_integration(no_role, "test").await.unwrap_err().to_string();
            assert!(err.contains("Viewer role"), "{err}");
            // Revoked after adding: the test and the next sync report Connection Error.
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let kept = count(&e, XDR_FINDINGS);
            sim.world.revoked.lock().unwrap().insert("cortex-xdr".into());
            let outcome = e.test_integration("xdr").await.unwrap();
            assert!(outcome.is_err());
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert_eq!(i.status, IntegrationStatus::ConnectionError);
            assert!(i.status_reason.unwrap().contains("Public API request unauthorized"));
            assert!(sync(&e, "xdr", true).await.is_err());
            assert_eq!(sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap().status, IntegrationStatus::ConnectionError);
            assert_eq!(count(&e, XDR_FINDINGS), kept, "previous data intact");
            // Unreachable host.
            let mut gone = xdr("gone", &sim, json!({}));
            gone.base_url = "http://127.0.0.1:9".into();
            let err = e.add_integration(gone, "test").await.unwrap_err().to_string();
            assert!(err.contains("cannot reach http://127.0.0.1:9") && err.contains("refused"), "{err}");
            sim.stop().await;
        });
    }

    fn bad_base_urls_fail_before_any_request(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(13)).await;
            let e = engine(&db);
            let before = sim.world.requests.load(Ordering::SeqCst);
            for (url, want) in [
                ("api-acme.xdr.us.paloaltonetworks.com", "no scheme"),
                ("https://api-acme.xdr.us.paloaltonetworks.com/public_api/v1/endpoints", "remove the API path"),
            ] {
                let mut i = xdr("x", &sim, json!({}));
                i.base_url = url.into();
                let err = e.add_integration(i, "test").await.unwrap_err().to_string();
                assert!(err.contains(want), "{url}: {err}");
            }
            // Names: one rule everywhere, and the import-… names are reserved.
            for (name, want) in [("import-semgrep", "reserved for file imports"), ("a b/c;DROP", "invalid integration name")] {
                let err = e.add_integration(xdr(name, &sim, json!({})), "test").await.unwrap_err().to_string();
                assert!(err.contains(want), "{name}: {err}");
            }
            assert_eq!(sim.world.requests.load(Ordering::SeqCst), before);
            let mut spec = sb(|| e.store.read(|c| maps::get(c, "cortex-xdr-default"))).unwrap().spec;
            spec.name = "a b/c;DROP".into();
            let err = sb(|| e.store.write(|c| maps::create(c, &spec, false))).unwrap_err().to_string();
            assert!(err.contains("invalid map name"), "{err}");
            sim.stop().await;
        });
    }

    fn advanced_keys_sync(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(14);
            cfg.credentials.xdr_security = Security::Advanced;
            let sim = sim(cfg).await;
            let e = engine(&db);
            // A standard-style integration is refused by an advanced key…
            assert!(e.add_integration(xdr("std", &sim, json!({})), "test").await.is_err());
            // …the advanced hash works.
            e.add_integration(xdr("xdr", &sim, json!({"security": "advanced"})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            assert_eq!(count(&e, XDR_ASSETS), 200);
            sim.stop().await;
        });
    }

    fn a_due_profile_runs_from_the_scheduler(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(15)).await;
            let e = engine(&db);
            let (i, _) = e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            let now = tributary_core::time::now_ms();
            sb(|| e.store.write(|c| {
                let map = maps::get(c, "cortex-xdr-default")?;
                tributary_store::repo::profiles::create(c, tributary_store::repo::profiles::NewProfile {
                    name: "nightly", description: None, integration_id: i.id, maps: vec![("endpoint".into(), map.id)], active: true, is_default: false,
                    schedule: tributary_core::model::Schedule::Every { every_ms: 86_400_000, start: now - 1_000, end: None },
                })?;
                c.execute("UPDATE profiles SET next_run_at = ? WHERE name = 'nightly'", tributary_store::params![now - 1])?;
                Ok(())
            })).unwrap();
            let started = tributary_engine::scheduler::tick(&e).await.unwrap();
            assert_eq!(started, vec!["nightly".to_string()]);
            assert!(tributary_engine::scheduler::tick(&e).await.unwrap().is_empty(), "claimed once");
            for _ in 0..200 {
                if count(&e, XDR_ASSETS) == 200 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert_eq!(count(&e, XDR_ASSETS), 200);
            let p = sb(|| e.store.read(|c| tributary_store::repo::profiles::get(c, "nightly"))).unwrap();
            assert!(p.next_run_at.unwrap() > now + 86_000_000, "next run a day later");
            sim.stop().await;
        });
    }

    fn cves_come_through_xql_with_their_cost_in_the_run_summary(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(16);
            // More endpoints than one inline XQL reply holds: the CVE lists come as a stream.
            cfg.scale.xdr_endpoints = 1_200;
            cfg.xdr_total_count = false;
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            let run = sync(&e, "xdr", false).await.unwrap();
            let t = truth(&sim);
            assert_eq!(count(&e, XDR_ASSETS), n(&t["cortex_xdr"]["endpoints"]), "a get_endpoint reply without total_count syncs");
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            assert_eq!(sim.xql.started.load(Ordering::SeqCst), 2, "two queries: the CVE catalog and the per-endpoint lists");
            let notes = run.notes.clone().unwrap_or_default();
            assert!(notes.contains("XQL: 2 queries") && notes.contains("compute units of the daily quota left"), "{notes}");
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert!(i.status_reason.unwrap().contains("XQL: 2 queries"), "the summary says what the queries cost");
            // A delta after a day: one query pair again, CVEs only for what changed.
            sim.world.advance(1);
            let delta = sync(&e, "xdr", false).await.unwrap();
            assert_eq!(delta.mode, SyncMode::Delta);
            assert_eq!(sim.xql.started.load(Ordering::SeqCst), 4);
            let t = truth(&sim);
            assert_eq!(count(&e, XDR_FINDINGS), n(&t["cortex_xdr"]["host_findings"]));
            assert_eq!(count(&e, XDR_ASSETS), n(&t["cortex_xdr"]["endpoints"]));
            sim.stop().await;
        });
    }

    fn a_tenant_without_host_insights_syncs_assets_and_says_why(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(17);
            cfg.host_insights = false;
            let sim = sim(cfg).await;
            let e = engine(&db);
            let (_, report) = e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            let summary = report.unwrap().summary;
            assert!(summary.contains("CVEs cannot be read") && summary.contains("Host Insights"), "{summary}");
            let run = sync(&e, "xdr", false).await.unwrap();
            assert_eq!(run.status, SyncStatus::Succeeded);
            assert_eq!(count(&e, XDR_ASSETS), n(&truth(&sim)["cortex_xdr"]["endpoints"]));
            assert_eq!(count(&e, XDR_FINDINGS), 0);
            assert_eq!(sim.xql.started.load(Ordering::SeqCst), 0, "no query is spent on a tenant that cannot answer it");
            let notes = run.notes.unwrap_or_default();
            assert!(notes.contains("CVEs not synced") && notes.contains("Host Insights"), "{notes}");
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert_eq!(i.status, IntegrationStatus::Processed);
            assert!(i.status_reason.unwrap().contains("Host Insights"));
            sim.stop().await;
        });
    }

    fn losing_cve_access_keeps_the_cves_already_known(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(18)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let open = count(&e, XDR_FINDINGS);
            assert!(open > 0);
            // The quota is spent: the next full sync reads endpoints only, and closes nothing.
            *sim.world.faults.lock().unwrap() = Default::default();
            let spent = sim.world.cfg.xql_quota;
            sim.xql.spend(spent);
            let run = sync(&e, "xdr", true).await.unwrap();
            assert!(run.notes.unwrap_or_default().contains("quota is spent"));
            assert_eq!((run.counts.closed, count(&e, XDR_FINDINGS)), (0, open), "records without a CVE list close nothing");
            sim.stop().await;
        });
    }

    fn a_reply_of_the_wrong_shape_is_reported_once_with_an_excerpt(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(19)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({"types": ["host-asset"]})), "test").await.unwrap();
            *sim.world.faults.lock().unwrap() = "shape=1".parse().unwrap();
            let before = sim.world.requests.load(Ordering::SeqCst);
            let err = sync(&e, "xdr", false).await.unwrap_err().to_string();
            let requests = sim.world.requests.load(Ordering::SeqCst) - before;
            assert!(err.contains("does not match its API") && err.contains("get_endpoint") && err.contains("an unexpected shape"), "{err}");
            assert!(requests <= 2, "not retried: {requests} requests (the page and its prefetch at most)");
            sim.stop().await;
        });
    }
}
