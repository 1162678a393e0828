//! Fuses against silent mass changes, on SQLite and PostgreSQL: a map that no longer
//! yields an identity, and vendor pages whose id field was renamed, stop before anything
//! is closed or retired, and the run says why.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;
use tributary_core::model::{IntegrationStatus, SyncStatus};
use tributary_core::transform::RuleSpec;
use tributary_engine::pipeline::NoProgress;
use tributary_store::repo::{integrations, maps, profiles, runs};

fn open_and_active(e: &tributary_engine::Engine) -> (i64, i64) {
    (count(e, XDR_FINDINGS), scalar(e, "SELECT COUNT(*) FROM asset_sources WHERE active = 1", &[]))
}

tributary_store::backend_tests! {
    fn a_map_that_lost_its_finding_id_closes_nothing(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(41)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let before = open_and_active(&e);
            assert!(before.0 > 100);
            // A map that validates (the source path is merely misspelled) but yields no
            // externalFindingId any more.
            let mut spec = sb(|| e.store.read(|c| maps::get(c, "cortex-xdr-default"))).unwrap().spec;
            spec.name = "broken".into();
            for r in spec.rules.iter_mut().filter(|r| r.target == "finding[].externalFindingId") {
                r.source = "cves[].nmae".into();
            }
            sb(|| e.store.write(|c| maps::create(c, &spec, false))).unwrap();
            let err = e.apply_map("broken", "xdr", "test", Arc::new(NoProgress)).await.unwrap_err().to_string();
            assert!(err.contains("stopped before closing anything") && err.contains("without an externalFindingId"), "{err}");
            assert_eq!(open_and_active(&e), before, "nothing closed or retired");
            // The run is on record as failed, with the reason; the broken map is not in force.
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            assert_eq!(i.status, IntegrationStatus::Failed);
            let run = sb(|| e.store.read(|c| runs::latest(c, i.id))).unwrap().unwrap();
            assert_eq!(run.status, SyncStatus::Failed);
            assert!(run.error.unwrap_or_default().contains("stopped before closing anything"));
            let profile = sb(|| e.store.read(|c| profiles::default_for(c, i.id))).unwrap().unwrap();
            let broken = sb(|| e.store.read(|c| maps::get(c, "broken"))).unwrap();
            assert!(!profile.maps.iter().any(|(_, m)| *m == broken.id.to_string()), "{:?}", profile.maps);
            // A map missing every asset identity is refused when it is saved.
            let mut no_asset = spec.clone();
            no_asset.name = "no-asset".into();
            no_asset.rules.retain(|r| !matches!(r.target.as_str(), "externalAssetId" | "hostName" | "networkInterfaces[].macAddress"));
            no_asset.rules.push(RuleSpec::new("cves[].name", "finding[].externalFindingId"));
            let err = sb(|| e.store.write(|c| maps::create(c, &no_asset, false))).unwrap_err().to_string();
            assert!(err.contains("no rule writes an identity of the asset"), "{err}");
            // With --allow-mass-close the replay goes ahead.
            let fuses = tributary_engine::Fuses { allow_mass_close: true, ..Default::default() };
            e.apply_map_with("broken", "xdr", "test", fuses, Arc::new(NoProgress)).await.unwrap();
            sim.stop().await;
        });
    }

    fn an_endpoint_page_without_its_id_field_retires_nothing(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(42)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            let before = open_and_active(&e);
            sim.world.renamed_ids.store(true, Ordering::SeqCst);
            let err = sync(&e, "xdr", true).await.unwrap_err().to_string();
            // No endpoint came with an id: every finding would close and every asset retire.
            assert!(err.contains("stopped before closing anything") && err.contains("would close"), "{err}");
            assert_eq!(open_and_active(&e), before);
            // The vendor fixed its field: the next sync is a plain one.
            sim.world.renamed_ids.store(false, Ordering::SeqCst);
            let run = sync(&e, "xdr", true).await.unwrap();
            assert_eq!((run.counts.closed, run.counts.assets_retired), (0, 0));
            sim.stop().await;
        });
    }

    fn a_findings_page_without_its_id_field_closes_nothing(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(43)).await;
            let e = engine(&db);
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "sg", false).await.unwrap();
            let open = count(&e, SAST_FINDINGS) + count(&e, SCA_FINDINGS);
            sim.world.renamed_ids.store(true, Ordering::SeqCst);
            let err = sync(&e, "sg", true).await.unwrap_err().to_string();
            assert!(err.contains("stopped before closing anything") && err.contains("would close"), "{err}");
            assert_eq!(count(&e, SAST_FINDINGS) + count(&e, SCA_FINDINGS), open);
            let i = sb(|| e.store.read(|c| integrations::get(c, "sg"))).unwrap();
            assert!(i.status_reason.unwrap_or_default().contains("--allow-mass-close"));
            sim.stop().await;
        });
    }

    fn an_import_that_would_close_a_repository_s_findings_stops(db) {
        let rt = rt();
        rt.block_on(async {
            let e = engine(&db);
            let fixture = |n: &str| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/semgrep").join(n);
            let req = |path, allow_mass_close| tributary_engine::import::ImportRequest {
                format: tributary_connectors::import::FileFormat::Sarif, path, repo_url: "https://github.com/acme/sample-app".into(), tool: None, allow_mass_close,
            };
            e.import_file(req(fixture("scan.sarif"), false), "test", Arc::new(NoProgress)).await.unwrap();
            // A rescan that lists nothing of the tool's 12 findings.
            let dir = tempfile::tempdir().unwrap();
            let empty = dir.path().join("empty.sarif");
            std::fs::write(&empty, r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Semgrep OSS"}}, "results": []}]}"#).unwrap();
            let err = e.import_file(req(empty.clone(), false), "test", Arc::new(NoProgress)).await.err().unwrap().to_string();
            assert!(err.contains("stopped before closing anything") && err.contains("would close 12 of the 12"), "{err}");
            assert_eq!(count(&e, "finding.vendorProductName:`Semgrep OSS` finding.status:open"), 12);
            let out = e.import_file(req(empty, true), "test", Arc::new(NoProgress)).await.unwrap();
            assert_eq!(out.run.unwrap().counts.closed, 12, "an explicit --allow-mass-close goes ahead");
        });
    }
}
