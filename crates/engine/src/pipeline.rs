//! One sync run, end to end.
//!
//! ```text
//!  fetch (async task)  ──RawPage──►  transform (thread)  ──PageIn──►  write (thread)
//!  connector pages,                  map + stage + compress            ingest::write_page,
//!  retries, cursor                   raw records                       several pages per
//!                                                                      transaction
//! ```
//!
//! Channels are bounded (a few pages), so memory is O(page) however big the tenant. Each
//! page's cursor is committed in the same transaction as its data: a crash resumes from
//! the last committed page and re-applies nothing twice (writes are idempotent upserts).
//! Fetch and write overlap; on a 2-core machine the writer thread is the critical path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use serde_json::Value;
use tributary_connectors::{ConnectorKind, Cursor, RawPage, RawRecord, Source, SyncPlan};
use tributary_core::model::{Completeness, Integration, IntegrationStatus, RunCounts, SyncMode, SyncRun, SyncStatus};
use tributary_core::time::{now_ms, to_rfc3339};
use tributary_core::transform::{TransformMap, stage};
use tributary_store::ingest::{self, PageIn, RawBody, RawDict, RecordIn, RunContext};
use tributary_store::repo::{integrations, maps, profiles, raw, rules, runs};
use tributary_store::{Conn, Store};

use crate::integrations::kind_of;
use crate::{Engine, EngineError, Result, lease_owner, owner_alive};

/// The sync-state stream that holds a connector's run-level watermark.
pub const RUN_STATE: &str = "run";
/// A run whose holder stopped heart-beating this long ago (another host) may be taken over.
pub const LEASE_MS: i64 = 120_000;
/// The writer commits once a transaction holds this many findings (or the queue is empty).
const COMMIT_ROWS: usize = 150_000;
/// Pages buffered between stages.
const QUEUE_PAGES: usize = 2;

/// What to sync: a profile name, or an integration name (its own profile).
pub type SyncTarget = str;

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Fetch everything and sweep what is gone, whatever the state says.
    pub force_full: bool,
    /// A delta sync turns full when the last full sync is older than this.
    pub full_every_ms: i64,
    pub fuses: Fuses,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { force_full: false, full_every_ms: 7 * 86_400_000, fuses: Fuses::default() }
    }
}

/// Fuses against silent mass changes. A vendor that renames a field, or a map edit that
/// loses an identity rule, must not close everything: a run whose records mostly produce
/// nothing, or which would close more than a share of the findings it covers or retire
/// more than a share of the assets its integration holds, stops before its sweep is
/// committed, with the reason, and leaves findings and assets as they were.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fuses {
    /// Go ahead whatever the shares (`--allow-mass-close`).
    pub allow_mass_close: bool,
    /// Of the findings a run covers (seen or closed), the share it may close.
    pub max_close_share: f64,
    /// Of the integration's active asset attributions, the share a run may retire.
    pub max_retire_share: f64,
    /// Of the records fetched, the share that may produce nothing usable.
    pub max_unusable_share: f64,
}

impl Default for Fuses {
    fn default() -> Self {
        Fuses { allow_mass_close: false, max_close_share: 0.5, max_retire_share: 0.5, max_unusable_share: 0.5 }
    }
}

/// Below this many closes, retires or unusable records no fuse trips (small tenants
/// legitimately change by large shares).
const FUSE_MIN: i64 = 10;

impl Fuses {
    /// Why the run must stop before its sweep, if it must. `totals`: the run's pages;
    /// `swept`: what the sweep would do; `active_after`: active attributions after it.
    pub fn check(&self, totals: &RunCounts, swept: &RunCounts, active_after: Option<i64>) -> std::result::Result<(), String> {
        if self.allow_mass_close {
            return Ok(());
        }
        let share = |part: i64, whole: i64| if whole > 0 { part as f64 / whole as f64 } else { 0.0 };
        // Of all records fetched (records out of scope count as usable: a conservative share).
        let in_scope = totals.fetched;
        if totals.unusable >= FUSE_MIN && share(totals.unusable, in_scope) > self.max_unusable_share {
            return Err(format!(
                "{} of {} records produced nothing usable (no asset identity, or findings without an externalFindingId): \
                 the map's identity rules no longer match the records, or the vendor renamed a field",
                totals.unusable, in_scope
            ));
        }
        let closed = totals.closed + swept.closed;
        let covered = closed + totals.created + totals.updated + totals.unchanged;
        if closed >= FUSE_MIN && share(closed, covered) > self.max_close_share {
            return Err(format!(
                "it would close {closed} of the {covered} findings it covers ({:.0} %, more than the {:.0} % allowed)",
                100.0 * share(closed, covered),
                100.0 * self.max_close_share
            ));
        }
        if let Some(active) = active_after {
            let retired = totals.assets_retired + swept.assets_retired;
            if retired >= FUSE_MIN && share(retired, active + retired) > self.max_retire_share {
                return Err(format!(
                    "it would retire {retired} of the {} assets the integration holds ({:.0} %, more than the {:.0} % allowed)",
                    active + retired,
                    100.0 * share(retired, active + retired),
                    100.0 * self.max_retire_share
                ));
            }
        }
        Ok(())
    }

    /// The message of a tripped fuse.
    pub fn stopped(why: &str) -> String {
        format!(
            "stopped before closing anything: {why}. Nothing was closed or retired. If this is expected, run again with --allow-mass-close"
        )
    }
}

