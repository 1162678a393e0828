//! Sync runs (with their checkpoint) and per-stream sync state (watermarks).

use tributary_core::model::{RunCounts, SyncMode, SyncRun, SyncStatus};
use tributary_core::time::now_ms;

use super::{json_text, parse_enum, parse_json};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

const COLUMNS: &str = "id, integration_id, profile_id, mode, status, started_at, ended_at, fetched, created, updated, \
                       unchanged, closed, skipped, assets_created, assets_updated, assets_retired, error, cursor, initial, notes";

fn run(mut r: Row) -> Result<SyncRun> {
    let cursor: Option<String> = r.take(17)?;
    Ok(SyncRun {
        id: r.get(0)?,
        integration_id: r.get(1)?,
        profile_id: r.get(2)?,
        mode: parse_enum(&r.take::<String>(3)?)?,
        status: parse_enum(&r.take::<String>(4)?)?,
        started_at: r.get(5)?,
        ended_at: r.get(6)?,
        counts: RunCounts {
            fetched: r.get(7)?,
            created: r.get(8)?,
            updated: r.get(9)?,
            unchanged: r.get(10)?,
            closed: r.get(11)?,
            skipped: r.get(12)?,
            assets_created: r.get(13)?,
            assets_updated: r.get(14)?,
            assets_retired: r.get(15)?,
            unusable: 0,
        },
        error: r.take(16)?,
        cursor: cursor.map(|c| parse_json(&c, "run cursor")).transpose()?,
        initial: r.get::<i64>(18)? != 0,
        notes: r.take(19)?,
    })
}

pub fn start(conn: &mut dyn Conn, integration_id: i64, profile_id: Option<i64>, mode: SyncMode, owner: &str) -> Result<SyncRun> {
    let now = now_ms();
    let initial = mode == SyncMode::Full && holds_nothing(conn, integration_id)?;
    let r = conn.query_one(
        &format!(
            "INSERT INTO sync_runs (integration_id, profile_id, mode, status, started_at, heartbeat_at, lease_owner, initial) \
             VALUES (?, ?, ?, 'running', ?, ?, ?, ?) RETURNING {COLUMNS}"
        ),
        params![integration_id, profile_id, mode.as_str(), now, now, owner, initial as i64],
    )?;
    run(r)
}

/// The integration has no raw records, no active attributions and no open findings (what
/// a full run's sweep would look at). Reads through the raw-record and attribution keys;
/// open findings through the assets the integration ever attributed (every finding of an
/// integration sits on one: its records' assets, or a project's repository).
fn holds_nothing(conn: &mut dyn Conn, integration_id: i64) -> Result<bool> {
    if conn.query_opt("SELECT 1 FROM raw_records WHERE integration_id = ? LIMIT 1", params![integration_id])?.is_some()
        || conn.query_opt("SELECT 1 FROM asset_sources WHERE integration_id = ? AND active = 1 LIMIT 1", params![integration_id])?.is_some()
    {
        return Ok(false);
    }
    // Findings outlive their raw records only when a sweep closed them (or a replay
    // wrote them, which needs raw records): open ones are checked all the same.
    let open = conn.query_opt(
        "SELECT 1 FROM findings WHERE integration_id = ? AND status <> 'fixed' AND asset_id IN \
         (SELECT asset_id FROM asset_sources WHERE integration_id = ?) LIMIT 1",
        params![integration_id, integration_id],
    )?;
    Ok(open.is_none())
}

pub fn get(conn: &mut dyn Conn, id: i64) -> Result<SyncRun> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM sync_runs WHERE id = ?"), params![id])?
        .map(run)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { what: "sync run", name: id.to_string() })
}

pub fn list(conn: &mut dyn Conn, integration_id: Option<i64>, limit: i64) -> Result<Vec<SyncRun>> {
    let rows = match integration_id {
        Some(i) => {
            conn.query(&format!("SELECT {COLUMNS} FROM sync_runs WHERE integration_id = ? ORDER BY id DESC LIMIT ?"), params![i, limit])?
        }
        None => conn.query(&format!("SELECT {COLUMNS} FROM sync_runs ORDER BY id DESC LIMIT ?"), params![limit])?,
    };
    rows.into_iter().map(run).collect()
}

/// The latest run of an integration, if any.
pub fn latest(conn: &mut dyn Conn, integration_id: i64) -> Result<Option<SyncRun>> {
    Ok(list(conn, Some(integration_id), 1)?.into_iter().next())
}

