//! Cortex XDR public API (`/cortex-xdr/public_api/v1/...`). Everything is POST with a
//! `{"request_data": {...}}` body; replies are wrapped in `{"reply": ...}`. Trailing
//! slashes are accepted with or without.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{self, Cortex};
use super::{Sim, cortex_error, ok};
use crate::tenant::World;
use crate::tenant::xdr::endpoint_index;
use crate::types::{EndpointsPage, Reply};

/// `get_endpoint` returns at most this many endpoints per call (vendor limit).
pub const MAX_ENDPOINTS_PAGE: u64 = 100;

/// Registers `path` and `path/` for the same handler.
fn both(r: Router<Sim>, path: &str, h: axum::routing::MethodRouter<Sim>) -> Router<Sim> {
    r.route(path, h.clone()).route(&format!("{path}/"), h)
}

pub fn routes() -> Router<Sim> {
    let r = Router::new();
    let r = both(r, "/public_api/v1/endpoints/get_endpoint", post(get_endpoint));
    let r = both(r, "/public_api/v1/endpoints/get_endpoints", post(get_endpoints));
    let r = both(r, "/public_api/v1/system/get_tenant_info", post(tenant_info));
    let r = both(r, "/public_api/v1/healthcheck", post(healthcheck).get(healthcheck));
    // Attack-surface management (Xpanse) on the same tenant.
    let r = both(r, "/public_api/v1/assets/get_assets_internet_exposure", post(internet_exposure));
    // Vulnerability data is read through XQL (there is no vulnerabilities call).
    let r = both(r, "/public_api/v1/xql/start_xql_query", post(super::xql::start));
    let r = both(r, "/public_api/v1/xql/get_query_results", post(super::xql::results));
    let r = both(r, "/public_api/v1/xql/get_query_results_stream", post(super::xql::stream));
    both(r, "/public_api/v1/xql/get_quota", post(super::xql::quota))
}

#[derive(Debug, Deserialize, Default)]
struct RequestData {
    #[serde(default)]
    filters: Vec<FilterSpec>,
    search_from: Option<u64>,
    search_to: Option<u64>,
    sort: Option<SortSpec>,
}

#[derive(Debug, Deserialize)]
struct FilterSpec {
    field: String,
    operator: String,
    value: Value,
}

#[derive(Debug, Deserialize, Clone)]
struct SortSpec {
    field: String,
    #[serde(default = "asc")]
    keyword: String,
}

fn asc() -> String {
    "asc".into()
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    request_data: Option<RequestData>,
}

fn bad_request(msg: &str, extra: Value) -> Response {
    cortex_error(400, 400, msg, extra)
}

fn parse(body: &Bytes) -> Result<RequestData, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RequestData::default());
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| bad_request("Bad Request. Got an invalid JSON.", json!(e.to_string())))?;
    Ok(env.request_data.unwrap_or_default())
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string).or_else(|| x.as_i64().map(|n| n.to_string()))).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

fn guard(sim: &Sim, h: &HeaderMap, needs_view: bool) -> Result<(), Response> {
    auth::cortex(&sim.world, &sim.nonces, Cortex::Xdr, h, needs_view)
}

/// One filter over an endpoint: `(index, state, endpoint) → matches`.
type Check = Box<dyn Fn(u64, &crate::tenant::xdr::EndpointState, &crate::types::Endpoint) -> bool>;