/// Progress reports from a run (the CLI draws a bar; the scheduler logs).
pub trait Progress: Send + Sync {
    fn started(&self, _run: &SyncRun, _resumed: bool) {}
    /// Records fetched so far, of `total` when the source knows.
    fn fetched(&self, _fetched: u64, _total: Option<u64>) {}
    /// After each commit: counts of this run so far.
    fn committed(&self, _counts: &RunCounts) {}
}

/// Rows a run must add or close before the planner's statistics are refreshed (a fifth
/// of it for an integration's first run): big loads change the best plans, routine deltas
/// do not, and `ANALYZE` reads every index (0.8 s at 2.6 M findings on SQLite).
pub const ANALYZE_AFTER: i64 = 50_000;

pub struct NoProgress;
impl Progress for NoProgress {}

/// A page on its way from the fetcher to the writer.
struct Staged {
    page: PageIn,
    completeness: Completeness,
    findings: usize,
}

/// Maps in force for a run, per stream.
pub(crate) struct RunMaps {
    pub by_stream: HashMap<String, Arc<TransformMap>>,
    pub completeness: HashMap<String, Completeness>,
    /// `vendorProductName` for maps that name none (a SARIF import: the tool).
    pub product_override: Option<String>,
}

impl RunMaps {
    /// Maps of `kind`'s streams: a profile's override, else the connector's default map.
    /// `only`: the streams the run covers (default: all of the kind's).
    pub(crate) fn load(c: &mut dyn Conn, kind: &ConnectorKind, overrides: &[(String, String)], only: Option<&[&str]>) -> Result<RunMaps> {
        let mut by_stream = HashMap::new();
        let mut completeness = HashMap::new();
        for s in kind.streams {
            if only.is_some_and(|o| !o.contains(&s.name)) {
                continue;
            }
            let name = overrides.iter().find(|(st, _)| st == s.name).map(|(_, m)| m.clone()).unwrap_or_else(|| (s.default_map)().name);
            let stored = maps::get(c, &name)?;
            let map =
                TransformMap::compile(stored.spec).map_err(|e| EngineError::Invalid(format!("map '{name}' does not compile: {e:?}")))?;
            by_stream.insert(s.name.to_string(), Arc::new(map));
            completeness.insert(s.name.to_string(), s.completeness);
        }
        Ok(RunMaps { by_stream, completeness, product_override: None })
    }

    /// `vendorProductName` of a map's findings.
    fn product(&self, kind: &ConnectorKind, stream: &str) -> String {
        self.by_stream
            .get(stream)
            .and_then(|m| m.spec.product.clone())
            .or_else(|| self.product_override.clone())
            .unwrap_or_else(|| kind.product.to_string())
    }

    /// The products the run's streams produce, each with how complete its records are.
    pub(crate) fn products(&self, kind: &ConnectorKind) -> Vec<(String, Completeness)> {
        let mut p: Vec<(String, Completeness)> = self
            .by_stream
            .keys()
            .map(|s| (self.product(kind, s), self.completeness.get(s).copied().unwrap_or(Completeness::PerFinding)))
            .collect();
        p.sort_by(|a, b| a.0.cmp(&b.0));
        p.dedup_by(|a, b| a.0 == b.0);
        p
    }
}

/// A page from the source, with the stored raw ids when replaying.
pub(crate) struct Fetched {
    pub page: RawPage,
    pub raw_ids: Option<Vec<i64>>,
}

/// Where pages come from: the vendor, or stored raw records.
pub(crate) enum Producer {
    Vendor(Box<dyn Source>),
    Replay(crate::replay::ReplayReader),
    File(crate::import::FileReader),
}

impl Producer {
    fn notes(&self) -> Vec<String> {
        match self {
            Producer::Vendor(s) => s.notes(),
            Producer::File(f) => f.notes(),
            Producer::Replay(_) => Vec::new(),
        }
    }

    fn reconciled_scopes(&self) -> Option<Vec<String>> {
        match self {
            Producer::Vendor(s) => s.reconciled_scopes(),
            Producer::Replay(_) | Producer::File(_) => None,
        }
    }

    async fn next(&mut self, engine: &Engine, cursor: Option<&Cursor>) -> Result<Fetched> {
        match self {
            Producer::Vendor(s) => Ok(Fetched { page: s.next_page(cursor).await?, raw_ids: None }),
            Producer::Replay(r) => r.next(engine, cursor).await,
            Producer::File(f) => Ok(Fetched { page: f.next().await?, raw_ids: None }),
        }
    }
}

/// Everything a run needs once started.
pub(crate) struct Prepared {
    pub integration: Integration,
    pub kind: &'static ConnectorKind,
    pub maps: RunMaps,
    pub run: SyncRun,
    pub resumed: bool,
    /// For scoped connectors: mapped scope → the asset its records attach to. Records of
    /// other scopes are skipped.
    pub scopes: Option<HashMap<String, i64>>,
    /// The run covers one scope only (a file import): its sweep is limited to it.
    pub scope: Option<String>,
    /// All pages and the sweep in one transaction: the run lands whole or not at all.
    pub single_tx: bool,
    /// See [`RunContext::scope_is_new`].
    pub scope_is_new: bool,
    pub fuses: Fuses,
    /// Assets written first in a single-transaction run (an import's repository), so a
    /// run that fails leaves none behind; records scoped to a pending asset
    /// ([`crate::import::PENDING_ASSET`]) get its id.
    pub context: Vec<RecordIn>,
}

/// What finishing a run needs to know about it.
struct RunEnd {
    integration_id: i64,
    kind: &'static ConnectorKind,
    run_id: i64,
    mode: SyncMode,
    scope: Option<String>,
    /// See [`SyncRun::initial`]: no sweep.
    initial: bool,
    /// A delta's scopes read whole, with the asset each maps to: swept like a full run.
    reconciled: Option<Vec<(String, i64)>>,
    /// The run's page counts (for the fuses).
    totals: RunCounts,
    fuses: Fuses,
}

