//! The XQL Query API of the Cortex XDR tenant (`/public_api/v1/xql/...`), for the queries
//! Tributary sends over the vulnerability-assessment datasets `va_endpoints` and `va_cves`.
//!
//! As the vendor's API and its own XQL integration use it (vendor-apis.md §2.6):
//! `start_xql_query` returns a query id; `get_query_results` answers `PENDING` (here:
//! exactly once per query), then `SUCCESS` with `number_of_results`, `query_cost`,
//! `remaining_quota` and up to 1,000 rows inline, or a `stream_id` above that;
//! `get_query_results_stream` returns the rows as newline-delimited JSON, gzip-compressed
//! when asked; `get_quota` reports the daily quota. Queries cost compute units from that
//! quota (cost model: our choice); without Host Insights the `va_*` datasets answer 402.
//!
//! Supported query text (anything else is refused with a parse error in the vendor's
//! envelope): `dataset = va_endpoints|va_cves`, then any of `filter FIELD in ("a", …)`,
//! `fields a, b, …`, `sort asc|desc FIELD`, `limit N`, separated by `|`. The query's
//! `timeframe` (`from`/`to` ms, or `relativeTime`) filters rows on `_time`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Sim, cortex_error, ok};
use crate::tenant::World;
use crate::types::{Reply, XqlQuota, XqlResults, XqlRows};

/// Rows returned inline at most (above this: a stream).
pub const MAX_INLINE: usize = 1_000;
/// Queries a tenant runs at once (our choice; the vendor documents "a few").
pub const MAX_CONCURRENT: usize = 4;
/// The tenant id costs are reported under.
pub const TENANT_ID: &str = "9994821";

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct XqlQuery {
    pub dataset: Dataset,
    /// `filter FIELD in (…)`: the field and the values.
    pub filter: Option<(String, Vec<String>)>,
    pub fields: Option<Vec<String>>,
    /// `sort asc|desc FIELD`: (field, descending).
    pub sort: Option<(String, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    VaEndpoints,
    VaCves,
}

/// Parses the query text Tributary sends; the error is the vendor-style parse message.
pub fn parse(text: &str) -> Result<XqlQuery, String> {
    let mut stages = text.split('|').map(str::trim).filter(|s| !s.is_empty());
    let first = stages.next().ok_or("empty query")?;
    let dataset = match first.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
        Some(("dataset", "va_endpoints")) => Dataset::VaEndpoints,
        Some(("dataset", "va_cves")) => Dataset::VaCves,
        Some(("dataset", other)) => return Err(format!("dataset '{other}' is not supported by this simulator")),
        _ => return Err(format!("a query starts with 'dataset = NAME', got '{first}'")),
    };
    let mut q = XqlQuery { dataset, filter: None, fields: None, sort: None, limit: None };
    for stage in stages {
        let (verb, rest) = stage.split_once(char::is_whitespace).map(|(a, b)| (a, b.trim())).unwrap_or((stage, ""));
        match verb {
            "fields" => q.fields = Some(rest.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()),
            "filter" => {
                let (field, list) = rest.split_once(" in ").ok_or_else(|| format!("unsupported filter '{rest}'"))?;
                let list =
                    list.trim().strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or("a filter list is written (\"a\", \"b\")")?;
                let values = list.split(',').map(|v| v.trim().trim_matches('"').to_string()).filter(|v| !v.is_empty()).collect();
                q.filter = Some((field.trim().to_string(), values));
            }
            "sort" => {
                let (dir, field) = rest.split_once(char::is_whitespace).ok_or_else(|| format!("unsupported sort '{rest}'"))?;
                let desc = match dir {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(format!("sort direction must be asc or desc, got '{dir}'")),
                };
                q.sort = Some((field.trim().to_string(), desc));
            }
            "limit" => q.limit = Some(rest.parse().map_err(|_| format!("limit must be a number, got '{rest}'"))?),
            other => return Err(format!("stage '{other}' is not supported by this simulator")),
        }
    }
    Ok(q)
}

/// The rows of a query over the tenant on `day`, in order, each projected to the query's
/// fields.
pub fn run(w: &World, q: &XqlQuery, day: u32, window: (i64, i64)) -> Vec<Value> {
    let wanted: Option<std::collections::HashSet<&str>> = q.filter.as_ref().map(|(_, values)| values.iter().map(String::as_str).collect());
    let project = |mut v: Value| -> Value {
        if let (Some(fields), Some(obj)) = (&q.fields, v.as_object_mut()) {
            obj.retain(|k, _| fields.iter().any(|f| f == k));
        }
        v
    };
    let in_window = |t: i64| t >= window.0 && t <= window.1;
    let mut rows: Vec<(String, Value)> = Vec::new();
    match q.dataset {
        Dataset::VaEndpoints => {
            // Every endpoint, sorted by id when asked (the same order `get_endpoint` uses).
            let order = w.endpoints_by_id(day);
            for &i in order.iter() {
                let st = w.endpoint_state(i, day);
                let Some(row) = w.va_endpoint(&st) else { continue };
                if !in_window(row._time) || wanted.as_ref().is_some_and(|set| !set.contains(row.endpoint_id.as_ref())) {
                    continue;
                }
                let key = row.endpoint_id.to_string();
                rows.push((key, project(serde_json::to_value(&row).unwrap_or(Value::Null))));
            }
        }
        Dataset::VaCves => {
            for k in 0..w.cves.len() as u64 {
                let row = w.va_cve(k);
                if !in_window(row._time) || wanted.as_ref().is_some_and(|set| !set.contains(row.name.as_ref())) {
                    continue;
                }
                let key = row.name.to_string();
                rows.push((key, project(serde_json::to_value(&row).unwrap_or(Value::Null))));
            }
        }
    }
    if let Some((_, desc)) = &q.sort {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if *desc {
            rows.reverse();
        }
    }
    let mut out: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    if let Some(n) = q.limit {
        out.truncate(n);
    }
    out
}

