//! The simulators, driven over HTTP by a plain client (not Tributary's connectors).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tributary_sim::api::auth::advanced_hash;
use tributary_sim::config::{
    DEFAULT_CLOUD_KEY, DEFAULT_CLOUD_KEY_ID, DEFAULT_SEMGREP_CI_TOKEN, DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID,
};
use tributary_sim::types::{EndpointsPage, FindingsResponse, ListProjectsResponse, Reply, RepositoriesPage, XqlResults};
use tributary_sim::{Faults, Scale, Security, SimConfig, SimServer};

fn addr() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(cfg: SimConfig) -> SimServer {
    tributary_sim::start(cfg, addr()).await.expect("start sim")
}

fn small(seed: u64) -> SimConfig {
    SimConfig::new(seed, Scale::small())
}

struct Api {
    http: Client,
    base: String,
}

impl Api {
    fn new(sim: &SimServer) -> Api {
        Api { http: Client::new(), base: format!("http://{}", sim.addr) }
    }

    async fn semgrep(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(format!("{}/semgrep{path}", self.base)).bearer_auth(DEFAULT_SEMGREP_TOKEN).send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn xdr(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/cortex-xdr{path}", self.base))
            .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
            .header("Authorization", DEFAULT_XDR_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn cloud(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}/cortex-cloud{path}", self.base))
            .header("x-xdr-auth-id", DEFAULT_CLOUD_KEY_ID)
            .header("Authorization", DEFAULT_CLOUD_KEY)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Every endpoint (paging by 100) with the given filters.
    async fn all_endpoints(&self, filters: Value) -> Vec<tributary_sim::types::Endpoint> {
        let mut out = Vec::new();
        let mut from = 0;
        loop {
            let (s, v) = self
                .xdr(
                    "/public_api/v1/endpoints/get_endpoint/",
                    json!({"request_data": {"filters": filters, "search_from": from, "search_to": from + 100}}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let page: Reply<EndpointsPage> = serde_json::from_value(v).unwrap();
            assert!(page.reply.result_count <= 100);
            assert_eq!(page.reply.result_count as usize, page.reply.endpoints.len());
            out.extend(page.reply.endpoints);
            from += 100;
            if from >= page.reply.total_count.unwrap() {
                break;
            }
        }
        out
    }

    /// Runs an XQL query the way the vendor's own integration does: start, poll while
    /// PENDING, then inline rows or the (gzip) stream. Returns (rows, polls, streamed).
    async fn xql(&self, query: &str, timeframe: Value) -> (Vec<Value>, u32, bool) {
        let (s, v) =
            self.xdr("/public_api/v1/xql/start_xql_query/", json!({"request_data": {"query": query, "timeframe": timeframe}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let id = v["reply"].as_str().unwrap().to_string();
        let mut polls = 0;
        loop {
            polls += 1;
            let (s, v) = self
                .xdr(
                    "/public_api/v1/xql/get_query_results/",
                    json!({"request_data": {"query_id": id, "pending_flag": true, "format": "json", "limit": 1000}}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let r: Reply<XqlResults> = serde_json::from_value(v).unwrap();
            if r.reply.status == "PENDING" {
                continue;
            }
            assert_eq!(r.reply.status, "SUCCESS");
            assert!(r.reply.query_cost.is_some() && r.reply.remaining_quota.is_some());
            let results = r.reply.results.unwrap();
            if let Some(rows) = results.data {
                assert!(rows.len() <= 1000);
                assert_eq!(rows.len() as u64, r.reply.number_of_results.unwrap());
                return (rows, polls, false);
            }
            let stream = results.stream_id.unwrap();
            let resp = self
                .http
                .post(format!("{}/cortex-xdr/public_api/v1/xql/get_query_results_stream/", self.base))
                .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
                .header("Authorization", DEFAULT_XDR_KEY)
                .json(&json!({"request_data": {"stream_id": stream, "is_gzip_compressed": true}}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let gz = resp.bytes().await.unwrap();
            assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip as asked");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
            let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(rows.len() as u64, r.reply.number_of_results.unwrap());
            return (rows, polls, true);
        }
    }

    /// Open CVEs per endpoint, from the `va_endpoints` dataset.
    async fn vulns(&self) -> HashMap<String, Vec<String>> {
        let (rows, _, _) = self.xql("dataset = va_endpoints | fields endpoint_id, cves | sort asc endpoint_id", json!({})).await;
        rows.into_iter()
            .map(|r| {
                let cves = r["cves"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
                (r["endpoint_id"].as_str().unwrap().to_string(), cves)
            })
            .collect()
    }

    /// Every finding of a type, walking pages until a short one.
    async fn all_findings(&self, issue_type: &str, extra: &str, page_size: u64) -> Vec<tributary_sim::types::Finding> {
        let mut out = Vec::new();
        for page in 0.. {
            let (s, v) = self
                .semgrep(&format!(
                    "/api/v1/deployments/acme-sec/findings?issue_type={issue_type}&page={page}&page_size={page_size}&dedup=true{extra}"
                ))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let r: FindingsResponse = serde_json::from_value(v).unwrap();
            let n = r.findings.len() as u64;
            out.extend(r.findings);
            if n < page_size {
                break;
            }
        }
        out
    }

    async fn all_projects(&self) -> Vec<tributary_sim::types::Project> {
        let mut out = Vec::new();
        for page in 0.. {
            let (s, v) = self.semgrep(&format!("/api/v1/deployments/acme-sec/projects?page={page}&page_size=7")).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let r: ListProjectsResponse = serde_json::from_value(v).unwrap();
            let n = r.projects.len();
            out.extend(r.projects);
            if n < 7 {
                break;
            }
        }
        out
    }

    /// Every repository, `offset`/`limit` paging until a short page.
    async fn all_repositories(&self, filters: &str) -> Vec<tributary_sim::types::Repository> {
        let mut out = Vec::new();
        loop {
            let (s, v) = self.cloud(&format!("/public_api/appsec/v1/repositories?offset={}&limit=9{filters}", out.len())).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let r: RepositoriesPage = serde_json::from_value(v).unwrap();
            let n = r.data.len();
            out.extend(r.data);
            if n < 9 {
                assert_eq!(out.len() as i64, r.total_count);
                break;
            }
        }
        out
    }
}

fn open(status: &str) -> bool {
    matches!(status, "open" | "reviewing" | "fixing" | "provisionally_ignored")
}

#[tokio::test]
async fn full_walks_return_each_record_once_and_match_truth() {
    let sim = start(small(1)).await;
    let api = Api::new(&sim);
    let truth = sim.world.truth(0);

    let endpoints = api.all_endpoints(json!([])).await;
    let ids: Vec<String> = endpoints.iter().map(|e| e.endpoint_id.to_string()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "each endpoint once");
    let live = endpoints.iter().filter(|e| e.endpoint_status != "UNINSTALLED").count();
    assert_eq!(live as u64, truth["cortex_xdr"]["endpoints"].as_u64().unwrap());
    let vulns = api.vulns().await;
    let total: usize = vulns.values().map(Vec::len).sum();
    assert_eq!(total as u64, truth["cortex_xdr"]["host_findings"].as_u64().unwrap());
    assert!(vulns.values().all(|c| c.iter().collect::<HashSet<_>>().len() == c.len()), "a CVE appears once per endpoint");
    assert!(vulns.keys().all(|id| ids.contains(id)), "va_endpoints rows are endpoints get_endpoint lists");

    let projects = api.all_projects().await;
    assert_eq!(projects.len() as u64, truth["semgrep"]["projects"].as_u64().unwrap());
    let with_url: HashSet<String> = projects.iter().filter(|p| p.url.is_some()).map(|p| p.name.to_string()).collect();
    for (t, key) in [("sast", "sast_findings"), ("sca", "sca_findings")] {
        for size in [100, 3000] {
            let all = api.all_findings(t, "", size).await;
            let unique: HashSet<i64> = all.iter().map(|f| f.id).collect();
            assert_eq!(unique.len(), all.len(), "{t}: each finding once (page_size {size})");
            assert_eq!(all.len() as u64, truth["semgrep"][format!("{key}_total")].as_u64().unwrap());
            let counted = all.iter().filter(|f| open(&f.status) && with_url.contains(&*f.repository.name)).count();
            assert_eq!(counted as u64, truth["semgrep"][key].as_u64().unwrap(), "{t}");
        }
    }
    let repos = api.all_repositories("").await;
    let ids: HashSet<&str> = repos.iter().map(|r| r.asset_id.as_ref()).collect();
    assert_eq!(ids.len(), repos.len(), "repositories are keyed by assetId");
    // One repository by its assetId; filters by source and by name.
    let one = &repos[3];
    let (s, v) = api.cloud(&format!("/public_api/appsec/v1/repositories/{}", one.asset_id)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_value::<tributary_sim::types::Repository>(v).unwrap(), *one);
    assert_eq!(api.cloud("/public_api/appsec/v1/repositories/no-such-id").await.0, StatusCode::NOT_FOUND);
    let gitlab = api.all_repositories("&source[]=GITLAB").await;
    assert_eq!(gitlab.len(), repos.iter().filter(|r| r.source == "GITLAB").count());
    assert!(!gitlab.is_empty() && gitlab.len() < repos.len());
    let search = api.all_repositories("&search=PAYMENTS").await;
    assert!(!search.is_empty() && search.iter().all(|r| r.full_repository_name.contains("payments")));
    assert_eq!(repos.len() as u64, truth["cortex_cloud"]["repositories"].as_u64().unwrap());
    let exposed = repos.iter().filter(|r| r.internet_exposure.as_deref() == Some("EXPOSED")).count();
    assert_eq!(exposed as u64, truth["cortex_cloud"]["repositories_exposed"].as_u64().unwrap());
    let unsupported: Vec<_> = repos.iter().filter(|r| r.internet_exposure.as_deref() == Some("UNSUPPORTED")).collect();
    for r in &unsupported {
        assert!(r.deployed_assets.iter().any(|a| a.internet_exposed.is_none() && a.exposure_path.as_deref() == Some("AWS_CLASSIC_ELB")));
        assert!(r.internet_exposure_reason.as_deref().unwrap_or("").contains("classic load balancers"));
    }
    sim.stop().await;
}

#[tokio::test]
async fn deltas_after_an_advance_return_exactly_what_changed() {
    let mut cfg = small(4);
    cfg.churn.endpoint_change = 0.2;
    cfg.churn.project_scan = 0.5;
    let sim = start(cfg).await;
    let api = Api::new(&sim);

    let before = api.all_endpoints(json!([])).await;
    let vb = api.vulns().await;
    let sast_before = api.all_findings("sast", "", 3000).await;
    let projects_before: HashMap<String, Option<String>> =
        api.all_projects().await.into_iter().map(|p| (p.name.to_string(), p.latest_scan_at.map(|t| t.to_string()))).collect();
    let watermark = before.iter().map(|e| e.last_seen).max().unwrap();
    let since_ms =
        sast_before.iter().filter_map(|f| f.relevant_since.as_deref()).filter_map(tributary_core::time::parse_loose).max().unwrap();

    let (s, _) = (api.http.post(format!("{}/_sim/advance", api.base)).send().await.unwrap().status(), ());
    assert_eq!(s, StatusCode::OK);

    let after = api.all_endpoints(json!([])).await;
    let va = api.vulns().await;
    let old: HashMap<&str, &tributary_sim::types::Endpoint> = before.iter().map(|e| (&*e.endpoint_id, e)).collect();
    let changed: HashSet<String> = after
        .iter()
        .filter(|e| old.get(&*e.endpoint_id).is_none_or(|o| **o != **e) || vb.get(&*e.endpoint_id) != va.get(&*e.endpoint_id))
        .map(|e| e.endpoint_id.to_string())
        .collect();
    assert!(!changed.is_empty());
    let delta = api.all_endpoints(json!([{"field": "last_seen", "operator": "gte", "value": watermark + 1}])).await;
    let delta_ids: HashSet<String> = delta.iter().map(|e| e.endpoint_id.to_string()).collect();
    assert_eq!(delta_ids, changed, "last_seen >= watermark returns exactly the changed endpoints");
    // va_endpoints rows written since the watermark: the changed endpoints still installed.
    let (rows, _, _) = api.xql("dataset = va_endpoints | fields endpoint_id, cves", json!({"from": watermark + 1, "to": i64::MAX})).await;
    let rows: HashSet<String> = rows.iter().map(|r| r["endpoint_id"].as_str().unwrap().to_string()).collect();
    let live_changed: HashSet<String> =
        delta.iter().filter(|e| e.endpoint_status != "UNINSTALLED").map(|e| e.endpoint_id.to_string()).collect();
    assert_eq!(rows, live_changed, "the timeframe selects the rows written since");

    let sast_after = api.all_findings("sast", "", 3000).await;
    let old: HashMap<i64, &tributary_sim::types::Finding> = sast_before.iter().map(|f| (f.id, f)).collect();
    let changed: HashSet<i64> = sast_after.iter().filter(|f| old.get(&f.id).is_none_or(|o| *o != *f)).map(|f| f.id).collect();
    assert!(!changed.is_empty());
    // `since` sees only findings (re)introduced since then, never fixes or triage.
    let reintroduced: HashSet<i64> =
        sast_after.iter().filter(|f| old.get(&f.id).is_none_or(|o| o.relevant_since != f.relevant_since)).map(|f| f.id).collect();
    let since = format!("&since={}", (since_ms + 1) as f64 / 1000.0);
    let delta: HashSet<i64> = api.all_findings("sast", &since, 100).await.iter().map(|f| f.id).collect();
    assert_eq!(delta, reintroduced, "since returns exactly the new and reintroduced findings");
    let state_only: Vec<i64> = changed.difference(&reintroduced).copied().collect();
    assert!(!state_only.is_empty(), "some findings were fixed or triaged without moving relevant_since");
    // Removed findings leave the listing; every finding whose state changed is in a project
    // whose latest_scan_at moved.
    let after_ids: HashSet<i64> = sast_after.iter().map(|f| f.id).collect();
    let removed = sast_before.iter().filter(|f| !after_ids.contains(&f.id)).count();
    assert!(removed > 0, "some findings were removed");
    let projects_after: HashMap<String, Option<String>> =
        api.all_projects().await.into_iter().map(|p| (p.name.to_string(), p.latest_scan_at.map(|t| t.to_string()))).collect();
    let scanned: HashSet<&String> = projects_after.iter().filter(|(n, t)| projects_before.get(*n) != Some(*t)).map(|(n, _)| n).collect();
    for f in sast_after.iter().filter(|f| changed.contains(&f.id)) {
        assert!(
            scanned.contains(&f.repository.name.to_string()),
            "finding {} changed in a project whose latest_scan_at did not move",
            f.id
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn auth_failures_use_the_vendor_bodies() {
    let mut cfg = small(1);
    cfg.credentials.xdr_security = Security::Advanced;
    let sim = start(cfg).await;
    let http = Client::new();
    let base = format!("http://{}", sim.addr);

    // Semgrep: unknown token 401, Agent-only token 404 (the real API's answer), none 401.
    let r = http.get(format!("{base}/semgrep/api/v1/deployments")).bearer_auth("sgp_wrong").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "Invalid or missing token"}));
    let r = http.get(format!("{base}/semgrep/api/v1/deployments")).bearer_auth(DEFAULT_SEMGREP_CI_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http.get(format!("{base}/semgrep/api/v1/deployments")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http.get(format!("{base}/semgrep/api/v1/deployments/other/projects")).bearer_auth(DEFAULT_SEMGREP_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Cortex XDR, advanced key: a correct hash works once; stale, wrong or replayed fail.
    let url = format!("{base}/cortex-xdr/public_api/v1/endpoints/get_endpoint/");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let send = |nonce: &str, ts: i64, hash: String| {
        http.post(&url)
            .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
            .header("x-xdr-nonce", nonce)
            .header("x-xdr-timestamp", ts.to_string())
            .header("Authorization", hash)
            .json(&json!({"request_data": {"search_from": 0, "search_to": 1}}))
            .send()
    };
    let ok = send("n1", now, advanced_hash(DEFAULT_XDR_KEY, "n1", &now.to_string())).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let unauthorized = json!({"reply": {"err_code": 401, "err_msg": "Public API request unauthorized", "err_extra": null}});
    let replay = send("n1", now, advanced_hash(DEFAULT_XDR_KEY, "n1", &now.to_string())).await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let stale_ts = now - 10 * 60 * 1000;
    let stale = send("n2", stale_ts, advanced_hash(DEFAULT_XDR_KEY, "n2", &stale_ts.to_string())).await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stale.json::<Value>().await.unwrap(), unauthorized);
    let wrong = send("n3", now, advanced_hash("not-the-key", "n3", &now.to_string())).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A standard-style call against an advanced key is refused.
    let plain = http.post(&url).header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID).header("Authorization", DEFAULT_XDR_KEY).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED);
    // A key whose role cannot view endpoints: 403.
    let ts = now.to_string();
    let r = http
        .post(&url)
        .header("x-xdr-auth-id", tributary_sim::config::DEFAULT_XDR_NO_ROLE_KEY_ID)
        .header("x-xdr-nonce", "n4")
        .header("x-xdr-timestamp", &ts)
        .header("Authorization", advanced_hash(DEFAULT_XDR_KEY, "n4", &ts))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["reply"]["err_code"], 403);
    // Cortex Cloud: wrong key id.
    let r = http
        .get(format!("{base}/cortex-cloud/public_api/appsec/v1/repositories"))
        .header("x-xdr-auth-id", "999")
        .header("Authorization", DEFAULT_CLOUD_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    sim.stop().await;
}

#[tokio::test]
async fn bad_requests_get_vendor_error_bodies() {
    let sim = start(small(1)).await;
    let api = Api::new(&sim);
    let r = api
        .http
        .post(format!("{}/cortex-xdr/public_api/v1/endpoints/get_endpoint", api.base))
        .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
        .header("Authorization", DEFAULT_XDR_KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reply"]["err_msg"], "Bad Request. Got an invalid JSON.");
    let (s, v) = api
        .xdr(
            "/public_api/v1/endpoints/get_endpoint",
            json!({"request_data": {"filters": [{"field": "color", "operator": "in", "value": ["red"]}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = api.semgrep("/api/v1/deployments/acme-sec/findings?page_size=5000").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = api.cloud("/public_api/appsec/v1/repositories?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Both spellings of an XDR path answer.
    let (s1, a) = api.xdr("/public_api/v1/endpoints/get_endpoint", json!({})).await;
    let (s2, b) = api.xdr("/public_api/v1/endpoints/get_endpoint/", json!({})).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a, b);
    let (s, v) = api.xdr("/public_api/v1/system/get_tenant_info/", json!({"request_data": {}})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["reply"]["enabled_host_insights"].is_number());
    sim.stop().await;
}

#[tokio::test]
async fn every_fault_kind() {
    let fault = |spec: &str| {
        let mut c = small(1);
        c.faults = spec.parse::<Faults>().unwrap();
        c.faults.slow_delay = Duration::from_millis(400);
        c
    };
    let get = |sim: &SimServer| {
        Client::new()
            .get(format!("http://{}/semgrep/api/v1/deployments/acme-sec/projects", sim.addr))
            .bearer_auth(DEFAULT_SEMGREP_TOKEN)
            .send()
    };

    let sim = start(fault("429=1")).await;
    let r = get(&sim).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    sim.stop().await;

    let sim = start(fault("500=1")).await;
    assert_eq!(get(&sim).await.unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Cortex 500s are sometimes plain text, not JSON.
    let mut kinds = HashSet::new();
    for _ in 0..16 {
        let r = Client::new()
            .post(format!("http://{}/cortex-xdr/public_api/v1/healthcheck", sim.addr))
            .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
            .header("Authorization", DEFAULT_XDR_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        kinds.insert(r.text().await.unwrap().contains("waitress"));
    }
    assert_eq!(kinds.len(), 2, "both the JSON and the plain-text 500");
    sim.stop().await;

    let sim = start(fault("slow=1")).await;
    let t = Instant::now();
    assert_eq!(get(&sim).await.unwrap().status(), StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(400));
    sim.stop().await;

    let sim = start(fault("reset=1")).await;
    let r = get(&sim).await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a reset cuts the response");
    sim.stop().await;

    let sim = start(fault("truncate=1")).await;
    let r = get(&sim).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&body).is_err(), "a truncated body is not valid JSON");
    sim.stop().await;

    // Latency applies to every vendor request.
    let mut c = small(1);
    c.latency = Duration::from_millis(150);
    let sim = start(c).await;
    let t = Instant::now();
    get(&sim).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    sim.stop().await;
}

#[tokio::test]
async fn same_seed_serves_byte_identical_pages() {
    let fetch = |sim: &SimServer| {
        let base = format!("http://{}", sim.addr);
        async move {
            let http = Client::new();
            let mut out = Vec::new();
            for path in [
                "/semgrep/api/v1/deployments/acme-sec/findings?issue_type=sca&page=1&page_size=100",
                "/semgrep/api/v1/deployments/acme-sec/projects",
            ] {
                out.push(http.get(format!("{base}{path}")).bearer_auth(DEFAULT_SEMGREP_TOKEN).send().await.unwrap().bytes().await.unwrap());
            }
            out.push(
                http.post(format!("{base}/cortex-xdr/public_api/v1/endpoints/get_endpoint/"))
                    .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
                    .header("Authorization", DEFAULT_XDR_KEY)
                    .body(r#"{"request_data":{"search_from":100,"search_to":200}}"#)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap(),
            );
            out
        }
    };
    let (a, b, c) = (start(small(42)).await, start(small(42)).await, start(small(43)).await);
    let (pa, pb, pc) = (fetch(&a).await, fetch(&b).await, fetch(&c).await);
    assert_eq!(pa, pb);
    assert_ne!(pa, pc);
    for s in [a, b, c] {
        s.stop().await;
    }
}

#[tokio::test]
async fn project_tags_write_back() {
    let sim = start(small(1)).await;
    let api = Api::new(&sim);
    let name = api.all_projects().await[3].name.clone();
    let url = format!("{}/semgrep/api/v1/deployments/acme-sec/projects/{name}", api.base);
    let r = api
        .http
        .put(format!("{url}/tags"))
        .bearer_auth(DEFAULT_SEMGREP_TOKEN)
        .json(&json!({"tags": ["tributary-mapped", "tier-1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tags = |v: &Value| v["project"]["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect::<HashSet<_>>();
    let (_, v) = api.semgrep(&format!("/api/v1/deployments/acme-sec/projects/{name}")).await;
    assert!(tags(&v).contains("tributary-mapped"));
    let listed = api.all_projects().await.into_iter().find(|p| p.name == name).unwrap();
    assert!(listed.tags.iter().any(|t| t == "tributary-mapped"), "visible in later list reads");
    let r = api.http.delete(format!("{url}/tags?tags=tier-1")).bearer_auth(DEFAULT_SEMGREP_TOKEN).send().await.unwrap();
    assert!(!tags(&r.json::<Value>().await.unwrap()).contains("tier-1"));
    let r = api.http.patch(&url).bearer_auth(DEFAULT_SEMGREP_TOKEN).json(&json!({"tags": ["only"]})).send().await.unwrap();
    assert_eq!(tags(&r.json::<Value>().await.unwrap()), HashSet::from(["only".to_string()]));
    let (s, _) = api.semgrep("/api/v1/deployments/acme-sec/projects/no/such-project").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    sim.stop().await;
}

#[tokio::test]
async fn xql_queries_pend_stream_cost_and_refuse_what_is_unsupported() {
    let mut cfg = small(31);
    cfg.scale.xdr_endpoints = 1_500;
    let sim = start(cfg).await;
    let api = Api::new(&sim);
    // Under 1,000 rows inline, above through the gzip stream; PENDING exactly once first.
    let (rows, polls, streamed) = api.xql("dataset = va_cves | fields name, severity | limit 10", json!({})).await;
    assert_eq!((rows.len(), polls, streamed), (10, 2, false));
    assert_eq!(rows[0].as_object().unwrap().len(), 2, "fields projects the columns");
    let (rows, _, streamed) = api.xql("dataset = va_endpoints | fields endpoint_id, cves", json!({})).await;
    assert!(rows.len() > 1000 && streamed, "{} rows", rows.len());
    let (s, v) = api.xdr("/public_api/v1/xql/get_quota/", json!({"request_data": {}})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["reply"]["used_quota"].as_f64().unwrap() > 0.0 && v["reply"]["license_quota"] == 1000.0, "{v}");
    assert_eq!(sim.xql.started.load(std::sync::atomic::Ordering::SeqCst), 2);
    // A query this tenant does not run: a parse error in the vendor's envelope.
    let (s, v) =
        api.xdr("/public_api/v1/xql/start_xql_query/", json!({"request_data": {"query": "dataset = xdr_data | comp count()"}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reply"]["err_extra"]["parse_err"].as_str().unwrap().contains("xdr_data"), "{v}");
    // The invented vulnerabilities call is gone.
    let (s, _) = api.xdr("/public_api/v1/vulnerability-management/get_vulnerabilities/", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    sim.stop().await;

    let mut cfg = small(32);
    cfg.host_insights = false;
    cfg.xdr_total_count = false;
    let sim = start(cfg).await;
    let api = Api::new(&sim);
    let (s, v) = api.xdr("/public_api/v1/system/get_tenant_info/", json!({"request_data": {}})).await;
    assert_eq!((s, v["reply"]["purchased_host_insights"].as_i64()), (StatusCode::OK, Some(0)));
    let (s, v) = api.xdr("/public_api/v1/xql/start_xql_query/", json!({"request_data": {"query": "dataset = va_cves"}})).await;
    assert_eq!(s.as_u16(), 402, "{v}");
    let (_, v) = api.xdr("/public_api/v1/endpoints/get_endpoint/", json!({"request_data": {"search_from": 0, "search_to": 100}})).await;
    assert!(v["reply"].get("total_count").is_none() && v["reply"]["result_count"] == 100, "no total_count");
    sim.stop().await;
}

#[tokio::test]
async fn findings_repeat_per_ref_without_dedup_and_projects_narrow_the_listing() {
    let mut cfg = small(33);
    cfg.semgrep_listing_cap = Some(500);
    let sim = start(cfg).await;
    let api = Api::new(&sim);
    let page = |extra: &'static str| {
        let api = &api;
        async move {
            let (s, v) = api.semgrep(&format!("/api/v1/deployments/acme-sec/findings?issue_type=sast&page_size=3000{extra}")).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            serde_json::from_value::<FindingsResponse>(v).unwrap().findings
        }
    };
    // The cap: a listing stops at 500 results, whatever the page size.
    assert_eq!(page("&dedup=true").await.len(), 500);
    assert!(page("&dedup=true&page=1").await.is_empty());
    // Without dedup, copies on pull-request refs come along.
    let w = &sim.world;
    let sast = tributary_sim::tenant::semgrep::IssueType::Sast;
    let biggest =
        (0..w.project_count()).max_by_key(|p| (0..w.finding_count(sast, 0)).filter(|f| w.finding_project(sast, *f) == *p).count()).unwrap();
    let ids: &'static str = Box::leak(format!("&repository_ids={}", 99_000 + biggest).into_boxed_str());
    let deduped = page(Box::leak(format!("&dedup=true{ids}").into_boxed_str())).await;
    let all_refs = page(ids).await;
    assert!(all_refs.len() > deduped.len(), "{} vs {}", all_refs.len(), deduped.len());
    assert!(all_refs.iter().any(|f| f.r#ref.as_deref().is_some_and(|r| r.starts_with("refs/pull/"))));
    assert!(deduped.iter().all(|f| !f.r#ref.as_deref().unwrap_or("").starts_with("refs/pull/")));
    let project = w.project(biggest);
    assert!(deduped.iter().all(|f| f.repository.name == project.name), "repository_ids narrows to the project");
    let expected = (0..w.finding_count(sast, 0)).filter(|f| w.finding_project(sast, *f) == biggest).count();
    assert_eq!(deduped.len(), expected);
    // Projects: pages are cut at 500 whatever is asked, so only an empty page ends them.
    let (_, v) = api.semgrep("/api/v1/deployments/acme-sec/projects?page=0&page_size=3000").await;
    assert_eq!(v["projects"].as_array().unwrap().len(), 50);
    sim.stop().await;
}