/// What the transform stage needs besides the page.
pub(crate) struct TransformContext {
    pub maps: Arc<RunMaps>,
    pub kind: &'static ConnectorKind,
    pub scopes: Option<HashMap<String, i64>>,
    pub integration_id: i64,
    /// Each stream's raw-record dictionary: loaded at the start, sampled from the
    /// stream's first record when it has none yet.
    pub dicts: HashMap<String, RawDict>,
}

/// Pages at least this long are transformed on two threads (the transform was the
/// pipeline's longest stage: ~20 µs per Semgrep finding, against ~13 µs of writing).
const SPLIT_RECORDS: usize = 256;

fn transform_page(f: Fetched, cx: &mut TransformContext) -> Staged {
    let Fetched { page, raw_ids } = f;
    let fetched = page.records.len() as i64;
    // Dictionaries first, so the workers below only read them.
    let new_dicts = if raw_ids.is_none() { sample_dicts(&page.records, cx) } else { Vec::new() };
    let cx: &TransformContext = cx;
    let records = page.records;
    let split = if records.len() >= SPLIT_RECORDS { records.len().div_ceil(2) } else { records.len() };
    let mut chunks = records.into_iter();
    let first: Vec<RawRecord> = chunks.by_ref().take(split).collect();
    let second: Vec<RawRecord> = chunks.collect();
    let raw_ids = raw_ids.as_deref();
    let (a, b) = std::thread::scope(|scope| {
        let worker = (!second.is_empty()).then(|| scope.spawn(|| transform_records(second, split, raw_ids, cx)));
        let a = transform_records(first, 0, raw_ids, cx);
        (a, worker.map(|w| w.join()))
    });
    let mut out = a;
    match b {
        Some(Ok(b)) => out.absorb(b),
        // A panic in the worker is a bug; re-raise it on this thread.
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => {}
    }
    for (stream, key, w) in &out.first_warnings {
        tracing::warn!(message = "Transform warning.", stream, record = %key, warning = %w);
    }
    if out.warned > out.first_warnings.len() {
        tracing::warn!(message = "More transform warnings on this page.", count = out.warned - out.first_warnings.len());
    }
    Staged {
        page: PageIn {
            records: out.records,
            dicts: new_dicts,
            cursor: page.next,
            watermark: page.watermark,
            fetched,
            skipped: out.skipped,
            unusable: out.unusable,
        },
        completeness: out.completeness.unwrap_or(Completeness::PerFinding),
        findings: out.findings,
    }
}

/// The mapped, in-scope record a stream's dictionary is sampled from, for each stream
/// of the page that has none yet.
fn sample_dicts(records: &[RawRecord], cx: &mut TransformContext) -> Vec<RawDict> {
    let mut new = Vec::new();
    for rec in records {
        if cx.dicts.contains_key(rec.stream) || !cx.maps.by_stream.contains_key(rec.stream) {
            continue;
        }
        if let (Some(scopes), Some(scope)) = (&cx.scopes, &rec.scope)
            && !scopes.contains_key(scope)
        {
            continue;
        }
        let bytes = match &rec.raw_json {
            Some(text) => text.as_bytes().to_vec(),
            None => match serde_json::to_vec(&rec.body) {
                Ok(b) => b,
                Err(_) => continue,
            },
        };
        let d = RawDict::sample(cx.integration_id, rec.stream, &bytes);
        cx.dicts.insert(rec.stream.to_string(), d.clone());
        new.push(d);
    }
    new
}

/// What one thread made of its share of a page.
#[derive(Default)]
struct Transformed {
    records: Vec<RecordIn>,
    skipped: i64,
    unusable: i64,
    findings: usize,
    completeness: Option<Completeness>,
    warned: usize,
    /// The first few warnings, logged by the page (stream, record key, warning).
    first_warnings: Vec<(&'static str, String, String)>,
}

impl Transformed {
    const LOGGED_WARNINGS: usize = 3;