/// Compute units a query of `rows` rows costs (our choice: a base plus a share per row).
pub fn cost(rows: usize) -> f64 {
    0.0005 + rows as f64 * 2e-7
}

/// One started query.
struct Started {
    query: XqlQuery,
    day: u32,
    window: (i64, i64),
    polls: u32,
    /// Rows, once the query has finished (kept until streamed).
    done: Option<Vec<Value>>,
}

/// The tenant's XQL engine: started queries, pending streams, quota used.
#[derive(Default)]
pub struct Engine {
    queries: Mutex<HashMap<String, Started>>,
    streams: Mutex<HashMap<String, Vec<Value>>>,
    next: AtomicU64,
    /// Compute units used (the simulator never resets it: a day is a run of tests).
    used_micro: AtomicU64,
    /// Queries started, for tests.
    pub started: AtomicU64,
}

impl Engine {
    /// Spends `units` of the day's quota (tests: a tenant whose quota is gone).
    pub fn spend(&self, units: f64) {
        self.used_micro.fetch_add((units * 1e6).round() as u64, Ordering::SeqCst);
    }

    pub fn used(&self) -> f64 {
        self.used_micro.load(Ordering::SeqCst) as f64 / 1e6
    }
}

#[derive(Deserialize, Default)]
struct StartData {
    #[serde(default)]
    query: String,
    #[serde(default)]
    timeframe: Option<Value>,
}

#[derive(Deserialize, Default)]
struct ResultsData {
    #[serde(default)]
    query_id: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, Default)]
struct StreamData {
    #[serde(default)]
    stream_id: String,
    #[serde(default)]
    is_gzip_compressed: bool,
}

fn request_data<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, Response> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        request_data: Option<T>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.request_data.unwrap_or_default())
        .map_err(|e| cortex_error(400, 400, "Bad Request. Got an invalid JSON.", json!(e.to_string())))
}

fn guard(sim: &Sim, h: &HeaderMap) -> Result<(), Response> {
    super::auth::cortex(&sim.world, &sim.nonces, super::auth::Cortex::Xdr, h, true)
}

/// `timeframe` → the `_time` window; none: everything (our reading for state datasets).
fn window(timeframe: &Option<Value>, now: i64) -> Result<(i64, i64), String> {
    let Some(t) = timeframe else { return Ok((i64::MIN, i64::MAX)) };
    if let Some(rel) = t.get("relativeTime") {
        let ms = rel.as_i64().ok_or("timeframe.relativeTime must be a number of ms")?;
        return Ok((now - ms, i64::MAX));
    }
    let from = t.get("from").map(|v| v.as_i64().ok_or("timeframe.from must be epoch ms")).transpose()?;
    let to = t.get("to").map(|v| v.as_i64().ok_or("timeframe.to must be epoch ms")).transpose()?;
    Ok((from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)))
}

