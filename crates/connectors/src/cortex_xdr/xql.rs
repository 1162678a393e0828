//! XQL queries against a Cortex XDR tenant: start, poll while `PENDING`, then the rows —
//! inline (up to 1,000) or from the result stream (newline-delimited JSON, gzip).
//!
//! Verified against the vendor's own XQL integration (demisto/content
//! `Packs/CortexXDR/Integrations/XQLQueryingEngine`: the four paths, `pending_flag`,
//! `format: json`, `results.data` vs `results.stream_id`, `is_gzip_compressed`, the
//! `query_cost` / `remaining_quota` fields, and `get_quota`'s `license_quota`,
//! `additional_purchased_quota`, `eval_quota`, `used_quota`). Queries run one at a time:
//! a tenant runs only a few at once and each costs compute units from a daily quota, so a
//! sync issues few, large queries and reports what they cost.

use std::io::{BufRead, BufReader, Cursor};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::XdrClient;
use crate::ConnectorError;

/// Rows the vendor returns inline at most; above, the reply names a stream.
pub const MAX_INLINE: u64 = 1_000;
/// How long a query may stay `PENDING` before the run gives up.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
struct ResultsReply {
    status: String,
    #[serde(default)]
    number_of_results: Option<u64>,
    #[serde(default)]
    query_cost: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    remaining_quota: Option<f64>,
    #[serde(default)]
    results: Option<ResultsBody>,
}

#[derive(Debug, Deserialize)]
struct ResultsBody {
    #[serde(default)]
    data: Option<Vec<Value>>,
    #[serde(default)]
    stream_id: Option<String>,
}

/// `get_quota`'s reply.
#[derive(Debug, Deserialize)]
pub struct Quota {
    #[serde(default)]
    pub license_quota: f64,
    #[serde(default)]
    pub additional_purchased_quota: f64,
    #[serde(default)]
    pub eval_quota: f64,
    #[serde(default)]
    pub used_quota: f64,
}

impl Quota {
    pub fn remaining(&self) -> f64 {
        self.license_quota + self.additional_purchased_quota + self.eval_quota - self.used_quota
    }
}

/// What a run's queries cost, for its summary.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub queries: u32,
    pub rows: u64,
    pub cost: f64,
    pub remaining: Option<f64>,
}

impl Usage {
    pub fn summary(&self) -> String {
        let left = self.remaining.map(|r| format!("; {r:.2} compute units of the daily quota left")).unwrap_or_default();
        format!("XQL: {} queries, {} rows, {:.4} compute units{left}", self.queries, self.rows, self.cost)
    }
}

pub type SharedUsage = Arc<Mutex<Usage>>;

/// The rows of a finished query, read one at a time.
pub enum Rows {
    Inline(std::vec::IntoIter<Value>),
    /// Newline-delimited JSON, decompressed as it is read (only the compressed bytes are
    /// held).
    Stream(Box<dyn BufRead + Send>),
}

impl Rows {
    /// The next row's text (stream) or value (inline); `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<RowText>, ConnectorError> {
        match self {
            Rows::Inline(it) => Ok(it.next().map(RowText::Value)),
            Rows::Stream(r) => {
                let mut line = String::new();
                loop {
                    line.clear();
                    let n = r.read_line(&mut line).map_err(|e| ConnectorError::Decode {
                        vendor: super::client::VENDOR,
                        context: "an XQL result stream".into(),
                        reason: format!("cannot decompress it: {e}"),
                    })?;
                    if n == 0 {
                        return Ok(None);
                    }
                    if !line.trim().is_empty() {
                        return Ok(Some(RowText::Text(std::mem::take(&mut line))));
                    }
                }
            }
        }
    }
}

/// One row as it came: a value (inline results) or a line of JSON (a stream).
pub enum RowText {
    Value(Value),
    Text(String),
}

impl RowText {
    pub fn decode<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            RowText::Value(v) => T::deserialize(v),
            RowText::Text(t) => serde_json::from_str(&t),
        }
    }
}

impl XdrClient {
    pub(super) async fn xql_quota(&self) -> Result<Quota, ConnectorError> {
        self.call("/public_api/v1/xql/get_quota/", json!({})).await
    }

    /// Runs `query` over `timeframe` and returns its rows; adds its cost to `usage`.
    pub(super) async fn xql(&self, query: &str, timeframe: Value, usage: &SharedUsage) -> Result<Rows, ConnectorError> {
        let id: String =
            self.call("/public_api/v1/xql/start_xql_query/", json!({"query": query, "tenants": [], "timeframe": timeframe})).await?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        let reply: ResultsReply = loop {
            let r: ResultsReply = self
                .call(
                    "/public_api/v1/xql/get_query_results/",
                    json!({"query_id": id, "pending_flag": true, "limit": MAX_INLINE, "format": "json"}),
                )
                .await?;
            match r.status.as_str() {
                "PENDING" => {
                    if started.elapsed() > MAX_WAIT {
                        return Err(ConnectorError::Http {
                            vendor: super::client::VENDOR,
                            status: 408,
                            reason: format!("the XQL query {id} was still running after {} minutes", MAX_WAIT.as_secs() / 60),
                        });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                "SUCCESS" => break r,
                other => {
                    // FAIL, or PARTIAL_SUCCESS: rows would be missing, and missing CVEs
                    // would read as fixed ones.
                    return Err(ConnectorError::Http {
                        vendor: super::client::VENDOR,
                        status: 500,
                        reason: format!("the XQL query {id} ended {other}; query: {query}"),
                    });
                }
            }
        };
        {
            let mut u = usage.lock().map_err(|_| ConnectorError::Internal("XQL usage lock poisoned".into()))?;
            u.queries += 1;
            u.rows += reply.number_of_results.unwrap_or(0);
            u.cost += reply.query_cost.iter().flat_map(|m| m.values()).filter_map(Value::as_f64).sum::<f64>();
            if reply.remaining_quota.is_some() {
                u.remaining = reply.remaining_quota;
            }
        }
        match reply.results {
            Some(ResultsBody { stream_id: Some(stream), .. }) => {
                let bytes = self.xql_stream(&stream).await?;
                // Gzip as asked; a tenant that sends it plain is read as is.
                let reader: Box<dyn BufRead + Send> = if bytes.starts_with(&[0x1f, 0x8b]) {
                    Box::new(BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(Cursor::new(bytes))))
                } else {
                    Box::new(Cursor::new(bytes))
                };
                Ok(Rows::Stream(reader))
            }
            Some(ResultsBody { data: Some(rows), .. }) => Ok(Rows::Inline(rows.into_iter())),
            _ => Ok(Rows::Inline(Vec::new().into_iter())),
        }
    }
}
