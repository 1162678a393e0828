//! Paging Cortex XDR into composite endpoint records (`cves[]` joined in).
//!
//! Cursor: `{"from": N, "since": ms, "max_seen": ms}` — the offset of the next endpoint
//! page, the delta filter the run started with (kept so a resumed run asks the same
//! question), and the newest `last_seen` so far (the next watermark).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tributary_core::model::SyncMode;

use super::STREAM;
use super::client::{VulnRow, XdrClient};
use crate::task::Prefetch;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source, SyncPlan};

/// The vendor's maximum for `get_endpoint`.
pub const ENDPOINTS_PER_PAGE: u64 = 100;
/// Our page size for the vulnerability search (vendor-apis.md §2.6: our choice).
pub const VULNS_PER_PAGE: u64 = 5_000;

pub struct XdrSource {
    client: Arc<XdrClient>,
    /// Delta: only endpoints with `last_seen >= since`.
    since: Option<i64>,
    /// The following page, requested while the current one is processed.
    ahead: Option<Ahead>,
    /// The endpoint count the last page reported.
    total_hint: Option<u64>,
}

impl XdrSource {
    pub fn new(client: XdrClient, plan: &SyncPlan) -> XdrSource {
        let since = match plan.mode {
            SyncMode::Delta => plan.watermark.as_ref().and_then(|w| w.get("last_seen")).and_then(Value::as_i64).map(|w| w + 1),
            _ => None,
        };
        XdrSource { client: Arc::new(client), since, ahead: None, total_hint: None }
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The endpoint with `cves[]`, `allIPs` and `operating_system` added.
fn composite(mut endpoint: Value, cves: Vec<Value>) -> Value {
    if let Some(obj) = endpoint.as_object_mut() {
        let mut all: Vec<Value> = Vec::new();
        for k in ["ip", "ipv6"] {
            if let Some(Value::Array(a)) = obj.get(k) {
                all.extend(a.iter().cloned());
            }
        }
        obj.insert("allIPs".into(), Value::Array(all));
        if !obj.contains_key("operating_system") {
            let os = match obj.get("os_type").and_then(Value::as_str) {
                Some("AGENT_OS_WINDOWS") => "Windows",
                Some("AGENT_OS_LINUX") => "Linux",
                Some("AGENT_OS_MAC") => "macOS",
                _ => "",
            };
            obj.insert("operating_system".into(), Value::String(os.into()));
        }
        obj.insert("cves".into(), Value::Array(cves));
    }
    endpoint
}

/// One vulnerability row → one `cves[]` item (the names the seed's map reads).
fn cve_item(v: VulnRow) -> (String, Value) {
    let mut m = Map::new();
    let mut put = |k: &str, x: Option<Value>| {
        if let Some(x) = x {
            m.insert(k.into(), x);
        }
    };
    put("name", v.cve_id);
    put("severity", v.severity);
    put("description", v.description);
    put("publication_date", v.publication_date);
    put("severity_score", v.cvss_score);
    put("cvss_vector", v.cvss_vector);
    put("affected_products", v.affected_products);
    put("first_detected", v.first_detected);
    put("last_detected", v.last_detected);
    put("epss_score", v.epss_score);
    put("exploitable", v.exploitable);
    (v.endpoint_id, Value::Object(m))
}

/// One endpoint page with its vulnerabilities joined in, before it becomes a [`RawPage`].
struct Fetched {
    from: u64,
    total: u64,
    records: Vec<RawRecord>,
    max_seen: Option<i64>,
}

async fn fetch(client: Arc<XdrClient>, since: Option<i64>, from: u64) -> Result<Fetched, ConnectorError> {
    let filters = match since {
        Some(t) => json!([{"field": "last_seen", "operator": "gte", "value": t}]),
        None => json!([]),
    };
    let page = client.endpoints(filters, from, from + ENDPOINTS_PER_PAGE).await?;
    let ids: Vec<String> = page.endpoints.iter().map(|e| str_field(e, "endpoint_id").to_string()).filter(|i| !i.is_empty()).collect();

    let mut cves: HashMap<String, Vec<Value>> = HashMap::new();
    if client.vulnerabilities_wanted() && !ids.is_empty() {
        let mut vfrom = 0;
        loop {
            let v = client.vulnerabilities(&ids, vfrom, vfrom + VULNS_PER_PAGE).await?;
            let got = v.data.len() as u64;
            for row in v.data {
                let (ep, item) = cve_item(row);
                cves.entry(ep).or_default().push(item);
            }
            vfrom += VULNS_PER_PAGE;
            if got == 0 || vfrom >= v.total_count {
                break;
            }
        }
    }

    let mut max_seen: Option<i64> = None;
    let mut records = Vec::with_capacity(page.endpoints.len());
    for e in page.endpoints {
        let id = str_field(&e, "endpoint_id").to_string();
        if id.is_empty() {
            continue;
        }
        if let Some(seen) = e.get("last_seen").and_then(Value::as_i64) {
            max_seen = Some(max_seen.map_or(seen, |m| m.max(seen)));
        }
        let tombstone = str_field(&e, "endpoint_status").eq_ignore_ascii_case("UNINSTALLED");
        let body = composite(e, cves.remove(&id).unwrap_or_default());
        records.push(RawRecord { stream: STREAM, key: id, body, tombstone, scope: None, raw_json: None });
    }
    Ok(Fetched { from, total: page.total_count, records, max_seen })
}

impl XdrSource {
    async fn page(&mut self, cursor: Option<&Cursor>) -> Result<RawPage, ConnectorError> {
        let from = cursor.and_then(|c| c.get("from")).and_then(Value::as_u64).unwrap_or(0);
        let since = cursor.and_then(|c| c.get("since")).and_then(Value::as_i64).or(self.since);
        let prior_max = cursor.and_then(|c| c.get("max_seen")).and_then(Value::as_i64);
        let current = match self.ahead.take() {
            Some(ahead) if ahead.from == from && ahead.since == since => ahead.task,
            _ => Prefetch::spawn(fetch(self.client.clone(), since, from)),
        };
        // Ask for the next page before this one is even parsed: the vendor prepares it
        // while we decode this one. Pages still come back strictly in order, so cursors
        // and resume are unchanged; a stale guess (the total shrank) is simply dropped.
        let next_from = from + ENDPOINTS_PER_PAGE;
        if self.total_hint.is_some_and(|t| next_from < t) {
            self.ahead = Some(Ahead { from: next_from, since, task: Prefetch::spawn(fetch(self.client.clone(), since, next_from)) });
        }
        let fetched = current.await?;
        self.total_hint = Some(fetched.total);
        if self.ahead.is_none() && next_from < fetched.total {
            self.ahead = Some(Ahead { from: next_from, since, task: Prefetch::spawn(fetch(self.client.clone(), since, next_from)) });
        }
        let max_seen = match (prior_max, fetched.max_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let next = (next_from < fetched.total).then(|| json!({"from": next_from, "since": since, "max_seen": max_seen}));
        debug_assert_eq!(fetched.from, from);
        Ok(RawPage { records: fetched.records, next, watermark: max_seen.map(|m| json!({"last_seen": m})), total: Some(fetched.total) })
    }
}

/// The next page, already requested.
struct Ahead {
    from: u64,
    since: Option<i64>,
    task: Prefetch<Fetched>,
}

impl Source for XdrSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(self.page(cursor))
    }
}
