//! EPSS and KEV from their published file formats (committed fixtures): loaded whole,
//! a bad file changes nothing, and the query language sees them (`finding.kev`,
//! `finding.epss`). Both backends.

mod common;

use std::path::PathBuf;

use tributary_app::{App, Principal};

fn fixture(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/intel").join(name)
}

tributary_store::backend_tests! {
    fn feeds_load_from_their_files_and_reach_queries(db) {
        let app = App::open(&db.options()).unwrap();
        let who = Principal::local();
        // The committed fixtures, plain and gzipped.
        let l = app.load_epss(&who, &fixture("epss_scores-2026-05-18.csv")).unwrap();
        assert_eq!((l.rows, l.version.as_deref(), l.date.as_deref()), (15, Some("v2025.03.14"), Some("2026-05-18T00:00:00Z")));
        assert_eq!(app.load_epss(&who, &fixture("epss_scores-2026-05-18.csv.gz")).unwrap().rows, 15);
        let k = app.load_kev(&who, &fixture("known_exploited_vulnerabilities.json")).unwrap();
        assert_eq!((k.rows, k.version.as_deref()), (5, Some("2025.02.25")));
        let s = app.intel_status(&who).unwrap();
        assert_eq!((s.epss_rows, s.kev_rows), (15, 5));
        // Bad files are refused with where and why, and change nothing.
        let dir = tempfile::tempdir().unwrap();
        let bad_epss = dir.path().join("bad.csv");
        std::fs::write(&bad_epss, "cve,epss,percentile\nCVE-2024-3400,0.9,0.9\nCVE-2024-3401,high,0.9\n").unwrap();
        let e = app.load_epss(&who, &bad_epss).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'high'"), "{e}");
        let truncated = dir.path().join("kev.json");
        std::fs::write(&truncated, r#"{"catalogVersion":"x","count":9,"vulnerabilities":[{"cveID":"CVE-2024-3400","dateAdded":"2024-04-12"}]}"#).unwrap();
        let e = app.load_kev(&who, &truncated).unwrap_err().to_string();
        assert!(e.contains("count 9") && e.contains("truncated"), "{e}");
        let s = app.intel_status(&who).unwrap();
        assert_eq!((s.epss_rows, s.kev_rows), (15, 5), "a bad file changed nothing");
        // Findings of a synced tenant, with intel for three of their CVEs.
        common::synced(&app, 71, &["xdr"]);
        let page = app.list(&who, &tributary_app::query::ListRequest { q: "finding.cve:*".into(), limit: 1000, ..Default::default() }, None).unwrap();
        let mut cves: Vec<String> = page.items.iter().filter_map(|f| f["cve"].as_str().map(str::to_string)).collect();
        cves.sort();
        cves.dedup();
        cves.truncate(3);
        assert_eq!(cves.len(), 3);
        let epss = dir.path().join("epss.csv");
        std::fs::write(&epss, format!("#model_version:t,score_date:2026-11-26\ncve,epss,percentile\n{},0.9,0.99\n{},0.2,0.8\n{},0.01,0.1\n", cves[0], cves[1], cves[2])).unwrap();
        app.load_epss(&who, &epss).unwrap();
        let kev = dir.path().join("kev.json");
        std::fs::write(&kev, format!(r#"{{"catalogVersion":"t","count":1,"vulnerabilities":[{{"cveID":"{}","dateAdded":"2026-01-01"}}]}}"#, cves[0])).unwrap();
        app.load_kev(&who, &kev).unwrap();
        let count = |q: &str| app.count(&who, q, None).unwrap();
        let on = |cve: &str| count(&format!("finding.cve:{cve}"));
        assert!(on(&cves[0]) > 0);
        assert_eq!(count("finding.kev:true"), on(&cves[0]));
        assert_eq!(count("finding.kev:false finding.cve:*"), count("finding.cve:*") - on(&cves[0]));
        assert_eq!(count("finding.epss>=0.2"), on(&cves[0]) + on(&cves[1]));
        assert_eq!(count("finding.epssPercentile<0.5"), on(&cves[2]));
        assert!(app.count(&who, "finding.kev:maybe", None).unwrap_err().to_string().contains("true or false"));
        // Risk: the intel is among the factors, the factors add up to the score, the same
        // input gives the same score, and the weights are the team's.
        let req = tributary_app::query::ListRequest { q: format!("finding.cve:{}", cves[0]), limit: 1, ..Default::default() };
        let id = app.list(&who, &req, None).unwrap().items[0]["id"].as_i64().unwrap();
        let e = app.explain(&who, id).unwrap();
        let names: Vec<&str> = e.risk.factors.iter().map(|f| f.factor).collect();
        assert!(names.contains(&"kev") && names.contains(&"epss"), "{names:?}");
        let sum: f64 = e.risk.factors.iter().map(|f| f.points).sum();
        assert!((sum - e.risk.score).abs() < 1e-9, "{sum} vs {}", e.risk.score);
        assert_eq!(app.explain(&who, id).unwrap().risk, e.risk);
        let w = tributary_core::risk::RiskWeights { kev: 0.0, ..Default::default() };
        app.set_risk_weights(&who, &w).unwrap();
        let after = app.explain(&who, id).unwrap();
        assert_eq!(after.weights.kev, 0.0);
        let kev_points = e.risk.factors.iter().find(|f| f.factor == "kev").unwrap().points;
        assert!((e.risk.score.min(100.0) - after.risk.score) <= kev_points + 1e-9 && after.risk.score <= e.risk.score, "{} → {}", e.risk.score, after.risk.score);
        assert!(app.set_risk_weights(&who, &tributary_core::risk::RiskWeights { kev: f64::NAN, ..Default::default() }).is_err());
    }
}
