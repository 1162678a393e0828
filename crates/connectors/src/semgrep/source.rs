//! Paging Semgrep findings: each configured issue type in turn, `page`/`page_size`,
//! stopping on a short page (the API gives no total and no cursor).
//!
//! Cursor: `{"stream", "page", "since", "max"}` — where the next page is, the delta
//! filters the run started with (per stream, epoch seconds; kept so a resumed run asks
//! the same question), and the newest `relevant_since` seen so far per stream. Results
//! come newest first, so the watermark is only committed when the whole run succeeds.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tributary_core::model::SyncMode;

use super::client::{FindingsReply, SemgrepClient};
use crate::task::Prefetch;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source, SyncPlan};

pub struct SemgrepSource {
    client: Arc<SemgrepClient>,
    streams: Vec<&'static str>,
    /// Delta: per stream, only findings with `relevant_since >= since`.
    since: Map<String, Value>,
    slug: Option<String>,
    /// The following page, requested while the current one is processed.
    ahead: Option<Ahead>,
}

struct Ahead {
    stream: &'static str,
    page: u64,
    since: Option<f64>,
    task: Prefetch<FindingsReply>,
}

impl SemgrepSource {
    pub fn new(client: SemgrepClient, plan: &SyncPlan) -> SemgrepSource {
        let streams = client.cfg.streams();
        let since = match plan.mode {
            SyncMode::Delta => plan.watermark.as_ref().and_then(Value::as_object).cloned().unwrap_or_default(),
            _ => Map::new(),
        };
        SemgrepSource { client: Arc::new(client), streams, since, slug: None, ahead: None }
    }

    fn spawn(&self, slug: &str, stream: &'static str, page: u64, since: Option<f64>) -> Prefetch<FindingsReply> {
        let client = self.client.clone();
        let slug = slug.to_string();
        Prefetch::spawn(async move { client.findings(&slug, stream, page, since).await })
    }

    async fn page(&mut self, cursor: Option<&Cursor>) -> Result<RawPage, ConnectorError> {
        let slug = match &self.slug {
            Some(s) => s.clone(),
            None => {
                let s = self.client.slug().await?;
                self.slug = Some(s.clone());
                s
            }
        };
        let Some(first) = self.streams.first().copied() else {
            return Ok(RawPage::default());
        };
        let stream_name = cursor.and_then(|c| c.get("stream")).and_then(Value::as_str).unwrap_or(first);
        let Some(pos) = self.streams.iter().position(|s| *s == stream_name) else {
            return Err(ConnectorError::Config(format!(
                "the saved cursor names stream '{stream_name}', which this integration no longer fetches"
            )));
        };
        let stream = self.streams[pos];
        let page = cursor.and_then(|c| c.get("page")).and_then(Value::as_u64).unwrap_or(0);
        let since_all = cursor.and_then(|c| c.get("since")).and_then(Value::as_object).cloned().unwrap_or_else(|| self.since.clone());
        let mut max = cursor.and_then(|c| c.get("max")).and_then(Value::as_object).cloned().unwrap_or_default();
        let since = since_all.get(stream).and_then(Value::as_f64);

        let current = match self.ahead.take() {
            Some(a) if a.stream == stream && a.page == page && a.since == since => a.task,
            _ => self.spawn(&slug, stream, page, since),
        };
        // The next page of this stream is asked for now; if this page turns out to be the
        // last, that request is simply dropped.
        self.ahead = Some(Ahead { stream, page: page + 1, since, task: self.spawn(&slug, stream, page + 1, since) });
        let reply = current.await?;

        let n = reply.findings.len() as u64;
        let mut newest: Option<f64> = max.get(stream).and_then(Value::as_f64);
        let mut records = Vec::with_capacity(reply.findings.len());
        for raw in reply.findings {
            let f: Value = serde_json::from_str(raw.get()).map_err(|e| ConnectorError::Decode {
                vendor: super::client::VENDOR,
                context: "a finding".into(),
                reason: e.to_string(),
            })?;
            let key = match f.get("id") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => continue,
            };
            if let Some(t) = f.get("relevant_since").and_then(Value::as_str).and_then(epoch_seconds) {
                newest = Some(newest.map_or(t, |m: f64| m.max(t)));
            }
            let scope = f.get("repository").and_then(|r| r.get("name")).and_then(Value::as_str).map(str::to_string);
            // The text moves into the record (no copy): `Box<RawValue>` is a `Box<str>`.
            let raw_json = Some(Box::<str>::from(raw).into_string());
            records.push(RawRecord { stream, key, body: f, tombstone: false, scope, raw_json });
        }
        if let Some(t) = newest {
            max.insert(stream.to_string(), json!(t));
        }
        let page_size = self.client.cfg.page_size();
        let next = if n >= page_size {
            Some(json!({"stream": stream, "page": page + 1, "since": since_all, "max": max}))
        } else {
            self.ahead = None;
            self.streams.get(pos + 1).map(|s| json!({"stream": s, "page": 0, "since": since_all, "max": max}))
        };
        // A stream that returned nothing keeps its previous watermark.
        let mut watermark = self.since.clone();
        for (k, v) in &max {
            watermark.insert(k.clone(), v.clone());
        }
        Ok(RawPage { records, next, watermark: (!watermark.is_empty()).then_some(Value::Object(watermark)), total: None })
    }
}

/// RFC 3339 → Unix seconds (with milliseconds).
fn epoch_seconds(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp_millis() as f64 / 1000.0)
}

impl Source for SemgrepSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(self.page(cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relevant_since() {
        assert_eq!(epoch_seconds("2026-10-02T08:14:55.120Z"), Some(1_790_928_895.12));
        assert_eq!(epoch_seconds("yesterday"), None);
    }
}
