//! Issues: the findings of one problem, correlated across sources, with a stored risk
//! score and its factors.
//!
//! A finding's `issue_id` is fixed when it is written (`core::transform::Correlation`:
//! the same CVE on the same package in the same repository, the same CVE on the same
//! host, the same rule at the same place in a repository), so correlation is a GROUP BY,
//! deterministic and explainable: the key says why findings share an issue. This module
//! turns those groups into `issues` rows — counts, sources, status (open while any
//! finding is) — and scores each one from its findings' aggregated risk inputs (worst
//! CVSS and severity, KEV and EPSS of its CVE, best CWE Top 25 rank, reachable over
//! unreachable, a fix in any source) plus its repository's deployment and exposure and
//! its asset's criticality. The factors are stored with the score and add up to it.
//!
//! [`refresh_all`] rebuilds all issues (one pass in storage order, chunk by chunk, so
//! memory stays bounded); [`refresh_ids`] just the ones a run touched.

use std::collections::HashMap;

use tributary_core::model::Severity;
use tributary_core::risk::{Reachability, RiskInput, RiskTraits, RiskWeights, assess};
use tributary_core::time::{Millis, now_ms, to_rfc3339};
use tributary_core::transform::Correlation;

use super::parse_json;
use crate::conn::{Conn, Turn, in_bucket, placeholders, take_turn};
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::{Batch, Column, Param};

/// `meta` key set by the schema-5 and schema-7 upgrades: existing findings still need
/// (new) issue ids.
pub const BACKFILL_KEY: &str = "issues_backfill";
/// `meta` key of the team's risk weights (JSON of `RiskWeights`).
pub const WEIGHTS_KEY: &str = "risk_weights";

/// An issue as front ends list it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct IssueRow {
    pub id: i64,
    /// vulnerability, code_weakness, or code_to_runtime (a repository's finding and a host
    /// finding where Cortex Cloud says that repository runs).
    pub kind: String,
    pub title: String,
    pub cve: Option<String>,
    pub repo_asset_id: Option<i64>,
    pub asset_id: i64,
    pub severity: String,
    /// open while any of its findings is.
    pub status: String,
    pub findings: i64,
    pub open_findings: i64,
    /// Integrations whose findings it holds (more than one: a multi-source issue).
    pub sources: i64,
    pub score: f64,
    /// The CISA BOD 26-04 decision: days_3_forensics, days_3, days_14, days_60,
    /// fix_on_system_upgrade (`finding.decision` in queries).
    pub decision: String,
    /// The decision in words ("3 days + forensics", …).
    pub decision_label: String,
    pub first_seen: String,
    pub last_seen: String,
}

/// A stored factor: `(factor, observed, tenths)`.
pub type StoredFactor = (String, String, i64);

/// The team's weights (defaults when none are set).
pub fn weights(conn: &mut dyn Conn) -> Result<RiskWeights> {
    match super::meta::get(conn, WEIGHTS_KEY)? {
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Decode(format!("stored risk weights: {e}"))),
        None => Ok(RiskWeights::default()),
    }
}

const AGG: &str = "SELECT issue_id, MIN(kind), MIN(title), MIN(cve), MIN(repo_asset_id), MIN(asset_id), MAX(severity), COUNT(*), \
     SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), COUNT(DISTINCT integration_id), MAX(cvss_score), MIN(cwe_top25), \
     MAX(reach), MAX(fix), MAX(vector), MIN(first_seen), MAX(last_seen), \
     MAX(CASE WHEN repo_asset_id IS NULL THEN asset_id END), MAX(CASE WHEN repo_asset_id IS NULL THEN 0 ELSE 1 END) FROM findings";

/// What scoring needs besides the issue's own row, loaded once per refresh.
struct Context {
    weights: RiskWeights,
    epss: HashMap<String, (Option<f64>, Option<f64>)>,
    kev: std::collections::HashSet<String>,
    repos: HashMap<i64, (Option<bool>, Option<bool>)>,
    /// Hosts' internet exposure (attack-surface records).
    hosts: HashMap<i64, bool>,
    criticality: HashMap<i64, u8>,
}

