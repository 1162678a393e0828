//! The README's query-and-triage tour through the binary: query --fields, summary, show,
//! triage set / bulk (dry run, then applied) / standing rule, users and tokens, and the
//! same decisions surviving a re-sync. Both backends.

mod common;

use std::process::Output;

use common::tributary;
use serde_json::Value;
use tributary_sim::{Scale, SimConfig};

fn run(db: &tributary_store::testing::TestDb, args: &[&str]) -> Output {
    let out = tributary(db).args(args).output().unwrap();
    assert!(out.status.success(), "tributary {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

fn json(db: &tributary_store::testing::TestDb, args: &[&str]) -> Value {
    let mut a = vec!["--format", "json"];
    a.extend_from_slice(args);
    serde_json::from_slice(&run(db, &a).stdout).unwrap()
}

fn count(db: &tributary_store::testing::TestDb, q: &str) -> i64 {
    String::from_utf8_lossy(&run(db, &["query", q, "--count"]).stdout).trim().parse().unwrap()
}

tributary_store::backend_tests! {
    fn query_and_triage_from_the_command_line(db) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sim = rt.block_on(tributary_sim::start(SimConfig::new(62, Scale::small()), "127.0.0.1:0".parse().unwrap())).unwrap();
        common::add_xdr(&db, &sim.base_url("cortex-xdr"));
        // A standing rule first: the findings the sync brings get its decision.
        let out = run(&db, &["triage", "rule", "add", "crit", "-q", "finding.severity:critical", "--status", "in-progress"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("set now on 0 untriaged findings"));
        run(&db, &["sync", "xdr"]);
        let critical = count(&db, "finding.severity:critical");
        assert!(critical > 0);
        assert_eq!(count(&db, "finding.triage:in_progress"), critical);
        // The field list comes from the registry.
        let fields = json(&db, &["query", "--fields"]);
        assert!(fields.as_array().unwrap().iter().any(|f| f["name"] == "finding.triage"));
        // The summary agrees with counting.
        let summary = json(&db, &["summary"]);
        let open = summary.as_array().unwrap().iter().find(|r| r["by"] == "open").unwrap()["findings"].as_i64().unwrap();
        assert_eq!(open, count(&db, "finding.status:open"));
        // One finding in full.
        let page = json(&db, &["query", "finding.severity:high", "--limit", "1"]);
        let id = page[0]["id"].as_i64().unwrap().to_string();
        let shown: Value = serde_json::from_slice(&run(&db, &["show", "finding", &id]).stdout).unwrap();
        assert!(shown["source"]["record"].is_object());
        // A risk acceptance needs a reason and an expiry; the error names the flag.
        let out = tributary(&db).args(["triage", "set", &id, "--status", "risk-accepted"]).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--reason"), "{}", String::from_utf8_lossy(&out.stderr));
        run(&db, &["triage", "set", &id, "--status", "risk-accepted", "--reason", "WAF rule 7", "--until", "2099-01-01"]);
        run(&db, &["triage", "assign", &id, "bob"]);
        run(&db, &["triage", "comment", &id, "patch window is Tuesday"]);
        // Bulk: a dry run counts and changes nothing; without --yes on a pipe it refuses.
        let q = "finding.severity:low";
        let low = count(&db, q);
        let out = run(&db, &["triage", "bulk", "-q", q, "--status", "false-positive", "--reason", "scanner noise", "--dry-run"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{low} findings match")));
        assert_eq!(count(&db, "finding.triage:false_positive"), 0);
        let out = tributary(&db).args(["triage", "bulk", "-q", q, "--status", "false-positive", "--reason", "scanner noise"]).output().unwrap();
        assert!(!out.status.success(), "no confirmation, no change");
        run(&db, &["triage", "bulk", "-q", q, "--status", "false-positive", "--reason", "scanner noise", "--yes"]);
        assert_eq!(count(&db, "finding.triage:false_positive"), low);
        // A full re-sync changes none of it.
        run(&db, &["sync", "xdr", "--full"]);
        assert_eq!(count(&db, "finding.triage:false_positive"), low);
        assert_eq!(count(&db, "finding.triage:risk_accepted finding.assignee:bob"), 1);
        assert_eq!(count(&db, "finding.triage:in_progress"), critical);
        // Users and tokens: shown once, listed without the secret, revocable.
        run(&db, &["user", "add", "bob", "--role", "analyst"]);
        let out = run(&db, &["token", "create", "ci", "--user", "bob", "--days", "7"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let token = text.lines().find_map(|l| l.strip_prefix("Token (shown once, store it now): ")).unwrap().to_string();
        let listed = json(&db, &["token", "list"]);
        assert!(!listed.to_string().contains(&token));
        let tid = listed[0]["id"].as_i64().unwrap().to_string();
        run(&db, &["token", "revoke", &tid]);
        assert!(json(&db, &["token", "list"])[0]["revoked_at"].is_i64());
        rt.block_on(sim.stop());
    }
}
