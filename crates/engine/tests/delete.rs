//! Deleting an integration removes everything it brought in, in one transaction — also
//! while one of its runs is writing: the run's next page finds its run gone and rolls
//! back, so no finding, attribution, raw record or asset outlives the integration.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tributary_store::repo::integrations;

fn orphans(e: &tributary_engine::Engine, id: i64) -> Vec<(String, i64)> {
    let checks = [
        ("findings", format!("SELECT COUNT(*) FROM findings WHERE integration_id = {id}")),
        ("asset_sources", format!("SELECT COUNT(*) FROM asset_sources WHERE integration_id = {id}")),
        ("raw_records", format!("SELECT COUNT(*) FROM raw_records WHERE integration_id = {id}")),
        (
            "assets without a source or finding",
            "SELECT COUNT(*) FROM assets a WHERE NOT EXISTS (SELECT 1 FROM asset_sources s WHERE s.asset_id = a.id) \
             AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.asset_id = a.id)"
                .to_string(),
        ),
        (
            "identifiers of no asset",
            "SELECT COUNT(*) FROM asset_identifiers i WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE a.id = i.asset_id)".to_string(),
        ),
    ];
    checks
        .iter()
        .map(|(what, sql)| (what.to_string(), e.store.read(|c| c.scalar::<i64>(sql, &[])).unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

tributary_store::backend_tests! {
    fn deleting_an_integration_mid_sync_leaves_nothing_behind(db) {
        let rt = rt();
        rt.block_on(async {
            // 30 pages of endpoints at 5 requests/s: the delete lands while the run writes.
            let sim = sim(tributary_sim::SimConfig::new(91, tributary_sim::Scale { xdr_endpoints: 3_000, ..tributary_sim::Scale::small() })).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({"rate_limit": 5.0})), "test").await.unwrap();
            let id = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap().id;
            let running = {
                let e = e.clone();
                tokio::spawn(async move { sync(&e, "xdr", false).await })
            };
            let started = Instant::now();
            loop {
                let pages: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COALESCE(MAX(pages), 0) FROM sync_runs WHERE status = 'running'", &[]))).unwrap();
                if pages >= 2 {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(30), "the run never committed two pages");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let written: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM asset_sources", &[]))).unwrap();
            assert!(written > 0, "the run had written something");
            // Stop the run and wait for it: it lets go of its lease before anything is deleted.
            let stopped = sb(|| e.stop_runs(id, std::time::Duration::from_secs(30))).unwrap();
            assert_eq!(stopped.len(), 1);
            let held = sb(|| e.store.read(|c| tributary_store::repo::runs::still_held(c, &stopped))).unwrap();
            assert_eq!(held, vec![], "the run stopped before the delete");
            let out = running.await.unwrap();
            assert!(out.is_err(), "a stopped run does not succeed: {out:?}");
            let pages: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings", &[]))).unwrap();
            sb(|| e.store.write(|c| integrations::delete(c, id))).unwrap();
            assert!(pages > 0, "it had written pages, which the delete removed");
            assert_eq!(sb(|| orphans(&e, id)), vec![], "nothing outlives the integration");
            let assets: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM assets", &[]))).unwrap();
            assert_eq!(assets, 0, "assets only it reported are gone");
            sim.stop().await;
        });
    }

    fn deleting_one_integration_keeps_what_another_reports(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(92)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr-a", &sim, json!({})), "test").await.unwrap();
            e.add_integration(xdr("xdr-b", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr-a", false).await.unwrap();
            sync(&e, "xdr-b", false).await.unwrap();
            let hosts: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM assets WHERE kind = 'host'", &[]))).unwrap();
            let a = sb(|| e.store.read(|c| integrations::get(c, "xdr-a"))).unwrap().id;
            sb(|| e.store.write(|c| integrations::delete(c, a))).unwrap();
            // Both saw the same tenant: every host is still reported by xdr-b.
            let after: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM assets WHERE kind = 'host'", &[]))).unwrap();
            assert_eq!(after, hosts);
            assert_eq!(sb(|| orphans(&e, a)), vec![]);
            sim.stop().await;
        });
    }
}