impl Context {
    fn load(conn: &mut dyn Conn) -> Result<Context> {
        let weights = weights(conn)?;
        let mut epss = HashMap::new();
        conn.query_each("SELECT cve, epss, percentile FROM intel_epss", &[], &mut |mut r| {
            epss.insert(r.take(0)?, (r.get(1)?, r.get(2)?));
            Ok(())
        })?;
        let mut kev = std::collections::HashSet::new();
        conn.query_each("SELECT cve FROM intel_kev", &[], &mut |mut r| {
            kev.insert(r.take(0)?);
            Ok(())
        })?;
        let mut repos = HashMap::new();
        for mut r in conn.query("SELECT asset_id, deployment, exposure FROM repo_context", &[])? {
            let d = super::context::deployed(r.take::<Option<String>>(1)?.as_deref());
            let e = super::context::exposed(r.take::<Option<String>>(2)?.as_deref());
            repos.insert(r.get(0)?, (d, e));
        }
        let mut hosts = HashMap::new();
        conn.query_each("SELECT asset_id, exposed FROM host_context", &[], &mut |r| {
            hosts.insert(r.get(0)?, r.get::<i64>(1)? != 0);
            Ok(())
        })?;
        let mut criticality = HashMap::new();
        for r in conn.query("SELECT id, criticality FROM assets WHERE criticality IS NOT NULL", &[])? {
            criticality.insert(r.get(0)?, u8::try_from(r.get::<i64>(1)?).unwrap_or(3));
        }
        Ok(Context { weights, epss, kev, repos, hosts, criticality })
    }
}

/// The risk input of an aggregated issue row (columns as in [`AGG`]).
fn input(row: &crate::value::Row, ctx: &Context) -> Result<RiskInput> {
    let cve: Option<String> = row.get(3)?;
    let repo: Option<i64> = row.get(4)?;
    let asset: i64 = row.get(5)?;
    let (epss, pct) = cve.as_ref().and_then(|c| ctx.epss.get(c).copied()).unwrap_or((None, None));
    let (mut deployed, repo_exposed) = repo.and_then(|r| ctx.repos.get(&r).copied()).unwrap_or((None, None));
    // A host finding in the issue: the code runs there (code to runtime), and the host's
    // own exposure counts too.
    let host: Option<i64> = row.get(17)?;
    let host_exposed = host.and_then(|h| ctx.hosts.get(&h).copied());
    if host.is_some() && row.get::<i64>(18)? == 1 {
        deployed = Some(true);
    }
    let exposed = match (repo_exposed, host_exposed) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), _) | (_, Some(false)) => Some(false),
        _ => None,
    };
    let vector: Option<i64> = row.get(14)?;
    Ok(RiskInput {
        severity: Severity::from_ocsf_id(row.get(6)?).unwrap_or(Severity::Info),
        cvss: row.get(10)?,
        cvss_vector: None,
        epss,
        epss_percentile: pct,
        kev: cve.as_ref().is_some_and(|c| ctx.kev.contains(c)),
        cwe_top25_rank: row.get::<Option<i64>>(11)?.and_then(|r| u8::try_from(r).ok()),
        reachability: match row.get::<Option<i64>>(12)? {
            Some(2) => Reachability::Reachable,
            Some(1) => Reachability::Unreachable,
            _ => Reachability::Unknown,
        },
        fix_available: row.get::<Option<i64>>(13)?.map(|f| f != 0),
        deployed,
        internet_exposed: exposed,
        criticality: repo.and_then(|r| ctx.criticality.get(&r)).or_else(|| ctx.criticality.get(&asset)).copied(),
        vector_facts: vector.map(|v| (v & 1 != 0, v & 2 != 0)),
    })
}

