//! Semgrep Web API v1 (`/semgrep/api/v1/...`): deployments, projects (with tag
//! write-back), findings (SAST and SCA) with `page`/`page_size` paging, newest
//! `relevant_since` first. As the vendor's OpenAPI documents it: `since` returns only
//! findings (re)introduced since then (fixes and triage do not move `relevant_since`);
//! without `dedup=true` a finding is listed once per ref it was seen on (pull-request refs
//! included); removed findings leave the listing; `repository_ids` narrows to projects.
//! Our choices (undocumented upstream): projects pages are capped at 500 whatever was
//! asked (a client must page until an empty page), and a configured listing cap stops a
//! listing at N results as deployments older than mid-2026 did at 50,000.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{any, get};
use serde::Deserialize;

use super::{Sim, all, auth, ok, one, query_pairs, semgrep_error};
use crate::tenant::semgrep::{DEPLOYMENT_ID, DEPLOYMENT_NAME, DEPLOYMENT_SLUG, IssueType, ProjectInfo};
use crate::types::{Deployment, FindingsLink, FindingsResponse, ListDeploymentsResponse, ListProjectsResponse, ProjectResponse};

pub const MAX_PAGE_SIZE: u64 = 3_000;
pub const MIN_PAGE_SIZE: u64 = 100;
/// Our choice for projects (undocumented upstream): larger pages are cut to this.
pub const MAX_PROJECT_PAGE_SIZE: u64 = 500;
/// Ids of a finding's copy on a pull-request ref: the finding's id plus this.
pub const REF_COPY_ID_OFFSET: i64 = 5_000_000;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/api/v1/deployments", get(deployments))
        .route("/api/v1/deployments/{slug}/projects", get(projects))
        .route("/api/v1/deployments/{slug}/projects/{*rest}", any(project))
        .route("/api/v1/deployments/{slug}/findings", get(findings))
}

async fn deployments(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::semgrep(&sim.world, &headers) {
        return r;
    }
    ok(&ListDeploymentsResponse {
        deployments: vec![Deployment {
            id: DEPLOYMENT_ID,
            name: DEPLOYMENT_NAME.into(),
            slug: DEPLOYMENT_SLUG.into(),
            findings: Some(FindingsLink { url: format!("https://semgrep.dev/api/v1/deployments/{DEPLOYMENT_SLUG}/findings").into() }),
        }],
    })
}

fn check_slug(slug: &str) -> Result<(), Response> {
    if slug == DEPLOYMENT_SLUG { Ok(()) } else { Err(semgrep_error(404, "Deployment not found")) }
}

fn paging(pairs: &[(String, String)], max: u64, min: u64) -> Result<(u64, u64), Response> {
    let page = match one(pairs, "page") {
        Some(p) => p.parse::<u64>().map_err(|_| semgrep_error(400, "page must be a non-negative integer"))?,
        None => 0,
    };
    let size = match one(pairs, "page_size") {
        Some(s) => s.parse::<u64>().map_err(|_| semgrep_error(400, "page_size must be an integer"))?,
        None => 100,
    };
    if size < min || size > max {
        return Err(semgrep_error(400, &format!("page_size must be between {min} and {max}")));
    }
    Ok((page, size))
}

async fn projects(State(sim): State<Sim>, Path(slug): Path<String>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = auth::semgrep(&sim.world, &headers).and_then(|_| check_slug(&slug)) {
        return r;
    }
    let pairs = query_pairs(q.as_deref());
    let (page, size) = match paging(&pairs, u64::MAX, 1) {
        Ok((p, s)) => (p, s.min(MAX_PROJECT_PAGE_SIZE)),
        Err(r) => return r,
    };
    let w = &sim.world;
    let start = page.saturating_mul(size);
    let end = (start + size).min(w.project_count());
    let projects = (start..end).map(|p| w.project_json(&w.project(p), false)).collect();
    ok(&ListProjectsResponse { projects })
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    primary_branch: Option<String>,
    #[serde(default)]
    managed_scan_config: Option<serde_json::Value>,
}

