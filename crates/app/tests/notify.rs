//! Notifications end to end, both backends: webhooks of each kind against a loopback
//! receiver, fired by a sync (new policy matches, new critical or internet-exposed
//! issues), HMAC-signed, a failing receiver retried after backoff, each issue told once,
//! a receiver that never answers given up after the last attempt, the URL never in a log.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use tributary_app::notify::{AddWebhook, EventKind, WebhookKind};
use tributary_app::{App, NoProgress, Principal, SyncOptions};
use tributary_core::notify::{SIGNATURE_HEADER, verify};
use tributary_core::secret::Secret;

/// One request: path, signature header, event header, body.
type Request = (String, String, String, Value);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

async fn receive(State(r): State<Received>, Path(path): Path<String>, headers: HeaderMap, body: String) -> StatusCode {
    let mut all = r.0.lock().unwrap();
    let first_here = !all.iter().any(|(p, ..)| *p == path);
    let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let event = headers.get("x-tributary-event").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    all.push((path.clone(), sig, event, serde_json::from_str(&body).unwrap_or(Value::Null)));
    // The raw body is kept to check the signature over exactly what was sent.
    all.push((format!("{path}#raw"), String::new(), String::new(), Value::String(body)));
    if path == "flaky" && first_here { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

fn sb<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

const SECRET: &str = "0123456789abcdef-signing";

tributary_store::backend_tests! {
    fn webhooks_fire_sign_retry_and_log(db) {
        let app = App::open(&db.options()).unwrap();
        let who = Principal::local();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let received = Received::default();
            let router = axum::Router::new().route("/{path}", axum::routing::post(receive)).with_state(received.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, router).await });
            let add = |name: &str, kind, path: &str, events: Vec<EventKind>, secret: Option<&str>| AddWebhook {
                name: name.into(),
                url: Secret::new(format!("{base}/{path}")),
                kind,
                events,
                secret: secret.map(Secret::new),
            };
            let generic = sb(|| app.add_webhook(&who, add("ops", WebhookKind::Generic, "flaky", vec![], Some(SECRET))).unwrap());
            assert!(generic.generated_secret.is_none());
            assert_eq!(generic.webhook.url_hint, format!("{base}/…"), "the path is never shown");
            let slack = sb(|| app.add_webhook(&who, add("chat", WebhookKind::Slack, "slack", vec![EventKind::IssuesNew], None)).unwrap());
            assert_eq!(slack.generated_secret.as_ref().map(String::len), Some(40), "a generated secret is shown once");
            sb(|| app.add_webhook(&who, add("teams", WebhookKind::Teams, "teams", vec![EventKind::PolicyMatched], Some(SECRET))).unwrap());
            // A receiver that is never there.
            sb(|| app.add_webhook(&who, add("gone", WebhookKind::Generic, "x", vec![EventKind::IssuesNew], Some(SECRET))).unwrap());
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            sb(|| app.delete_webhook(&who, "gone").unwrap());
            sb(|| app.add_webhook(&who, AddWebhook { url: Secret::new(format!("http://{closed}/token-in-path-s3cr3t")), ..add("gone", WebhookKind::Generic, "x", vec![EventKind::IssuesNew], Some(SECRET)) }).unwrap());
            // Bad input is refused whole.
            let err = sb(|| app.add_webhook(&who, add("bad", WebhookKind::Generic, "x", vec![], Some("short"))).unwrap_err());
            assert!(err.to_string().contains("secret: at least 16 characters"), "{err}");
            let err = sb(|| app.add_webhook(&who, AddWebhook { url: Secret::new("ftp://x"), ..add("bad", WebhookKind::Generic, "x", vec![], None) }).unwrap_err());
            assert!(err.to_string().contains("http:// or https://"), "{err}");
            let viewer = Principal { name: "v".into(), role: tributary_app::Role::Viewer, user_id: None };
            assert!(sb(|| app.webhooks(&viewer).is_err()), "viewers do not see webhooks");

            sb(|| app.add_policy(&who, "criticals", "finding.severity:critical", "page on-call").unwrap());
            let sim = tributary_sim::start(tributary_sim::SimConfig::new(17, tributary_sim::Scale::small()), "127.0.0.1:0".parse().unwrap()).await.unwrap();
            common::add_and_sync(&app, &sim, &["xdr", "sg"]).await;
            let critical = sb(|| app.count(&who, "finding.severity:critical", None).unwrap());
            assert!(critical > 0);

            // The first round: everything goes out once; the flaky receiver fails the first time.
            let round = app.send_notifications(&who).await.unwrap();
            assert!(round.delivered >= 4 && round.failed >= 2, "{round:?}");
            let log = sb(|| app.webhook_deliveries(&who, Some("ops"), 100).unwrap());
            assert!(log.iter().any(|d| d.status == "pending" && d.attempts == 1 && d.last_code == Some(500)), "{log:?}");
            let gone = sb(|| app.webhook_deliveries(&who, Some("gone"), 100).unwrap());
            assert!(gone.iter().all(|d| !d.last_error.as_deref().unwrap_or("").contains("s3cr3t")), "no URL in the log: {gone:?}");
            // Nothing is due again before its backoff; after it, the retry is delivered.
            assert_eq!(app.send_notifications(&who).await.unwrap().delivered, 0);
            let later = tributary_core::time::now_ms() + 31_000;
            assert_eq!(app.send_notifications_at(&who, later).await.unwrap().delivered, 1, "the one that failed");
            let log = sb(|| app.webhook_deliveries(&who, Some("ops"), 100).unwrap());
            assert!(log.iter().all(|d| d.status == "delivered"), "{log:?}");
            assert!(log.iter().any(|d| d.attempts == 2 && d.last_code == Some(200)));

            let got = received.0.lock().unwrap().clone();
            let of = |path: &str| got.iter().filter(|(p, ..)| p == path).cloned().collect::<Vec<_>>();
            // Generic: signed with the secret over the exact body; both events, with counts.
            let ops: Vec<_> = of("flaky").into_iter().zip(of("flaky#raw")).collect();
            assert!(ops.len() >= 3, "two events, one of them twice");
            for ((_, sig, event, body), (_, _, _, raw)) in &ops {
                assert!(verify(SECRET.as_bytes(), sig, raw.as_str().unwrap().as_bytes()), "{sig}");
                assert!(!verify(b"wrong secret----", sig, raw.as_str().unwrap().as_bytes()));
                assert_eq!(&body["event"], event);
            }
            // One policy event per sync that brought new matches (a retried body counted once):
            // together they count every critical finding.
            let mut policy: Vec<&Value> = ops.iter().map(|((.., b), _)| b).filter(|b| b["event"] == "policy_matched").collect();
            policy.dedup();
            assert_eq!(policy.iter().map(|b| b["count"].as_i64().unwrap()).sum::<i64>(), critical);
            assert!(policy.iter().all(|b| b["detail"]["action"] == "page on-call" && b["items"].as_array().unwrap().len() <= 20));
            let issues = ops.iter().find(|((.., b), _)| b["event"] == "issues_new").unwrap();
            assert!(issues.0.3["count"].as_i64().unwrap() >= 1);
            assert!(issues.0.3["summary"].as_str().unwrap().contains("new critical or internet-exposed issue"));
            // Slack and Teams bodies.
            let s = of("slack");
            assert_eq!(s.len(), 2, "one per sync, issues only (the Slack hook asked for those)");
            assert!(s.iter().all(|x| x.3["text"].as_str().unwrap().contains("new critical or internet-exposed issue") && x.3["blocks"].is_array()));
            let t = of("teams");
            assert_eq!(t.len(), 2, "one per sync, policies only");
            assert!(t.iter().all(|x| x.3["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"));

            // Another sync with nothing new: nothing more to tell.
            let before = sb(|| app.webhook_deliveries(&who, None, 1000).unwrap().len());
            app.sync(&who, "xdr", SyncOptions::default(), Arc::new(NoProgress)).await.unwrap();
            let after = sb(|| app.webhook_deliveries(&who, None, 1000).unwrap());
            let new_issue_events = after.len() - before;
            assert!(new_issue_events <= 1, "only what changed is told: {:?}", &after[..new_issue_events]);

            // The receiver that is never there: given up after the last attempt.
            let mut at = tributary_core::time::now_ms();
            for _ in 0..8 {
                at += 3_600_000;
                app.send_notifications_at(&who, at).await.unwrap();
            }
            let gone = sb(|| app.webhook_deliveries(&who, Some("gone"), 100).unwrap());
            assert!(!gone.is_empty() && gone.iter().all(|d| d.status == "failed" && d.attempts == tributary_store::repo::webhooks::MAX_ATTEMPTS), "{gone:?}");

            // A test event; deleting a webhook takes its log with it.
            let test = app.test_webhook(&who, "chat").await.unwrap();
            assert_eq!((test.status.as_str(), test.event.as_str()), ("delivered", "test"));
            sb(|| app.delete_webhook(&who, "chat").unwrap());
            assert!(sb(|| app.webhook_deliveries(&who, Some("chat"), 10).is_err()));
            sim.stop().await;
        });
    }
}
