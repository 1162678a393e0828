//! The bulk write path: one page of staged records → raw records, assets (through
//! identification), asset attributions, findings, seen-marks and the run checkpoint,
//! all in the caller's transaction.
//!
//! Why it is shaped like this (see bench/RESULTS.md and shared/reference/limits.md):
//! * **Diff, then write.** Existing rows for the page are read in one key-set lookup
//!   ([`Conn::select_by_keys`]); only new rows are inserted and only rows whose content
//!   hash or status changed are updated. An unchanged re-sync writes nothing.
//! * **Local keys.** Findings are unique on `(asset_id, fkey)`: assets get ascending ids,
//!   so a first load appends to the index instead of scattering random keys through it.
//! * **Explicit ids.** New rows get ids reserved up front ([`Conn::reserve_ids`]), so
//!   PostgreSQL can bulk-insert with binary COPY and nothing needs `RETURNING`.
//! * **Seen-marks, not last-seen writes.** A full sync records the ids it saw in
//!   `sync_seen` (narrow, append-only, committed with each page so a resumed run keeps
//!   them); [`finish_full`] closes what was not seen with one anti-join.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use tributary_core::hash::KeyHasher;
use tributary_core::identify::{self, IdentificationRule, IdentifierKind, Resolution};
use tributary_core::model::{FindingKind, FindingStatus, RunCounts};
use tributary_core::time::{Millis, now_ms};
use tributary_core::transform::{StagedAsset, StagedFinding};

use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::repo::{json_text, runs};

use crate::value::{Batch, Column};
use crate::{Param, params};

/// `sync_seen.item_kind` values.
pub const SEEN_FINDING: i64 = 1;
pub const SEEN_ASSET_SOURCE: i64 = 2;
pub const SEEN_RAW: i64 = 3;

/// A raw vendor record, compressed (LZ4, against its stream's [`RawDict`] when there is
/// one) with the hash of its uncompressed bytes.
#[derive(Debug, Clone)]
pub struct RawBody {
    pub hash: i64,
    pub bytes: Vec<u8>,
    /// The dictionary `bytes` was compressed against.
    pub dict_id: Option<i64>,
}

impl RawBody {
    pub fn from_json(json: &[u8]) -> RawBody {
        RawBody { hash: tributary_core::hash::content_hash(json), bytes: lz4_flex::compress_prepend_size(json), dict_id: None }
    }

    pub fn with_dict(json: &[u8], dict: &RawDict) -> RawBody {
        RawBody {
            hash: tributary_core::hash::content_hash(json),
            bytes: lz4_flex::block::compress_prepend_size_with_dict(json, &dict.bytes),
            dict_id: Some(dict.id),
        }
    }
}

/// A compression dictionary for one stream's raw records: the start of one record of
/// that stream. Records of a stream share most of their bytes (keys, enumerations,
/// repeated rule text), so LZ4 given one earlier record as history stores a Semgrep
/// finding in about 400 bytes instead of 1,000 — and the raw records were two fifths of
/// what a sync writes. Content-addressed and never changed, so a stored record always
/// decodes; written in the same transaction as the first record compressed against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDict {
    pub id: i64,
    pub stream: String,
    pub bytes: Vec<u8>,
}

impl RawDict {
    /// Longest dictionary kept: LZ4 hashes the whole dictionary for every record, and
    /// one record's worth (Semgrep findings are 1–2 KB) gave the best ratio per cost.
    pub const MAX_BYTES: usize = 4096;

    /// A dictionary for `integration_id`'s `stream`, sampled from one record's bytes.
    pub fn sample(integration_id: i64, stream: &str, record: &[u8]) -> RawDict {
        let bytes = record[..record.len().min(Self::MAX_BYTES)].to_vec();
        let mut keyed = Vec::with_capacity(bytes.len() + stream.len() + 10);
        keyed.extend_from_slice(&integration_id.to_le_bytes());
        keyed.extend_from_slice(stream.as_bytes());
        keyed.push(0);
        keyed.extend_from_slice(&bytes);
        RawDict { id: tributary_core::hash::content_hash(&keyed), stream: stream.to_string(), bytes }
    }
}

/// Decompresses a stored raw record (`dict`: the bytes of its `dict_id`'s dictionary).
pub fn decompress(bytes: &[u8], dict: Option<&[u8]>) -> Result<Vec<u8>> {
    match dict {
        Some(d) => lz4_flex::block::decompress_size_prepended_with_dict(bytes, d),
        None => lz4_flex::decompress_size_prepended(bytes),
    }
    .map_err(|e| StoreError::Decode(format!("raw record: {e}")))
}

pub use tributary_core::model::Completeness;

/// What the store needs to know about the run a page belongs to.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: i64,
    pub integration_id: i64,
    /// Source name on asset attributions, e.g. `Cortex XDR` (what `asset.inventory:(source:…)` matches).
    pub source: String,
    /// A full sync (or replay): record seen-marks for [`finish_full`].
    pub full: bool,
    pub completeness: Completeness,
    pub rules: Vec<IdentificationRule>,
    /// Limits [`finish_full`] to one scope (a file import covers one repository).
    pub scope: Option<String>,
    /// Seen-marks kept in memory instead of `sync_seen`: for a run written in one
    /// transaction (a file import), which cannot resume, so the marks need not be durable
    /// and writing them would cost two rows per record.
    pub seen_in_memory: Option<SeenSet>,
    /// The run's scope held nothing of this integration when the run started (the first
    /// import of a repository): everything in it at the end was written, so seen, by this
    /// run, and the sweep skips looking for what was not.
    pub scope_is_new: bool,
}

/// In-memory seen-marks: `(item_kind, item_id)`.
pub type SeenSet = std::sync::Arc<std::sync::Mutex<HashSet<(i64, i64)>>>;

fn lock_seen(set: &SeenSet) -> Result<std::sync::MutexGuard<'_, HashSet<(i64, i64)>>> {
    set.lock().map_err(|_| StoreError::Invalid("seen-marks lock poisoned".into()))
}

/// One staged record.
#[derive(Debug, Clone, Default)]
pub struct RecordIn {
    pub stream: String,
    /// Unique per integration and stream (endpoint id, finding id).
    pub key: String,
    /// The raw record to store (fetches). `None` when replaying stored records.
    pub raw: Option<RawBody>,
    /// The stored raw record's id (replays).
    pub raw_id: Option<i64>,
    pub asset: Option<StagedAsset>,
    pub findings: Vec<StagedFinding>,
    /// Asset the findings belong to when the record stages none (SAST → repository).
    pub attach_to: Option<i64>,
    /// Repository context: the package asset is linked to it, findings record it.
    pub repo_asset_id: Option<i64>,
    /// Vendor scope (e.g. `semgrep-project:99102`).
    pub scope: Option<String>,
    /// The record does not carry its asset's finding list (the source could not read it,
    /// or the field is missing): for a per-asset stream, its asset's findings are kept as
    /// they are instead of closing those it does not list.
    pub partial: bool,
}