    fn absorb(&mut self, later: Transformed) {
        self.records.extend(later.records);
        self.skipped += later.skipped;
        self.unusable += later.unusable;
        self.findings += later.findings;
        self.completeness = later.completeness.or(self.completeness);
        self.warned += later.warned;
        let room = Self::LOGGED_WARNINGS.saturating_sub(self.first_warnings.len());
        self.first_warnings.extend(later.first_warnings.into_iter().take(room));
    }
}

/// Maps, stages and compresses records; `offset` is the first one's index in the page.
fn transform_records(records: Vec<RawRecord>, offset: usize, raw_ids: Option<&[i64]>, cx: &TransformContext) -> Transformed {
    let (maps, kind) = (&*cx.maps, cx.kind);
    let mut out = Transformed { records: Vec::with_capacity(records.len()), ..Transformed::default() };
    let mut json_buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    for (i, rec) in records.into_iter().enumerate() {
        let Some(map) = maps.by_stream.get(rec.stream) else {
            out.skipped += 1;
            continue;
        };
        // Scoped records: only mapped scopes are ingested, attached to the scope's asset.
        let context = match (&cx.scopes, &rec.scope) {
            (Some(scopes), Some(scope)) => match scopes.get(scope) {
                Some(&asset) => Some(asset),
                None => {
                    out.skipped += 1;
                    continue;
                }
            },
            _ => None,
        };
        out.completeness = Some(maps.completeness.get(rec.stream).copied().unwrap_or(Completeness::PerFinding));
        let raw = match raw_ids {
            Some(_) => None,
            None => {
                let bytes = match &rec.raw_json {
                    Some(text) => Some(text.as_bytes()),
                    None => {
                        // One reused buffer: records are kilobytes, and growing a fresh Vec
                        // for each showed up as memmove in profiles.
                        json_buf.clear();
                        serde_json::to_writer(&mut json_buf, &rec.body).ok().map(|()| json_buf.as_slice())
                    }
                };
                bytes.map(|b| match cx.dicts.get(rec.stream) {
                    Some(dict) => RawBody::with_dict(b, dict),
                    None => RawBody::from_json(b),
                })
            }
        };
        let product = maps.product(kind, rec.stream);
        let per_asset = maps.completeness.get(rec.stream) == Some(&Completeness::PerAsset);
        // A record sent as text only is parsed here, keeping just what the map reads.
        let pruned;
        let body = match rec.text_only() {
            Some(text) => match map.read(text) {
                Ok(v) => {
                    pruned = v;
                    &pruned
                }
                Err(e) => {
                    tracing::warn!(message = "Record is not JSON; skipped.", stream = rec.stream, record = %rec.key, error = %e);
                    out.skipped += 1;
                    continue;
                }
            },
            None => &rec.body,
        };
        // A record without its finding list (the source could not read it), or whose
        // findings lost their ids (a renamed field), closes nothing.
        let listed = map.lists_findings(body);
        let mut staged = stage(map.apply(body), map.spec.target_model, kind.name, &product);
        let partial = per_asset && !rec.tombstone && (!listed || staged.dropped > 0);
        for w in staged.warnings.drain(..) {
            if out.first_warnings.len() < Transformed::LOGGED_WARNINGS {
                out.first_warnings.push((rec.stream, rec.key.clone(), w));
            }
            out.warned += 1;
        }
        if rec.tombstone {
            if let Some(a) = staged.asset.as_mut() {
                a.retired = true;
            }
            staged.findings.clear();
        }
        let nothing = staged.asset.is_none() && staged.findings.is_empty();
        if nothing {
            out.skipped += 1;
        }
        // Nothing usable: no asset and no finding, or findings that all lost their ids.
        if !rec.tombstone && (nothing || (staged.dropped > 0 && staged.findings.is_empty())) {
            out.unusable += 1;
        }
        out.findings += staged.findings.len();
        out.records.push(RecordIn {
            stream: rec.stream.to_string(),
            key: rec.key,
            raw,
            raw_id: raw_ids.and_then(|ids| ids.get(offset + i).copied()),
            asset: staged.asset,
            findings: staged.findings,
            attach_to: context,
            repo_asset_id: context,
            scope: rec.scope,
            partial,
        });
    }
    out
}

/// Writes every page and the end-of-run sweep in one transaction (file imports). A run
/// whose producer failed (`aborted`) rolls back whole. Returns (written, swept).
/// What a single-transaction run writes besides its pages.
struct SingleTx {
    /// The products (with completeness) and streams its sweep covers.
    sweep: (Vec<(String, Completeness)>, Vec<String>),
    /// Assets written first (see `Prepared::context`).
    context: Vec<RecordIn>,
    fuses: Fuses,
}

fn writer_single_tx(
    store: Store,
    base: RunContext,
    rx: Receiver<Staged>,
    progress: Arc<dyn Progress>,
    aborted: Arc<AtomicBool>,
    run: SingleTx,
) -> Result<(RunCounts, Option<RunCounts>)> {
    let SingleTx { sweep, context, fuses } = run;
    let out = store.with_writer(|c| {
        c.transaction(|tx| {
            let mut total = RunCounts::default();
            // The run's own assets first (an import's repository), then its pages.
            let mut pending = None;
            if !context.is_empty() {
                ingest::write_context_assets(tx, &base, context)?;
                if let Some(scope) = &base.scope {
                    pending = tributary_store::repo::scopes::repository_asset(tx, scope)?;
                }
            }
            while let Ok(mut p) = rx.recv() {
                if let Some(id) = pending {
                    for r in &mut p.page.records {
                        if r.attach_to == Some(crate::import::PENDING_ASSET) {
                            r.attach_to = Some(id);
                        }
                        if r.repo_asset_id == Some(crate::import::PENDING_ASSET) {
                            r.repo_asset_id = Some(id);
                        }
                    }
                }
                let ctx = RunContext { completeness: p.completeness, ..base.clone() };
                total.add(&ingest::write_page(tx, &ctx, p.page)?);
                progress.committed(&total);
            }
            if aborted.load(Ordering::SeqCst) {
                return Err(tributary_store::StoreError::Invalid(
                    "the import stopped before the end of the file; nothing was written".into(),
                ));
            }
            let swept = ingest::finish_full(tx, &base, &sweep.0, &sweep.1)?;
            // A tripped fuse rolls the whole run back (an import is one transaction).
            if let Err(why) = fuses.check(&total, &swept, None) {
                return Err(tributary_store::StoreError::Stopped(Fuses::stopped(&why)));
            }
            Ok((total, Some(swept)))
        })
    })?;
    Ok(out)
}

fn writer(store: Store, base: RunContext, rx: Receiver<Staged>, progress: Arc<dyn Progress>) -> Result<(RunCounts, Option<RunCounts>)> {
    let mut total = RunCounts::default();
    while let Ok(first) = rx.recv() {
        let mut rows = first.findings;
        let mut batch = vec![first];
        while rows < COMMIT_ROWS {
            match rx.try_recv() {
                Ok(p) => {
                    rows += p.findings;
                    batch.push(p);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let counts = store.with_writer(|c| {
            c.transaction(|tx| {
                let mut sum = RunCounts::default();
                for p in batch {
                    let ctx = RunContext { completeness: p.completeness, ..base.clone() };
                    sum.add(&ingest::write_page(tx, &ctx, p.page)?);
                }
                Ok(sum)
            })
        })?;
        total.add(&counts);
        progress.committed(&total);
    }
    Ok((total, None))
}

impl Engine {
    /// Syncs a profile (or an integration's own profile) now: resumes an abandoned run of
    /// the integration, refuses one that is still running, else starts a full or delta run.
    pub async fn sync(&self, target: &SyncTarget, opts: SyncOptions, progress: Arc<dyn Progress>) -> Result<SyncRun> {
        let target = target.to_string();
        let (profile, integration) = self
            .blocking(move |store| {
                store
                    .read(|c| {
                        let profile = match profiles::find(c, &target)? {
                            Some(p) => p,
                            None => {
                                let i = integrations::get(c, &target).map_err(|_| tributary_store::StoreError::NotFound {
                                    what: "profile or integration",
                                    name: target.clone(),
                                })?;
                                profiles::default_for(c, i.id)?
                                    .ok_or_else(|| tributary_store::StoreError::Invalid(format!("integration '{target}' has no profile")))?
                            }
                        };
                        let integration = integrations::by_id(c, profile.integration_id)?;
                        Ok((profile, integration))
                    })
                    .map_err(EngineError::from)
            })
            .await?;
        let kind = kind_of(&integration.kind)?;
        let connector = self.connector(&integration).await?;
        let streams = connector.streams();
        let mut prep = self
            .blocking(move |store| {
                store
                    .write(|c| {
                        let maps = RunMaps::load(c, kind, &profile.maps, streams.as_deref())
                            .map_err(|e| tributary_store::StoreError::Invalid(e.to_string()))?;
                        let (run, resumed) = start_or_resume(c, &integration, Some(profile.id), &opts)?;
                        Ok(Prepared {
                            integration,
                            kind,
                            maps,
                            run,
                            resumed,
                            scopes: None,
                            scope: None,
                            single_tx: false,
                            scope_is_new: false,
                            fuses: opts.fuses,
                            context: Vec::new(),
                        })
                    })
                    .map_err(EngineError::from)
            })
            .await?;
        // Scoped connectors: refresh the scopes and their mapping before fetching.
        match self.prepare_scopes(&mut prep, connector.as_ref()).await {
            Ok(scopes) => prep.scopes = scopes,
            Err(e) => return self.fail(prep.run.id, prep.integration.id, e).await,
        }
        let watermark = if prep.run.mode == SyncMode::Delta {
            let id = prep.integration.id;
            self.blocking(move |s| Ok(s.read(|c| runs::stream_state(c, id, RUN_STATE))?.watermark)).await?
        } else {
            None
        };
        let source = connector.source(&SyncPlan { mode: prep.run.mode, watermark });
        self.run_pipeline(prep, Producer::Vendor(source), progress).await
    }

    /// Drives the three stages and finalizes the run.
    pub(crate) async fn run_pipeline(&self, prep: Prepared, producer: Producer, progress: Arc<dyn Progress>) -> Result<SyncRun> {
        // An integration's first vendor run is a bulk load: random-key indexes are built
        // once at its end rather than row by row (store::schema::DEFERRABLE).
        let bulk = prep.run.initial && !prep.single_tx && prep.run.mode != SyncMode::Replay;
        let (started, initial) = (prep.run.started_at, prep.run.initial && prep.scope.is_none());
        let hosts = matches!(prep.kind.name, "cortex-xdr" | "cortex-cloud");
        if bulk && let Err(e) = self.blocking(|s| Ok(s.defer_indexes()?)).await {
            tracing::warn!(message = "Could not defer indexes; loading with them.", error = %e);
        }
        let clock = std::time::Instant::now();
        let out = self.run_stages(prep, producer, progress).await;
        let staged = clock.elapsed();
        if bulk && let Err(e) = self.blocking(|s| Ok(s.ensure_indexes()?)).await {
            tracing::warn!(message = "Could not rebuild a deferred index; it is rebuilt when the store next opens.", error = %e);
        }
        let indexed = clock.elapsed();
        // Context and issues follow the findings, whether the run succeeded or not (the
        // pages a failed run committed changed findings too).
        let derived = self.derive(started, initial, hosts).await;
        tracing::info!(
            message = "Run phases.",
            fetch_and_write_ms = staged.as_millis() as u64,
            deferred_indexes_ms = (indexed - staged).as_millis() as u64,
            issues_ms = (clock.elapsed() - indexed).as_millis() as u64
        );
        match derived {
            Ok(d) => {
                tracing::debug!(message = "Issues updated.", rescored = d.issues_rescored, all = d.rebuilt_all, repos = d.repos_changed)
            }
            Err(e) => tracing::warn!(message = "Updating issues failed; they catch up after the next run.", error = %e),
        }
        if let Err(e) = self.write_back().await {
            tracing::warn!(message = "Writing context back to the vendor failed; the next run tries again.", error = %e);
        }
        // A run that changed many rows refreshes the planner's statistics (after the
        // deferred indexes exist), so queries keep choosing the right index as the tenant
        // grows (bench/RESULTS.md: without them a host's findings took 2 s, not 0.1 ms).
        if let Ok(run) = &out {
            let k = run.counts;
            let changed = k.created + k.closed + k.assets_created;
            if (changed >= ANALYZE_AFTER || (run.initial && changed >= ANALYZE_AFTER / 5))
                && let Err(e) = self.blocking(|s| Ok(s.analyze()?)).await
            {
                tracing::warn!(message = "Refreshing query statistics failed.", error = %e);
            }
        }
        out
    }

    async fn run_stages(&self, prep: Prepared, mut producer: Producer, progress: Arc<dyn Progress>) -> Result<SyncRun> {
        progress.started(&prep.run, prep.resumed);
        let rules = self.blocking(|s| Ok(s.read(rules::list)?)).await?;
        let base = RunContext {
            run_id: prep.run.id,
            integration_id: prep.integration.id,
            source: prep.kind.product.to_string(),
            // An initial run needs no seen-marks: it sweeps nothing. A delta records them
            // too: a source may read some scopes whole and have them reconciled.
            full: !prep.run.initial,
            completeness: Completeness::PerFinding,
            rules,
            scope: prep.scope.clone(),
            seen_in_memory: prep.single_tx.then(Default::default),
            scope_is_new: prep.scope_is_new,
        };
        let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel::<Fetched>(QUEUE_PAGES);
        let (page_tx, page_rx): (SyncSender<Staged>, Receiver<Staged>) = sync_channel(QUEUE_PAGES);
        let maps = Arc::new(prep.maps);
        let kind = prep.kind;
        let integration_id = prep.integration.id;
        let dicts = self.blocking(move |s| Ok(s.read(|c| raw::dicts(c, integration_id))?)).await?;
        let dicts = dicts.into_iter().map(|d| (d.stream.clone(), d)).collect();
        let scope_assets = prep.scopes.clone().unwrap_or_default();
        let mut cx = TransformContext { maps: maps.clone(), kind, scopes: prep.scopes, integration_id, dicts };
        let transform = tokio::task::spawn_blocking(move || {
            while let Some(f) = raw_rx.blocking_recv() {
                if page_tx.send(transform_page(f, &mut cx)).is_err() {
                    break;
                }
            }
        });
        let store = self.store.clone();
        let wprogress = progress.clone();
        let aborted = Arc::new(AtomicBool::new(false));
        let write = if prep.single_tx {
            let sweep = (maps.products(kind), maps.by_stream.keys().cloned().collect());
            let flag = aborted.clone();
            let run = SingleTx { sweep, context: prep.context, fuses: prep.fuses };
            tokio::task::spawn_blocking(move || writer_single_tx(store, base, page_rx, wprogress, flag, run))
        } else {
            tokio::task::spawn_blocking(move || writer(store, base, page_rx, wprogress))
        };

        // The lease's heartbeat, on its own clock: slow vendor pages must not make this run
        // look abandoned. If the lease is found taken, the run stops writing.
        let lease_lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (store, lost, every, run_id, owner) =
                (self.store.clone(), lease_lost.clone(), self.heartbeat_every, prep.run.id, lease_owner());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (s, o) = (store.clone(), owner.clone());
                    let held = tokio::task::spawn_blocking(move || s.write(|c| runs::heartbeat(c, run_id, &o))).await;
                    match held {
                        Ok(Ok(true)) => {}
                        Ok(Ok(false)) => {
                            lost.store(true, Ordering::SeqCst);
                            break;
                        }
                        Ok(Err(e)) => tracing::warn!(message = "Heartbeat failed.", run = run_id, error = %e),
                        Err(e) => tracing::warn!(message = "Heartbeat failed.", run = run_id, error = %e),
                    }
                }
            })
        };
        let mut cursor = prep.run.cursor.clone();
        let mut fetched = 0u64;
        let fetch_result: Result<()> = loop {
            if lease_lost.load(Ordering::SeqCst) {
                break Err(EngineError::Busy(format!(
                    "run {} was taken over by another process (its lease was lost); this one stopped",
                    prep.run.id
                )));
            }
            match producer.next(self, cursor.as_ref()).await {
                Ok(f) => {
                    fetched += f.page.records.len() as u64;
                    progress.fetched(fetched, f.page.total);
                    let next = f.page.next.clone();
                    if raw_tx.send(f).await.is_err() {
                        break Ok(());
                    }
                    match next {
                        Some(c) => cursor = Some(c),
                        None => break Ok(()),
                    }
                }
                Err(e) => break Err(e),
            }
        };
        if fetch_result.is_err() {
            aborted.store(true, Ordering::SeqCst);
        }
        let notes = producer.notes();
        // Only scopes mapped to an asset were ingested, so only those are swept.
        let reconciled = producer
            .reconciled_scopes()
            .map(|scopes| scopes.into_iter().filter_map(|s| scope_assets.get(&s).map(|a| (s, *a))).collect::<Vec<_>>());
        for n in &notes {
            tracing::info!(message = "Run note.", run = prep.run.id, note = %n);
        }
        drop(raw_tx);
        let _ = transform.await;
        let written = write.await;
        // Stopped before any early return: a heartbeat left running would keep renewing the
        // lease of a run that has ended.
        heartbeat.abort();
        let written = written.map_err(|e| EngineError::Internal(e.to_string()))?;
        match (fetch_result, written) {
            (Ok(()), Ok((totals, swept))) => {
                let end = RunEnd {
                    integration_id: prep.integration.id,
                    kind,
                    run_id: prep.run.id,
                    mode: prep.run.mode,
                    scope: prep.scope,
                    initial: prep.run.initial,
                    reconciled,
                    totals,
                    fuses: prep.fuses,
                };
                match self.succeed(end, &maps, swept, notes.clone()).await {
                    Err(EngineError::Store(tributary_store::StoreError::Stopped(why))) => {
                        let run_id = prep.run.id;
                        let _ = self.blocking(move |s| Ok(s.write(|c| runs::set_notes(c, run_id, &notes))?)).await;
                        self.fail(prep.run.id, prep.integration.id, EngineError::Stopped(why)).await
                    }
                    other => other,
                }
            }
            (Err(e), _) | (Ok(()), Err(e)) => {
                let run_id = prep.run.id;
                let _ = self.blocking(move |s| Ok(s.write(|c| runs::set_notes(c, run_id, &notes))?)).await;
                self.fail(prep.run.id, prep.integration.id, e).await
            }
        }
    }