/// Writes the issues of aggregated rows.
fn write(conn: &mut dyn Conn, rows: Vec<crate::value::Row>, ctx: &Context, now: Millis) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let mut ints: [Vec<Option<i64>>; 12] = Default::default();
    let (mut kind, mut title, mut cve, mut status, mut decision, mut factors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for mut r in rows {
        let risk = assess(&input(&r, ctx)?, &ctx.weights);
        let open: i64 = r.get(8)?;
        ints[0].push(Some(r.get(0)?));
        ints[1].push(r.get(4)?);
        ints[2].push(Some(r.get(5)?));
        ints[3].push(Some(r.get(6)?));
        ints[4].push(Some(r.get(7)?));
        ints[5].push(Some(open));
        ints[6].push(Some(r.get(9)?));
        ints[7].push(Some((risk.score * 10.0).round() as i64));
        ints[8].push(Some(r.get(15)?));
        ints[9].push(Some(r.get(16)?));
        ints[10].push(Some(now));
        // Both ends: a repository's finding and a host's (code to runtime).
        let both = r.get::<Option<i64>>(17)?.is_some() && r.get::<i64>(18)? == 1;
        kind.push(Some(if both { "code_to_runtime".to_string() } else { r.take::<String>(1)? }));
        title.push(Some(r.take::<String>(2)?));
        cve.push(r.take::<Option<String>>(3)?);
        status.push(if open > 0 { "open" } else { "closed" });
        decision.push(Some(risk.decision.slug().to_string()));
        // `[[factor, observed, tenths], …]`, written straight to text: building a JSON
        // value per issue first was a third of a full rebuild's writing.
        let parts: Vec<(&str, &str, i64)> =
            risk.factors.iter().map(|f| (f.factor, f.observed.as_str(), (f.points * 10.0).round() as i64)).collect();
        factors.push(Some(serde_json::to_string(&parts).map_err(|e| StoreError::Decode(format!("issue factors: {e}")))?));
    }
    let [id, repo, asset, severity, findings, open, sources, score, first, last, updated, _] = ints;
    let batch = Batch::new()
        .col("id", Column::Int(id))
        .col("kind", Column::Text(kind))
        .col("title", Column::Text(title))
        .col("cve", Column::Text(cve))
        .col("repo_asset_id", Column::Int(repo))
        .col("asset_id", Column::Int(asset))
        .col("severity", Column::Int(severity))
        .col("status", Column::Str(status))
        .col("findings", Column::Int(findings))
        .col("open_findings", Column::Int(open))
        .col("sources", Column::Int(sources))
        .col("score", Column::Int(score))
        .col("decision", Column::Text(decision))
        .col("factors", Column::Text(factors))
        .col("first_seen", Column::Int(first))
        .col("last_seen", Column::Int(last))
        .col("updated_at", Column::Int(updated));
    conn.insert_batch("issues", &batch)?;
    Ok(())
}

/// One finding as an issue of its own, in the shape of [`AGG`] (plus its id last, for
/// paging): most issues have a single finding, and this needs no grouping.
const SINGLE: &str = "SELECT issue_id, kind, title, cve, repo_asset_id, asset_id, severity, 1, \
     CASE WHEN status = 'open' THEN 1 ELSE 0 END, 1, cvss_score, cwe_top25, reach, fix, vector, first_seen, last_seen, \
     CASE WHEN repo_asset_id IS NULL THEN asset_id END, CASE WHEN repo_asset_id IS NULL THEN 0 ELSE 1 END, id \
     FROM findings WHERE id > ? AND issue_id IS NOT NULL ORDER BY id LIMIT ?";

/// Findings read per step of [`refresh_all`]'s pass.
const CHUNK: i64 = 20_000;