/// A page of staged records with the checkpoint it completes.
#[derive(Debug, Clone, Default)]
pub struct PageIn {
    pub records: Vec<RecordIn>,
    /// The connector's cursor *after* this page.
    pub cursor: Option<serde_json::Value>,
    /// Candidate delta watermark after this page.
    pub watermark: Option<serde_json::Value>,
    /// Dictionaries first used by this page's raw records (written before them).
    pub dicts: Vec<RawDict>,
    /// Raw records received (including ones skipped before staging).
    pub fetched: i64,
    pub skipped: i64,
    /// Of `skipped`: records in scope that produced nothing (see `RunCounts::unusable`).
    pub unusable: i64,
}

fn text_col<I: IntoIterator<Item = Option<String>>>(it: I) -> Column {
    Column::Text(it.into_iter().collect())
}

fn int_col<I: IntoIterator<Item = Option<i64>>>(it: I) -> Column {
    Column::Int(it.into_iter().collect())
}

/// Writes assets that records of a run attach to (e.g. the repository a Semgrep project
/// maps to), outside the page flow: no raw records, no findings, no checkpoint. Seen-marks
/// are recorded for full runs, so the run's sweep keeps these attributions.
pub fn write_context_assets(conn: &mut dyn Conn, ctx: &RunContext, records: Vec<RecordIn>) -> Result<RunCounts> {
    let now = now_ms();
    let mut counts = RunCounts::default();
    let mut seen: Vec<(i64, i64)> = Vec::new();
    let raw_ids = vec![None; records.len()];
    write_assets(conn, ctx, &records, &raw_ids, now, &mut counts, &mut seen)?;
    write_seen(conn, ctx, &seen)?;
    Ok(counts)
}

fn write_seen(conn: &mut dyn Conn, ctx: &RunContext, seen: &[(i64, i64)]) -> Result<()> {
    if let (true, Some(set)) = (ctx.full, &ctx.seen_in_memory) {
        lock_seen(set)?.extend(seen.iter().copied());
        return Ok(());
    }
    if ctx.full && !seen.is_empty() {
        let batch = Batch::new()
            .col("run_id", Column::Int(vec![Some(ctx.run_id); seen.len()]))
            .col("item_kind", int_col(seen.iter().map(|s| Some(s.0))))
            .col("item_id", int_col(seen.iter().map(|s| Some(s.1))));
        conn.insert_batch_ignore("sync_seen", &batch)?;
    }
    Ok(())
}

/// Writes one page (call inside a transaction). Returns what changed.
pub fn write_page(conn: &mut dyn Conn, ctx: &RunContext, mut page: PageIn) -> Result<RunCounts> {
    let now = now_ms();
    let mut counts = RunCounts { fetched: page.fetched, skipped: page.skipped, unusable: page.unusable, ..RunCounts::default() };
    let mut seen: Vec<(i64, i64)> = Vec::new();
    write_dicts(conn, ctx, &page.dicts, now)?;
    let raw_ids = write_raw(conn, ctx, &mut page.records, now, &mut seen)?;
    let assets = write_assets(conn, ctx, &page.records, &raw_ids, now, &mut counts, &mut seen)?;
    write_relations(conn, &page.records, &assets)?;
    write_findings(conn, ctx, &mut page.records, &assets, &raw_ids, now, &mut counts, &mut seen)?;
    write_seen(conn, ctx, &seen)?;
    runs::checkpoint(conn, ctx.run_id, &counts, page.cursor.as_ref(), page.watermark.as_ref())?;
    Ok(counts)
}

fn write_dicts(conn: &mut dyn Conn, ctx: &RunContext, dicts: &[RawDict], now: Millis) -> Result<()> {
    if dicts.is_empty() {
        return Ok(());
    }
    let n = dicts.len();
    let batch = Batch::new()
        .col("id", int_col(dicts.iter().map(|d| Some(d.id))))
        .col("integration_id", Column::Int(vec![Some(ctx.integration_id); n]))
        .col("stream", text_col(dicts.iter().map(|d| Some(d.stream.clone()))))
        .col("body", Column::Blob(dicts.iter().map(|d| Some(d.bytes.clone())).collect()))
        .col("created_at", Column::Int(vec![Some(now); n]));
    conn.insert_batch_ignore("raw_dicts", &batch)?;
    Ok(())
}

fn write_raw(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    records: &mut [RecordIn],
    now: Millis,
    seen: &mut Vec<(i64, i64)>,
) -> Result<Vec<Option<i64>>> {
    let mut ids: Vec<Option<i64>> = records.iter().map(|r| r.raw_id).collect();
    let with_raw: Vec<usize> = (0..records.len()).filter(|i| records[*i].raw.is_some()).collect();
    if !with_raw.is_empty() {
        let keys = Batch::new()
            .col("integration_id", Column::Int(vec![Some(ctx.integration_id); with_raw.len()]))
            .col("stream", text_col(with_raw.iter().map(|i| Some(records[*i].stream.clone()))))
            .col("record_key", text_col(with_raw.iter().map(|i| Some(records[*i].key.clone()))));
        let mut existing: HashMap<(String, String), (i64, i64)> = HashMap::default();
        for mut r in conn.select_by_keys("raw_records", &["id", "stream", "record_key", "chash"], &keys)? {
            existing.insert((r.take(1)?, r.take(2)?), (r.get(0)?, r.get(3)?));
        }
        let mut inserts: Vec<(usize, RawBody)> = Vec::new();
        let mut updates: Vec<(i64, RawBody)> = Vec::new();
        let mut pending: HashMap<(String, String), usize> = HashMap::default();
        for i in with_raw {
            let key = (records[i].stream.clone(), records[i].key.clone());
            let Some(body) = records[i].raw.take() else { continue };
            match existing.get(&key) {
                Some(&(id, hash)) => {
                    ids[i] = Some(id);
                    if hash != body.hash {
                        updates.push((id, body));
                    }
                }
                None => match pending.get(&key) {
                    // The same record twice in one page: the later copy wins.
                    Some(&slot) => inserts[slot].1 = body,
                    None => {
                        pending.insert(key, inserts.len());
                        inserts.push((i, body));
                    }
                },
            }
        }
        if !inserts.is_empty() {
            let new_ids = conn.reserve_ids("raw_records", inserts.len())?;
            let mut index_of: HashMap<(String, String), i64> = HashMap::default();
            for ((i, _), id) in inserts.iter().zip(&new_ids) {
                index_of.insert((records[*i].stream.clone(), records[*i].key.clone()), *id);
            }
            for (i, r) in records.iter().enumerate() {
                if ids[i].is_none()
                    && let Some(id) = index_of.get(&(r.stream.clone(), r.key.clone()))
                {
                    ids[i] = Some(*id);
                }
            }
            let n = inserts.len();
            let batch = Batch::new()
                .col("id", int_col(new_ids.iter().map(|i| Some(*i))))
                .col("integration_id", Column::Int(vec![Some(ctx.integration_id); n]))
                .col("stream", text_col(inserts.iter().map(|(i, _)| Some(records[*i].stream.clone()))))
                .col("record_key", text_col(inserts.iter().map(|(i, _)| Some(records[*i].key.clone()))))
                .col("scope", text_col(inserts.iter().map(|(i, _)| records[*i].scope.clone())))
                .col("chash", int_col(inserts.iter().map(|(_, b)| Some(b.hash))))
                .col("dict_id", int_col(inserts.iter().map(|(_, b)| b.dict_id)))
                .col("body", Column::Blob(inserts.into_iter().map(|(_, b)| Some(b.bytes)).collect()))
                .col("fetched_at", Column::Int(vec![Some(now); n]));
            conn.insert_batch("raw_records", &batch)?;
        }
        if !updates.is_empty() {
            let n = updates.len();
            let batch = Batch::new()
                .col("id", int_col(updates.iter().map(|(id, _)| Some(*id))))
                .col("chash", int_col(updates.iter().map(|(_, b)| Some(b.hash))))
                .col("dict_id", int_col(updates.iter().map(|(_, b)| b.dict_id)))
                .col("body", Column::Blob(updates.into_iter().map(|(_, b)| Some(b.bytes)).collect()))
                .col("fetched_at", Column::Int(vec![Some(now); n]));
            conn.update_batch("raw_records", &batch)?;
        }
    }
    if ctx.full {
        let unique: HashSet<i64> = ids.iter().flatten().copied().collect();
        seen.extend(unique.into_iter().map(|id| (SEEN_RAW, id)));
    }
    Ok(ids)
}

