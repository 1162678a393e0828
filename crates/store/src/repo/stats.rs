//! Finding counts by integration, product, kind, severity and status: a maintained
//! aggregate (`finding_stats`). Whatever changes an integration's findings (the end of a
//! run, a failed run's committed pages, a project unmapped) marks it stale in the same
//! transaction ([`mark_stale`]); [`refresh`] rebuilds the stale ones when counts are next
//! read — a second or two at two million findings, paid once per sync and not on the
//! sync's own path. Until then counts read the findings themselves, so they are never
//! wrong. Dashboards read a few hundred rows instead of counting millions.

use serde::Serialize;

use crate::conn::Conn;
use crate::error::Result;
use crate::params;

/// Rebuilds every integration's counts (the schema upgrade that adds the table).
pub const REBUILD_ALL: &str = "INSERT INTO finding_stats (integration_id, product, kind, severity, status, n) \
     SELECT integration_id, product, kind, severity, status, COUNT(*) FROM findings GROUP BY integration_id, product, kind, severity, status";

/// Rebuilds one integration's counts.
pub fn rebuild(conn: &mut dyn Conn, integration_id: i64) -> Result<()> {
    conn.execute("DELETE FROM finding_stats WHERE integration_id = ?", params![integration_id])?;
    conn.execute(
        "INSERT INTO finding_stats (integration_id, product, kind, severity, status, n) \
         SELECT integration_id, product, kind, severity, status, COUNT(*) FROM findings WHERE integration_id = ? \
         GROUP BY integration_id, product, kind, severity, status",
        params![integration_id],
    )?;
    Ok(())
}

/// Marks an integration's counts out of date (in the caller's transaction).
pub fn mark_stale(conn: &mut dyn Conn, integration_id: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO finding_stats_stale (integration_id, version) VALUES (?, 1)          ON CONFLICT (integration_id) DO UPDATE SET version = finding_stats_stale.version + 1",
        params![integration_id],
    )?;
    Ok(())
}

/// Whether any counts are out of date.
pub fn any_stale(conn: &mut dyn Conn) -> Result<bool> {
    Ok(conn.query_opt("SELECT 1 FROM finding_stats_stale LIMIT 1", &[])?.is_some())
}

/// Rebuilds the stale counts; returns how many integrations it rebuilt. A mark set again
/// while this ran (a newer version) stays for the next refresh.
pub fn refresh(conn: &mut dyn Conn) -> Result<usize> {
    let stale: Vec<(i64, i64)> = conn
        .query("SELECT integration_id, version FROM finding_stats_stale ORDER BY integration_id", &[])?
        .into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    for (id, version) in &stale {
        rebuild(conn, *id)?;
        conn.execute("DELETE FROM finding_stats_stale WHERE integration_id = ? AND version = ?", params![*id, *version])?;
    }
    Ok(stale.len())
}

/// One count: what it groups by and how many.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Bucket {
    pub key: String,
    pub count: i64,
}

/// Counts of findings as a dashboard shows them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub open: i64,
    /// Open findings by severity, most severe first.
    pub by_severity: Vec<Bucket>,
    /// Open findings by the tool that reported them.
    pub by_source: Vec<Bucket>,
    /// Open findings by kind.
    pub by_kind: Vec<Bucket>,
    /// All findings by the vendor's status.
    pub by_status: Vec<Bucket>,
}

fn buckets(conn: &mut dyn Conn, sql: &str) -> Result<Vec<Bucket>> {
    conn.query(sql, &[])?
        .into_iter()
        .map(|mut r| {
            let key = match r.0.first() {
                Some(crate::value::Value::Int(n)) => {
                    tributary_core::model::Severity::from_ocsf_id(*n).map(|s| s.as_str().to_string()).unwrap_or_default()
                }
                _ => r.take::<String>(0)?,
            };
            Ok(Bucket { key, count: r.get(1)? })
        })
        .collect()
}

pub fn summary(conn: &mut dyn Conn) -> Result<Summary> {
    Ok(Summary {
        open: conn.scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM finding_stats WHERE status = 'open'", &[])?,
        by_severity: buckets(
            conn,
            "SELECT severity, CAST(SUM(n) AS BIGINT) FROM finding_stats WHERE status = 'open' GROUP BY severity ORDER BY severity DESC",
        )?,
        by_source: buckets(
            conn,
            "SELECT product, CAST(SUM(n) AS BIGINT) FROM finding_stats WHERE status = 'open' GROUP BY product ORDER BY SUM(n) DESC, product",
        )?,
        by_kind: buckets(conn, "SELECT kind, CAST(SUM(n) AS BIGINT) FROM finding_stats WHERE status = 'open' GROUP BY kind ORDER BY kind")?,
        by_status: buckets(conn, "SELECT status, CAST(SUM(n) AS BIGINT) FROM finding_stats GROUP BY status ORDER BY status")?,
    })
}