/// Rebuilds every issue from the findings. Returns how many there are.
///
/// Most issues have a single finding: one pass over the findings in storage order writes
/// each of those as its issue, appended with the table's indexes dropped (ids are random
/// hashes: kept indexes took every row at a random place); the issues of more than one
/// finding — found from the `findings_issue` index alone — are aggregated by GROUP BY;
/// then the indexes are built once, by sorting. Grouping all 2.6 M findings instead
/// walked the index and fetched every row at random (bench/RESULTS.md).
pub fn refresh_all(conn: &mut dyn Conn) -> Result<u64> {
    // Context, links and issues are rebuilt by delete-and-insert: two derivations at once
    // would insert the same keys on PostgreSQL.
    take_turn(conn, Turn::Derivation)?;
    let ctx = Context::load(conn)?;
    let now = now_ms();
    let multi: Vec<i64> = conn
        .query("SELECT issue_id FROM findings WHERE issue_id IS NOT NULL GROUP BY issue_id HAVING COUNT(*) > 1", &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    let skip: std::collections::HashSet<i64> = multi.iter().copied().collect();
    for i in [&crate::schema::ISSUES_ID, &crate::schema::ISSUES_STATUS_SCORE] {
        conn.execute(&crate::schema::drop_index_sql(i), &[])?;
    }
    conn.execute("DELETE FROM issues", &[])?;
    let mut after = 0i64;
    loop {
        let rows = conn.query(SINGLE, params![after, CHUNK])?;
        let Some(last) = rows.last() else { break };
        after = last.get(19)?;
        let full = rows.len() as i64 == CHUNK;
        let mut single = Vec::with_capacity(rows.len());
        for r in rows {
            if !skip.contains(&r.get::<i64>(0)?) {
                single.push(r);
            }
        }
        write(conn, single, &ctx, now)?;
        if !full {
            break;
        }
    }
    rebuild(conn, &ctx, &multi, now, false)?;
    for i in [&crate::schema::ISSUES_ID, &crate::schema::ISSUES_STATUS_SCORE] {
        conn.execute(&crate::schema::create_index_sql(&crate::schema::ISSUES, i), &[])?;
    }
    Ok(conn.scalar::<i64>("SELECT COUNT(*) FROM issues", &[])?.max(0) as u64)
}

/// Rebuilds the given issues (an issue none of whose findings is left disappears).
pub fn refresh_ids(conn: &mut dyn Conn, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ctx = Context::load(conn)?;
    rebuild(conn, &ctx, ids, now_ms(), true)
}

/// Aggregates these issues from their findings; `replace`: delete their old rows first.
fn rebuild(conn: &mut dyn Conn, ctx: &Context, ids: &[i64], now: Millis, replace: bool) -> Result<()> {
    for chunk in ids.chunks(512) {
        let n = in_bucket(chunk.len());
        let list: Vec<Param<'_>> = (0..n).map(|i| Param::Int(chunk[i.min(chunk.len() - 1)])).collect();
        if replace {
            conn.execute(&format!("DELETE FROM issues WHERE id IN ({})", placeholders(n)), &list)?;
        }
        let rows = conn.query(&format!("{AGG} WHERE issue_id IN ({}) GROUP BY issue_id", placeholders(n)), &list)?;
        write(conn, rows, ctx, now)?;
    }
    Ok(())
}

/// Above this many issues a full rebuild (one pass per id bucket) beats rebuilding them
/// one `IN` list at a time.
pub const REBUILD_ALL_ABOVE: usize = 100_000;

/// Rebuilds these issues, or all of them when that is cheaper. Returns whether it
/// rebuilt all.
pub fn refresh_many(conn: &mut dyn Conn, ids: &[i64]) -> Result<bool> {
    if ids.len() > REBUILD_ALL_ABOVE {
        refresh_all(conn)?;
        return Ok(true);
    }
    refresh_ids(conn, ids)?;
    Ok(false)
}

/// The issues of findings changed at or after `since` (a run's start), or `None` when
/// more than [`REBUILD_ALL_ABOVE`] findings changed: every issue is rebuilt then, and
/// collecting their ids first cost 0.5 s of a 190k-result import.
pub fn changed_since(conn: &mut dyn Conn, since: Millis) -> Result<Option<Vec<i64>>> {
    let changed: i64 = conn.scalar("SELECT COUNT(*) FROM findings WHERE updated_at >= ?", params![since])?;
    if changed > REBUILD_ALL_ABOVE as i64 {
        return Ok(None);
    }
    conn.query("SELECT DISTINCT issue_id FROM findings WHERE updated_at >= ? AND issue_id IS NOT NULL", params![since])?
        .into_iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()
        .map(Some)
}

/// The issues of findings whose `column` (`asset_id` or `repo_asset_id`) is one of `assets`.
fn issues_on(conn: &mut dyn Conn, column: &'static str, assets: &[i64]) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for a in assets {
        for row in
            conn.query(&format!("SELECT DISTINCT issue_id FROM findings WHERE {column} = ? AND issue_id IS NOT NULL"), params![*a])?
        {
            ids.push(row.get(0)?);
        }
    }
    Ok(ids)
}

/// What [`follow`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Followed {
    pub repos_changed: usize,
    pub issues_rebuilt: usize,
    pub rebuilt_all: bool,
}

