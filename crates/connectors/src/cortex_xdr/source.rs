//! Paging Cortex XDR into composite endpoint records: `get_endpoint` pages sorted by
//! `endpoint_id`, merge-joined with the XQL dataset `va_endpoints` sorted the same way,
//! each CVE id filled in from `va_cves` (vendor-apis.md §2.6.1).
//!
//! A run issues two XQL queries before its first page: the CVE catalog (`va_cves`, one
//! row per CVE in the tenant, held as a map: it is vocabulary, thousands of rows) and
//! the per-endpoint CVE lists (`va_endpoints`, streamed and consumed in step with the
//! endpoint pages, so only the compressed stream is held). A full run gives an endpoint
//! without a `va_endpoints` row an empty list (its CVEs are closed); a delta asks
//! `va_endpoints` only for rows written since the previous run, and an endpoint without
//! one keeps what it has (the record carries no `cves` list, which the store reads as
//! "unknown", not "none"). Without Host Insights, or with the XQL quota spent, CVEs are
//! not read at all and records carry no list.
//!
//! Cursor: `{"from": N, "since": ms, "max_seen": ms}` — the offset of the next endpoint
//! page, the delta filter the run started with, and the newest `last_seen` so far (the
//! next watermark). A resumed run runs its queries again and skips rows before its page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tributary_core::model::SyncMode;

use super::STREAM;
use super::client::{EndpointsReply, VENDOR, XdrClient};
use super::xql::{Rows, SharedUsage, Usage};
use crate::task::Prefetch;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source, SyncPlan};

/// The vendor's maximum for `get_endpoint`.
pub const ENDPOINTS_PER_PAGE: u64 = 100;
/// A delta reads `va_endpoints` rows from this long before the watermark, so a row
/// written while the previous run was paging is not missed.
const OVERLAP_MS: i64 = 10 * 60_000;
const TEN_YEARS_MS: i64 = 3_650 * 86_400_000;
/// Compute units a run must have left before it starts its queries.
const MIN_QUOTA: f64 = 0.01;
/// `va_cves` columns the composite's `cves[]` items carry (names from public XQL queries).
const CVE_COLUMNS: &str =
    "name, cve_id, severity, severity_score, impact_score, exploitability_score, description, publication_date, affected_products, type";

pub struct XdrSource {
    client: Arc<XdrClient>,
    /// Delta: only endpoints with `last_seen >= since`.
    since: Option<i64>,
    /// The following page, requested while the current one is processed.
    ahead: Option<Ahead>,
    cves: Option<CveJoin>,
    /// The last endpoint id emitted (pages must come in id order to be joined).
    last_id: Option<String>,
    usage: SharedUsage,
    notes: Vec<String>,
}

/// The CVE side of the join.
enum CveJoin {
    /// Not read this run (the reason is in the notes).
    Off,
    On {
        /// `va_cves` rows by CVE id, as `cves[]` items.
        catalog: HashMap<String, Value>,
        rows: Rows,
        /// The next `va_endpoints` row not yet matched.
        pending: Option<VaRow>,
        /// Every endpoint's list is in `rows` (a full run): no row means no CVEs.
        complete: bool,
    },
}

/// A `va_endpoints` row: the endpoint and its CVE ids.
#[derive(Debug, Deserialize)]
struct VaRow {
    #[serde(deserialize_with = "id_text")]
    endpoint_id: String,
    #[serde(default, deserialize_with = "cve_list")]
    cves: Vec<String>,
}

fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// CVE ids however the column spells them: a list of ids or of `{name|cve_id}` objects,
/// or one comma-separated text (the column's type is unverified).
fn cve_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    fn one(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Object(o) => o.get("name").or_else(|| o.get("cve_id")).and_then(Value::as_str).map(|s| s.trim().to_string()),
            _ => None,
        }
    }
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a.iter().filter_map(one).filter(|s| !s.is_empty()).collect(),
        Value::String(s) => s.split(',').map(|x| x.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        _ => Vec::new(),
    })
}

