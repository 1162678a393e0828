//! The web UI over HTTP, both backends: sign-in and sign-out with a session cookie, every
//! page for every role, CSRF, roles on forms, query errors on the page, and the numbers
//! pages show agreeing with the application layer. (The same flows in a real browser:
//! `browser.rs`.)

mod common;

use common::{populate, rt, sb, server};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tributary_app::query::{ListRequest, Listing};
use tributary_app::{Principal, Role};
use tributary_sim::{Scale, SimConfig};

const PASSWORD: &str = "correct horse battery staple";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Signs in through the form; the session cookie's `name=value`.
async fn sign_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let r = http.post(format!("{base}/login")).form(&[("name", user), ("password", PASSWORD), ("next", "/issues")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/issues");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    set.split(';').next().unwrap().to_string()
}

async fn page(http: &reqwest::Client, base: &str, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = http.get(format!("{base}{path}")).header(COOKIE, cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The CSRF token a page's forms carry.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token") + 20;
    html[at..at + 64].to_string()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let a = html.find(start).unwrap_or_else(|| panic!("{start} not in page")) + start.len();
    let b = html[a..].find(end).expect("end") + a;
    &html[a..b]
}

tributary_store::backend_tests! {
    fn pages_sessions_csrf_and_roles(db) {
        rt().block_on(async {
            let sim = tributary_sim::start(SimConfig::new(5, Scale::small()), "127.0.0.1:0".parse().unwrap()).await.unwrap();
            let s = server(&db).await;
            populate(&s.app, &sim).await;
            let http = client();
            let base = s.base.clone();
            let local = Principal { name: "test".into(), role: Role::Admin, user_id: None };

            // Signed out, every page sends to the sign-in page and back.
            for p in tributary_web::PAGES {
                let r = http.get(format!("{base}{p}")).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::SEE_OTHER, "{p}");
                assert!(r.headers()[LOCATION].to_str().unwrap().starts_with("/login?next="), "{p}");
            }
            let (status, login) = page(&http, &base, "tributary_session=tk_forged", "/login?next=//evil.example").await;
            assert_eq!(status, StatusCode::OK);
            assert!(login.contains("name=\"next\" value=\"/\""), "an off-site next is dropped");
            // A wrong password: the message, and no session.
            let r = http.post(format!("{base}/login")).form(&[("name", "bob"), ("password", "nope")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert!(r.headers().get(SET_COOKIE).is_none());
            assert!(r.text().await.unwrap().contains("wrong user name or password"));

            // Every page renders for every role, with the user and no raw JSON.
            for user in ["alice", "bob", "carol"] {
                let cookie = sign_in(&http, &base, user).await;
                for p in tributary_web::PAGES {
                    let (status, html) = page(&http, &base, &cookie, p).await;
                    if user == "carol" && *p == "/webhooks" {
                        assert_eq!(status, StatusCode::FORBIDDEN, "webhooks are for analysts and administrators");
                        continue;
                    }
                    assert_eq!(status, StatusCode::OK, "{user} {p}: {html}");
                    assert!(html.contains(&format!("title=\"Signed in as {user}\"")), "{user} {p}");
                    let main = &html[html.find("<main").expect("main")..];
                    assert!(!main.contains("{\"") && !main.contains("{&quot;"), "{user} {p}: raw JSON on the page");
                }
            }

            let analyst = sign_in(&http, &base, "bob").await;
            let viewer = sign_in(&http, &base, "carol").await;
            // The dashboard's numbers are the application's.
            let summary = sb(|| s.app.summary(&local).unwrap());
            let (_, dash) = page(&http, &base, &viewer, "/").await;
            assert_eq!(between(&dash, "id=\"open-findings\">", "<"), summary.open.to_string());
            assert!(summary.open > 0);
            assert!(dash.contains("<svg class=\"chart\""));
            // A query: its count, and a bad one explained on the page.
            let q = "finding.severity:critical";
            let n = sb(|| s.app.count(&local, q, Some(Listing::Finding)).unwrap());
            let (_, list) = page(&http, &base, &viewer, "/findings?q=finding.severity%3Acritical").await;
            assert_eq!(between(&list, "id=\"total\">", " matching"), n.to_string());
            let (status, bad) = page(&http, &base, &viewer, "/findings?q=finding.severty%3Ahigh").await;
            assert_eq!(status, StatusCode::OK);
            assert!(between(&bad, "id=\"query-error\">", "</pre>").contains("severity"), "suggests the nearest field");

            // A saved view: kept per user, listed as a chip, deleted again.
            let (_, list_page) = page(&http, &base, &viewer, "/findings").await;
            let vcsrf = csrf(&list_page);
            let r = http.post(format!("{base}/findings/views")).header(COOKIE, viewer.clone())
                .form(&[("_csrf", vcsrf.as_str()), ("name", "criticals"), ("q", "finding.severity:critical"), ("sort", "-last_seen")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let (_, with_view) = page(&http, &base, &viewer, "/findings").await;
            assert!(with_view.contains(">criticals</a>") && with_view.contains("q=finding.severity%3Acritical"), "the view is listed");
            let (_, other) = page(&http, &base, &analyst, "/findings").await;
            assert!(!other.contains(">criticals</a>"), "views are per user");
            let r = http.post(format!("{base}/findings/views")).header(COOKIE, viewer.clone())
                .form(&[("_csrf", vcsrf.as_str()), ("name", "bad"), ("q", "finding.severty:x")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a view's query must compile");
            let r = http.post(format!("{base}/findings/views")).header(COOKIE, viewer.clone())
                .form(&[("_csrf", vcsrf.as_str()), ("name", "criticals"), ("delete", "1")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert!(!page(&http, &base, &viewer, "/findings").await.1.contains(">criticals</a>"));
            // The list's export buttons: the same findings, streamed.
            assert!(list.contains("href=\"/findings/export?format=csv&amp;q=finding.severity%3Acritical\""));
            let r = http.get(format!("{base}/findings/export?format=csv&q=finding.severity%3Acritical")).header(COOKIE, viewer.clone()).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r.headers()["content-disposition"].to_str().unwrap().contains("tributary-findings.csv"));
            assert_eq!(r.text().await.unwrap().lines().count() as i64, n + 1);
            let r = http.get(format!("{base}/findings/export?format=csv")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out: no export");
            // Issues: keyset pages that do not repeat, and the findings query as a filter.
            let ids = |html: &str| html.match_indices("<a href=\"/issues/").map(|(i, _)| html[i + 17..].split('"').next().unwrap().to_string()).collect::<Vec<_>>();
            let (_, first) = page(&http, &base, &viewer, "/issues").await;
            let href = between(&first, "<nav class=\"pager\"><a class=\"button\" href=\"", "\"").replace("&amp;", "&").replace("&#38;", "&");
            let (_, second) = page(&http, &base, &viewer, &href).await;
            let (a, b) = (ids(&first), ids(&second));
            assert_eq!(a.len(), 100);
            assert!(!b.is_empty() && b.iter().all(|x| !a.contains(x)), "the next page continues: {href} {} {} {:?}", a.len(), b.len(), b.iter().filter(|x| a.contains(x)).count());
            let cve = sb(|| s.app.issues(&local, Some("open"), true, 1).unwrap()).remove(0).cve.expect("a multi-source issue has a CVE");
            let (_, filtered) = page(&http, &base, &viewer, &format!("/issues?q=finding.cve%3A{cve}")).await;
            assert!(!ids(&filtered).is_empty() && filtered.contains(&cve));
            let (status, bad) = page(&http, &base, &viewer, "/issues?q=finding.cvee%3Ax").await;
            assert_eq!(status, StatusCode::OK);
            assert!(bad.contains("id=\"query-error\""));
            // An issue's explanation adds up to its score.
            let top = sb(|| s.app.issues(&local, Some("open"), false, 1).unwrap()).remove(0);
            let (_, issue) = page(&http, &base, &viewer, &format!("/issues/{}", top.id)).await;
            assert_eq!(between(&issue, "id=\"factor-sum\">", "<"), format!("{:.1}", top.score));
            assert_eq!(between(&issue, "id=\"score\">", "<"), format!("{:.1}", top.score));

            // Triage: a finding, its page, and who may change it.
            let req = ListRequest { q: "finding.severity:high".into(), limit: 1, ..Default::default() };
            let item = sb(|| s.app.list(&local, &req, Some(Listing::Finding)).unwrap()).items.remove(0);
            let id = item["id"].as_i64().unwrap();
            let (_, fpage) = page(&http, &base, &viewer, &format!("/findings/{id}")).await;
            assert!(!fpage.contains("id=\"triage-save\""), "a viewer gets no triage form");
            let viewer_csrf = csrf(&fpage);
            let post = |cookie: &str, form: Vec<(&str, String)>| {
                http.post(format!("{base}/findings/{id}/triage")).header(COOKIE, cookie.to_string()).form(&form).send()
            };
            let r = post(&viewer, vec![("_csrf", viewer_csrf.clone()), ("status", "false_positive".into())]).await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "a viewer cannot triage");
            let (_, fpage) = page(&http, &base, &analyst, &format!("/findings/{id}")).await;
            assert!(fpage.contains("id=\"triage-save\""));
            let token = csrf(&fpage);
            assert_ne!(token, viewer_csrf, "each session has its own CSRF token");
            let r = post(&analyst, vec![("_csrf", viewer_csrf), ("status", "false_positive".into())]).await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "another session's CSRF token is refused");
            let r = post(&analyst, vec![("_csrf", token.clone()), ("status", "risk_accepted".into())]).await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert!(r.text().await.unwrap().contains("a risk acceptance needs a reason"));
            let unchanged = sb(|| s.app.finding(&local, id).unwrap());
            assert!(unchanged.triage.status.is_none(), "nothing was written by refused forms");
            let r = post(&analyst, vec![("_csrf", token.clone()), ("status", "risk_accepted".into()), ("reason", "compensating WAF rule".into()), ("until", "2099-01-31".into())]).await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let (_, fpage) = page(&http, &base, &analyst, &format!("/findings/{id}")).await;
            assert_eq!(between(&fpage, "id=\"triage-status\">", "<"), "risk accepted");
            assert!(fpage.contains("compensating WAF rule"));
            let r = http.post(format!("{base}/findings/{id}/comments")).header(COOKIE, analyst.clone()).form(&[("_csrf", token.as_str()), ("body", "<b>ticket</b> SEC-1")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let (_, fpage) = page(&http, &base, &analyst, &format!("/findings/{id}")).await;
            assert!(fpage.contains("ticket") && fpage.contains("SEC-1") && !fpage.contains("<b>ticket"), "comments are escaped");
            let history = between(&fpage, "id=\"history\"", "</article>");
            assert!(history.contains("set — ") && history.contains("risk_accepted") && history.contains("comment"), "the decision and the comment in its history: {history}");

            // Assets: a query over them, each linking to its page.
            let hosts = sb(|| s.app.count(&local, "asset.kind:host", Some(Listing::Asset)).unwrap());
            let (_, assets) = page(&http, &base, &viewer, "/assets?q=asset.kind%3Ahost").await;
            assert_eq!(between(&assets, "id=\"total\">", " matching"), hosts.to_string());
            // The finding's asset: its page, its findings, its criticality (analysts).
            let f = sb(|| s.app.finding(&local, id).unwrap());
            let (status, asset) = page(&http, &base, &viewer, &format!("/assets/{}", f.asset.id)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(asset.contains(&f.asset.name) && asset.contains(&format!("href=\"/findings/{id}\"")), "the asset lists its findings");
            assert!(!asset.contains("Set and rescore"), "viewers cannot set criticality");
            let r = http.post(format!("{base}/assets/{}/criticality", f.asset.id)).header(COOKIE, analyst.clone()).form(&[("_csrf", token.as_str()), ("value", "5")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let r = http.post(format!("{base}/assets/{}/criticality", f.asset.id)).header(COOKIE, analyst.clone()).form(&[("_csrf", token.as_str()), ("value", "9")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            // A profile from its form (analysts), a bad schedule refused with the field.
            let (_, profiles) = page(&http, &base, &analyst, "/profiles").await;
            assert!(profiles.contains("id=\"add-profile\""));
            let r = http.post(format!("{base}/profiles")).header(COOKIE, analyst.clone())
                .form(&[("_csrf", token.as_str()), ("name", "every-6h"), ("integration", "xdr"), ("when", "every"), ("value", "6h")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert!(sb(|| s.app.profiles(&local).unwrap()).iter().any(|p| p.profile.name == "every-6h" && p.profile.active));
            let r = http.post(format!("{base}/profiles")).header(COOKIE, analyst.clone())
                .form(&[("_csrf", token.as_str()), ("name", "bad"), ("integration", "xdr"), ("when", "cron"), ("value", "0 0 30 2 *")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            assert!(r.text().await.unwrap().contains("cron"));
            // A user from the settings page (administrators): the password shown once.
            let admin = sign_in(&http, &base, "alice").await;
            let (_, settings) = page(&http, &base, &admin, "/settings").await;
            let acsrf = csrf(&settings);
            // The wizard's Cortex XDR path: a wrong key is a Connection Error and saves
            // nothing; the right one lands on the integration's page.
            let (status, wizard) = page(&http, &base, &admin, "/integrations/new?kind=cortex-xdr").await;
            assert_eq!(status, StatusCode::OK);
            assert!(wizard.contains("name=\"key_id\"") && wizard.contains("name=\"internet_exposure\""));
            let xdr_url = sim.base_url("cortex-xdr");
            let form = |key: &str| {
                vec![
                    ("_csrf", acsrf.clone()), ("kind", "cortex-xdr".into()), ("name", "xdr-2".into()), ("base_url", xdr_url.clone()),
                    ("key_id", tributary_sim::config::DEFAULT_XDR_KEY_ID.into()), ("security", "standard".into()), ("secret", key.to_string()),
                    ("vulnerability", "on".into()), ("host_asset", "on".into()),
                ]
            };
            let r = http.post(format!("{base}/integrations")).header(COOKIE, admin.clone()).form(&form("not-the-key")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let body = r.text().await.unwrap();
            assert!(body.contains("Connection Error"), "{body}");
            assert!(!body.contains("not-the-key"), "the key is never echoed");
            assert!(sb(|| s.app.integration(&local, "xdr-2")).is_err());
            let r = http.post(format!("{base}/integrations")).header(COOKIE, admin.clone()).form(&form(tributary_sim::config::DEFAULT_XDR_KEY)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert_eq!(r.headers()[LOCATION], "/integrations/xdr-2");
            let mut as_analyst = form(tributary_sim::config::DEFAULT_XDR_KEY);
            as_analyst[0].1 = token.clone();
            as_analyst[2].1 = "xdr-3".into();
            let r = http.post(format!("{base}/integrations")).header(COOKIE, analyst.clone()).form(&as_analyst).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "analysts do not handle credentials");
            assert!(r.text().await.unwrap().contains("needs the admin role"));
            let r = http.post(format!("{base}/settings/users")).header(COOKIE, admin.clone()).form(&[("_csrf", acsrf.as_str()), ("name", "dave"), ("role", "analyst")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r.text().await.unwrap().contains("Added dave (analyst). One-time password, shown this once:"));
            let r = http.post(format!("{base}/settings/users")).header(COOKIE, analyst.clone()).form(&[("_csrf", token.as_str()), ("name", "eve"), ("role", "admin")]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "analysts do not add users");
            // Signing out ends the session on the server, not only in the browser.
            let r = http.post(format!("{base}/logout")).header(COOKIE, analyst.clone()).form(&[("_csrf", token.as_str())]).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
            let r = http.get(format!("{base}/")).header(COOKIE, analyst).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old cookie no longer signs in");
            sim.stop().await;
        });
    }
}