/// `GET|PATCH /projects/{name}`, `PUT|DELETE /projects/{name}/tags`. Project names
/// contain a slash (`org/repo`) and arrive unescaped.
async fn project(
    State(sim): State<Sim>,
    Path((slug, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(r) = auth::semgrep(&sim.world, &headers).and_then(|_| check_slug(&slug)) {
        return r;
    }
    let w = &sim.world;
    let (name, tags_route) = match rest.strip_suffix("/tags") {
        Some(n) => (n, true),
        None => (rest.as_str(), false),
    };
    let Some(info) = w.project_by_name(name) else {
        return semgrep_error(404, "Project not found");
    };
    let current = |info: &ProjectInfo| -> Vec<String> { w.project_json(info, true).tags.into_iter().map(|t| t.into_owned()).collect() };
    let set_tags = |tags: Vec<String>| {
        w.project_tags.lock().unwrap_or_else(|p| p.into_inner()).insert(info.id, tags);
    };
    match (method, tags_route) {
        (Method::GET, false) => {}
        (Method::PATCH, false) => {
            let patch: PatchBody = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return semgrep_error(400, &format!("invalid JSON body: {e}")),
            };
            // PATCH replaces the whole tag set.
            if let Some(tags) = patch.tags {
                set_tags(tags);
            }
            let _ = (patch.primary_branch, patch.managed_scan_config);
        }
        (Method::PUT, true) => {
            let add: TagsBody = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return semgrep_error(400, &format!("invalid JSON body: {e}")),
            };
            let mut tags = current(&info);
            for t in add.tags {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            set_tags(tags);
        }
        (Method::DELETE, true) => {
            let pairs = query_pairs(q.as_deref());
            let remove = all(&pairs, "tags");
            let tags = current(&info).into_iter().filter(|t| !remove.contains(&t.as_str())).collect();
            set_tags(tags);
        }
        _ => return semgrep_error(405, "Method not allowed"),
    }
    ok(&ProjectResponse { project: w.project_json(&info, true) })
}

/// Filters of the findings listing that this simulator evaluates.
struct Filter {
    since_ms: Option<i64>,
    status: Option<String>,
    projects: Vec<u64>,
    repos: Vec<String>,
    severities: Vec<String>,
    dedup: bool,
}

impl Filter {
    fn is_plain(&self) -> bool {
        self.dedup && self.status.is_none() && self.projects.is_empty() && self.repos.is_empty() && self.severities.is_empty()
    }
}

async fn findings(State(sim): State<Sim>, Path(slug): Path<String>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Err(r) = auth::semgrep(&sim.world, &headers).and_then(|_| check_slug(&slug)) {
        return r;
    }
    let pairs = query_pairs(q.as_deref());
    let t = match one(&pairs, "issue_type").unwrap_or("sast") {
        "sast" => IssueType::Sast,
        "sca" => IssueType::Sca,
        "ai_sast" => return ok(&FindingsResponse { findings: vec![] }),
        other => return semgrep_error(400, &format!("invalid issue_type '{other}'")),
    };
    let (page, size) = match paging(&pairs, MAX_PAGE_SIZE, MIN_PAGE_SIZE) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let since_ms = match one(&pairs, "since") {
        Some(s) => match s.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => Some((secs * 1000.0).ceil() as i64),
            _ => return semgrep_error(400, "since must be a Unix timestamp in seconds"),
        },
        None => None,
    };
    let w = sim.world.clone();
    let mut filter = Filter {
        since_ms,
        status: one(&pairs, "status").map(str::to_string),
        projects: Vec::new(),
        repos: all(&pairs, "repos").into_iter().map(str::to_string).collect(),
        severities: all(&pairs, "severities").into_iter().map(str::to_string).collect(),
        dedup: one(&pairs, "dedup").is_some_and(|d| d.eq_ignore_ascii_case("true")),
    };
    for id in all(&pairs, "repository_ids") {
        match id.parse::<i64>().ok().and_then(|i| w.project_index(i)) {
            Some(p) => filter.projects.push(p),
            None => return ok(&FindingsResponse { findings: vec![] }),
        }
    }
    // Generation is CPU work: keep it off the async workers.
    let day = w.day();
    let cap = w.cfg.semgrep_listing_cap;
    let page_items = tokio::task::spawn_blocking(move || {
        let start = page.saturating_mul(size);
        let mut out = Vec::with_capacity(size as usize);
        // A capped deployment stops listing at `cap` results.
        let end_cap = cap.unwrap_or(u64::MAX);
        if start >= end_cap {
            return out;
        }
        let size = size.min(end_cap - start);
        let mut projects = crate::tenant::semgrep::ProjectCache::default();
        if filter.is_plain() {
            let order = w.ordering(t, day);
            let total = order.len();
            // The `since` window is a prefix of the newest-first order.
            let end = match filter.since_ms {
                Some(since) => {
                    let (mut lo, mut hi) = (0u64, total);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if w.finding_state(t, order.at(mid), day).relevant_since >= since { lo = mid + 1 } else { hi = mid }
                    }
                    lo
                }
                None => total,
            };
            for k in start..(start + size).min(end) {
                out.push(w.finding_in(t, order.at(k), day, &mut projects));
            }
            return out;
        }
        // Everything else: walk the candidates in order, one entry per ref unless deduplicated.
        let candidates: Box<dyn Iterator<Item = u64>> = if filter.projects.is_empty() {
            let order = w.ordering(t, day);
            Box::new((0..order.len()).map(move |k| order.at(k)))
        } else {
            Box::new(w.project_findings(t, &filter.projects, day).into_iter())
        };
        let mut skipped = 0u64;
        for f in candidates {
            let st = w.finding_state(t, f, day);
            if filter.since_ms.is_some_and(|s| st.relevant_since < s) {
                break;
            }
            let project = w.finding_project(t, f);
            if filter.status.as_deref().is_some_and(|s| s != st.status.api())
                || (!filter.severities.is_empty() && !filter.severities.iter().any(|s| s == w.finding_severity(t, f)))
                || (!filter.repos.is_empty() && !filter.repos.contains(&w.project(project).name))
            {
                continue;
            }
            let copies = if filter.dedup { None } else { w.ref_copy(t, f) };
            for copy in std::iter::once(None).chain(copies.map(Some)) {
                if skipped < start {
                    skipped += 1;
                    continue;
                }
                let mut item = w.finding_in(t, f, day, &mut projects);
                if let Some(pr) = copy {
                    item.id += REF_COPY_ID_OFFSET;
                    item.r#ref = Some(format!("refs/pull/{pr}/merge").into());
                }
                out.push(item);
                if out.len() as u64 == size {
                    return out;
                }
            }
        }
        out
    })
    .await;
    match page_items {
        Ok(findings) if sim.world.renamed_ids.load(std::sync::atomic::Ordering::SeqCst) => {
            let mut v = serde_json::to_value(&FindingsResponse { findings }).unwrap_or_default();
            for f in v["findings"].as_array_mut().into_iter().flatten() {
                if let Some(o) = f.as_object_mut()
                    && let Some(id) = o.remove("id")
                {
                    o.insert("finding_id".into(), id);
                }
            }
            ok(&v)
        }
        Ok(findings) => ok(&FindingsResponse { findings }),
        Err(e) => semgrep_error(500, &e.to_string()),
    }
}
