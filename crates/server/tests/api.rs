//! The REST API end to end against the simulator: sign-in and its rate limit, tokens
//! (revoked, expired), an integration added and synced through the API with live
//! progress, keyset paging, query errors, size limits, and triage — single, bulk by
//! query, standing rules — surviving re-syncs. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::{rt, sb, server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary_sim::config::{DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_sim::{Scale, SimConfig};

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn count(s: &common::Server, q: &str) -> i64 {
    s.get(&format!("/api/v1/count?q={}", enc(q)), &s.viewer).await["count"].as_i64().expect("count")
}

/// Starts a sync through the API and waits for its run to end.
async fn sync(s: &common::Server, name: &str, full: bool) -> Value {
    let (status, _, run) =
        s.call(Method::POST, &format!("/api/v1/integrations/{name}/sync"), Some(&s.analyst), Some(json!({"full": full}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().expect("run id");
    let started = Instant::now();
    loop {
        let r = s.get(&format!("/api/v1/runs/{id}"), &s.viewer).await;
        if r["status"] != "running" {
            assert_eq!(r["status"], "succeeded", "{r}");
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "sync did not finish: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

tributary_store::backend_tests! {
    fn sign_in_tokens_and_bad_input(db) {
        rt().block_on(async {
            let s = server(&db).await;
            // Sign in; the token works; the password is never echoed.
            let (status, _, t) = s.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"user": "bob", "password": "correct horse battery staple"}))).await;
            assert_eq!(status, StatusCode::OK, "{t}");
            let token = t["token"].as_str().unwrap().to_string();
            assert_eq!(s.get("/api/v1/me", &token).await["role"], "analyst");
            assert!(!t.to_string().contains("horse"));
            // Wrong passwords: refused, then locked out even with the right one.
            for _ in 0..tributary_app::auth::LOGIN_FAILURES {
                let (status, _, _) = s.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"user": "carol", "password": "wrong password!!"}))).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED);
            }
            let (status, _, body) = s.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"user": "carol", "password": "correct horse battery staple"}))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(body["detail"].as_str().unwrap().contains("too many failed logins"), "{body}");
            // A token created through the API is shown once, listed without its secret, and revocable.
            let created = s.send(Method::POST, "/api/v1/tokens", &s.viewer, json!({"name": "ci", "expires_in_days": 7})).await;
            let secret = created["token"].as_str().unwrap().to_string();
            assert!(secret.starts_with("trb_"));
            let listed = s.get("/api/v1/tokens", &secret).await;
            assert!(!listed.to_string().contains(&secret), "tokens are never listed");
            s.send(Method::DELETE, &format!("/api/v1/tokens/{}", created["id"]), &s.viewer, json!({})).await;
            let (status, ctype, _) = s.call(Method::GET, "/api/v1/me", Some(&secret), None).await;
            assert_eq!((status, ctype.as_str()), (StatusCode::UNAUTHORIZED, "application/problem+json"), "a revoked token");
            // An expired token.
            let t2 = s.send(Method::POST, "/api/v1/tokens", &s.viewer, json!({"name": "short"})).await;
            sb(|| db.open().write(|c| c.execute("UPDATE api_tokens SET expires_at = 1 WHERE name = 'short'", &[]))).unwrap();
            let (status, _, _) = s.call(Method::GET, "/api/v1/me", Some(t2["token"].as_str().unwrap()), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token");
            // Bad input is a problem, never a 500.
            let (status, _, p) = s.call(Method::GET, &format!("/api/v1/findings?q={}", enc("finding.severty:high")), Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(p["field"], "q");
            assert!(p["detail"].as_str().unwrap().contains("did you mean 'finding.severity'"), "{p}");
            let (status, _, p) = s.call(Method::GET, &format!("/api/v1/findings?q={}", enc("finding.severity:(high")), Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(p["detail"].as_str().unwrap().contains('^'), "the caret points at the position: {p}");
            let (status, _, p) = s.call(Method::GET, "/api/v1/findings?limit=5000", Some(&s.viewer), None).await;
            assert_eq!((status, p["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")), "{p}");
            let (status, _, p) = s.call(Method::GET, "/api/v1/findings?limit=ten", Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
            let (status, _, p) = s.call(Method::GET, "/api/v1/findings?cursor=zz", Some(&s.viewer), None).await;
            assert_eq!((status, p["field"].as_str()), (StatusCode::BAD_REQUEST, Some("cursor")), "{p}");
            // (The server closes a connection whose body it refused to read: a client of
            // its own, so no pooled connection is reused after it.)
            let big = json!({"name": "x".repeat(2 * 1024 * 1024)});
            let r = reqwest::Client::new().post(format!("{}/api/v1/tokens", s.base)).bearer_auth(&s.viewer).json(&big).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            let r = s.http.post(format!("{}/api/v1/tokens", s.base)).bearer_auth(&s.viewer).header("content-type", "application/json").body("{not json").send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            let (status, _, p) = s.call(Method::POST, "/api/v1/tokens", Some(&s.viewer), Some(json!({"name": "x", "colour": "red"}))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused: {p}");
            // A viewer cannot write; nothing was written.
            let (status, _, _) = s.call(Method::POST, "/api/v1/findings/triage", Some(&s.viewer), Some(json!({"q": "finding.id:1", "decision": {"status": "fixed"}}))).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            // The health check.
            let h = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap().json::<Value>().await.unwrap();
            assert_eq!(h["status"], "ok");
        });
    }

    fn sync_page_and_triage_through_the_api(db) {
        rt().block_on(async {
            let sim = tributary_sim::start(SimConfig::new(7, Scale::small()), "127.0.0.1:0".parse().unwrap()).await.unwrap();
            let s = server(&db).await;
            // A standing rule made before any finding exists: findings that arrive get it.
            let rule = s.send(Method::POST, "/api/v1/triage-rules", &s.analyst, json!({
                "name": "criticals-reviewed", "q": "finding.severity:critical",
                "decision": {"status": "false_positive", "reason": "reviewed by the platform team"}
            })).await;
            assert_eq!(rule["applied_now"], 0);
            // An integration through the API: the credential goes in and never comes out.
            let (status, _, added) = s.call(Method::POST, "/api/v1/integrations", Some(&s.analyst), Some(json!({"name": "xdr", "kind": "cortex-xdr", "base_url": sim.base_url("cortex-xdr"), "config": {"key_id": DEFAULT_XDR_KEY_ID}, "secret": DEFAULT_XDR_KEY}))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "analysts do not handle credentials: {added}");
            let added = s.send(Method::POST, "/api/v1/integrations", &s.admin, json!({"name": "xdr", "kind": "cortex-xdr", "base_url": sim.base_url("cortex-xdr"), "config": {"key_id": DEFAULT_XDR_KEY_ID}, "secret": DEFAULT_XDR_KEY})).await;
            assert!(!added.to_string().contains(DEFAULT_XDR_KEY));
            assert!(!s.get("/api/v1/integrations", &s.viewer).await.to_string().contains(DEFAULT_XDR_KEY), "secrets are write-only");
            let run = sync(&s, "xdr", false).await;
            assert!(run["counts"]["created"].as_i64().unwrap() > 0, "{run}");
            // The standing rule decided every critical finding that arrived.
            let critical = count(&s, "finding.severity:critical").await;
            assert!(critical > 0);
            assert_eq!(count(&s, "finding.severity:critical finding.triage:false_positive").await, critical);
            // Keyset pages cover the open findings exactly once, in order.
            let total = count(&s, "finding.vendorProductName:*").await;
            // Exports through the API: streamed, one OCSF line per finding; bad input is a problem.
            let r = s.http.get(format!("{}/api/v1/findings/export?format=ocsf&q={}", s.base, enc("finding.severity:critical"))).bearer_auth(&s.viewer).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], "application/x-ndjson");
            assert_eq!(r.text().await.unwrap().lines().count() as i64, critical);
            let (status, _, p) = s.call(Method::GET, "/api/v1/findings/export?format=pdf", Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
            assert!(p["detail"].as_str().unwrap().contains("sarif, ocsf or csv"), "{p}");
            // Issues filtered by a findings query: each listed issue holds a matching finding.
            let crit = s.get(&format!("/api/v1/issues?q={}&limit=1000", enc("finding.severity:critical")), &s.viewer).await;
            let listed = crit["items"].as_array().unwrap();
            assert!(!listed.is_empty());
            assert!(listed.iter().all(|i| i["severity"] == "critical"), "a critical finding makes a critical issue");
            // Keyset pages of 7 walk every open issue once, highest score first.
            let (mut seen, mut cursor, mut last) = (std::collections::BTreeSet::new(), String::new(), f64::MAX);
            loop {
                let page = s.get(&format!("/api/v1/issues?limit=7&cursor={}", enc(&cursor)), &s.viewer).await;
                for i in page["items"].as_array().unwrap() {
                    assert!(seen.insert(i["id"].as_i64().unwrap()), "issue listed twice: {i}");
                    let score = i["score"].as_f64().unwrap();
                    assert!(score <= last, "{score} after {last}");
                    last = score;
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = c.to_string(),
                    None => break,
                }
            }
            let app = s.app.clone();
            let counts = tokio::task::spawn_blocking(move || app.issue_counts(&tributary_app::Principal::local())).await.unwrap().unwrap();
            assert!(counts.open > 7);
            assert_eq!(seen.len() as i64, counts.open);
            assert!(listed.len() <= seen.len());
            let (status, _, p) = s.call(Method::GET, "/api/v1/issues?cursor=nonsense", Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
            let (status, _, p) = s.call(Method::GET, &format!("/api/v1/issues?q={}", enc("finding.sev:x")), Some(&s.viewer), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
            // The maintained counts agree with counting.
            let summary = s.get("/api/v1/summary", &s.viewer).await;
            assert_eq!(summary["open"].as_i64(), Some(total), "{summary}");
            let by_sev: i64 = summary["by_severity"].as_array().unwrap().iter().map(|b| b["count"].as_i64().unwrap()).sum();
            assert_eq!(by_sev, total);
            assert_eq!(summary["by_severity"][0]["key"], "critical");
            assert_eq!(
                summary["by_severity"][0]["count"].as_i64(),
                Some(count(&s, "finding.severity:critical").await)
            );
            let mut seen = std::collections::HashSet::new();
            let mut last: Option<(i64, i64)> = None;
            let mut cursor = String::new();
            loop {
                let page = s.get(&format!("/api/v1/findings?limit=37&sort=-severity{cursor}"), &s.viewer).await;
                for f in page["items"].as_array().unwrap() {
                    let sev = ["info", "low", "medium", "high", "critical"].iter().position(|x| *x == f["severity"]).unwrap() as i64;
                    let id = f["id"].as_i64().unwrap();
                    if let Some(l) = last {
                        assert!((sev, id) < l, "descending by severity, then id");
                    }
                    last = Some((sev, id));
                    assert!(seen.insert(id), "finding {id} on two pages");
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(seen.len() as i64, total);
            // Field selection.
            let slim = s.get("/api/v1/findings?limit=3&fields=severity,title", &s.viewer).await;
            for f in slim["items"].as_array().unwrap() {
                let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["id", "severity", "title"], "{f}");
            }
            let (status, _, p) = s.call(Method::GET, "/api/v1/findings?fields=severity,titel", Some(&s.viewer), None).await;
            assert_eq!((status, p["field"].as_str()), (StatusCode::BAD_REQUEST, Some("fields")), "{p}");
            assert!(p["detail"].as_str().unwrap().contains("did you mean 'title'"), "{p}");
            // One finding in full, with its source record.
            let id = *seen.iter().next().unwrap();
            let f = s.get(&format!("/api/v1/findings/{id}"), &s.viewer).await;
            assert!(f["source"]["record"].is_object(), "{f}");
            // Single triage, then bulk by query with a preview count.
            let until = "2099-01-01T00:00:00Z";
            let one = s.send(Method::PUT, &format!("/api/v1/findings/{id}/triage"), &s.analyst, json!({"status": "in_progress", "assignee": "bob"})).await;
            assert_eq!(one["status"], "in_progress");
            let q = "finding.triage:none finding.severity<=high";
            let preview = s.send(Method::POST, "/api/v1/findings/triage", &s.analyst, json!({"q": q, "preview": true, "decision": {"status": "risk_accepted", "reason": "compensating control", "until": until}})).await;
            let matched = preview["matched"].as_i64().unwrap();
            assert!(matched > 0);
            assert_eq!(count(&s, "finding.triage:risk_accepted").await, 0, "a preview changes nothing");
            let done = s.send(Method::POST, "/api/v1/findings/triage", &s.analyst, json!({"q": q, "decision": {"status": "risk_accepted", "reason": "compensating control", "until": until}})).await;
            assert_eq!(done["matched"], matched);
            let audit = s.get("/api/v1/audit?limit=1000", &s.admin).await;
            let bulk: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "triage.bulk").collect();
            assert_eq!(bulk.len(), 1, "one audit entry for the bulk decision");
            assert_eq!(bulk[0]["detail"]["findings"].as_array().unwrap().len() as i64, matched);
            assert_eq!(bulk[0]["actor"], "bob");
            // A comment.
            let c = s.send(Method::POST, &format!("/api/v1/findings/{id}/comments"), &s.analyst, json!({"body": "patch window is Tuesday"})).await;
            assert_eq!(c["author"], "bob");
            // The vendor moves on; full re-syncs never undo a decision. What the vendor
            // fixed is closed whatever its triage said.
            sim.world.advance(3);
            sync(&s, "xdr", true).await;
            sync(&s, "xdr", true).await;
            assert_eq!(count(&s, "finding.status:* finding.triage:risk_accepted").await, matched, "every acceptance survives");
            assert_eq!(s.get(&format!("/api/v1/findings/{id}"), &s.viewer).await["triage"]["status"], "in_progress");
            let fixed_accepted = count(&s, "finding.status:fixed finding.triage:risk_accepted").await;
            let open_accepted = count(&s, "finding.triage:risk_accepted").await;
            assert_eq!(fixed_accepted + open_accepted, matched);
            assert!(fixed_accepted > 0, "the simulator fixed some accepted findings in three days");
            sim.stop().await;
        });
    }
}
