//! Service levels: `finding.slaBreached` is "open past its severity's days — or its issue's
//! BOD 26-04 decision's, if earlier — since first seen", the report counts the same, the
//! days are the team's. Both backends.

mod common;

use tributary_app::{App, Principal};
use tributary_core::sla::SlaDays;

tributary_store::backend_tests! {
    fn sla_breaches_are_counted_and_queried_alike(db) {
        let app = App::open(&db.options()).unwrap();
        let who = Principal::local();
        common::synced(&app, 73, &["sg"]);
        let count = |q: &str| app.count(&who, q, None).unwrap();
        let r = app.sla(&who).unwrap();
        assert_eq!(r.days, SlaDays::default());
        assert_eq!(r.breached, count("finding.slaBreached:true"));
        assert!(r.breached > 0, "the simulated findings go back months");
        assert_eq!(count("finding.slaBreached:true") + count("finding.slaBreached:false"), count("finding.status:open"));
        // One day for criticals: every critical first seen over a day ago is overdue.
        app.set_sla_days(&who, &SlaDays { critical: Some(1), ..SlaDays::default() }).unwrap();
        assert_eq!(count("finding.slaBreached:true finding.severity:critical"), count("finding.severity:critical finding.firstSeen>1d"));
        // No deadline for lows, none by decision: none overdue.
        let no_decision = tributary_core::sla::DecisionDays {
            days_3_forensics: None,
            days_3: None,
            days_14: None,
            days_60: None,
            fix_on_system_upgrade: None,
        };
        app.set_sla_days(&who, &SlaDays { low: None, by_decision: no_decision, ..SlaDays::default() }).unwrap();
        assert_eq!(count("finding.slaBreached:true finding.severity:low"), 0);
        // Deadlines by the issue's BOD 26-04 decision alone: one day for "fix on system
        // upgrade" (the decision of every simulated Semgrep finding: no KEV, no exposure,
        // no vector).
        let only_decision = SlaDays {
            critical: None,
            high: None,
            medium: None,
            low: None,
            info: None,
            by_decision: tributary_core::sla::DecisionDays { fix_on_system_upgrade: Some(1), ..no_decision },
        };
        app.set_sla_days(&who, &only_decision).unwrap();
        let by_decision = count("finding.decision:fix_on_system_upgrade finding.firstSeen>1d");
        assert!(by_decision > 0, "the simulated tenant has issues so decided");
        assert_eq!(count("finding.slaBreached:true"), by_decision);
        assert_eq!(app.sla(&who).unwrap().breached, 0, "the report counts by severity; none has a deadline");
        let e = app.set_sla_days(&who, &SlaDays { high: Some(0), ..SlaDays::default() }).unwrap_err().to_string();
        assert!(e.contains("1 to 3650"), "{e}");
    }
}
