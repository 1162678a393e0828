//! Paging Semgrep findings: each configured issue type in turn, `page`/`page_size`,
//! deduplicated across refs (`dedup=true`), stopping on a short page (the API gives no
//! total and no cursor).
//!
//! **Why a delta is per project.** `since` filters on `relevant_since`, which moves only
//! when a finding is detected or reintroduced: a fixed, triaged or ignored finding keeps
//! it, so `since` never returns it (the vendor's OpenAPI; vendor-apis.md §1.2.4). A delta
//! therefore lists projects, picks those whose `latest_scan_at` moved past the previous
//! run's newest one, fetches their findings whole (`repository_ids`, in batches) and
//! reports them as reconciled: the engine closes what those projects no longer list and
//! updates status and triage. Projects not scanned since keep their findings untouched.
//! A full run reads the whole listing; a listing that reaches the cap older deployments
//! stop at (50,000) is read again project by project so nothing is cut.
//!
//! Cursor: `{"stream", "page", "ids", "queue", "scan"}` — where the next page is; `ids`
//! the projects a delta reads whole; `queue` the project batches of the stream still to
//! read (a batch whose listing reaches the cap is split in two); `scan` the newest
//! `latest_scan_at` when the run started (the next watermark).

use std::sync::Arc;

use serde_json::{Value, json};
use tributary_core::model::SyncMode;

use super::client::{FindingsReply, SemgrepClient};
use crate::task::Prefetch;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source, SyncPlan};

/// Projects per findings request when reading by project.
pub const PROJECTS_PER_REQUEST: usize = 50;
/// Results after which deployments older than mid-2026 stopped a listing.
pub const LISTING_CAP: u64 = 50_000;

pub struct SemgrepSource {
    client: Arc<SemgrepClient>,
    streams: Vec<&'static str>,
    /// Delta: projects scanned after this time (epoch ms) are read; `None` in a full run.
    since_scan: Option<i64>,
    delta: bool,
    slug: Option<String>,
    /// Every project: id → name (learned on the first page of a run, resumed or not).
    projects: Option<Vec<(i64, String, Option<i64>)>>,
    /// The following page, requested while the current one is processed.
    ahead: Option<Ahead>,
    /// Projects whose findings this run read whole (names), for the engine's sweep.
    reconciled: Vec<String>,
    notes: Vec<String>,
    listing_cap: u64,
    /// Projects whose listing stayed cut at the cap (not reconciled).
    incomplete: Vec<i64>,
}

struct Ahead {
    key: PageKey,
    task: Prefetch<FindingsReply>,
}

/// Which request a page is.
#[derive(Debug, Clone, PartialEq)]
struct PageKey {
    stream: &'static str,
    page: u64,
    /// Project ids of the request (empty: the whole listing).
    ids: Vec<i64>,
}

impl SemgrepSource {
    pub fn new(client: SemgrepClient, plan: &SyncPlan) -> SemgrepSource {
        let streams = client.cfg.streams();
        let delta = plan.mode == SyncMode::Delta;
        let since_scan = if delta { plan.watermark.as_ref().and_then(|w| w.get("scan")).and_then(Value::as_i64) } else { None };
        let listing_cap = client.cfg.listing_cap.unwrap_or(LISTING_CAP);
        SemgrepSource {
            client: Arc::new(client),
            streams,
            since_scan,
            delta,
            slug: None,
            projects: None,
            ahead: None,
            reconciled: Vec::new(),
            notes: Vec::new(),
            listing_cap,
            incomplete: Vec::new(),
        }
    }

    fn spawn(&self, slug: &str, key: &PageKey) -> Prefetch<FindingsReply> {
        let client = self.client.clone();
        let (slug, key) = (slug.to_string(), key.clone());
        Prefetch::spawn(async move { client.findings(&slug, key.stream, key.page, &key.ids).await })
    }

    fn batches(ids: &[i64]) -> Vec<Vec<i64>> {
        ids.chunks(PROJECTS_PER_REQUEST).map(<[i64]>::to_vec).collect()
    }