/// Brings context and issues up to date after findings changed (a run, a deletion):
/// repository context, hosts' exposure and where repositories run (`hosts`: only when
/// those could have changed), code-to-runtime links, then the issues in `ids`, those the
/// links moved, and those of repositories and hosts whose context changed — or every
/// issue (`rebuild_all`, or when that is cheaper).
pub fn follow(conn: &mut dyn Conn, mut ids: Vec<i64>, hosts: bool, rebuild_all: bool) -> Result<Followed> {
    take_turn(conn, Turn::Derivation)?;
    let repos = super::context::refresh(conn)?;
    let hosts = if hosts { super::context::refresh_hosts(conn)? } else { Vec::new() };
    ids.extend(link_runtime(conn)?);
    if rebuild_all {
        let n = refresh_all(conn)?;
        return Ok(Followed { repos_changed: repos.len(), issues_rebuilt: n as usize, rebuilt_all: true });
    }
    ids.extend(issues_on(conn, "repo_asset_id", &repos)?);
    ids.extend(issues_on(conn, "asset_id", &hosts)?);
    ids.sort_unstable();
    ids.dedup();
    let all = refresh_many(conn, &ids)?;
    Ok(Followed { repos_changed: repos.len(), issues_rebuilt: ids.len(), rebuilt_all: all })
}

const COLUMNS: &str = "id, kind, title, cve, repo_asset_id, asset_id, severity, status, findings, open_findings, sources, score, \
     decision, first_seen, last_seen";

fn row(mut r: crate::value::Row) -> Result<IssueRow> {
    Ok(IssueRow {
        id: r.get(0)?,
        kind: r.take(1)?,
        title: r.take(2)?,
        cve: r.take(3)?,
        repo_asset_id: r.get(4)?,
        asset_id: r.get(5)?,
        severity: Severity::from_ocsf_id(r.get(6)?).unwrap_or(Severity::Info).to_string(),
        status: r.take(7)?,
        findings: r.get(8)?,
        open_findings: r.get(9)?,
        sources: r.get(10)?,
        score: r.get::<i64>(11)? as f64 / 10.0,
        decision_label: tributary_core::risk::Decision::from_slug(&r.get::<String>(12)?).map(|d| d.label()).unwrap_or_default().to_string(),
        decision: r.take(12)?,
        first_seen: to_rfc3339(r.get(13)?),
        last_seen: to_rfc3339(r.get(14)?),
    })
}

/// Issues, highest score first. `multi_source`: only those more than one source reports.
pub fn list(conn: &mut dyn Conn, status: Option<&str>, multi_source: bool, limit: i64) -> Result<Vec<IssueRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM issues WHERE 1 = 1");
    let mut p: Vec<Param<'_>> = Vec::new();
    if let Some(s) = status {
        sql.push_str(" AND status = ?");
        p.push(Param::Text(s));
    }
    if multi_source {
        sql.push_str(" AND sources > 1");
    }
    sql.push_str(" ORDER BY score DESC, id LIMIT ?");
    p.push(Param::Int(limit));
    conn.query(&sql, &p)?.into_iter().map(row).collect()
}

/// A page of issues, highest score first (ties by id), after `after` = (score in tenths,
/// id) of the previous page's last: those with a finding `filter` matches (a findings
/// query), of `status`, more than one source when `multi_source`.
pub fn page(
    conn: &mut dyn Conn,
    filter: Option<&crate::query::Compiled>,
    status: Option<&str>,
    multi_source: bool,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<IssueRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM issues WHERE 1 = 1");
    let mut p: Vec<Param<'_>> = Vec::new();
    if let Some(c) = filter {
        let ids = crate::query::finding_ids_sql(c).ok_or_else(|| StoreError::Invalid("an issue filter is a findings query".into()))?;
        sql.push_str(&format!(" AND id IN ({})", ids.replacen("SELECT f.id ", "SELECT f.issue_id ", 1)));
        p.extend(c.params.iter().map(crate::query::param));
    }
    if let Some(s) = status {
        sql.push_str(" AND status = ?");
        p.push(Param::Text(s));
    }
    if multi_source {
        sql.push_str(" AND sources > 1");
    }
    if let Some((score, id)) = after {
        sql.push_str(" AND (score < ? OR (score = ? AND id > ?))");
        p.extend([Param::Int(score), Param::Int(score), Param::Int(id)]);
    }
    sql.push_str(" ORDER BY score DESC, id LIMIT ?");
    p.push(Param::Int(limit));
    conn.query(&sql, &p)?.into_iter().map(row).collect()
}