impl XdrSource {
    pub fn new(client: XdrClient, plan: &SyncPlan) -> XdrSource {
        let since = match plan.mode {
            SyncMode::Delta => plan.watermark.as_ref().and_then(|w| w.get("last_seen")).and_then(Value::as_i64).map(|w| w + 1),
            _ => None,
        };
        XdrSource {
            client: Arc::new(client),
            since,
            ahead: None,
            cves: None,
            last_id: None,
            usage: Arc::new(Mutex::new(Usage::default())),
            notes: Vec::new(),
        }
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// An endpoint id as text (the vendor sends text; a number is tolerated).
fn endpoint_id(v: &Value) -> String {
    match v.get("endpoint_id") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `os_type` → an operating system name, for every spelling seen (`AGENT_OS_MAC` in the
/// vendor's fixtures, `AGENT_OS_MACOS` in newer generated clients).
fn os_name(os_type: &str) -> String {
    let t = os_type.trim().to_ascii_uppercase();
    let t = t.strip_prefix("AGENT_OS_").unwrap_or(&t);
    match t {
        "WINDOWS" => "Windows".into(),
        "LINUX" => "Linux".into(),
        "MAC" | "MACOS" | "OSX" => "macOS".into(),
        "ANDROID" => "Android".into(),
        "IOS" => "iOS".into(),
        "" => String::new(),
        other => {
            let mut c = other.to_ascii_lowercase();
            if let Some(f) = c.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            c
        }
    }
}

/// A list field's addresses whether the vendor sent a list or one text.
fn addresses(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.iter().filter(|x| x.as_str().is_some_and(|s| !s.trim().is_empty())).cloned().collect(),
        Some(Value::String(s)) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
        _ => Vec::new(),
    }
}

/// The endpoint with `allIPs` and `operating_system` added (when the vendor sent none),
/// and `cves[]` when the run knows the endpoint's list.
fn composite(mut endpoint: Value, cves: Option<Vec<Value>>) -> Value {
    if let Some(obj) = endpoint.as_object_mut() {
        if !obj.contains_key("allIPs") {
            let mut all = addresses(obj.get("ip"));
            all.extend(addresses(obj.get("ipv6")));
            obj.insert("allIPs".into(), Value::Array(all));
        }
        if obj.get("operating_system").is_none_or(Value::is_null) {
            let os = os_name(obj.get("os_type").and_then(Value::as_str).unwrap_or(""));
            obj.insert("operating_system".into(), Value::String(os));
        }
        // `cves` is ours (joined from XQL): a key of that name from the vendor must not
        // pass for a known list when the run does not know it.
        match cves {
            Some(cves) => obj.insert("cves".into(), Value::Array(cves)),
            None => obj.remove("cves"),
        };
    }
    endpoint
}

fn order_error(what: &str, prev: &str, next: &str) -> ConnectorError {
    ConnectorError::Decode {
        vendor: VENDOR,
        context: what.into(),
        reason: format!(
            "rows came out of the requested order (sorted by endpoint_id: '{next}' after '{prev}'), so CVEs cannot be joined to endpoints"
        ),
    }
}

impl CveJoin {
    fn next_row(rows: &mut Rows) -> Result<Option<VaRow>, ConnectorError> {
        let Some(row) = rows.next_row()? else { return Ok(None) };
        row.decode::<VaRow>().map(Some).map_err(|e| ConnectorError::Decode {
            vendor: VENDOR,
            context: "a va_endpoints row".into(),
            reason: e.to_string(),
        })
    }

    /// The `cves[]` of endpoint `id`: `None` when the run does not know it.
    fn take(&mut self, id: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        let CveJoin::On { catalog, rows, pending, complete } = self else { return Ok(None) };
        loop {
            match pending {
                Some(r) if r.endpoint_id.as_str() < id => {
                    let next = Self::next_row(rows)?;
                    if let Some(n) = &next
                        && n.endpoint_id < r.endpoint_id
                    {
                        return Err(order_error("the va_endpoints stream", &r.endpoint_id, &n.endpoint_id));
                    }
                    *pending = next;
                }
                _ => break,
            }
        }
        if pending.as_ref().is_some_and(|r| r.endpoint_id == id) {
            let row = pending.take().map(|r| r.cves).unwrap_or_default();
            *pending = Self::next_row(rows)?;
            let items = row
                .into_iter()
                .map(|cve| catalog.get(&cve.to_ascii_uppercase()).cloned().unwrap_or_else(|| json!({ "name": cve })))
                .collect();
            return Ok(Some(items));
        }
        Ok(complete.then(Vec::new))
    }
}

impl XdrSource {
    /// Decides whether CVEs are read this run and, if so, runs the two queries.
    async fn open_cves(&mut self, since: Option<i64>) -> Result<CveJoin, ConnectorError> {
        if !self.client.vulnerabilities_wanted() {
            return Ok(CveJoin::Off);
        }
        let info = self.client.tenant_info().await?;
        if let Err(why) = info.host_insights() {
            self.notes.push(format!("CVEs not synced: {why}; host assets synced"));
            return Ok(CveJoin::Off);
        }
        match self.client.xql_quota().await {
            Ok(q) if q.remaining() < MIN_QUOTA => {
                self.notes.push(format!(
                    "CVEs not synced: the tenant's XQL quota is spent ({:.2} of {:.2} compute units used in the last 24 hours); host assets synced, CVEs kept as they were",
                    q.used_quota,
                    q.license_quota + q.additional_purchased_quota + q.eval_quota
                ));
                return Ok(CveJoin::Off);
            }
            Ok(q) => {
                if let Ok(mut u) = self.usage.lock() {
                    u.remaining = Some(q.remaining());
                }
            }
            // Not every tenant answers the quota call; the queries will say if it is spent.
            Err(e) => tracing::debug!(message = "XQL quota unavailable.", error = %e),
        }
        let all_time = json!({ "relativeTime": TEN_YEARS_MS });
        let mut catalog = HashMap::new();
        let mut rows = self.client.xql(&format!("dataset = va_cves | fields {CVE_COLUMNS}"), all_time.clone(), &self.usage).await?;
        while let Some(row) = rows.next_row()? {
            let mut item: Map<String, Value> = row.decode().map_err(|e| ConnectorError::Decode {
                vendor: VENDOR,
                context: "a va_cves row".into(),
                reason: e.to_string(),
            })?;
            let id = item.get("name").or_else(|| item.get("cve_id")).and_then(Value::as_str).map(|s| s.trim().to_ascii_uppercase());
            let Some(id) = id.filter(|i| !i.is_empty()) else { continue };
            item.entry("name").or_insert_with(|| Value::String(id.clone()));
            item.remove("cve_id");
            catalog.insert(id, Value::Object(item));
        }
        let (timeframe, complete) = match since {
            Some(t) => (json!({"from": t - OVERLAP_MS, "to": t + TEN_YEARS_MS}), false),
            None => (all_time, true),
        };
        let mut rows = self
            .client
            .xql("dataset = va_endpoints | fields endpoint_id, endpoint_name, cves | sort asc endpoint_id", timeframe, &self.usage)
            .await?;
        let pending = CveJoin::next_row(&mut rows)?;
        Ok(CveJoin::On { catalog, rows, pending, complete })
    }

    async fn page(&mut self, cursor: Option<&Cursor>) -> Result<RawPage, ConnectorError> {
        let from = cursor.and_then(|c| c.get("from")).and_then(Value::as_u64).unwrap_or(0);
        let since = cursor.and_then(|c| c.get("since")).and_then(Value::as_i64).or(self.since);
        let prior_max = cursor.and_then(|c| c.get("max_seen")).and_then(Value::as_i64);
        let filters = match since {
            Some(t) => json!([{"field": "last_seen", "operator": "gte", "value": t}]),
            None => json!([]),
        };
        let current = match self.ahead.take() {
            Some(ahead) if ahead.from == from && ahead.since == since => ahead.task,
            _ => self.spawn(filters.clone(), from),
        };
        // The first page is on its way while the queries run.
        if self.cves.is_none() {
            let join = self.open_cves(since).await?;
            self.cves = Some(join);
        }
        let reply = current.await?;
        let full = reply.endpoints.len() as u64 >= ENDPOINTS_PER_PAGE;
        let next_from = from + ENDPOINTS_PER_PAGE;
        // A short page ends the listing; `total_count`, when sent, only confirms it.
        let more = full && reply.total_count.is_none_or(|t| next_from < t);
        if more {
            // Asked for now, while this page is joined and processed.
            self.ahead = Some(Ahead { from: next_from, since, task: self.spawn(filters, next_from) });
        }
        let mut max_seen = prior_max;
        let mut records = Vec::with_capacity(reply.endpoints.len());
        for e in reply.endpoints {
            let id = endpoint_id(&e);
            if id.is_empty() {
                tracing::warn!(message = "An endpoint without endpoint_id was skipped.", excerpt = %e.to_string().chars().take(120).collect::<String>());
                continue;
            }
            if let Some(prev) = &self.last_id
                && id.as_str() <= prev.as_str()
            {
                return Err(order_error("get_endpoint", prev, &id));
            }
            if let Some(seen) = e.get("last_seen").and_then(Value::as_i64) {
                max_seen = Some(max_seen.map_or(seen, |m| m.max(seen)));
            }
            let tombstone = str_field(&e, "endpoint_status").eq_ignore_ascii_case("UNINSTALLED");
            let cves = match self.cves.as_mut() {
                Some(join) => join.take(&id)?,
                None => None,
            };
            let body = composite(e, cves);
            self.last_id = Some(id.clone());
            records.push(RawRecord { stream: STREAM, key: id, body, tombstone, scope: None, raw_json: None });
        }
        let next = more.then(|| json!({"from": next_from, "since": since, "max_seen": max_seen}));
        Ok(RawPage { records, next, watermark: max_seen.map(|m| json!({"last_seen": m})), total: reply.total_count })
    }

    fn spawn(&self, filters: Value, from: u64) -> Prefetch<EndpointsReply> {
        let client = self.client.clone();
        Prefetch::spawn(async move { client.endpoints(filters, from, from + ENDPOINTS_PER_PAGE).await })
    }
}

/// The next page, already requested.
struct Ahead {
    from: u64,
    since: Option<i64>,
    task: Prefetch<EndpointsReply>,
}

impl Source for XdrSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(self.page(cursor))
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if let Ok(u) = self.usage.lock()
            && u.queries > 0
        {
            notes.push(u.summary());
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_names_for_every_spelling() {
        for (t, want) in [
            ("AGENT_OS_MAC", "macOS"),
            ("AGENT_OS_MACOS", "macOS"),
            ("agent_os_windows", "Windows"),
            ("AGENT_OS_LINUX", "Linux"),
            ("AGENT_OS_ANDROID", "Android"),
            ("AGENT_OS_CHROMEOS", "Chromeos"),
            ("", ""),
        ] {
            assert_eq!(os_name(t), want, "{t}");
        }
    }

    #[test]
    fn composites_tolerate_real_shapes() {
        // `ip` as one text, `users` as text, unknown and null fields: kept as they are.
        let e = json!({"endpoint_id": "1111", "ip": "3.3.3.3", "ipv6": null, "users": "ec2-user", "os_type": "AGENT_OS_MACOS",
                       "group_name": null, "brand_new_field": {"x": 1}});
        let c = composite(e, None);
        assert_eq!(c["allIPs"], json!(["3.3.3.3"]));
        assert_eq!(c["operating_system"], "macOS");
        assert_eq!(c["users"], "ec2-user");
        assert!(c.get("cves").is_none(), "an unknown list stays absent, not empty");
        let c = composite(json!({"endpoint_id": "1", "operating_system": "Ubuntu 22.04"}), Some(vec![]));
        assert_eq!((c["operating_system"].as_str(), c["cves"].clone()), (Some("Ubuntu 22.04"), json!([])));
    }

    #[test]
    fn va_rows_read_every_list_spelling() {
        for text in [
            r#"{"endpoint_id": "a", "cves": ["CVE-2024-1", "CVE-2024-2"]}"#,
            r#"{"endpoint_id": "a", "cves": "CVE-2024-1, CVE-2024-2"}"#,
            r#"{"endpoint_id": "a", "cves": [{"name": "CVE-2024-1"}, {"cve_id": "CVE-2024-2"}], "severity": "HIGH"}"#,
        ] {
            let r: VaRow = serde_json::from_str(text).unwrap();
            assert_eq!(r.cves, vec!["CVE-2024-1", "CVE-2024-2"], "{text}");
        }
        let r: VaRow = serde_json::from_str(r#"{"endpoint_id": 7, "cves": null}"#).unwrap();
        assert_eq!((r.endpoint_id.as_str(), r.cves.len()), ("7", 0));
    }

    proptest::proptest! {
        #[test]
        fn any_endpoint_and_va_row_decodes_or_fails_cleanly(
            e in crate::arbitrary::json(),
            cves in proptest::option::of(proptest::collection::vec(crate::arbitrary::json(), 0..4)),
            row in crate::arbitrary::json(),
            os in ".{0,20}",
        ) {
            let id = endpoint_id(&e);
            let c = composite(e.clone(), cves.clone());
            if e.is_object() {
                proptest::prop_assert!(c.get("allIPs").is_some_and(Value::is_array));
                proptest::prop_assert_eq!(c.get("cves").is_some(), cves.is_some());
            }
            let _ = (id, os_name(&os), serde_json::from_value::<VaRow>(row));
            let page = serde_json::json!({"reply": e});
            let _ = serde_json::from_value::<super::super::client::EndpointsReply>(page["reply"].clone());
        }
    }
}
