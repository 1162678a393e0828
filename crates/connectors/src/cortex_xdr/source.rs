//! Paging Cortex XDR into composite endpoint records (`cves[]` joined in).
//!
//! Cursor: `{"from": N, "since": ms, "max_seen": ms}` — the offset of the next endpoint
//! page, the delta filter the run started with (kept so a resumed run asks the same
//! question), and the newest `last_seen` so far (the next watermark).

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tributary_core::model::SyncMode;

use super::STREAM;
use super::client::XdrClient;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source, SyncPlan};

/// The vendor's maximum for `get_endpoint`.
pub const ENDPOINTS_PER_PAGE: u64 = 100;
/// Our page size for the vulnerability search (vendor-apis.md §2.6: our choice).
pub const VULNS_PER_PAGE: u64 = 5_000;

pub struct XdrSource {
    client: XdrClient,
    /// Delta: only endpoints with `last_seen >= since`.
    since: Option<i64>,
}

impl XdrSource {
    pub fn new(client: XdrClient, plan: &SyncPlan) -> XdrSource {
        let since = match plan.mode {
            SyncMode::Delta => plan.watermark.as_ref().and_then(|w| w.get("last_seen")).and_then(Value::as_i64).map(|w| w + 1),
            _ => None,
        };
        XdrSource { client, since }
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
fn cve_item(mut v: Value) -> (String, Value) {
    let endpoint = str_field(&v, "endpoint_id").to_string();
    let mut m = Map::new();
    if let Some(obj) = v.as_object_mut() {
        let mut take = |from: &str, to: &str| {
            if let Some(x) = obj.remove(from) {
                m.insert(to.into(), x);
            }
        };
        take("cve_id", "name");
        take("severity", "severity");
        take("description", "description");
        take("publication_date", "publication_date");
        take("cvss_score", "severity_score");
        take("cvss_vector", "cvss_vector");
        take("affected_products", "affected_products");
        take("first_detected", "first_detected");
        take("last_detected", "last_detected");
        take("epss_score", "epss_score");
        take("exploitable", "exploitable");
    }
    (endpoint, Value::Object(m))
}

impl XdrSource {
    async fn page(&mut self, cursor: Option<&Cursor>) -> Result<RawPage, ConnectorError> {
        let from = cursor.and_then(|c| c.get("from")).and_then(Value::as_u64).unwrap_or(0);
        let since = cursor.and_then(|c| c.get("since")).and_then(Value::as_i64).or(self.since);
        let mut max_seen = cursor.and_then(|c| c.get("max_seen")).and_then(Value::as_i64);
        let filters = match since {
            Some(t) => json!([{"field": "last_seen", "operator": "gte", "value": t}]),
            None => json!([]),
        };
        let page = self.client.endpoints(filters, from, from + ENDPOINTS_PER_PAGE).await?;
        let ids: Vec<String> = page.endpoints.iter().map(|e| str_field(e, "endpoint_id").to_string()).filter(|i| !i.is_empty()).collect();

        let mut cves: HashMap<String, Vec<Value>> = HashMap::new();
        if self.client.vulnerabilities_wanted() && !ids.is_empty() {
            let mut vfrom = 0;
            loop {
                let v = self.client.vulnerabilities(&ids, vfrom, vfrom + VULNS_PER_PAGE).await?;
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
            records.push(RawRecord { stream: STREAM, key: id, body, tombstone, scope: None });
        }
        let next_from = from + ENDPOINTS_PER_PAGE;
        let next = (next_from < page.total_count).then(|| json!({"from": next_from, "since": since, "max_seen": max_seen}));
        Ok(RawPage { records, next, watermark: max_seen.map(|m| json!({"last_seen": m})), total: Some(page.total_count) })
    }
}

impl Source for XdrSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(self.page(cursor))
    }
}