/// Counts of issues: `(total, open, multi-source)`.
pub fn counts(conn: &mut dyn Conn) -> Result<(i64, i64, i64)> {
    let r = conn.query_one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN sources > 1 THEN 1 ELSE 0 END), 0) FROM issues",
        &[],
    )?;
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// One issue with its stored factors.
pub fn get(conn: &mut dyn Conn, id: i64) -> Result<(IssueRow, Vec<StoredFactor>)> {
    let Some(mut r) = conn.query_opt(&format!("SELECT {COLUMNS}, factors FROM issues WHERE id = ?"), params![id])? else {
        return Err(StoreError::NotFound { what: "issue", name: id.to_string() });
    };
    let factors_text: String = r.take(15)?;
    let issue = row(r)?;
    let factors = parse_json(&factors_text, "issue factors")?
        .as_array()
        .map(|a| a.iter().filter_map(|f| Some((f[0].as_str()?.to_string(), f[1].as_str()?.to_string(), f[2].as_i64()?))).collect())
        .unwrap_or_default();
    Ok((issue, factors))
}

/// One finding of an issue, with the source it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct IssueFinding {
    pub finding_id: i64,
    pub product: String,
    pub integration: String,
    pub status: String,
    pub asset_id: i64,
}

/// An issue's findings, by source.
pub fn findings(conn: &mut dyn Conn, id: i64) -> Result<Vec<IssueFinding>> {
    conn.query(
        "SELECT f.id, f.product, i.name, f.status, f.asset_id FROM findings f JOIN integrations i ON i.id = f.integration_id \
         WHERE f.issue_id = ? ORDER BY f.product, f.id",
        params![id],
    )?
    .into_iter()
    .map(|mut r| {
        Ok(IssueFinding { finding_id: r.get(0)?, product: r.take(1)?, integration: r.take(2)?, status: r.take(3)?, asset_id: r.get(4)? })
    })
    .collect()
}

/// Gives findings written before schema 5 their issue ids and risk traits (and, since
/// schema 7, ids of the new shape), links code to runtime again and rebuilds the issues.
/// Issues webhooks were told of keep that mark under their new ids, so nobody is told
/// twice. Runs once, when an upgrade left [`BACKFILL_KEY`] behind.
pub fn backfill(conn: &mut dyn Conn) -> Result<()> {
    if super::meta::get(conn, BACKFILL_KEY)?.is_none() {
        return Ok(());
    }
    let notified: Vec<(i64, i64, i64)> = conn
        .query("SELECT webhook_id, issue_id, notified_at FROM notified_issues", &[])?
        .into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .collect::<Result<_>>()?;
    // A finding linked into another issue (code to runtime) does not say where its
    // issue went: only findings in their own correlation's issue are asked.
    let linked: std::collections::HashSet<i64> =
        conn.query("SELECT finding_id FROM issue_links", &[])?.into_iter().map(|r| r.get(0)).collect::<Result<_>>()?;
    let mut renamed = Renamed { watch: notified.iter().map(|n| n.1).collect(), skip: linked, map: HashMap::new() };
    // Every finding's issue id changes: maintaining the index on it row by row would
    // dirty its pages at random, again and again, and the one transaction's log grew past
    // 17 GB on the 2.6 M-finding reference tenant. Rewritten rows in id order and the
    // index built once after keep the log near the table's size.
    conn.batch_execute(&crate::schema::drop_index_sql(&crate::schema::FINDINGS_ISSUE))?;
    recorrelate(conn, "1 = 1", &[], Some(&mut renamed))?;
    conn.batch_execute(&crate::schema::create_index_sql(&crate::schema::FINDINGS, &crate::schema::FINDINGS_ISSUE))?;
    for (webhook, old, at) in notified {
        if let Some(new) = renamed.map.get(&old).copied().filter(|n| *n != old) {
            conn.execute("DELETE FROM notified_issues WHERE webhook_id = ? AND issue_id = ?", params![webhook, old])?;
            conn.execute(
                "INSERT INTO notified_issues (webhook_id, issue_id, notified_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                params![webhook, new, at],
            )?;
        }
    }
    link_runtime(conn)?;
    refresh_all(conn)?;
    conn.execute("DELETE FROM meta WHERE key = ?", params![BACKFILL_KEY])?;
    Ok(())
}

/// Old issue ids → new, for the ids in `watch`, learnt from findings not in `skip`.
struct Renamed {
    watch: std::collections::HashSet<i64>,
    skip: std::collections::HashSet<i64>,
    map: HashMap<i64, i64>,
}

