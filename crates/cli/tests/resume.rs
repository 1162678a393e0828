//! `kill -9` during a sync, then `tributary sync` again: the run resumes from its last
//! committed checkpoint and ends exactly where an uninterrupted run ends.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::tributary;
use tributary_sim::config::{DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_sim::{Scale, SimConfig, SimServer};
use tributary_store::testing::TestDb;

fn sim_config() -> SimConfig {
    let mut c = SimConfig::new(21, Scale::small());
    c.scale.xdr_endpoints = 1_500;
    // Slow enough that a sync outlives the kills below (15 pages; 25 ms was only just enough).
    c.latency = Duration::from_millis(60);
    c
}

fn add(db: &TestDb, sim: &SimServer) {
    let mut child = tributary(db)
        .args([
            "integration",
            "add",
            "cortex-xdr",
            "--name",
            "xdr",
            "--base-url",
            &sim.base_url("cortex-xdr"),
            "--key-id",
            DEFAULT_XDR_KEY_ID,
            "--key-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{DEFAULT_XDR_KEY}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn sync(db: &TestDb) -> String {
    let out = tributary(db).args(["sync", "xdr"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Everything a run leaves behind, independent of row ids.
fn digest(db: &TestDb) -> Vec<String> {
    let store = db.open();
    let mut rows: Vec<String> = store
        .read(|c| {
            c.query(
                "SELECT a.identity, f.external_id, f.status, f.severity, f.chash FROM findings f JOIN assets a ON a.id = f.asset_id",
                &[],
            )
        })
        .unwrap()
        .into_iter()
        .map(|r| format!("{:?}", r.0))
        .collect();
    rows.sort();
    for (what, sql) in [
        ("assets", "SELECT COUNT(*) FROM assets"),
        ("sources", "SELECT COUNT(*) FROM asset_sources WHERE active = 1"),
        ("identifiers", "SELECT COUNT(*) FROM asset_identifiers"),
        ("raw", "SELECT COUNT(*) FROM raw_records"),
        ("seen-marks left", "SELECT COUNT(*) FROM sync_seen"),
    ] {
        let n: i64 = store.read(|c| c.scalar(sql, &[])).unwrap();
        rows.push(format!("{what}={n}"));
    }
    rows
}

tributary_store::backend_tests! {
    fn kill_nine_mid_sync_resumes_to_the_same_state(db) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sim = rt.block_on(tributary_sim::start(sim_config(), "127.0.0.1:0".parse().unwrap())).unwrap();
        add(&db, &sim);
        let mut killed = 0;
        for delay_ms in [400u64, 900, 1_500] {
            let mut child = tributary(&db).args(["sync", "xdr"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL: no cleanup runs
                killed += 1;
            }
            let _ = child.wait();
        }
        assert!(killed >= 2, "the sync was killed mid-run");
        let last = sync(&db);
        assert!(last.contains("resuming full sync, run 1"), "{last}");
        assert!(last.contains("succeeded"), "{last}");

        // The same tenant into a fresh database, uninterrupted.
        let reference = TestDb::new(db.backend);
        let sim2 = rt.block_on(tributary_sim::start(sim_config(), "127.0.0.1:0".parse().unwrap())).unwrap();
        add(&reference, &sim2);
        sync(&reference);
        let (a, b) = (digest(&db), digest(&reference));
        assert!(a.iter().any(|r| r == "assets=1500"), "{:?}", &a[a.len() - 5..]);
        assert_eq!(a.len(), b.len());
        assert!(a == b, "resumed and uninterrupted runs differ");

        let store = db.open();
        let runs = store.read(|c| tributary_store::repo::runs::list(c, None, 10)).unwrap();
        assert_eq!(runs.len(), 1, "one run, resumed, not restarted");
        let resumes: i64 = store.read(|c| c.scalar("SELECT resumes FROM sync_runs", &[])).unwrap();
        assert_eq!(resumes as usize, killed);
        rt.block_on(async {
            sim.stop().await;
            sim2.stop().await;
        });
    }
}
