//! The dashboard's shared aggregates, both backends: taken once, served to every reader,
//! and taken again in the background after a run ends — readers meanwhile get the last
//! ones, never a wait.

mod common;

use std::time::{Duration, Instant};

use tributary_app::{App, Principal};

tributary_store::backend_tests! {
    fn aggregates_follow_runs_without_making_readers_wait(db) {
        let app = App::open(&db.options()).unwrap();
        let who = Principal::local();
        app.warm_dashboard().unwrap();
        let before = app.dashboard(&who).unwrap();
        assert_eq!(before.aggregates.issues.total, 0);
        common::synced(&app, 9, &["xdr"]);
        let want = app.issue_counts(&who).unwrap();
        assert!(want.total > 0);
        // The run ended: the next read starts a pass and is answered at once with the last
        // counts; a later read has the new ones.
        let started = Instant::now();
        let first = app.dashboard(&who).unwrap();
        assert!(first.aggregates.issues.total == 0 || first.aggregates.issues.total == want.total);
        loop {
            let d = app.dashboard(&who).unwrap();
            if d.aggregates.issues.total == want.total {
                assert_eq!(d.aggregates.issues.open, want.open);
                assert_eq!(d.aggregates.sla_breached, app.sla(&who).unwrap().breached);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the aggregates never caught up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