/// Every finding's issue id and traits computed again from its stored attributes (the
/// upgrade backfill's work, without the issue rebuild); returns the issues touched.
pub fn recorrelate_all(conn: &mut dyn Conn) -> Result<usize> {
    Ok(recorrelate(conn, "1 = 1", &[], None)?.len())
}

/// A repository's code findings by CVE: `(package identity, issue, integration)`.
type CodeCves = HashMap<String, Vec<(String, i64, i64)>>;

/// Code to runtime: a CVE found on a host where a repository is deployed (the
/// `deployed_to` links `repo::context` keeps) and found in that repository's code by
/// another source joins the repository's issue. When the repository has that CVE on
/// several packages, the host finding joins the issue of the smallest package identity
/// (then repository identity): deterministic. Links that no longer hold are undone (the
/// finding returns to its own issue). Returns the issues whose membership changed.
pub fn link_runtime(conn: &mut dyn Conn) -> Result<Vec<i64>> {
    let mut want: HashMap<i64, (i64, String, String)> = HashMap::new();
    let mut current: HashMap<i64, i64> = HashMap::new();
    // Relation by relation, each side through its own index (a single join let the
    // planner walk every host finding of a fresh load: minutes at 2 M findings).
    let links: Vec<(i64, i64, String)> = conn
        .query(
            "SELECT rel.parent_id, rel.child_id, ra.identity FROM asset_relations rel JOIN assets ra ON ra.id = rel.parent_id \
             WHERE rel.kind = 'deployed_to' ORDER BY rel.parent_id, rel.child_id",
            &[],
        )?
        .into_iter()
        .map(|mut r| Ok((r.get(0)?, r.get(1)?, r.take(2)?)))
        .collect::<Result<_>>()?;
    let mut code: HashMap<i64, CodeCves> = HashMap::new();
    for (repo, host, repo_identity) in links {
        if let std::collections::hash_map::Entry::Vacant(slot) = code.entry(repo) {
            let mut by_cve = CodeCves::new();
            for mut r in conn.query(
                "SELECT f.cve, a.identity, f.issue_id, f.integration_id FROM findings f JOIN assets a ON a.id = f.asset_id \
                 WHERE f.repo_asset_id = ? AND f.cve IS NOT NULL AND f.issue_id IS NOT NULL",
                params![repo],
            )? {
                by_cve.entry(r.take(0)?).or_default().push((r.take(1)?, r.get(2)?, r.get(3)?));
            }
            slot.insert(by_cve);
        }
        let Some(by_cve) = code.get(&repo) else { continue };
        if by_cve.is_empty() {
            continue;
        }
        for mut r in conn.query(
            "SELECT id, issue_id, cve, integration_id FROM findings WHERE asset_id = ? AND cve IS NOT NULL AND repo_asset_id IS NULL",
            params![host],
        )? {
            let (hf, cur, integration): (i64, Option<i64>, i64) = (r.get(0)?, r.get(1)?, r.get(3)?);
            let cve: String = r.take(2)?;
            let Some(cur) = cur else { continue };
            let Some(best) = by_cve.get(&cve).into_iter().flatten().filter(|(_, _, i)| *i != integration).min_by(|a, b| a.0.cmp(&b.0))
            else {
                continue;
            };
            current.insert(hf, cur);
            let better = want.get(&hf).is_none_or(|(_, p, q)| (&best.0, &repo_identity) < (p, q));
            if better {
                want.insert(hf, (best.1, best.0.clone(), repo_identity.clone()));
            }
        }
    }
    let mut touched = Vec::new();
    // Undo links that no longer hold: back to the finding's own issue.
    let old: Vec<(i64, i64)> = conn
        .query("SELECT finding_id, issue_id FROM issue_links", &[])?
        .into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    for (f, linked) in &old {
        if want.contains_key(f) {
            continue;
        }
        let Some(mut r) = conn.query_opt("SELECT asset_id, cve, issue_id FROM findings WHERE id = ?", params![*f])? else { continue };
        let (asset, cve, now_in): (i64, Option<String>, Option<i64>) = (r.get(0)?, r.take(1)?, r.get(2)?);
        let Some(cve) = cve else { continue };
        let own = Correlation::Cve { cve }.issue_id(asset, None);
        if now_in != Some(own) {
            conn.execute("UPDATE findings SET issue_id = ? WHERE id = ?", params![own, *f])?;
            touched.extend([own, *linked]);
            touched.extend(now_in);
        }
    }
    conn.execute("DELETE FROM issue_links", &[])?;
    for (f, (target, _, _)) in &want {
        let cur = current.get(f).copied();
        if cur != Some(*target) {
            conn.execute("UPDATE findings SET issue_id = ? WHERE id = ?", params![*target, *f])?;
            touched.push(*target);
            touched.extend(cur);
        }
        conn.execute("INSERT INTO issue_links (finding_id, issue_id) VALUES (?, ?)", params![*f, *target])?;
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(touched)
}

/// Findings whose repository changed (a project mapped elsewhere): their issue ids are
/// computed again and the issues they left and joined rebuilt.
pub fn recorrelate_scope(conn: &mut dyn Conn, integration_id: i64, scope: &str) -> Result<()> {
    let ids = recorrelate(conn, "f.integration_id = ? AND f.scope = ?", params![integration_id, scope], None)?;
    refresh_ids(conn, &ids)
}

/// Computes issue ids and traits again, from stored fields, for findings matching
/// `filter` (SQL over `findings f`); returns the issue ids before and after.
fn recorrelate(conn: &mut dyn Conn, filter: &str, p: &[Param<'_>], mut renamed: Option<&mut Renamed>) -> Result<Vec<i64>> {
    let mut touched = Vec::new();
    let mut after = 0i64;
    loop {
        let mut args: Vec<Param<'_>> = p.to_vec();
        args.push(Param::Int(after));
        let rows = conn.query(
            &format!(
                "SELECT f.id, f.asset_id, f.repo_asset_id, f.product, f.external_id, f.cve, f.attributes, a.kind, a.identity, f.issue_id \
                 FROM findings f JOIN assets a ON a.id = f.asset_id WHERE {filter} AND f.id > ? ORDER BY f.id LIMIT 5000"
            ),
            &args,
        )?;
        let Some(last) = rows.last() else { break };
        after = last.get(0)?;
        let mut cols: [Vec<Option<i64>>; 6] = Default::default();
        for mut r in rows {
            let attrs = parse_json(&r.take::<String>(6)?, "finding attributes")?;
            let product: String = r.take(3)?;
            let external: String = r.take(4)?;
            let cve: Option<String> = r.take(5)?;
            let mut c = Correlation::read(&product, &external, cve.as_deref(), &attrs);
            let identity: String = r.take(8)?;
            if r.take::<String>(7)? == "package"
                && let Some(purl) = identity.strip_prefix("purl:")
            {
                c = c.on_package(purl);
            }
            let t = RiskTraits::read(&attrs);
            let (asset, repo): (i64, Option<i64>) = (r.get(1)?, r.get(2)?);
            let new = c.issue_id(asset, repo);
            let id: i64 = r.get(0)?;
            if let Some(old) = r.get::<Option<i64>>(9)? {
                touched.push(old);
                if let Some(w) = renamed.as_deref_mut()
                    && w.watch.contains(&old)
                    && !w.skip.contains(&id)
                {
                    w.map.entry(old).or_insert(new);
                }
            }
            touched.push(new);
            cols[0].push(Some(id));
            cols[1].push(Some(new));
            cols[2].push(t.cwe_top25.map(i64::from));
            cols[3].push(t.reach);
            cols[4].push(t.fix.map(i64::from));
            cols[5].push(t.vector);
        }
        let [id, issue, top25, reach, fix, vector] = cols;
        let batch = Batch::new()
            .col("id", Column::Int(id))
            .col("issue_id", Column::Int(issue))
            .col("cwe_top25", Column::Int(top25))
            .col("reach", Column::Int(reach))
            .col("fix", Column::Int(fix))
            .col("vector", Column::Int(vector));
        conn.update_batch("findings", &batch)?;
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(touched)
}

/// Issue ids of findings matching `filter` (before they are deleted).
pub fn ids_of(conn: &mut dyn Conn, filter: &str, p: &[Param<'_>]) -> Result<Vec<i64>> {
    conn.query(&format!("SELECT DISTINCT issue_id FROM findings WHERE issue_id IS NOT NULL AND {filter}"), p)?
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}
