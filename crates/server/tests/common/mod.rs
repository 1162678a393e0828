//! A server on loopback over a test database, with signed-in users of every role.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary_app::{App, Principal, Role};
use tributary_store::testing::TestDb;

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

pub fn sb<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub struct Server {
    pub base: String,
    pub app: App,
    pub http: reqwest::Client,
    /// Tokens by role.
    pub admin: String,
    pub analyst: String,
    pub viewer: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn server(db: &TestDb) -> Server {
    let app = sb(|| App::open(&db.options()).expect("app"));
    let local = Principal { name: "test".into(), role: Role::Admin, user_id: None };
    let mut tokens = Vec::new();
    for (name, role) in [("alice", Role::Admin), ("bob", Role::Analyst), ("carol", Role::Viewer)] {
        let t = sb(|| {
            app.add_user(&local, name, role, Some("correct horse battery staple")).expect("user");
            app.create_token(&local, "test", Some(1), Some(name)).expect("token")
        });
        tokens.push(t.token);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        let _ = tributary_server::serve(
            "127.0.0.1:0".parse().expect("addr"),
            served,
            async move {
                let _ = stop_rx.await;
            },
            |addr| {
                let _ = tx.send(addr);
            },
        )
        .await;
    });
    let addr = rx.await.expect("server address");
    Server {
        base: format!("http://{addr}"),
        app,
        http: reqwest::Client::new(),
        admin: tokens[0].clone(),
        analyst: tokens[1].clone(),
        viewer: tokens[2].clone(),
        stop: Some(stop_tx),
    }
}

impl Server {
    /// A request with an optional token and JSON body: status, content type, body as JSON
    /// (`Null` when empty or not JSON).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, String, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let ctype = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = r.text().await.unwrap_or_default();
        (status, ctype, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (s, _, v) = self.call(Method::GET, path, Some(token), None).await;
        assert!(s.is_success(), "GET {path}: {s} {v}");
        v
    }

    pub async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (s, _, v) = self.call(method.clone(), path, Some(token), Some(body)).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }
}

pub fn empty() -> Value {
    json!({})
}

/// Cortex Cloud, Cortex XDR and Semgrep (SAST and SCA) added against `sim` and synced once,
/// as the demo does: a tenant with context, correlation and scores.
pub async fn populate(app: &App, sim: &tributary_sim::SimServer) {
    use tributary_app::integrations::{AddIntegration, ConnectorSettings};
    use tributary_core::secret::Secret;
    use tributary_sim::config::*;
    let admin = Principal { name: "test".into(), role: Role::Admin, user_id: None };
    let sources = [
        ("cloud", "cortex-cloud", json!({"key_id": DEFAULT_CLOUD_KEY_ID}), DEFAULT_CLOUD_KEY),
        ("xdr", "cortex-xdr", json!({"key_id": DEFAULT_XDR_KEY_ID}), DEFAULT_XDR_KEY),
        ("semgrep", "semgrep", json!({"scan": ["sast", "sca"], "auto_map_future": true}), DEFAULT_SEMGREP_TOKEN),
    ];
    for (name, kind, config, secret) in sources {
        let settings = ConnectorSettings::from_json(kind, config).expect("settings");
        let add = AddIntegration { name: name.into(), base_url: sim.base_url(kind), settings, secret: Secret::new(secret), test: true };
        app.add_integration(&admin, add).await.expect("add integration");
        let run = app
            .sync(&admin, name, tributary_app::SyncOptions::default(), std::sync::Arc::new(tributary_app::NoProgress))
            .await
            .expect("sync");
        assert!(run.counts.fetched > 0, "{name} fetched nothing");
    }
}
