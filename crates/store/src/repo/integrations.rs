//! Integrations and their sealed credentials.
//!
//! The credential column holds `MasterKey::seal(aad = "integration:<id>")`; there is no
//! function that returns it to a caller other than [`open_secret`], which the engine uses
//! to build a connector. Listing and reading integrations never touch it.

use tributary_core::model::{Integration, IntegrationStatus};
use tributary_core::secret::{MasterKey, Secret};
use tributary_core::time::now_ms;

use super::{conflict, json_text, parse_enum, parse_json};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

const COLUMNS: &str = "id, name, kind, base_url, config, status, status_reason, status_at, created_at";

fn integration(mut r: Row) -> Result<Integration> {
    Ok(Integration {
        id: r.get(0)?,
        name: r.take(1)?,
        kind: r.take(2)?,
        base_url: r.take(3)?,
        config: parse_json(&r.take::<String>(4)?, "integration config")?,
        status: parse_enum(&r.take::<String>(5)?)?,
        status_reason: r.take(6)?,
        status_at: r.get(7)?,
        created_at: r.get(8)?,
    })
}

fn aad(id: i64) -> String {
    format!("integration:{id}")
}

pub struct NewIntegration<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub base_url: &'a str,
    pub config: serde_json::Value,
    pub secret: &'a Secret,
}

/// Creates an integration and seals its credential (call inside a transaction).
pub fn create(conn: &mut dyn Conn, key: &MasterKey, new: NewIntegration<'_>) -> Result<Integration> {
    let now = now_ms();
    let r = conn.query_one(
        &format!(
            "INSERT INTO integrations (name, kind, base_url, config, status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'new', ?, ?) RETURNING {COLUMNS}"
        ),
        params![new.name, new.kind, new.base_url, json_text(&new.config).as_str(), now, now],
    );
    let created = integration(conflict(r, "integration", new.name)?)?;
    set_secret(conn, key, created.id, new.secret)?;
    Ok(created)
}

pub fn set_secret(conn: &mut dyn Conn, key: &MasterKey, id: i64, secret: &Secret) -> Result<()> {
    let sealed = key.seal_secret(&aad(id), secret);
    conn.execute("UPDATE integrations SET secret = ?, updated_at = ? WHERE id = ?", params![&sealed, now_ms(), id])?;
    Ok(())
}

/// Opens the sealed credential. A wrong key is an error, never garbage.
pub fn open_secret(conn: &mut dyn Conn, key: &MasterKey, id: i64) -> Result<Secret> {
    let sealed: Option<Vec<u8>> = conn.scalar("SELECT secret FROM integrations WHERE id = ?", params![id])?;
    let sealed = sealed.ok_or_else(|| StoreError::Invalid(format!("integration {id} has no stored credential")))?;
    key.open_secret(&aad(id), &sealed).map_err(|e| StoreError::Key(format!("cannot open the credential of integration {id}: {e}")))
}

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<Integration> {
    find(conn, name)?.ok_or_else(|| StoreError::NotFound { what: "integration", name: name.to_string() })
}

pub fn find(conn: &mut dyn Conn, name: &str) -> Result<Option<Integration>> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM integrations WHERE name = ?"), params![name])?.map(integration).transpose()
}

pub fn by_id(conn: &mut dyn Conn, id: i64) -> Result<Integration> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM integrations WHERE id = ?"), params![id])?
        .map(integration)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { what: "integration", name: id.to_string() })
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Integration>> {
    conn.query(&format!("SELECT {COLUMNS} FROM integrations ORDER BY name"), &[])?.into_iter().map(integration).collect()
}

pub fn set_status(conn: &mut dyn Conn, id: i64, status: IntegrationStatus, reason: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE integrations SET status = ?, status_reason = ?, status_at = ?, updated_at = ? WHERE id = ?",
        params![status.as_str(), reason, now_ms(), now_ms(), id],
    )?;
    Ok(())
}

pub fn set_base_url(conn: &mut dyn Conn, id: i64, base_url: &str) -> Result<()> {
    conn.execute("UPDATE integrations SET base_url = ?, updated_at = ? WHERE id = ?", params![base_url, now_ms(), id])?;
    Ok(())
}

pub fn set_config(conn: &mut dyn Conn, id: i64, config: &serde_json::Value) -> Result<()> {
    conn.execute("UPDATE integrations SET config = ?, updated_at = ? WHERE id = ?", params![json_text(config).as_str(), now_ms(), id])?;
    Ok(())
}