pub async fn start(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = guard(&sim, &headers) {
        return r;
    }
    let data: StartData = match request_data(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let query = match parse(&data.query) {
        Ok(q) => q,
        Err(e) => return cortex_error(400, 400, "Query parsing error", json!({ "parse_err": e })),
    };
    if !sim.world.cfg.host_insights {
        return cortex_error(402, 402, "User missing required license", json!("Host Insights is required to query va_* datasets"));
    }
    let window = match window(&data.timeframe, sim.world.now_ms()) {
        Ok(w) => w,
        Err(e) => return cortex_error(400, 400, "Bad Request", json!(e)),
    };
    let xql = &sim.xql;
    if xql.used() >= sim.world.cfg.xql_quota {
        return cortex_error(402, 402, "XQL daily quota exceeded", json!(format!("used {:.4} of {}", xql.used(), sim.world.cfg.xql_quota)));
    }
    let mut queries = xql.queries.lock().unwrap_or_else(|p| p.into_inner());
    if queries.values().filter(|q| q.done.is_none()).count() >= MAX_CONCURRENT {
        return cortex_error(429, 429, "Too many concurrent queries", json!(format!("at most {MAX_CONCURRENT} queries run at once")));
    }
    let id = format!("{:08x}_{}_inv", xql.next.fetch_add(1, Ordering::SeqCst) + 0x5e1f_0000, sim.world.seed() % 100_000);
    queries.insert(id.clone(), Started { query, day: sim.world.day(), window, polls: 0, done: None });
    xql.started.fetch_add(1, Ordering::SeqCst);
    ok(&Reply { reply: id })
}

pub async fn results(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = guard(&sim, &headers) {
        return r;
    }
    let data: ResultsData = match request_data(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let unknown = || {
        cortex_error(500, 500, "An error occurred while processing XDR public API", json!(format!("unknown query id '{}'", data.query_id)))
    };
    // First poll: still running.
    let (query, day, window) = {
        let mut queries = sim.xql.queries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(q) = queries.get_mut(&data.query_id) else { return unknown() };
        q.polls += 1;
        if q.polls == 1 {
            return ok(&Reply {
                reply: XqlResults {
                    status: "PENDING".into(),
                    number_of_results: None,
                    query_cost: None,
                    remaining_quota: None,
                    results: None,
                },
            });
        }
        (q.query.clone(), q.day, q.window)
    };
    let w = sim.world.clone();
    let rows = match tokio::task::spawn_blocking(move || run(&w, &query, day, window)).await {
        Ok(r) => r,
        Err(e) => return cortex_error(500, 500, "An error occurred while processing XDR public API", json!(e.to_string())),
    };
    let n = rows.len();
    let c = cost(n);
    sim.xql.used_micro.fetch_add((c * 1e6).round() as u64, Ordering::SeqCst);
    let remaining = (sim.world.cfg.xql_quota - sim.xql.used()).max(0.0);
    let limit = data.limit.unwrap_or(MAX_INLINE).min(MAX_INLINE);
    let results = if n <= limit {
        sim.xql.queries.lock().unwrap_or_else(|p| p.into_inner()).remove(&data.query_id);
        XqlRows { data: Some(rows), stream_id: None }
    } else {
        let stream = format!("{}-stream", data.query_id);
        sim.xql.queries.lock().unwrap_or_else(|p| p.into_inner()).remove(&data.query_id);
        let mut streams = sim.xql.streams.lock().unwrap_or_else(|p| p.into_inner());
        if streams.len() >= 8 {
            streams.clear();
        }
        streams.insert(stream.clone(), rows);
        XqlRows { data: None, stream_id: Some(stream.into()) }
    };
    let mut cost_map = Map::new();
    cost_map.insert(TENANT_ID.into(), json!(c));
    ok(&Reply {
        reply: XqlResults {
            status: "SUCCESS".into(),
            number_of_results: Some(n as u64),
            query_cost: Some(cost_map),
            remaining_quota: Some(remaining),
            results: Some(results),
        },
    })
}

pub async fn stream(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = guard(&sim, &headers) {
        return r;
    }
    let data: StreamData = match request_data(&body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(rows) = sim.xql.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(&data.stream_id) else {
        return cortex_error(
            404,
            404,
            "Requested resource not found while processing XDR public API",
            json!(format!("unknown stream '{}'", data.stream_id)),
        );
    };
    let gzip = data.is_gzip_compressed;
    let built = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut text = Vec::with_capacity(rows.len() * 128);
        for r in &rows {
            serde_json::to_writer(&mut text, r)?;
            text.push(b'\n');
        }
        if !gzip {
            return Ok(text);
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 6), flate2::Compression::fast());
        enc.write_all(&text)?;
        enc.finish()
    })
    .await;
    match built {
        Ok(Ok(bytes)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes).into_response()
        }
        Ok(Err(e)) => cortex_error(500, 500, "An error occurred while processing XDR public API", json!(e.to_string())),
        Err(e) => cortex_error(500, 500, "An error occurred while processing XDR public API", json!(e.to_string())),
    }
}

pub async fn quota(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    if let Err(r) = guard(&sim, &headers) {
        return r;
    }
    ok(&Reply {
        reply: XqlQuota {
            license_quota: sim.world.cfg.xql_quota,
            additional_purchased_quota: 0.0,
            used_quota: sim.xql.used(),
            eval_quota: 0.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_queries_tributary_sends_and_refuses_others() {
        let q = parse("dataset = va_endpoints | filter endpoint_id in (\"a1\", \"b2\") | fields endpoint_id, cves | sort asc endpoint_id")
            .unwrap();
        assert_eq!(q.dataset, Dataset::VaEndpoints);
        assert_eq!(q.filter, Some(("endpoint_id".into(), vec!["a1".into(), "b2".into()])));
        assert_eq!(q.fields, Some(vec!["endpoint_id".into(), "cves".into()]));
        assert_eq!(q.sort, Some(("endpoint_id".into(), false)));
        assert_eq!(parse("dataset = va_cves | limit 5").unwrap().limit, Some(5));
        assert!(parse("dataset = xdr_data").unwrap_err().contains("not supported"));
        assert!(parse("dataset = va_cves | comp count()").unwrap_err().contains("'comp'"));
        assert!(parse("va_cves").is_err());
    }
}