/// Which endpoints match the filters, in the requested order.
fn matching(w: &World, data: &RequestData, day: u32) -> Result<Vec<u64>, Response> {
    let count = w.endpoint_count(day);
    // Fast path: an id list resolves without walking the fleet.
    if data.filters.len() == 1 && data.filters[0].field == "endpoint_id_list" && data.sort.is_none() {
        let ids = strings(&data.filters[0].value);
        return Ok(ids.iter().filter_map(|id| endpoint_index(w.seed(), id)).filter(|i| *i < count).collect());
    }
    // Sorted by id, filtered (if at all) on times only: no endpoint needs generating.
    let by_id = data.sort.as_ref().is_some_and(|s| s.field == "endpoint_id");
    let times_only = data.filters.iter().all(|f| matches!(f.field.as_str(), "last_seen" | "first_seen"));
    if by_id && times_only {
        let desc = data.sort.as_ref().is_some_and(|s| s.keyword.eq_ignore_ascii_case("desc"));
        let mut bounds: Vec<(bool, bool, i64)> = Vec::new(); // (last_seen?, gte?, value)
        for f in &data.filters {
            let n = f
                .value
                .as_i64()
                .ok_or_else(|| bad_request("Bad Request", json!(format!("filter '{}' needs an integer (epoch ms) value", f.field))))?;
            let gte = match f.operator.to_ascii_lowercase().as_str() {
                "gte" => true,
                "lte" => false,
                _ => return Err(bad_request("Bad Request", json!(format!("filter '{}' supports gte and lte", f.field)))),
            };
            bounds.push((f.field == "last_seen", gte, n));
        }
        let order = w.endpoints_by_id(day);
        let mut out: Vec<u64> = if bounds.is_empty() {
            order.as_ref().clone()
        } else {
            order
                .iter()
                .copied()
                .filter(|&i| {
                    let st = w.endpoint_timeline(i, day);
                    bounds.iter().all(|&(last, gte, n)| {
                        let t = if last { st.last_seen } else { w.first_seen(i) };
                        if gte { t >= n } else { t <= n }
                    })
                })
                .collect()
        };
        if desc {
            out.reverse();
        }
        return Ok(out);
    }
    let mut checks: Vec<Check> = Vec::new();
    for f in &data.filters {
        let op = f.operator.to_ascii_lowercase();
        let list: Vec<String> = strings(&f.value).into_iter().map(|s| s.to_ascii_lowercase()).collect();
        let num = f.value.as_i64();
        let time = |get: fn(&crate::types::Endpoint) -> i64| -> Result<Check, Response> {
            let n =
                num.ok_or_else(|| bad_request("Bad Request", json!(format!("filter '{}' needs an integer (epoch ms) value", f.field))))?;
            match op.as_str() {
                "gte" => Ok(Box::new(move |_, _, e| get(e) >= n)),
                "lte" => Ok(Box::new(move |_, _, e| get(e) <= n)),
                _ => Err(bad_request("Bad Request", json!(format!("filter '{}' supports gte and lte", f.field)))),
            }
        };
        let check: Check = match (f.field.as_str(), op.as_str()) {
            ("endpoint_id_list", "in") => Box::new(move |_, _, e| list.iter().any(|x| *x == e.endpoint_id)),
            ("endpoint_status", "in") => Box::new(move |_, _, e| list.contains(&e.endpoint_status.to_ascii_lowercase())),
            ("hostname", "in") => Box::new(move |_, _, e| list.contains(&e.endpoint_name.to_ascii_lowercase())),
            ("ip_list", "in") => Box::new(move |_, _, e| e.ip.iter().any(|ip| list.iter().any(|x| *x == *ip))),
            ("platform", "in") => {
                Box::new(move |_, _, e| list.iter().any(|p| e.os_type.to_ascii_lowercase().ends_with(&p.replace("macos", "mac"))))
            }
            ("first_seen", _) => time(|e| e.first_seen)?,
            ("last_seen", _) => time(|e| e.last_seen)?,
            (field, _) => {
                return Err(bad_request(
                    "Bad Request",
                    json!(format!("unsupported filter field '{field}' with operator '{}'", f.operator)),
                ));
            }
        };
        checks.push(check);
    }
    if let Some(s) = &data.sort
        && !matches!(s.field.as_str(), "endpoint_id" | "first_seen" | "last_seen")
    {
        return Err(bad_request("Bad Request", json!(format!("cannot sort by '{}'", s.field))));
    }
    let key = serde_json::to_string(&(
        data.filters.iter().map(|f| (&f.field, &f.operator, &f.value)).collect::<Vec<_>>(),
        data.sort.as_ref().map(|s| (&s.field, s.keyword.to_ascii_lowercase())),
    ))
    .unwrap_or_default();
    let sort = data.sort.clone();
    let set = w.endpoint_set(&key, day, || {
        let mut rows: Vec<(u64, String, i64, i64)> = Vec::new();
        for i in 0..count {
            let st = w.endpoint_timeline(i, day);
            let e = w.endpoint(&st);
            if checks.iter().all(|c| c(i, &st, &e)) {
                rows.push((i, e.endpoint_id.into_owned(), e.first_seen, e.last_seen));
            }
        }
        if let Some(s) = &sort {
            match s.field.as_str() {
                "endpoint_id" => rows.sort_by(|a, b| a.1.cmp(&b.1)),
                "first_seen" => rows.sort_by_key(|r| (r.2, r.0)),
                _ => rows.sort_by_key(|r| (r.3, r.0)),
            }
            if s.keyword.eq_ignore_ascii_case("desc") {
                rows.reverse();
            }
        }
        rows.into_iter().map(|r| r.0).collect()
    });
    Ok(set.as_ref().clone())
}

fn window(data: &RequestData, max: u64) -> Result<(u64, u64), Response> {
    let from = data.search_from.unwrap_or(0);
    let to = data.search_to.unwrap_or(from + max.min(100));
    if to < from {
        return Err(bad_request("Bad Request", json!("search_to must not be smaller than search_from")));
    }
    Ok((from, to.min(from + max)))
}

