//! An integration's first run builds the random-key indexes once at its end (instead of
//! row by row); they exist afterwards, serve queries, and a store opened with one missing
//! (a crash mid-load) builds it again.

mod common;

use common::*;
use serde_json::json;

fn has_cve_index(e: &tributary_engine::Engine) -> bool {
    let sql = match e.store.backend() {
        "sqlite" => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'findings_cve'",
        _ => "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'findings_cve'",
    };
    e.store.read(|c| c.scalar::<i64>(sql, &[])).unwrap() == 1
}

tributary_store::backend_tests! {
    fn a_first_load_builds_deferred_indexes_at_its_end(db) {
        let rt = rt();
        rt.block_on(async {
            let sim = sim(small(81)).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            assert!(sb(|| has_cve_index(&e)), "the CVE index exists after the first load");
            let cve: String = sb(|| e.store.read(|c| c.scalar("SELECT cve FROM findings WHERE cve IS NOT NULL LIMIT 1", &[]))).unwrap();
            let n = sb(|| count(&e, &format!("finding.cve:{cve}")));
            let direct: i64 = sb(|| e.store.read(|c| c.scalar("SELECT COUNT(*) FROM findings WHERE cve = ? AND status = 'open'", tributary_store::params![cve.as_str()]))).unwrap();
            assert!(n > 0 && n == direct, "{cve}: {n} vs {direct}");
            // A crash mid-load leaves it missing: the next open builds it.
            sb(|| e.store.defer_indexes()).unwrap();
            assert!(!sb(|| has_cve_index(&e)));
            let again = engine(&db);
            assert!(sb(|| has_cve_index(&again)), "opening the store rebuilt it");
            sim.stop().await;
        });
    }
}