    /// Sweeps (unless the writer already did, in `swept`), records the run and the
    /// integration's status, and commits the delta watermark.
    async fn succeed(&self, end: RunEnd, maps: &RunMaps, swept: Option<RunCounts>, notes: Vec<String>) -> Result<SyncRun> {
        let RunEnd { integration_id, kind, run_id, mode, scope, initial, reconciled, totals, fuses } = end;
        let products = maps.products(kind);
        let streams: Vec<String> = maps.by_stream.keys().cloned().collect();
        self.blocking(move |store| {
            Ok(store.write(|c| {
                let rules = rules::list(c)?;
                let ctx = RunContext {
                    run_id,
                    integration_id,
                    source: kind.product.to_string(),
                    full: mode != SyncMode::Delta,
                    completeness: kind.streams[0].completeness,
                    rules,
                    scope,
                    seen_in_memory: None,
                    scope_is_new: false,
                };
                let swept = match swept {
                    Some(done) => done,
                    // All the integration holds, this run wrote: nothing unseen to sweep
                    // (only the context assets' marks to drop).
                    None if initial => {
                        ingest::drop_seen(c, run_id)?;
                        RunCounts::default()
                    }
                    None if mode == SyncMode::Replay => ingest::finish_replay(c, &ctx, &products, &streams)?,
                    None if mode != SyncMode::Delta => ingest::finish_full(c, &ctx, &products, &streams)?,
                    None => match &reconciled {
                        Some(scopes) => ingest::finish_scopes(c, &ctx, &products, scopes)?,
                        None => {
                            ingest::drop_seen(c, run_id)?;
                            RunCounts::default()
                        }
                    },
                };
                // The fuses look at what the run did and what its sweep just did, inside
                // the sweep's transaction: a tripped fuse rolls the sweep back.
                let active = c.scalar::<i64>("SELECT COUNT(*) FROM asset_sources WHERE integration_id = ? AND active = 1", tributary_store::params![integration_id])?;
                if let Err(why) = fuses.check(&totals, &swept, Some(active)) {
                    return Err(tributary_store::StoreError::Stopped(Fuses::stopped(&why)));
                }
                runs::finish(c, run_id, SyncStatus::Succeeded, None, &swept)?;
                tributary_store::repo::stats::mark_stale(c)?;
                let mut notes = notes;
                for (rule, ids) in tributary_store::repo::triage::apply_standing(c)? {
                    notes.push(format!("triage rule {rule} set {} new findings", ids.len()));
                }
                runs::set_notes(c, run_id, &notes)?;
                if mode != SyncMode::Replay && ctx.scope.is_none() {
                    let w = runs::watermark(c, run_id)?;
                    runs::set_stream_state(c, integration_id, RUN_STATE, w.as_ref(), mode == SyncMode::Full)?;
                }
                let run = runs::get(c, run_id)?;
                let k = run.counts;
                let reason = format!(
                    "{} sync at {}: {} records; findings {} new, {} changed, {} unchanged, {} closed; assets {} new, {} changed, {} retired",
                    run.mode,
                    to_rfc3339(run.ended_at.unwrap_or_else(now_ms)),
                    k.fetched,
                    k.created,
                    k.updated,
                    k.unchanged,
                    k.closed,
                    k.assets_created,
                    k.assets_updated,
                    k.assets_retired
                );
                let reason = notes.iter().fold(reason, |r, n| format!("{r}. {n}"));
                integrations::set_status(c, integration_id, IntegrationStatus::Processed, Some(&reason))?;
                Ok(run)
            })?)
        })
        .await
    }