/// The asset a record resolved to.
#[derive(Debug, Clone, Copy)]
struct AssetOut {
    id: i64,
    retired: bool,
    /// Created by this page: it has no findings yet, so nothing needs looking up (asset
    /// ids are never reused; assets are never deleted while findings point at them).
    fresh: bool,
}

#[allow(clippy::too_many_arguments)]
fn write_assets(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    records: &[RecordIn],
    raw_ids: &[Option<i64>],
    now: Millis,
    counts: &mut RunCounts,
    seen: &mut Vec<(i64, i64)>,
) -> Result<Vec<Option<AssetOut>>> {
    let mut out: Vec<Option<AssetOut>> = vec![None; records.len()];
    let source_key = |a: &StagedAsset| a.source_key.clone().unwrap_or_else(|| a.identifiers[0].value.clone());
    let staged: Vec<(usize, &StagedAsset, String)> =
        records.iter().enumerate().filter_map(|(i, r)| r.asset.as_ref().map(|a| (i, a, source_key(a)))).collect();
    if staged.is_empty() {
        return Ok(out);
    }

    // 1. This source's current attribution of each asset. An attribution whose content
    //    and state are unchanged needs nothing more: not even identification (a record
    //    whose identifiers changed has a different content hash).
    let keys = Batch::new()
        .col("integration_id", Column::Int(vec![Some(ctx.integration_id); staged.len()]))
        .col("source_key", text_col(staged.iter().map(|(_, _, k)| Some(k.clone()))));
    // source_key → (row id, asset id, hash, active)
    let mut current: HashMap<String, (i64, i64, i64, bool)> = HashMap::default();
    for mut r in conn.select_by_keys("asset_sources", &["id", "source_key", "asset_id", "chash", "active"], &keys)? {
        current.insert(r.take(1)?, (r.get(0)?, r.get(2)?, r.get(3)?, r.get(4)?));
    }
    let mut source_ids: Vec<i64> = Vec::new();
    let mut work: Vec<(usize, &StagedAsset, String)> = Vec::new();
    for (i, a, key) in staged {
        match current.get(&key) {
            Some(&(row, asset_id, hash, active)) if hash == a.content_hash && active != a.retired => {
                out[i] = Some(AssetOut { id: asset_id, retired: a.retired, fresh: false });
                source_ids.push(row);
            }
            _ => work.push((i, a, key)),
        }
    }
    if work.is_empty() {
        if ctx.full {
            seen.extend(source_ids.into_iter().map(|id| (SEEN_ASSET_SOURCE, id)));
        }
        return Ok(out);
    }

    // 2. Who owns each identifier of the new and changed assets?
    let mut wanted: HashSet<(&'static str, &str)> = HashSet::default();
    for (_, a, _) in &work {
        for id in &a.identifiers {
            wanted.insert((id.kind.as_str(), id.value.as_str()));
        }
    }
    let wanted: Vec<(&'static str, &str)> = wanted.into_iter().collect();
    let keys = Batch::new()
        .col("kind", text_col(wanted.iter().map(|(k, _)| Some(k.to_string()))))
        .col("value", text_col(wanted.iter().map(|(_, v)| Some(v.to_string()))));
    let mut owner: HashMap<(String, String), i64> = HashMap::default();
    for mut r in conn.select_by_keys("asset_identifiers", &["kind", "value", "asset_id"], &keys)? {
        owner.insert((r.take(0)?, r.take(1)?), r.get(2)?);
    }

    // 3. Resolve in page order, so a host reported twice in one page is one asset.
    //    New assets get temporary negative ids until real ids are reserved.
    let mut resolved: Vec<Option<(i64, IdentifierKind, bool)>> = vec![None; records.len()];
    let mut new_assets: Vec<usize> = Vec::new();
    let mut new_identifiers: Vec<(String, String, i64)> = Vec::new();
    for (i, a, _) in &work {
        let res = identify::resolve(&ctx.rules, a.kind, &a.identifiers, |id| {
            owner.get(&(id.kind.as_str().to_string(), id.value.clone())).copied()
        });
        let (id, rule, is_new) = match res {
            Some(Resolution::Existing { asset_id, rule }) => (asset_id, rule, false),
            Some(Resolution::New { rule }) => {
                new_assets.push(*i);
                (-(new_assets.len() as i64), rule, true)
            }
            None => {
                counts.skipped += 1;
                continue;
            }
        };
        for ident in &a.identifiers {
            let key = (ident.kind.as_str().to_string(), ident.value.clone());
            if let std::collections::hash_map::Entry::Vacant(e) = owner.entry(key) {
                e.insert(id);
                new_identifiers.push((ident.kind.as_str().to_string(), ident.value.clone(), id));
            }
        }
        resolved[*i] = Some((id, rule, is_new));
    }
    let real_ids = if new_assets.is_empty() { Vec::new() } else { conn.reserve_ids("assets", new_assets.len())? };
    let real = |id: i64| if id < 0 { real_ids[(-id - 1) as usize] } else { id };

    // 4. New asset rows, then their identifiers.
    if !new_assets.is_empty() {
        let a = |i: usize| records[i].asset.as_ref();
        let identity = |i: usize| -> Option<String> {
            let (_, rule, _) = resolved[i]?;
            let asset = a(i)?;
            asset.identifiers.iter().find(|x| x.kind == rule).map(|x| format!("{}:{}", x.kind, x.value))
        };
        let batch = Batch::new()
            .col("id", int_col(real_ids.iter().map(|i| Some(*i))))
            .col("kind", Column::Str(new_assets.iter().map(|i| a(*i).map_or("", |x| x.kind.as_str())).collect()))
            .col("name", text_col(new_assets.iter().map(|i| a(*i).map(|x| x.name.clone()))))
            .col("identity", text_col(new_assets.iter().map(|i| identity(*i))))
            .col("matched_rule", Column::Str(new_assets.iter().map(|i| resolved[*i].map_or("", |r| r.1.as_str())).collect()))
            .col("attributes", text_col(new_assets.iter().map(|i| a(*i).map(|x| x.attributes.clone()))))
            .col("first_seen", int_col(new_assets.iter().map(|i| Some(a(*i).and_then(|x| x.first_seen).unwrap_or(now)))))
            .col("last_seen", int_col(new_assets.iter().map(|i| Some(a(*i).and_then(|x| x.last_seen).unwrap_or(now)))))
            .col("created_at", Column::Int(vec![Some(now); new_assets.len()]))
            .col("updated_at", Column::Int(vec![Some(now); new_assets.len()]));
        conn.insert_batch("assets", &batch)?;
        counts.assets_created += new_assets.len() as i64;
    }
    if !new_identifiers.is_empty() {
        let batch = Batch::new()
            .col("kind", text_col(new_identifiers.iter().map(|x| Some(x.0.clone()))))
            .col("value", text_col(new_identifiers.iter().map(|x| Some(x.1.clone()))))
            .col("asset_id", int_col(new_identifiers.iter().map(|x| Some(real(x.2)))));
        conn.insert_batch_ignore("asset_identifiers", &batch)?;
    }

    // 5. Insert new attributions, update changed ones (a key repeated in the page: the
    //    last occurrence wins).
    let mut inserts: Vec<usize> = Vec::new();
    let mut insert_slot: HashMap<String, usize> = HashMap::default();
    let mut updates: HashMap<i64, usize> = HashMap::default();
    let mut changed_assets: HashMap<i64, usize> = HashMap::default();
    for (i, a, key) in work {
        let Some((tmp_id, _rule, is_new)) = resolved[i] else { continue };
        let asset_id = real(tmp_id);
        out[i] = Some(AssetOut { id: asset_id, retired: a.retired, fresh: is_new });
        match current.get(&key).copied() {
            None => {
                // (A key repeated in the page is one attribution, counted once.)
                if !is_new && !a.retired && !insert_slot.contains_key(&key) {
                    counts.assets_updated += 1;
                    changed_assets.insert(asset_id, i);
                }
                match insert_slot.get(&key) {
                    Some(&s) => inserts[s] = i,
                    None => {
                        insert_slot.insert(key, inserts.len());
                        inserts.push(i);
                    }
                }
            }
            Some((row, _prev_asset, _hash, active)) => {
                if a.retired && active {
                    counts.assets_retired += 1;
                } else if !a.retired {
                    counts.assets_updated += 1;
                    changed_assets.insert(asset_id, i);
                }
                updates.insert(row, i);
                source_ids.push(row);
            }
        }
    }
    let a = |i: usize| records[i].asset.as_ref();
    if !inserts.is_empty() {
        let ids = conn.reserve_ids("asset_sources", inserts.len())?;
        source_ids.extend(&ids);
        let n = inserts.len();
        let batch = Batch::new()
            .col("id", int_col(ids.iter().map(|i| Some(*i))))
            .col("asset_id", int_col(inserts.iter().map(|i| out[*i].map(|o| o.id))))
            .col("integration_id", Column::Int(vec![Some(ctx.integration_id); n]))
            .col("source", Column::Text(vec![Some(ctx.source.clone()); n]))
            .col("source_key", text_col(inserts.iter().map(|i| a(*i).map(&source_key))))
            .col("raw_id", int_col(inserts.iter().map(|i| raw_ids[*i])))
            .col("chash", int_col(inserts.iter().map(|i| a(*i).map(|x| x.content_hash))))
            .col("attributes", text_col(inserts.iter().map(|i| a(*i).map(|x| x.attributes.clone()))))
            .col("active", int_col(inserts.iter().map(|i| a(*i).map(|x| i64::from(!x.retired)))))
            .col("first_seen", int_col(inserts.iter().map(|i| Some(a(*i).and_then(|x| x.first_seen).unwrap_or(now)))))
            .col("last_seen", int_col(inserts.iter().map(|i| Some(a(*i).and_then(|x| x.last_seen).unwrap_or(now)))))
            .col("removed_at", int_col(inserts.iter().map(|i| a(*i).filter(|x| x.retired).map(|_| now))));
        conn.insert_batch("asset_sources", &batch)?;
    }
    if !updates.is_empty() {
        let rows: Vec<(i64, usize)> = updates.into_iter().collect();
        let batch = Batch::new()
            .col("id", int_col(rows.iter().map(|(id, _)| Some(*id))))
            .col("asset_id", int_col(rows.iter().map(|(_, i)| out[*i].map(|o| o.id))))
            .col("raw_id", int_col(rows.iter().map(|(_, i)| raw_ids[*i])))
            .col("chash", int_col(rows.iter().map(|(_, i)| a(*i).map(|x| x.content_hash))))
            .col("attributes", text_col(rows.iter().map(|(_, i)| a(*i).map(|x| x.attributes.clone()))))
            .col("active", int_col(rows.iter().map(|(_, i)| a(*i).map(|x| i64::from(!x.retired)))))
            .col("last_seen", int_col(rows.iter().map(|(_, i)| Some(a(*i).and_then(|x| x.last_seen).unwrap_or(now)))))
            .col("removed_at", int_col(rows.iter().map(|(_, i)| a(*i).filter(|x| x.retired).map(|_| now))));
        conn.update_batch("asset_sources", &batch)?;
    }
    // A record that says its asset is gone (an uninstalled agent) ends every attribution
    // of this integration on that asset, not only its own (the agent's exposure record
    // goes with the agent).
    let gone: Vec<i64> = (0..records.len()).filter(|i| a(*i).is_some_and(|x| x.retired)).filter_map(|i| out[i].map(|o| o.id)).collect();
    for chunk in gone.chunks(500) {
        let mut p: Vec<Param<'_>> = vec![Param::Int(now), Param::Int(ctx.integration_id)];
        p.extend(chunk.iter().map(|id| Param::Int(*id)));
        conn.execute(
            &format!(
                "UPDATE asset_sources SET active = 0, removed_at = ? WHERE integration_id = ? AND active = 1 AND asset_id IN ({})",
                crate::conn::placeholders(chunk.len())
            ),
            &p,
        )?;
    }
    if ctx.full {
        seen.extend(source_ids.into_iter().map(|id| (SEEN_ASSET_SOURCE, id)));
    }

    // 6. The merged view of existing assets whose source data changed.
    if !changed_assets.is_empty() {
        let ids: Vec<i64> = changed_assets.keys().copied().collect();
        let keys = Batch::new().col("id", int_col(ids.iter().map(|i| Some(*i))));
        let mut merged: Vec<(i64, String, String, i64)> = Vec::new();
        for mut r in conn.select_by_keys("assets", &["id", "attributes"], &keys)? {
            let id: i64 = r.get(0)?;
            let old: String = r.take(1)?;
            let Some(&i) = changed_assets.get(&id) else { continue };
            let Some(a) = records[i].asset.as_ref() else { continue };
            let mut base: serde_json::Value = serde_json::from_str(&old).unwrap_or_else(|_| serde_json::json!({}));
            let new: serde_json::Value = serde_json::from_str(&a.attributes).unwrap_or_default();
            if let (Some(b), Some(new)) = (base.as_object_mut(), new.as_object()) {
                for (k, v) in new {
                    b.insert(k.clone(), v.clone());
                }
            }
            merged.push((id, a.name.clone(), json_text(&base), a.last_seen.unwrap_or(now)));
        }
        let batch = Batch::new()
            .col("id", int_col(merged.iter().map(|m| Some(m.0))))
            .col("name", text_col(merged.iter().map(|m| Some(m.1.clone()))))
            .col("attributes", text_col(merged.iter().map(|m| Some(m.2.clone()))))
            .col("last_seen", int_col(merged.iter().map(|m| Some(m.3))))
            .col("updated_at", Column::Int(vec![Some(now); merged.len()]));
        conn.update_batch("assets", &batch)?;
    }
    Ok(out)
}

fn write_relations(conn: &mut dyn Conn, records: &[RecordIn], assets: &[Option<AssetOut>]) -> Result<()> {
    let pairs: HashSet<(i64, i64)> =
        records.iter().zip(assets).filter_map(|(r, a)| Some((r.repo_asset_id?, a.as_ref()?.id))).filter(|(p, c)| p != c).collect();
    if pairs.is_empty() {
        return Ok(());
    }
    let batch = Batch::new()
        .col("parent_id", int_col(pairs.iter().map(|p| Some(p.0))))
        .col("child_id", int_col(pairs.iter().map(|p| Some(p.1))))
        .col("kind", Column::Text(vec![Some("contains".into()); pairs.len()]));
    conn.insert_batch_ignore("asset_relations", &batch)?;
    Ok(())
}

/// Identity of a finding within its asset: integration, kind and the source's id.
pub fn finding_key(integration_id: i64, kind: FindingKind, external_id: &str) -> i64 {
    KeyHasher::new().int(integration_id).part(kind.as_str()).part(external_id).finish64()
}

fn finding_hash(f: &StagedFinding, repo: Option<i64>, scope: Option<&str>) -> i64 {
    KeyHasher::new().int(f.content_hash).int(repo.unwrap_or(0)).part(scope.unwrap_or("")).finish64()
}

/// The stored content hash of a finding carries its status in the low bits, so the
/// diff reads integers only. Closing a finding zeroes the content bits: whatever comes
/// back later differs from it and is written.
const STATUS_BITS: i64 = 0b111;

fn status_code(s: FindingStatus) -> i64 {
    match s {
        FindingStatus::Open => 0,
        FindingStatus::Fixed => 1,
        FindingStatus::RiskAccepted => 2,
        FindingStatus::FalsePositive => 3,
    }
}

/// The `chash` of a finding closed because its source stopped reporting it.
pub const CLOSED_HASH: i64 = 1;

struct Existing {
    id: i64,
    hash: i64,
}

/// One staged finding on its way in, owning its data so columns are built by moving.
struct Incoming {
    asset_id: i64,
    fkey: i64,
    hash: i64,
    repo: Option<i64>,
    scope: Option<String>,
    raw_id: Option<i64>,
    f: StagedFinding,
}

/// Findings rows, column by column.
#[derive(Default)]
struct FindingColumns {
    id: Vec<Option<i64>>,
    asset_id: Vec<Option<i64>>,
    fkey: Vec<Option<i64>>,
    kind: Vec<&'static str>,
    product: Vec<Option<String>>,
    external_id: Vec<Option<String>>,
    first_seen: Vec<Option<i64>>,
    title: Vec<Option<String>>,
    severity: Vec<Option<i64>>,
    source_severity: Vec<Option<String>>,
    source_score: Vec<Option<f64>>,
    status: Vec<&'static str>,
    cve: Vec<Option<String>>,
    cvss_score: Vec<Option<f64>>,
    cvss_version: Vec<Option<String>>,
    repo_asset_id: Vec<Option<i64>>,
    scope: Vec<Option<String>>,
    last_seen: Vec<Option<i64>>,
    closed_at: Vec<Option<i64>>,
    raw_id: Vec<Option<i64>>,
    chash: Vec<Option<i64>>,
    attributes: Vec<Option<String>>,
    issue_id: Vec<Option<i64>>,
    cwe_top25: Vec<Option<i64>>,
    reach: Vec<Option<i64>>,
    fix: Vec<Option<i64>>,
    vector: Vec<Option<i64>>,
}

impl FindingColumns {
    fn push(&mut self, id: i64, x: Incoming, now: Millis, with_key: bool) {
        let f = x.f;
        self.id.push(Some(id));
        if with_key {
            self.asset_id.push(Some(x.asset_id));
            self.fkey.push(Some(x.fkey));
            self.kind.push(f.kind.as_str());
            self.product.push(Some(f.product));
            self.external_id.push(Some(f.external_id));
            self.first_seen.push(Some(f.first_seen.unwrap_or(now)));
        }
        self.title.push(Some(f.title));
        self.severity.push(Some(f.severity.ocsf_id()));
        self.source_severity.push(f.source_severity);
        self.source_score.push(f.source_score);
        self.status.push(f.status.as_str());
        self.cve.push(f.cve);
        self.cvss_score.push(f.cvss.as_ref().map(|c| c.base_score));
        self.cvss_version.push(f.cvss.as_ref().map(|c| c.version.to_string()));
        self.repo_asset_id.push(x.repo);
        self.scope.push(x.scope);
        self.last_seen.push(Some(f.last_seen.unwrap_or(now)));
        self.closed_at.push((f.status == FindingStatus::Fixed).then_some(now));
        self.raw_id.push(x.raw_id);
        self.chash.push(Some(x.hash));
        self.attributes.push(Some(f.attributes));
        self.issue_id.push(Some(f.correlation.issue_id(x.asset_id, x.repo)));
        self.cwe_top25.push(f.traits.cwe_top25.map(i64::from));
        self.reach.push(f.traits.reach);
        self.fix.push(f.traits.fix.map(i64::from));
        self.vector.push(f.traits.vector);
    }

    fn into_batch(self, integration_id: i64, now: Millis, with_key: bool) -> Batch {
        let n = self.id.len();
        let mut b = Batch::new().col("id", Column::Int(self.id));
        if with_key {
            b = b
                .col("asset_id", Column::Int(self.asset_id))
                .col("fkey", Column::Int(self.fkey))
                .col("integration_id", Column::Int(vec![Some(integration_id); n]))
                .col("kind", Column::Str(self.kind))
                .col("product", Column::Text(self.product))
                .col("external_id", Column::Text(self.external_id))
                .col("first_seen", Column::Int(self.first_seen))
                .col("created_at", Column::Int(vec![Some(now); n]));
        }
        b.col("title", Column::Text(self.title))
            .col("severity", Column::Int(self.severity))
            .col("source_severity", Column::Text(self.source_severity))
            .col("source_score", Column::Real(self.source_score))
            .col("status", Column::Str(self.status))
            .col("cve", Column::Text(self.cve))
            .col("cvss_score", Column::Real(self.cvss_score))
            .col("cvss_version", Column::Text(self.cvss_version))
            .col("repo_asset_id", Column::Int(self.repo_asset_id))
            .col("scope", Column::Text(self.scope))
            .col("last_seen", Column::Int(self.last_seen))
            .col("closed_at", Column::Int(self.closed_at))
            .col("raw_id", Column::Int(self.raw_id))
            .col("chash", Column::Int(self.chash))
            .col("attributes", Column::Text(self.attributes))
            .col("issue_id", Column::Int(self.issue_id))
            .col("cwe_top25", Column::Int(self.cwe_top25))
            .col("reach", Column::Int(self.reach))
            .col("fix", Column::Int(self.fix))
            .col("vector", Column::Int(self.vector))
            .col("updated_at", Column::Int(vec![Some(now); n]))
    }
}

#[allow(clippy::too_many_arguments)]
fn write_findings(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    records: &mut [RecordIn],
    assets: &[Option<AssetOut>],
    raw_ids: &[Option<i64>],
    now: Millis,
    counts: &mut RunCounts,
    seen: &mut Vec<(i64, i64)>,
) -> Result<()> {
    // Collapse duplicates (same finding twice in a page): the later one wins.
    let mut incoming: Vec<Option<Incoming>> = Vec::new();
    let mut slot: HashMap<(i64, i64), usize> = HashMap::default();
    let mut complete_assets: HashMap<i64, bool> = HashMap::default();
    let mut fresh_assets: HashSet<i64> = HashSet::default();
    for (i, r) in records.iter_mut().enumerate() {
        let target = assets[i].map(|a| a.id).or(r.attach_to);
        let Some(asset_id) = target else {
            if !r.findings.is_empty() {
                counts.skipped += 1;
            }
            continue;
        };
        if let Some(a) = assets[i].filter(|a| a.fresh) {
            fresh_assets.insert(a.id);
        }
        if ctx.completeness == Completeness::PerAsset
            && !r.partial
            && let Some(a) = assets[i]
        {
            complete_assets.insert(a.id, a.retired);
            if a.retired {
                continue;
            }
        }
        for f in std::mem::take(&mut r.findings) {
            let fkey = finding_key(ctx.integration_id, f.kind, &f.external_id);
            let hash = (finding_hash(&f, r.repo_asset_id, r.scope.as_deref()) & !STATUS_BITS) | status_code(f.status);
            let item = Incoming { asset_id, fkey, hash, repo: r.repo_asset_id, scope: r.scope.clone(), raw_id: raw_ids[i], f };
            match slot.get(&(asset_id, fkey)) {
                Some(&s) => incoming[s] = Some(item),
                None => {
                    slot.insert((asset_id, fkey), incoming.len());
                    incoming.push(Some(item));
                }
            }
        }
    }
    let incoming: Vec<Incoming> = incoming.into_iter().flatten().collect();

    // Existing rows: every finding of complete assets (to close what is missing), and
    // exactly the incoming keys for the rest.
    const COLS: &[&str] = &["id", "asset_id", "fkey", "chash", "integration_id"];
    let mut rows = Vec::new();
    let lookup: Vec<i64> = complete_assets.keys().copied().filter(|a| !fresh_assets.contains(a)).collect();
    if !lookup.is_empty() {
        let keys = Batch::new().col("asset_id", int_col(lookup.iter().map(|a| Some(*a))));
        rows.extend(conn.select_by_keys("findings", COLS, &keys)?);
    }
    let others: Vec<&Incoming> =
        incoming.iter().filter(|x| !complete_assets.contains_key(&x.asset_id) && !fresh_assets.contains(&x.asset_id)).collect();
    if !others.is_empty() {
        let keys = Batch::new()
            .col("asset_id", int_col(others.iter().map(|x| Some(x.asset_id))))
            .col("fkey", int_col(others.iter().map(|x| Some(x.fkey))));
        rows.extend(conn.select_by_keys("findings", COLS, &keys)?);
    }
    let mut existing: HashMap<(i64, i64), Existing> = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
    for r in rows {
        if r.get::<i64>(4)? != ctx.integration_id {
            continue;
        }
        existing.insert((r.get(1)?, r.get(2)?), Existing { id: r.get(0)?, hash: r.get(3)? });
    }

    // Complete assets: open findings this source no longer lists are closed now.
    let mut closes: Vec<i64> = Vec::new();
    if ctx.completeness == Completeness::PerAsset {
        for ((asset_id, fkey), e) in &existing {
            let fixed = e.hash & STATUS_BITS == status_code(FindingStatus::Fixed);
            if complete_assets.contains_key(asset_id) && !fixed && !slot.contains_key(&(*asset_id, *fkey)) {
                closes.push(e.id);
            }
        }
    }

    let mut inserts: Vec<Incoming> = Vec::new();
    let mut updates = FindingColumns::default();
    let mut seen_ids: Vec<i64> = Vec::new();
    for x in incoming {
        match existing.get(&(x.asset_id, x.fkey)) {
            // A finding first seen already fixed is history we never saw open: nothing to
            // record (if it comes back, it arrives open).
            None if x.f.status == FindingStatus::Fixed => counts.skipped += 1,
            None => inserts.push(x),
            Some(e) => {
                seen_ids.push(e.id);
                if e.hash != x.hash {
                    // The source itself reporting a finding fixed is a close, not an edit.
                    let was_fixed = e.hash & STATUS_BITS == status_code(FindingStatus::Fixed);
                    if x.f.status == FindingStatus::Fixed && !was_fixed {
                        counts.closed += 1;
                    } else {
                        counts.updated += 1;
                    }
                    updates.push(e.id, x, now, false);
                } else {
                    counts.unchanged += 1;
                }
            }
        }
    }

    if !inserts.is_empty() {
        let ids = conn.reserve_ids("findings", inserts.len())?;
        seen_ids.extend(&ids);
        counts.created += inserts.len() as i64;
        let mut cols = FindingColumns::default();
        for (x, id) in inserts.into_iter().zip(ids) {
            cols.push(id, x, now, true);
        }
        conn.insert_batch("findings", &cols.into_batch(ctx.integration_id, now, true))?;
    }
    if !updates.id.is_empty() {
        conn.update_batch("findings", &updates.into_batch(ctx.integration_id, now, false))?;
    }
    counts.closed += close_findings(conn, &closes, now)?;
    if ctx.full && ctx.completeness == Completeness::PerFinding {
        seen.extend(seen_ids.into_iter().map(|id| (SEEN_FINDING, id)));
    }
    Ok(())
}

/// Marks findings fixed by id; returns how many.
fn close_findings(conn: &mut dyn Conn, ids: &[i64], now: Millis) -> Result<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let n = ids.len();
    let batch = Batch::new()
        .col("id", int_col(ids.iter().map(|i| Some(*i))))
        .col("status", Column::Str(vec![FindingStatus::Fixed.as_str(); n]))
        .col("chash", Column::Int(vec![Some(CLOSED_HASH); n]))
        .col("closed_at", Column::Int(vec![Some(now); n]))
        .col("updated_at", Column::Int(vec![Some(now); n]));
    conn.update_batch("findings", &batch)?;
    Ok(n as i64)
}

/// Drops a run's seen-marks without sweeping (a run that needs no sweep).
pub fn drop_seen(conn: &mut dyn Conn, run_id: i64) -> Result<()> {
    conn.execute("DELETE FROM sync_seen WHERE run_id = ?", params![run_id])?;
    Ok(())
}

/// Ends a full sync: closes findings and retires asset attributions that the run did not
/// see, deletes raw records it did not see, and drops its seen-marks. `products` (each
/// with how complete its records are) and `streams` limit the sweep to what this run
/// covered.
pub fn finish_full(conn: &mut dyn Conn, ctx: &RunContext, products: &[(String, Completeness)], streams: &[String]) -> Result<RunCounts> {
    let now = now_ms();
    if let Some(scope) = &ctx.scope {
        return finish_scope(conn, ctx, products, streams, scope, now);
    }
    if let Some(set) = &ctx.seen_in_memory {
        // The whole-integration sweep anti-joins `sync_seen`: put the marks there first.
        let marks: Vec<(i64, i64)> = lock_seen(set)?.drain().collect();
        let durable = RunContext { seen_in_memory: None, ..ctx.clone() };
        for chunk in marks.chunks(10_000) {
            write_seen(conn, &durable, chunk)?;
        }
    }
    let counts = sweep_unseen(conn, ctx, products, None, now)?;
    for stream in streams {
        conn.execute(
            "DELETE FROM raw_records WHERE integration_id = ? AND stream = ? AND NOT EXISTS \
             (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = raw_records.id)",
            params![ctx.integration_id, stream.as_str(), ctx.run_id, SEEN_RAW],
        )?;
    }
    drop_seen(conn, ctx.run_id)?;
    Ok(counts)
}

/// Ends a replay (`map apply`: one stream's stored records through a map): like
/// [`finish_full`], but only what the replayed `streams` produced is swept. Attributions
/// that came from other streams, or from no record at all (a project's repository), were
/// not replayed, so not seen, and stay as they are.
pub fn finish_replay(conn: &mut dyn Conn, ctx: &RunContext, products: &[(String, Completeness)], streams: &[String]) -> Result<RunCounts> {
    let counts = sweep_unseen(conn, ctx, products, Some(streams), now_ms())?;
    // Every stored record of the streams was replayed (and so seen): no raw record goes.
    drop_seen(conn, ctx.run_id)?;
    Ok(counts)
}

/// Closes the run's unseen findings of `products` and retires its unseen attributions
/// (from `sync_seen`). `from_streams`: only attributions that these streams' raw records
/// produced (a replay); `None`: every attribution of the integration.
fn sweep_unseen(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    products: &[(String, Completeness)],
    from_streams: Option<&[String]>,
    now: Millis,
) -> Result<RunCounts> {
    let mut counts = RunCounts::default();
    // The attributions the sweep may touch: a condition on the attribution's `raw_id`
    // (unqualified, it names `asset_sources`' column in both statements below), and its
    // parameters.
    let (only, only_params): (String, Vec<Param<'_>>) = match from_streams {
        None => (String::new(), Vec::new()),
        Some([]) => return Ok(counts),
        Some(streams) => (
            format!(
                " AND raw_id IN (SELECT r.id FROM raw_records r WHERE r.integration_id = ? AND r.stream IN ({}))",
                vec!["?"; streams.len()].join(", ")
            ),
            std::iter::once(Param::from(ctx.integration_id)).chain(streams.iter().map(Param::from)).collect(),
        ),
    };
    for (product, completeness) in products {
        counts.closed += match completeness {
            Completeness::PerFinding => conn.execute(
                "UPDATE findings SET status = 'fixed', chash = ?, closed_at = ?, updated_at = ? \
                 WHERE integration_id = ? AND product = ? AND status <> 'fixed' AND NOT EXISTS \
                 (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = findings.id)",
                params![CLOSED_HASH, now, now, ctx.integration_id, product.as_str(), ctx.run_id, SEEN_FINDING],
            )?,
            // Records carry their asset's whole list (write_page closes what a record
            // dropped), so only assets the run never saw are left: drive the sweep from
            // those few asset ids instead of testing every open finding.
            Completeness::PerAsset => {
                let sql = format!(
                    "UPDATE findings SET status = 'fixed', chash = ?, closed_at = ?, updated_at = ? \
                     WHERE asset_id IN (SELECT a.asset_id FROM asset_sources a WHERE a.integration_id = ? AND a.active = 1{} \
                      AND NOT EXISTS (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = a.id)) \
                     AND integration_id = ? AND product = ? AND status <> 'fixed'",
                    only
                );
                let mut p: Vec<Param<'_>> = params![CLOSED_HASH, now, now, ctx.integration_id].to_vec();
                p.extend(only_params.iter().cloned());
                p.extend_from_slice(params![ctx.run_id, SEEN_ASSET_SOURCE, ctx.integration_id, product.as_str()]);
                conn.execute(&sql, &p)?
            }
        } as i64;
    }
    let sql = format!(
        "UPDATE asset_sources SET active = 0, removed_at = ? WHERE integration_id = ? AND active = 1{} AND NOT EXISTS \
         (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = asset_sources.id)",
        only
    );
    let mut p: Vec<Param<'_>> = params![now, ctx.integration_id].to_vec();
    p.extend(only_params.iter().cloned());
    p.extend_from_slice(params![ctx.run_id, SEEN_ASSET_SOURCE]);
    counts.assets_retired = conn.execute(&sql, &p)? as i64;
    Ok(counts)
}

/// Ends a delta that read some scopes whole (a Semgrep delta: the projects scanned since
/// the last sync): in each `(scope, repository asset)`, open findings of `products` the
/// run did not see are closed and their raw records deleted; nothing else is touched.
/// Reads through the findings' repository index, so its cost follows the scopes' size.
pub fn finish_scopes(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    products: &[(String, Completeness)],
    scopes: &[(String, i64)],
) -> Result<RunCounts> {
    let now = now_ms();
    let mut counts = RunCounts::default();
    for (scope, repo) in scopes {
        let mut close: Vec<i64> = Vec::new();
        let mut raw: Vec<i64> = Vec::new();
        for (product, _) in products {
            conn.query_each(
                "SELECT id, raw_id FROM findings WHERE repo_asset_id = ? AND integration_id = ? AND product = ? AND scope = ? \
                 AND status <> 'fixed' AND NOT EXISTS \
                 (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = findings.id)",
                params![*repo, ctx.integration_id, product.as_str(), scope.as_str(), ctx.run_id, SEEN_FINDING],
                &mut |r| {
                    close.push(r.get(0)?);
                    if let Some(id) = r.get::<Option<i64>>(1)? {
                        raw.push(id);
                    }
                    Ok(())
                },
            )?;
        }
        counts.closed += close_findings(conn, &close, now)?;
        for id in raw {
            conn.execute("DELETE FROM raw_records WHERE id = ?", params![id])?;
        }
    }
    drop_seen(conn, ctx.run_id)?;
    Ok(counts)
}

/// [`finish_scope`] with the marks in memory: reads the scope's ids and closes or deletes
/// those the run did not see (usually none or few).
fn finish_scope_in_memory(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    products: &[(String, Completeness)],
    streams: &[String],
    scope: &str,
    now: Millis,
    seen: &HashSet<(i64, i64)>,
) -> Result<RunCounts> {
    let mut counts = RunCounts::default();
    let mut unseen = |sql: &str, params: &[crate::value::Param<'_>], kind: i64| -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        conn.query_each(sql, params, &mut |r| {
            let id: i64 = r.get(0)?;
            if !seen.contains(&(kind, id)) {
                ids.push(id);
            }
            Ok(())
        })?;
        Ok(ids)
    };
    let mut close = Vec::new();
    for (product, _) in products {
        close.extend(unseen(
            "SELECT id FROM findings WHERE integration_id = ? AND product = ? AND scope = ? AND status <> 'fixed'",
            params![ctx.integration_id, product.as_str(), scope],
            SEEN_FINDING,
        )?);
    }
    let mut delete = Vec::new();
    for stream in streams {
        delete.extend(unseen(
            "SELECT id FROM raw_records WHERE integration_id = ? AND stream = ? AND scope = ?",
            params![ctx.integration_id, stream.as_str(), scope],
            SEEN_RAW,
        )?);
    }
    counts.closed += close_findings(conn, &close, now)?;
    for id in delete {
        conn.execute("DELETE FROM raw_records WHERE id = ?", params![id])?;
    }
    // Context assets (the repository) may have left durable marks.
    drop_seen(conn, ctx.run_id)?;
    Ok(counts)
}

