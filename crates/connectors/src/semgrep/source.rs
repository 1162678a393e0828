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
            // The source reads three fields; the record stays text, and the transform
            // parses only what its map reads.
            let (key, since, scope) = match Head::read(raw.get()) {
                Some(h) => (h.key(), h.relevant_since.and_then(epoch_seconds), h.repository.map(str::to_string)),
                None => {
                    // Shapes the fast path does not expect (an escaped key, a number
                    // where text was expected) take the general one.
                    let f: Value = serde_json::from_str(raw.get()).map_err(|e| ConnectorError::Decode {
                        vendor: super::client::VENDOR,
                        context: "a finding".into(),
                        reason: e.to_string(),
                    })?;
                    let key = match f.get("id") {
                        Some(Value::Number(n)) => Some(n.to_string()),
                        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                        _ => None,
                    };
                    let since = f.get("relevant_since").and_then(Value::as_str).and_then(epoch_seconds);
                    let scope = f.get("repository").and_then(|r| r.get("name")).and_then(Value::as_str).map(str::to_string);
                    (key, since, scope)
                }
            };
            let Some(key) = key else { continue };
            if let Some(t) = since {
                newest = Some(newest.map_or(t, |m: f64| m.max(t)));
            }
            // The text moves into the record (no copy): `Box<RawValue>` is a `Box<str>`.
            let raw_json = Some(Box::<str>::from(raw).into_string());
            records.push(RawRecord { stream, key, body: Value::Null, tombstone: false, scope, raw_json });
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

/// The fields of a finding the source itself needs, read from its text without building
/// the rest. `read` gives `None` for anything but the expected shapes.
#[derive(Default)]
struct Head<'a> {
    id: Option<Value>,
    relevant_since: Option<&'a str>,
    repository: Option<&'a str>,
}

impl<'a> Head<'a> {
    fn read(text: &'a str) -> Option<Head<'a>> {
        serde_json::from_str(text).ok()
    }

    fn key(&self) -> Option<String> {
        match &self.id {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Head<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};
        struct HeadVisitor;
        impl<'de> Visitor<'de> for HeadVisitor {
            type Value = Head<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a finding object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
                let mut head = Head::default();
                while let Some(key) = map.next_key::<&'de str>()? {
                    match key {
                        "id" => head.id = Some(map.next_value()?),
                        "relevant_since" => head.relevant_since = map.next_value()?,
                        "repository" => head.repository = map.next_value::<RepoName<'de>>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(HeadVisitor)
    }
}

/// `repository.name` of a finding: an object is required, its `name` may be absent.
struct RepoName<'a>(Option<&'a str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RepoName<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};
        struct RepoVisitor;
        impl<'de> Visitor<'de> for RepoVisitor {
            type Value = RepoName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a repository object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RepoName<'de>, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<&'de str>()? {
                    if key == "name" {
                        name = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RepoName(name))
            }
        }
        d.deserialize_map(RepoVisitor)
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
    fn head_reads_what_the_general_path_reads() {
        for text in [
            r#"{"id":70000001,"relevant_since":"2026-10-02T08:14:55.120Z","repository":{"name":"acme/web","url":"u"},"rule":{"x":[1]}}"#,
            r#"{"id":"abc","repository":{"url":"u"}}"#,
            r#"{"id":"","relevant_since":null}"#,
            r#"{"id":1.5,"repository":null}"#,
            r#"{"id":7,"relevant_since":12,"repository":["acme/web"]}"#,
            r#"{"i\u0064":7,"repository":{"name":"a\/b"}}"#,
            r#"[7]"#,
        ] {
            let f: Value = serde_json::from_str(text).unwrap();
            let want_key = match f.get("id") {
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            };
            let want_scope = f.get("repository").and_then(|r| r.get("name")).and_then(Value::as_str);
            let want_since = f.get("relevant_since").and_then(Value::as_str);
            // The fast path either agrees or declines (and the general path runs).
            if let Some(h) = Head::read(text) {
                assert_eq!((h.key(), h.repository, h.relevant_since), (want_key, want_scope, want_since), "{text}");
            }
        }
        assert!(Head::read(r#"{"id":1,"relevant_since":"2026-10-02T08:14:55.120Z","repository":{"name":"a"}}"#).is_some());
    }

    #[test]
    fn parses_relevant_since() {
        assert_eq!(epoch_seconds("2026-10-02T08:14:55.120Z"), Some(1_790_928_895.12));
        assert_eq!(epoch_seconds("yesterday"), None);
    }
}