    /// Records a failed run (committed pages stay) and the integration's status.
    async fn fail<T>(&self, run_id: i64, integration_id: i64, e: EngineError) -> Result<T> {
        let status = match &e {
            EngineError::Connector(c) if c.is_connection() => IntegrationStatus::ConnectionError,
            _ => IntegrationStatus::Failed,
        };
        let reason = e.to_string();
        let r2 = reason.clone();
        let _ = self
            .blocking(move |store| {
                Ok(store.write(|c| {
                    runs::finish(c, run_id, SyncStatus::Failed, Some(&r2), &RunCounts::default())?;
                    // Pages it committed changed findings: the counts follow them.
                    tributary_store::repo::stats::mark_stale(c)?;
                    integrations::set_status(c, integration_id, status, Some(&r2))
                })?)
            })
            .await;
        tracing::warn!(message = "Sync failed.", run = run_id, error = %reason);
        Err(e)
    }
}

/// Starts a run, or takes over the integration's abandoned one (resume).
pub(crate) fn start_or_resume(
    c: &mut dyn Conn,
    integration: &Integration,
    profile_id: Option<i64>,
    opts: &SyncOptions,
) -> tributary_store::Result<(SyncRun, bool)> {
    let owner = lease_owner();
    if let Some((run, holder, heartbeat)) = runs::unfinished(c, integration.id)? {
        let holder = holder.unwrap_or_default();
        let alive = match owner_alive(&holder) {
            Some(alive) => alive,
            None => now_ms() - heartbeat < LEASE_MS,
        };
        if alive {
            return Err(tributary_store::StoreError::Invalid(format!(
                "a sync of '{}' is already running (run {}, started {}, held by {holder}); wait for it to finish",
                integration.name,
                run.id,
                to_rfc3339(run.started_at)
            )));
        }
        runs::take_over(c, run.id, &owner)?;
        integrations::set_status(c, integration.id, IntegrationStatus::Running, Some(&format!("resuming run {}", run.id)))?;
        return Ok((runs::get(c, run.id)?, true));
    }
    let state = runs::stream_state(c, integration.id, RUN_STATE)?;
    let stale = state.last_full_at.is_none_or(|t| now_ms() - t > opts.full_every_ms);
    let mode = if opts.force_full || state.watermark.is_none() || stale { SyncMode::Full } else { SyncMode::Delta };
    let run = runs::start(c, integration.id, profile_id, mode, &owner)?;
    integrations::set_status(c, integration.id, IntegrationStatus::Running, Some(&format!("{mode} sync, run {}", run.id)))?;
    Ok((run, false))
}