async fn get_endpoint(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = guard(&sim, &headers, true) {
        return r;
    }
    let data = match parse(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (from, to) = match window(&data, MAX_ENDPOINTS_PAGE) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let w = sim.world.clone();
    let day = w.day();
    let result = tokio::task::spawn_blocking(move || -> Result<EndpointsPage, Response> {
        let no_filters = data.filters.is_empty() && data.sort.is_none();
        let (total, page): (u64, Vec<u64>) = if no_filters {
            let total = w.endpoint_count(day);
            (total, (from..to.min(total)).collect())
        } else {
            let all = matching(&w, &data, day)?;
            let total = all.len() as u64;
            (total, all.into_iter().skip(from as usize).take((to - from) as usize).collect())
        };
        let endpoints: Vec<_> = page.into_iter().map(|i| w.endpoint(&w.endpoint_timeline(i, day))).collect();
        let total_count = w.cfg.xdr_total_count.then_some(total as i64);
        Ok(EndpointsPage { total_count, result_count: endpoints.len() as i64, endpoints })
    })
    .await;
    match result {
        Ok(Ok(page)) if sim.world.renamed_ids.load(std::sync::atomic::Ordering::SeqCst) => {
            let mut v = serde_json::to_value(&Reply { reply: page }).unwrap_or_default();
            for e in v["reply"]["endpoints"].as_array_mut().into_iter().flatten() {
                if let Some(o) = e.as_object_mut()
                    && let Some(id) = o.remove("endpoint_id")
                {
                    o.insert("agent_id".into(), id);
                }
            }
            ok(&v)
        }
        Ok(Ok(page)) => ok(&Reply { reply: page }),
        Ok(Err(r)) => r,
        Err(e) => cortex_error(500, 500, "An error occurred while processing XDR public API", json!(e.to_string())),
    }
}

/// The most `get_assets_internet_exposure` returns without page tokens (the doc's cap).
pub const MAX_EXPOSURE_RESULTS: u64 = 500;
/// Records per page with `use_page_token`.
pub const EXPOSURE_PAGE: u64 = 100;

/// `get_assets_internet_exposure`: cloud servers' exposure records in a stable order.
/// Without `use_page_token` a window of `search_from`/`search_to` capped at 500 (the
/// doc's limit); with it, pages of 100 and a `next_page_token` to send back.
async fn internet_exposure(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = guard(&sim, &headers, true) {
        return r;
    }
    let data: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => v.get("request_data").cloned().unwrap_or_else(|| json!({})),
            Err(e) => return bad_request("Bad Request. Got an invalid JSON.", json!(e.to_string())),
        }
    };
    let w = sim.world.clone();
    let day = w.day();
    let paged = data["use_page_token"].as_bool().unwrap_or(false);
    let (from, to) = if paged {
        let from = match data["next_page_token"].as_str() {
            None => 0,
            Some(t) => match t.strip_prefix("pt-").and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => n,
                None => return bad_request("Bad Request", json!(format!("invalid next_page_token '{t}'"))),
            },
        };
        (from, from + EXPOSURE_PAGE)
    } else {
        let from = data["search_from"].as_u64().unwrap_or(0);
        let to = data["search_to"].as_u64().unwrap_or(from + EXPOSURE_PAGE).min(MAX_EXPOSURE_RESULTS);
        (from, to.max(from))
    };
    let result = tokio::task::spawn_blocking(move || {
        let all = w.cloud_endpoints(day);
        let total = all.len() as u64;
        let records: Vec<_> = all.iter().skip(from as usize).take((to - from) as usize).map(|i| w.exposure_record(*i, day)).collect();
        let next = (paged && to < total).then(|| crate::types::Text::from(format!("pt-{to}")));
        crate::types::ExposurePage {
            total_count: total as i64,
            result_count: records.len() as i64,
            assets_internet_exposure: records,
            next_page_token: next,
        }
    })
    .await;
    match result {
        Ok(page) => ok(&Reply { reply: page }),
        Err(e) => cortex_error(500, 500, "An error occurred while processing XDR public API", json!(e.to_string())),
    }
}

/// All endpoints in one bare array (`{"reply": [...]}`), for small tenants.
async fn get_endpoints(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = guard(&sim, &headers, true) {
        return r;
    }
    let w = &sim.world;
    let day = w.day();
    let all: Vec<_> = (0..w.endpoint_count(day)).map(|i| w.endpoint(&w.endpoint_timeline(i, day))).collect();
    ok(&Reply { reply: all })
}

async fn tenant_info(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = guard(&sim, &headers, false) {
        return r;
    }
    // Field names and shapes as in the vendor's own fixture (CortexXDRIR
    // test_data/get_tenant_info.json): expirations are display strings there.
    let n = sim.world.cfg.scale.xdr_endpoints as i64;
    let hi = if sim.world.cfg.host_insights { n } else { 0 };
    ok(&Reply {
        reply: json!({
            "pro_per_endpoint_expiration": "Dec 31st 2027 23:59:59",
            "purchased_pro_per_endpoint": {"agents": n + n / 10},
            "data_enabled_pro_per_endpoint": n,
            "prevent_expiration": 0,
            "purchased_prevent": 0,
            "installed_prevent": 0,
            "compute_unit_expiration": "Dec 31st 2027 23:59:59",
            "purchased_compute_unit": 10,
            "compute_unit_is_trial": false,
            "host_insights_expiration": if hi > 0 { json!("Dec 31st 2027 23:59:59") } else { json!(0) },
            "enabled_host_insights": hi,
            "purchased_host_insights": if hi > 0 { n + n / 10 } else { 0 },
        }),
    })
}

async fn healthcheck(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = guard(&sim, &headers, false) {
        return r;
    }
    ok(&json!({"status": "available"}))
}