/// Whether `scope` holds nothing of the integration: no raw records and no open findings
/// of `products` (what a scoped sweep would look at). Uses the raw-record key and the
/// findings' product index, so it reads at most this integration's rows.
pub fn scope_is_empty(conn: &mut dyn Conn, integration_id: i64, scope: &str, products: &[String]) -> Result<bool> {
    if conn.query_opt("SELECT 1 FROM raw_records WHERE integration_id = ? AND scope = ? LIMIT 1", params![integration_id, scope])?.is_some()
    {
        return Ok(false);
    }
    for product in products {
        let open = conn.query_opt(
            "SELECT 1 FROM findings WHERE product = ? AND status <> 'fixed' AND integration_id = ? AND scope = ? LIMIT 1",
            params![product.as_str(), integration_id, scope],
        )?;
        if open.is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// [`finish_full`] for a run that covered one scope: only that scope's findings and raw
/// records are swept; attributions of other scopes are untouched.
fn finish_scope(
    conn: &mut dyn Conn,
    ctx: &RunContext,
    products: &[(String, Completeness)],
    streams: &[String],
    scope: &str,
    now: Millis,
) -> Result<RunCounts> {
    if ctx.scope_is_new {
        // Whatever the scope holds now, this run wrote: nothing to close or delete.
        drop_seen(conn, ctx.run_id)?;
        return Ok(RunCounts::default());
    }
    if let Some(set) = &ctx.seen_in_memory {
        let seen = lock_seen(set)?;
        return finish_scope_in_memory(conn, ctx, products, streams, scope, now, &seen);
    }
    let mut counts = RunCounts::default();
    for (product, _) in products {
        counts.closed += conn.execute(
            "UPDATE findings SET status = 'fixed', chash = ?, closed_at = ?, updated_at = ? \
             WHERE integration_id = ? AND product = ? AND scope = ? AND status <> 'fixed' AND NOT EXISTS \
             (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = findings.id)",
            params![CLOSED_HASH, now, now, ctx.integration_id, product.as_str(), scope, ctx.run_id, SEEN_FINDING],
        )? as i64;
    }
    for stream in streams {
        conn.execute(
            "DELETE FROM raw_records WHERE integration_id = ? AND stream = ? AND scope = ? AND NOT EXISTS \
             (SELECT 1 FROM sync_seen s WHERE s.run_id = ? AND s.item_kind = ? AND s.item_id = raw_records.id)",
            params![ctx.integration_id, stream.as_str(), scope, ctx.run_id, SEEN_RAW],
        )?;
    }
    drop_seen(conn, ctx.run_id)?;
    Ok(counts)
}