    fn name_of(&self, id: i64) -> Option<String> {
        self.projects.as_ref()?.iter().find(|p| p.0 == id).map(|p| p.1.clone())
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
        if self.projects.is_none() {
            let list = self.client.projects().await?;
            self.projects = Some(list.into_iter().map(|p| (p.id, p.name, p.latest_scan_at)).collect());
        }
        let Some(first) = self.streams.first().copied() else {
            return Ok(RawPage::default());
        };
        // Where this page is: from the cursor, or the start of the run. `ids`: the projects
        // a delta reads whole (none: the whole listing); `queue`: the project batches of
        // this stream still to read (none: the whole listing).
        let (stream_name, page, ids, queue, scan) = match cursor {
            Some(c) => (
                c.get("stream").and_then(Value::as_str).unwrap_or(first).to_string(),
                c.get("page").and_then(Value::as_u64).unwrap_or(0),
                c.get("ids").and_then(|v| serde_json::from_value::<Vec<i64>>(v.clone()).ok()),
                c.get("queue").and_then(|v| serde_json::from_value::<Vec<Vec<i64>>>(v.clone()).ok()),
                c.get("scan").and_then(Value::as_i64),
            ),
            None => {
                let projects = self.projects.as_deref().unwrap_or_default();
                let scan = projects.iter().filter_map(|p| p.2).max();
                // A delta reads the projects scanned since the last run (all of them when
                // the last run left no scan watermark).
                let ids = self.delta.then(|| {
                    projects.iter().filter(|p| self.since_scan.is_none_or(|t| p.2.is_some_and(|s| s > t))).map(|p| p.0).collect::<Vec<_>>()
                });
                if let Some(ids) = &ids {
                    self.notes.push(format!("{} of {} projects scanned since the last sync were read whole", ids.len(), projects.len()));
                }
                let queue = ids.as_deref().map(Self::batches);
                (first.to_string(), 0, ids, queue, scan)
            }
        };
        let Some(pos) = self.streams.iter().position(|s| *s == stream_name) else {
            return Err(ConnectorError::Config(format!(
                "the saved cursor names stream '{stream_name}', which this integration no longer fetches"
            )));
        };
        let stream = self.streams[pos];
        let watermark = scan.map(|s| json!({"scan": s}));
        // A delta with nothing scanned: nothing to read.
        if ids.as_ref().is_some_and(Vec::is_empty) {
            self.reconciled = Vec::new();
            return Ok(RawPage { records: Vec::new(), next: None, watermark, total: Some(0) });
        }
        let batch: Vec<i64> = queue.as_ref().and_then(|q| q.first().cloned()).unwrap_or_default();
        let key = PageKey { stream, page, ids: batch.clone() };
        let current = match self.ahead.take() {
            Some(a) if a.key == key => a.task,
            _ => self.spawn(&slug, &key),
        };
        // The next page of this request is asked for now; if this page turns out to be
        // the last, that request is simply dropped.
        let ahead = PageKey { page: page + 1, ..key.clone() };
        self.ahead = Some(Ahead { task: self.spawn(&slug, &ahead), key: ahead });
        let reply = current.await?;

        let n = reply.findings.len() as u64;
        let mut records = Vec::with_capacity(reply.findings.len());
        for raw in reply.findings {
            // The source reads two fields; the record stays text, and the transform
            // parses only what its map reads.
            let (key, scope) = match Head::read(raw.get()) {
                Some(h) => (h.key(), h.repository.map(str::to_string)),
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
                    let scope = f.get("repository").and_then(|r| r.get("name")).and_then(Value::as_str).map(str::to_string);
                    (key, scope)
                }
            };
            let Some(key) = key else { continue };
            // The text moves into the record (no copy): `Box<RawValue>` is a `Box<str>`.
            let raw_json = Some(Box::<str>::from(raw).into_string());
            records.push(RawRecord { stream, key, body: Value::Null, tombstone: false, scope, raw_json });
        }
        let page_size = self.client.cfg.page_size();
        let cursor = |stream: &str, page: u64, queue: &Option<Vec<Vec<i64>>>| json!({"stream": stream, "page": page, "ids": ids, "queue": queue, "scan": scan});
        let next = if n >= page_size {
            Some(cursor(stream, page + 1, &queue))
        } else {
            self.ahead = None;
            // The listing ended exactly at the cap: it may have been cut there (one that
            // ended past it was not capped).
            let listed = page * page_size + n;
            let mut queue = queue;
            if listed == self.listing_cap {
                match queue.as_mut() {
                    // The whole listing: read this stream again project by project (what
                    // was read is read again, which changes nothing).
                    None => {
                        self.notes.push(format!(
                            "the {stream} findings listing stopped at {listed} results (the deployment's cap); read again project by project"
                        ));
                        let all: Vec<i64> = self.projects.as_deref().unwrap_or_default().iter().map(|p| p.0).collect();
                        queue = Some(Self::batches(&all));
                    }
                    // A batch of projects: split it; one project alone cannot be split.
                    Some(q) if batch.len() > 1 => {
                        let (a, b) = batch.split_at(batch.len() / 2);
                        q.splice(0..1, [a.to_vec(), b.to_vec()]);
                    }
                    Some(q) => {
                        let name = batch.first().and_then(|id| self.name_of(*id)).unwrap_or_default();
                        self.notes.push(format!(
                            "the {stream} findings of project {name} stopped at {listed} results (the deployment's cap): the rest could not be read"
                        ));
                        self.incomplete.extend(batch.iter().copied());
                        q.remove(0);
                    }
                }
                if queue.as_ref().is_some_and(|q| !q.is_empty()) && self.ahead.is_none() {
                    // Read the (re)split batches from their first page.
                    return Ok(RawPage { records, next: Some(cursor(stream, 0, &queue)), watermark, total: None });
                }
            } else if let Some(q) = queue.as_mut() {
                q.remove(0);
            }
            match queue {
                Some(q) if !q.is_empty() => Some(cursor(stream, 0, &Some(q))),
                _ => {
                    // The stream is done; a delta's projects were read whole.
                    if self.delta && pos + 1 == self.streams.len() {
                        let names: Vec<String> =
                            ids.iter().flatten().filter(|id| !self.incomplete.contains(id)).filter_map(|id| self.name_of(*id)).collect();
                        self.reconciled = names;
                    }
                    let queue = ids.as_deref().map(Self::batches);
                    self.streams.get(pos + 1).map(|s| cursor(s, 0, &queue))
                }
            }
        };
        Ok(RawPage { records, next, watermark, total: None })
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

impl Source for SemgrepSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(self.page(cursor))
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn reconciled_scopes(&self) -> Option<Vec<String>> {
        self.delta.then(|| self.reconciled.clone())
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

    proptest::proptest! {
        #[test]
        fn any_finding_text_reads_or_declines(v in crate::arbitrary::json(), text in ".{0,64}") {
            // The fast path either reads the record or declines; it never panics.
            let _ = Head::read(&v.to_string()).map(|h| h.key());
            let _ = Head::read(&text).map(|h| h.key());
            let _ = serde_json::from_value::<super::super::client::FindingsReply>(v);
        }
    }
}