/// When the integration's data was last brought up to date: the end of its latest
/// successful run.
pub fn last_success_at(conn: &mut dyn Conn, integration_id: i64) -> Result<Option<i64>> {
    conn.scalar("SELECT MAX(ended_at) FROM sync_runs WHERE integration_id = ? AND status = 'succeeded'", params![integration_id])
}

/// The unfinished run of an integration (status `running`) with its lease holder and
/// last heartbeat, if one exists.
pub fn unfinished(conn: &mut dyn Conn, integration_id: i64) -> Result<Option<(SyncRun, Option<String>, i64)>> {
    let sql = format!(
        "SELECT {COLUMNS}, lease_owner, COALESCE(heartbeat_at, started_at) FROM sync_runs \
         WHERE integration_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1"
    );
    match conn.query_opt(&sql, params![integration_id])? {
        Some(mut r) => {
            // The two columns after the run's own.
            let n = COLUMNS.split(',').count();
            let hb: i64 = r.get(n + 1)?;
            let owner: Option<String> = r.take(n)?;
            r.0.truncate(n);
            Ok(Some((run(r)?, owner, hb)))
        }
        None => Ok(None),
    }
}

/// Takes over an abandoned run (its holder died): new lease owner, one more resume.
pub fn take_over(conn: &mut dyn Conn, run_id: i64, owner: &str) -> Result<()> {
    conn.execute(
        "UPDATE sync_runs SET lease_owner = ?, heartbeat_at = ?, resumes = resumes + 1 WHERE id = ? AND status = 'running'",
        params![owner, now_ms(), run_id],
    )?;
    Ok(())
}

/// Records a committed page: counts, cursor and candidate watermark. Runs in the same
/// transaction as the page's data, which is what makes a crash resumable.
pub fn checkpoint(
    conn: &mut dyn Conn,
    run_id: i64,
    d: &RunCounts,
    cursor: Option<&serde_json::Value>,
    watermark: Option<&serde_json::Value>,
) -> Result<()> {
    let cursor = cursor.map(json_text);
    let watermark = watermark.map(json_text);
    let n = conn.execute(
        "UPDATE sync_runs SET fetched = fetched + ?, created = created + ?, updated = updated + ?, \
         unchanged = unchanged + ?, closed = closed + ?, skipped = skipped + ?, assets_created = assets_created + ?, \
         assets_updated = assets_updated + ?, assets_retired = assets_retired + ?, pages = pages + 1, \
         cursor = COALESCE(?, cursor), watermark = COALESCE(?, watermark), heartbeat_at = ? WHERE id = ? AND status = 'running'",
        params![
            d.fetched,
            d.created,
            d.updated,
            d.unchanged,
            d.closed,
            d.skipped,
            d.assets_created,
            d.assets_updated,
            d.assets_retired,
            &cursor,
            &watermark,
            now_ms(),
            run_id
        ],
    )?;
    // A run whose integration was deleted under it commits nothing more.
    if n == 0 {
        return Err(StoreError::Cancelled(run_id));
    }
    Ok(())
}

/// The candidate watermark recorded by the run's pages.
pub fn watermark(conn: &mut dyn Conn, run_id: i64) -> Result<Option<serde_json::Value>> {
    let w: Option<String> = conn.scalar("SELECT watermark FROM sync_runs WHERE id = ?", params![run_id])?;
    w.map(|t| parse_json(&t, "run watermark")).transpose()
}

/// Ends a run.
pub fn finish(conn: &mut dyn Conn, run_id: i64, status: SyncStatus, error: Option<&str>, d: &RunCounts) -> Result<()> {
    let n = conn.execute(
        "UPDATE sync_runs SET status = ?, error = ?, ended_at = ?, closed = closed + ?, assets_retired = assets_retired + ?, lease_owner = NULL WHERE id = ?",
        params![status.as_str(), error, now_ms(), d.closed, d.assets_retired, run_id],
    )?;
    // A sweep must not commit for a run that is gone (its integration deleted).
    if n == 0 && status == SyncStatus::Succeeded {
        return Err(StoreError::Cancelled(run_id));
    }
    Ok(())
}