/// Deletes an integration with everything it brought in (call inside a transaction).
/// High-volume tables carry no foreign keys (see `schema`), so their rows are removed
/// here; foreign keys cascade to profiles, runs, state and scopes.
pub fn delete(conn: &mut dyn Conn, id: i64) -> Result<()> {
    // First its running runs: this takes their row locks, so a page being written now
    // either commits before the deletes below read (and is deleted with the rest) or finds
    // its run gone and rolls back (`runs::checkpoint`). Nothing outlives the integration.
    conn.execute(
        "UPDATE sync_runs SET status = 'failed', error = 'cancelled: the integration was deleted', ended_at = ? \
         WHERE integration_id = ? AND status = 'running'",
        params![tributary_core::time::now_ms(), id],
    )?;
    // Its findings, found once (one scan of the findings instead of one per statement
    // below: bench/RESULTS.md, deletion). A temporary table goes with the transaction.
    conn.execute("DROP TABLE IF EXISTS deleted_findings", &[])?;
    conn.execute(
        "CREATE TEMP TABLE deleted_findings AS SELECT id, issue_id, asset_id FROM findings WHERE integration_id = ?",
        params![id],
    )?;
    // Assets that only this integration reported (no other source, no other integration's
    // findings or projects point at them) go with it, with their identifiers and relations.
    let only_ours = "SELECT x.asset_id FROM (SELECT asset_id FROM asset_sources WHERE integration_id = ? \
         UNION SELECT asset_id FROM deleted_findings) x \
         WHERE NOT EXISTS (SELECT 1 FROM asset_sources s WHERE s.asset_id = x.asset_id AND s.integration_id <> ?) \
         AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.asset_id = x.asset_id AND f.integration_id <> ?) \
         AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.repo_asset_id = x.asset_id AND f.integration_id <> ?) \
         AND NOT EXISTS (SELECT 1 FROM scopes sc WHERE sc.repo_asset_id = x.asset_id AND sc.integration_id <> ?)";
    let gone: Vec<i64> = conn.query(only_ours, params![id, id, id, id, id])?.into_iter().map(|r| r.get::<i64>(0)).collect::<Result<_>>()?;
    for chunk in gone.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let p: Vec<crate::Param<'_>> = chunk.iter().map(|i| crate::Param::Int(*i)).collect();
        conn.execute(&format!("DELETE FROM asset_identifiers WHERE asset_id IN ({marks})"), &p)?;
        conn.execute(&format!("DELETE FROM asset_relations WHERE parent_id IN ({marks})"), &p)?;
        conn.execute(&format!("DELETE FROM asset_relations WHERE child_id IN ({marks})"), &p)?;
        conn.execute(&format!("DELETE FROM assets WHERE id IN ({marks})"), &p)?;
    }
    // What refers to its findings: policy results (policies stay), comments; the issues
    // they belong to are rebuilt once they are gone (issues made only of them go,
    // multi-source issues keep their other findings).
    // Single-source issues go in one statement; what is left of its issues is then the
    // multi-source ones, found by index probes alone (asking `sources > 1` of every issue
    // first fetched 613k rows at random: 1.7 s of 12 on the reference tenant).
    conn.execute("DELETE FROM issues WHERE sources = 1 AND id IN (SELECT issue_id FROM deleted_findings)", &[])?;
    let shared: Vec<i64> = conn
        .query("SELECT id FROM issues WHERE id IN (SELECT issue_id FROM deleted_findings)", &[])?
        .into_iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    for chunk in shared.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let p: Vec<crate::Param<'_>> = chunk.iter().map(|i| crate::Param::Int(*i)).collect();
        conn.execute(&format!("DELETE FROM issues WHERE id IN ({marks})"), &p)?;
    }
    conn.execute("DELETE FROM policy_results WHERE finding_id IN (SELECT id FROM deleted_findings)", &[])?;
    conn.execute("DELETE FROM finding_comments WHERE finding_id IN (SELECT id FROM deleted_findings)", &[])?;
    for table in ["findings", "asset_sources", "raw_records", "raw_dicts"] {
        conn.execute(&format!("DELETE FROM {table} WHERE integration_id = ?"), params![id])?;
    }
    conn.execute("DROP TABLE deleted_findings", &[])?;
    conn.execute("DELETE FROM sync_seen WHERE run_id IN (SELECT id FROM sync_runs WHERE integration_id = ?)", params![id])?;
    // Its share of every day's metrics: the trends no longer count it.
    conn.execute("DELETE FROM metrics_daily WHERE integration_id = ?", params![id])?;
    conn.execute("DELETE FROM integrations WHERE id = ?", params![id])?;
    // Context without it (a deleted Cortex Cloud takes the context with it, a deleted
    // Cortex XDR its hosts' exposure), then the issues, rescored with that context.
    super::issues::follow(conn, shared, true, false)?;
    super::stats::mark_stale(conn)?;
    Ok(())
}
