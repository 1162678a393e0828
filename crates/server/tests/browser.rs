//! The web UI in a real Chromium (Debian's `chromium` and `chromium-driver`, headless,
//! driven over WebDriver), both backends: sign in, read the dashboard, query findings,
//! open an issue and read its score explanation, risk-accept a finding, switch to the
//! dark theme, and a viewer who cannot change anything. Every page is saved as a
//! screenshot under `target/screenshots/<backend>/` (`TRIBUTARY_SCREENSHOTS` overrides).
//!
//! Chromium missing is a failure, not a skip: `scripts/test.sh` installs it.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{populate, rt, sb, server};
use fantoccini::{Client, ClientBuilder, Locator};
use tributary_app::query::{ListRequest, Listing};
use tributary_app::{Principal, Role};
use tributary_sim::{Scale, SimConfig};

const PASSWORD: &str = "correct horse battery staple";

/// A chromedriver on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} not found on PATH: install Debian's chromium and chromium-driver (scripts/test.sh does)"))
}

fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new(find("chromedriver"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, url: format!("http://127.0.0.1:{port}") }
}

async fn browser(d: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        "--force-device-scale-factor=1",
    ];
    caps.insert("goog:chromeOptions".into(), serde_json::json!({"args": args, "binary": find("chromium").to_string_lossy()}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&d.url).await.expect("connect to chromedriver")
}

struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new(backend: &str) -> Shots {
        let root = std::env::var_os("TRIBUTARY_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"));
        let dir = root.join(backend);
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        Shots { dir }
    }

    async fn take(&self, c: &Client, name: &str) {
        let png = c.screenshot().await.expect("screenshot");
        assert!(png.len() > 1000, "{name}: an empty screenshot");
        std::fs::write(self.dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn sign_in(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/")).await.expect("open");
    // Signed out: the sign-in page.
    c.wait().for_element(Locator::Id("sign-in")).await.expect("the sign-in page");
    c.find(Locator::Id("name")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
    // Generous: two browsers and the rest of the suite share two cores in CI.
    if let Err(e) = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Id("open-findings")).await {
        let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let body = match c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        panic!("signed in: the dashboard: {e}; the browser is at {url} showing:\n{body}");
    }
}

fn backend_name(db: &tributary_store::testing::TestDb) -> &'static str {
    if db.url.starts_with("postgres") { "postgres" } else { "sqlite" }
}

tributary_store::backend_tests! {
    fn the_ui_in_chromium(db) {
        let d = driver();
        let shots = Shots::new(backend_name(&db));
        rt().block_on(async {
            let sim = tributary_sim::start(SimConfig::new(5, Scale::small()), "127.0.0.1:0".parse().unwrap()).await.unwrap();
            let s = server(&db).await;
            populate(&s.app, &sim).await;
            let local = Principal { name: "test".into(), role: Role::Admin, user_id: None };
            let base = s.base.clone();
            let c = browser(&d).await;

            // The sign-in page, a wrong password, then the analyst.
            c.goto(&format!("{base}/findings")).await.unwrap();
            c.wait().for_element(Locator::Id("sign-in")).await.expect("signed out: the sign-in page");
            shots.take(&c, "login").await;
            c.find(Locator::Id("name")).await.unwrap().send_keys("bob").await.unwrap();
            c.find(Locator::Id("password")).await.unwrap().send_keys("wrong").await.unwrap();
            c.find(Locator::Id("sign-in")).await.unwrap().click().await.unwrap();
            assert!(text(&c, "#login-error").await.contains("wrong user name or password"));
            sign_in(&c, &base, "bob").await;
            let summary = sb(|| s.app.summary(&local).unwrap());
            assert_eq!(text(&c, "#open-findings").await, summary.open.to_string());
            assert!(c.find_all(Locator::Css("svg.chart")).await.unwrap().len() >= 4, "the dashboard's charts");
            shots.take(&c, "dashboard").await;
            for p in tributary_web::PAGES.iter().filter(|p| **p != "/webhooks") {
                c.goto(&format!("{base}{p}")).await.unwrap();
                c.wait().for_element(Locator::Id("main")).await.unwrap();
                let name = if *p == "/" { "dashboard".to_string() } else { p.trim_start_matches('/').replace('/', "-") };
                shots.take(&c, &name).await;
            }

            // A query typed in the query bar ("/" focuses it).
            c.goto(&format!("{base}/findings")).await.unwrap();
            c.wait().for_element(Locator::Id("q")).await.unwrap();
            c.active_element().await.unwrap().send_keys("/").await.unwrap();
            let q = c.find(Locator::Id("q")).await.unwrap();
            q.send_keys("finding.severity:critical\u{e007}").await.unwrap();
            let n = sb(|| s.app.count(&local, "finding.severity:critical", Some(Listing::Finding)).unwrap());
            c.wait()
                .for_element(Locator::XPath(&format!("//span[@id='total'][text()='{n} matching']")))
                .await
                .expect("the query's count");
            shots.take(&c, "findings-query").await;
            // A mistyped field: the error points at it and suggests the field.
            let q = c.find(Locator::Id("q")).await.unwrap();
            q.clear().await.unwrap();
            q.send_keys("finding.severty:high\u{e007}").await.unwrap();
            assert!(text(&c, "#query-error").await.contains("finding.severity"));
            shots.take(&c, "findings-query-error").await;

            // The riskiest issue and its explanation.
            c.goto(&format!("{base}/issues")).await.unwrap();
            c.wait().for_element(Locator::Css("#issues tbody a")).await.unwrap().click().await.unwrap();
            let score = text(&c, "#score").await;
            assert_eq!(text(&c, "#factor-sum").await, score, "the parts add up to the score");
            let top = sb(|| s.app.issues(&local, Some("open"), false, 1).unwrap()).remove(0);
            assert_eq!(score, format!("{:.1}", top.score));
            shots.take(&c, "issue").await;

            // Risk-accept a finding.
            let req = ListRequest { q: "finding.severity:high".into(), limit: 1, ..Default::default() };
            let id = sb(|| s.app.list(&local, &req, Some(Listing::Finding)).unwrap()).items[0]["id"].as_i64().unwrap();
            c.goto(&format!("{base}/findings/{id}")).await.unwrap();
            c.wait().for_element(Locator::Id("triage-select")).await.unwrap().select_by_value("risk_accepted").await.unwrap();
            c.find(Locator::Id("triage-reason")).await.unwrap().send_keys("compensating WAF rule").await.unwrap();
            c.execute("document.getElementById('triage-until').value = '2099-01-31';", vec![]).await.unwrap();
            c.find(Locator::Id("triage-save")).await.unwrap().click().await.unwrap();
            c.wait()
                .for_element(Locator::XPath("//strong[@id='triage-status'][text()='risk accepted']"))
                .await
                .expect("the page shows the decision");
            let f = sb(|| s.app.finding(&local, id).unwrap());
            assert_eq!(f.triage.reason.as_deref(), Some("compensating WAF rule"));
            shots.take(&c, "finding-risk-accepted").await;
            c.find(Locator::Id("asset-link")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("asset-findings")).await.expect("the asset's page");
            shots.take(&c, "asset").await;

            // The add-integration wizard (as the administrator): a wrong token first —
            // Connection Error with the reason, nothing saved — then the right one.
            c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("sign-in")).await.expect("signed out");
            sign_in(&c, &base, "alice").await;
            c.goto(&format!("{base}/integrations")).await.unwrap();
            c.wait().for_element(Locator::Id("add-integration")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("kind-semgrep")).await.unwrap().click().await.unwrap();
            let fill = |id: &'static str, v: String| {
                let c = c.clone();
                async move {
                    let e = c.wait().for_element(Locator::Id(id)).await.unwrap();
                    e.clear().await.unwrap();
                    e.send_keys(&v).await.unwrap();
                }
            };
            fill("w-name", "semgrep-2".into()).await;
            fill("w-url", sim.base_url("semgrep")).await;
            fill("w-secret", "sgp_wrong_token".into()).await;
            shots.take(&c, "wizard").await;
            c.find(Locator::Id("w-connect")).await.unwrap().click().await.unwrap();
            let err = text(&c, "#wizard-error").await;
            assert!(err.contains("Connection Error") || err.contains("401") || err.to_lowercase().contains("token"), "{err}");
            shots.take(&c, "wizard-connection-error").await;
            assert!(sb(|| s.app.integration(&local, "semgrep-2")).is_err(), "nothing saved");
            fill("w-secret", tributary_sim::config::DEFAULT_SEMGREP_TOKEN.into()).await;
            c.find(Locator::Id("w-connect")).await.unwrap().click().await.unwrap();
            // Step 3: the projects it detected, with their repositories.
            c.wait().for_element(Locator::Id("project-list")).await.expect("the integration's page with its projects");
            let rows = c.find_all(Locator::Css("#project-list tbody tr")).await.unwrap();
            assert!(!rows.is_empty(), "projects detected");
            shots.take(&c, "integration-projects").await;
            // A manual override of the first project's repository.
            let first = c.find(Locator::Css("#project-list tbody tr")).await.unwrap();
            let project = first.find(Locator::Css("input[name=project]")).await.unwrap().attr("value").await.unwrap().unwrap();
            first.find(Locator::Css("input[name=repository]")).await.unwrap().send_keys("https://github.com/acme/overridden.git").await.unwrap();
            first.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
            c.wait()
                .for_element(Locator::XPath("//table[@id='project-list']//td[text()='github.com/acme/overridden']"))
                .await
                .expect("the page shows the override");
            let mapped = sb(|| s.app.integration(&local, "semgrep-2")).unwrap();
            let scopes = s.app.projects(&local, &mapped.integration.name, false).await.unwrap();
            let p = scopes.iter().find(|p| p.scope.name == project).unwrap();
            assert_eq!(p.scope.repo_key.as_deref(), Some("github.com/acme/overridden"));
            assert_eq!(p.scope.mapping, "manual");
            // Sync now, and watch the run finish on the runs page (it updates itself).
            c.find(Locator::Id("sync-now")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("runs")).await.unwrap();
            shots.take(&c, "runs-live").await;
            c.wait()
                .at_most(Duration::from_secs(60))
                .for_element(Locator::XPath("//table[@id='runs']/tbody/tr[1][contains(@class, 'run-succeeded')]"))
                .await
                .expect("the run finishes on the page without a reload");
            shots.take(&c, "runs-finished").await;

            // The transform map editor: a broken edit is refused with the reason; the map
            // previews on stored records, input beside output.
            c.goto(&format!("{base}/maps/semgrep-sast-default")).await.unwrap();
            let area = c.wait().for_element(Locator::Id("map-text")).await.unwrap();
            let original = area.prop("value").await.unwrap().unwrap_or_default();
            assert!(original.contains("rules"), "{original}");
            c.find(Locator::Id("preview")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Css("#result .pair")).await.expect("input beside output");
            assert!(text(&c, "#result-message").await.contains("stored records"));
            shots.take(&c, "map-preview").await;
            c.execute("document.getElementById('map-text').value = 'rules: [';", vec![]).await.unwrap();
            c.find(Locator::Id("validate")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Css("#result .error")).await.unwrap();
            assert!(text(&c, "#result-message").await.contains("not a valid map"));
            shots.take(&c, "map-invalid").await;

            // The dark theme.
            c.goto(&format!("{base}/")).await.unwrap();
            c.wait().for_element(Locator::Css("[data-theme-toggle]")).await.unwrap().click().await.unwrap();
            let theme = c.execute("return document.documentElement.getAttribute('data-theme');", vec![]).await.unwrap();
            assert!(theme.as_str().is_some(), "the toggle sets a theme");
            shots.take(&c, "dashboard-toggled-theme").await;
            c.execute("localStorage.removeItem('tributary-theme');", vec![]).await.unwrap();

            // Sign out; a viewer sees the finding but cannot change it, even by posting the form.
            c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("sign-in")).await.expect("signed out");
            sign_in(&c, &base, "carol").await;
            c.goto(&format!("{base}/findings/{id}")).await.unwrap();
            c.wait().for_element(Locator::Id("score")).await.unwrap();
            assert!(c.find(Locator::Id("triage-save")).await.is_err(), "a viewer gets no triage form");
            shots.take(&c, "finding-as-viewer").await;
            let status = c
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     const csrf = document.querySelector('input[name=_csrf]').value;
                     fetch(location.pathname + '/triage', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                       body: '_csrf=' + csrf + '&status=false_positive'}).then(r => done(r.status));",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(status.as_i64(), Some(403));
            let f = sb(|| s.app.finding(&local, id).unwrap());
            assert_eq!(f.triage.status.map(|t| t.as_str()), Some("risk_accepted"), "the viewer changed nothing");
            c.close().await.unwrap();
            sim.stop().await;
        });
    }
}
