//! The scheduler with a controllable clock, and the run lease's own heartbeat, on SQLite
//! and PostgreSQL.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tributary_core::model::Schedule;
use tributary_engine::scheduler::Scheduler;
use tributary_store::params;
use tributary_store::repo::{integrations, maps, profiles, runs};

const HOUR: i64 = 3_600_000;

/// An active profile of `xdr` running every hour from `start`.
fn hourly(e: &tributary_engine::Engine, name: &str, start: i64) {
    sb(|| {
        e.store.write(|c| {
            let i = integrations::get(c, "xdr")?;
            let map = maps::get(c, "cortex-xdr-default")?;
            profiles::create(
                c,
                profiles::NewProfile {
                    name,
                    description: None,
                    integration_id: i.id,
                    maps: vec![("endpoint".into(), map.id)],
                    active: true,
                    is_default: false,
                    schedule: Schedule::Every { every_ms: HOUR, start, end: None },
                },
            )?;
            Ok(())
        })
    })
    .unwrap();
}

fn next_run(e: &tributary_engine::Engine, name: &str) -> i64 {
    sb(|| e.store.read(|c| profiles::get(c, name))).unwrap().next_run_at.unwrap()
}

async fn until_idle(s: &Scheduler) {
    for _ in 0..400 {
        if s.busy().unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the scheduled run did not end");
}

tributary_store::backend_tests! {
    fn profiles_fire_on_time_once_per_due_time_and_one_at_a_time(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(51);
            cfg.latency = Duration::from_millis(30);
            let sim = sim(cfg).await;
            let e = engine(&db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            let t0 = 1_900_000_000_000;
            hourly(&e, "hourly", t0);
            let s = Scheduler::new(e.clone());
            assert!(s.tick_at(t0 - 1).await.unwrap().is_empty(), "not due yet");
            assert_eq!(s.tick_at(t0).await.unwrap(), ["hourly"], "due at its time");
            // While its run goes on, the next due time does not start a second one.
            assert!(s.tick_at(t0 + HOUR).await.unwrap().is_empty(), "one run per profile at a time");
            until_idle(&s).await;
            assert_eq!(next_run(&e, "hourly"), t0 + HOUR);
            assert_eq!(count(&e, XDR_ASSETS), 200);
            // The server was down for five hours: the missed times run once, then on schedule.
            assert_eq!(s.tick_at(t0 + 5 * HOUR + 10).await.unwrap(), ["hourly"]);
            until_idle(&s).await;
            assert_eq!(next_run(&e, "hourly"), t0 + 6 * HOUR);
            assert!(s.tick_at(t0 + 5 * HOUR + 20).await.unwrap().is_empty(), "ran once for all it missed");
            let i = sb(|| e.store.read(|c| integrations::get(c, "xdr"))).unwrap();
            let ran = sb(|| e.store.read(|c| runs::list(c, Some(i.id), 10))).unwrap();
            assert_eq!(ran.len(), 2, "two runs: on time, and once after the outage");
            sim.stop().await;
        });
    }

    fn a_live_run_keeps_its_lease_between_commits_and_stops_when_it_is_taken(db) {
        let rt = rt();
        rt.block_on(async {
            let mut cfg = small(52);
            cfg.latency = Duration::from_millis(1_500);
            let sim = sim(cfg).await;
            let mut e = engine(&db);
            e.heartbeat_every = Duration::from_millis(100);
            e.add_integration(xdr("xdr", &sim, json!({"types": ["host-asset"]})), "test").await.unwrap();
            let runner = e.clone();
            let run = tokio::spawn(async move { sync(&runner, "xdr", false).await });
            let beat = || scalar(&e, "SELECT COALESCE(heartbeat_at, 0) FROM sync_runs WHERE status = 'running'", &[]);
            tokio::time::sleep(Duration::from_millis(400)).await;
            let first = beat();
            tokio::time::sleep(Duration::from_millis(400)).await;
            let second = beat();
            assert!(second > first && first > 0, "the heartbeat moved while no page committed: {first} → {second}");
            // Another process takes the run over: this one stops instead of writing on.
            sb(|| e.store.write(|c| c.execute("UPDATE sync_runs SET lease_owner = 'elsewhere:1' WHERE status = 'running'", params![]))).unwrap();
            let err = run.await.unwrap().unwrap_err().to_string();
            assert!(err.contains("taken over by another process"), "{err}");
            sim.stop().await;
        });
    }
}