/// The watermark value of a run-level state (for display).
pub fn describe_watermark(w: &Option<Value>) -> String {
    w.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "none".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connectors::semgrep;

    /// A Semgrep SAST page of `n` findings sent as text, one of them not in a mapped scope.
    fn page(n: usize) -> RawPage {
        let records = (0..n)
            .map(|i| {
                let scope = if i == 7 { "acme/unmapped" } else { "acme/web" };
                let text = serde_json::json!({
                    "id": i, "status": "open", "severity": if i % 2 == 0 { "high" } else { "low" },
                    "rule_name": format!("rule-{i}"), "rule_message": "m",
                    "location": {"file_path": format!("f{i}.py"), "line": i},
                    "repository": {"name": scope, "url": "https://github.com/acme/web"},
                })
                .to_string();
                RawRecord {
                    stream: semgrep::SAST,
                    key: i.to_string(),
                    body: Value::Null,
                    tombstone: false,
                    scope: Some(scope.into()),
                    raw_json: Some(text),
                }
            })
            .collect();
        RawPage { records, ..RawPage::default() }
    }

    fn context() -> TransformContext {
        let map = TransformMap::compile(semgrep::sast_map()).unwrap_or_else(|e| panic!("{e:?}"));
        let maps = RunMaps {
            by_stream: HashMap::from([(semgrep::SAST.to_string(), Arc::new(map))]),
            completeness: HashMap::from([(semgrep::SAST.to_string(), Completeness::PerFinding)]),
            product_override: None,
        };
        TransformContext {
            maps: Arc::new(maps),
            kind: &semgrep::KIND,
            scopes: Some(HashMap::from([("acme/web".to_string(), 42)])),
            integration_id: 1,
            dicts: HashMap::new(),
        }
    }

    #[test]
    fn each_fuse_trips_on_its_own_share_and_not_below_the_minimum() {
        let f = Fuses::default();
        let k = |fetched, unusable, created, unchanged, closed, retired| RunCounts {
            fetched,
            unusable,
            created,
            unchanged,
            closed,
            assets_retired: retired,
            ..RunCounts::default()
        };
        let none = RunCounts::default();
        assert!(f.check(&k(100, 60, 0, 40, 0, 0), &none, None).unwrap_err().contains("60 of 100 records produced nothing usable"));
        assert!(f.check(&k(100, 0, 0, 40, 0, 0), &RunCounts { closed: 60, ..none }, None).unwrap_err().contains("close 60 of the 100"));
        assert!(
            f.check(&k(100, 0, 0, 100, 0, 0), &RunCounts { assets_retired: 30, ..none }, Some(20))
                .unwrap_err()
                .contains("retire 30 of the 50")
        );
        // Small changes and sub-threshold shares pass; --allow-mass-close passes everything.
        assert!(f.check(&k(10, 9, 0, 1, 9, 9), &none, Some(1)).is_ok(), "below the minimum");
        assert!(f.check(&k(100, 40, 0, 60, 40, 0), &none, None).is_ok());
        let allow = Fuses { allow_mass_close: true, ..f };
        assert!(allow.check(&k(100, 100, 0, 0, 0, 0), &RunCounts { closed: 1000, ..none }, Some(0)).is_ok());
    }

    #[test]
    fn a_page_split_across_threads_keeps_order_and_counts() {
        for n in [SPLIT_RECORDS - 1, SPLIT_RECORDS, 1001] {
            let mut cx = context();
            let staged = transform_page(Fetched { page: page(n), raw_ids: None }, &mut cx);
            let keys: Vec<String> = staged.page.records.iter().map(|r| r.key.clone()).collect();
            let want: Vec<String> = (0..n).filter(|i| *i != 7).map(|i| i.to_string()).collect();
            assert_eq!(keys, want, "records keep page order ({n})");
            assert_eq!((staged.page.fetched, staged.page.skipped, staged.findings), (n as i64, 1, n - 1), "({n})");
            assert!(staged.page.records.iter().all(|r| r.attach_to == Some(42) && r.findings.len() == 1));
            // One dictionary, sampled before the split, used by every record of both halves.
            assert_eq!(staged.page.dicts.len(), 1);
            let dict = &staged.page.dicts[0];
            assert!(staged.page.records.iter().all(|r| r.raw.as_ref().and_then(|b| b.dict_id) == Some(dict.id)));
            let second = transform_page(Fetched { page: page(3), raw_ids: None }, &mut cx);
            assert!(second.page.dicts.is_empty(), "a stream's dictionary is sampled once per run");
        }
    }
}