/// Asks the integration's running runs to stop (before it is deleted): they are marked
/// failed at once, so their next page, heartbeat or sweep finds them gone and stops
/// without writing. Returns the runs asked.
pub fn request_stop(conn: &mut dyn Conn, integration_id: i64) -> Result<Vec<i64>> {
    conn.query(
        "UPDATE sync_runs SET status = 'failed', error = 'cancelled: the integration is being deleted', ended_at = ? \
         WHERE integration_id = ? AND status = 'running' RETURNING id",
        params![now_ms(), integration_id],
    )?
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

/// Of these runs, those whose process still holds them (it has not noticed the stop yet):
/// `(run, lease owner, last heartbeat)`.
pub fn still_held(conn: &mut dyn Conn, runs: &[i64]) -> Result<Vec<(i64, String, i64)>> {
    let mut out = Vec::new();
    for id in runs {
        if let Some(mut r) = conn.query_opt(
            "SELECT id, lease_owner, COALESCE(heartbeat_at, started_at) FROM sync_runs WHERE id = ? AND lease_owner IS NOT NULL",
            params![*id],
        )? {
            out.push((r.get(0)?, r.take(1)?, r.get(2)?));
        }
    }
    Ok(out)
}

/// A live run's heartbeat, sent on its own schedule (not only with commits) so a slow
/// vendor does not make a live run look abandoned. `false`: the run is no longer this
/// owner's (another process took it over, or it ended), and the caller must stop.
pub fn heartbeat(conn: &mut dyn Conn, run_id: i64, owner: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE sync_runs SET heartbeat_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
        params![now_ms(), run_id, owner],
    )?;
    Ok(n == 1)
}

/// Records what a run said besides its counts (one line per note).
pub fn set_notes(conn: &mut dyn Conn, run_id: i64, notes: &[String]) -> Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    conn.execute("UPDATE sync_runs SET notes = ? WHERE id = ?", params![notes.join("\n").as_str(), run_id])?;
    Ok(())
}

/// Per-stream state: the delta watermark and when the last full sync completed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamState {
    pub watermark: Option<serde_json::Value>,
    pub last_full_at: Option<i64>,
    pub last_run_at: Option<i64>,
}

pub fn stream_state(conn: &mut dyn Conn, integration_id: i64, stream: &str) -> Result<StreamState> {
    match conn.query_opt(
        "SELECT watermark, last_full_at, last_run_at FROM sync_state WHERE integration_id = ? AND stream = ?",
        params![integration_id, stream],
    )? {
        Some(mut r) => {
            let w: Option<String> = r.take(0)?;
            Ok(StreamState {
                watermark: w.map(|t| parse_json(&t, "watermark")).transpose()?,
                last_full_at: r.get(1)?,
                last_run_at: r.get(2)?,
            })
        }
        None => Ok(StreamState::default()),
    }
}

pub fn set_stream_state(
    conn: &mut dyn Conn,
    integration_id: i64,
    stream: &str,
    watermark: Option<&serde_json::Value>,
    full: bool,
) -> Result<()> {
    let now = now_ms();
    let w = watermark.map(json_text);
    let full_at = full.then_some(now);
    conn.execute(
        "INSERT INTO sync_state (integration_id, stream, watermark, last_full_at, last_run_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (integration_id, stream) DO UPDATE SET watermark = COALESCE(excluded.watermark, sync_state.watermark), \
         last_full_at = COALESCE(excluded.last_full_at, sync_state.last_full_at), last_run_at = excluded.last_run_at",
        params![integration_id, stream, &w, full_at, now],
    )?;
    Ok(())
}

/// Changes a running run's mode (a delta run that learns it must fetch everything).
pub fn set_mode(conn: &mut dyn Conn, run_id: i64, mode: SyncMode) -> Result<()> {
    conn.execute("UPDATE sync_runs SET mode = ? WHERE id = ?", params![mode.as_str(), run_id])?;
    Ok(())
}

/// Forgets a stream's delta watermark, so the next run is a full one.
pub fn require_full(conn: &mut dyn Conn, integration_id: i64, stream: &str) -> Result<()> {
    conn.execute("UPDATE sync_state SET watermark = NULL WHERE integration_id = ? AND stream = ?", params![integration_id, stream])?;
    Ok(())
}

/// When the last run ended (none: no run has): what a cache of derived counts compares to
/// know whether data changed since it was taken.
pub fn last_ended(conn: &mut dyn Conn) -> Result<Option<i64>> {
    conn.scalar("SELECT MAX(ended_at) FROM sync_runs", &[])
}
