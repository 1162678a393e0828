//! Finding counts by product, kind, severity and status: a maintained aggregate
//! (`finding_stats`). Whatever changes findings (the end of a run, a failed run's
//! committed pages, a project unmapped, an integration deleted) marks the counts stale in
//! the same transaction ([`mark_stale`]); [`refresh`] rebuilds them when counts are next
//! read — an index-only scan of `findings_product_status`, off the sync's own path. Until
//! then counts read the findings themselves, so they are never wrong. Dashboards read a
//! few hundred rows instead of counting millions.

use serde::Serialize;

use crate::conn::Conn;
use crate::error::Result;
use crate::params;

/// Rebuilds the counts from the findings (also the schema upgrade that adds the table).
pub const REBUILD_ALL: &str = "INSERT INTO finding_stats (product, kind, severity, status, n) \
     SELECT product, kind, severity, status, COUNT(*) FROM findings GROUP BY product, kind, severity, status";

/// Marks the counts out of date (in the caller's transaction).
pub fn mark_stale(conn: &mut dyn Conn) -> Result<()> {
    conn.execute(
        "INSERT INTO finding_stats_stale (id, version) VALUES (1, 1) \
         ON CONFLICT (id) DO UPDATE SET version = finding_stats_stale.version + 1",
        &[],
    )?;
    Ok(())
}

/// Whether the counts are out of date.
pub fn any_stale(conn: &mut dyn Conn) -> Result<bool> {
    Ok(conn.query_opt("SELECT 1 FROM finding_stats_stale LIMIT 1", &[])?.is_some())
}

/// Rebuilds stale counts; whether it did. A mark set again while this ran (a newer
/// version) stays for the next refresh.
///
/// Two readers may ask at once (a page and the dashboard's background pass): they take
/// turns, so the second finds the mark gone and rebuilds nothing — at once, on
/// PostgreSQL, the second's inserts hit the first's rows (a duplicate key, a failed page).
pub fn refresh(conn: &mut dyn Conn) -> Result<bool> {
    crate::conn::take_turn(conn, crate::conn::Turn::FindingStats)?;
    let Some(r) = conn.query_opt("SELECT version FROM finding_stats_stale WHERE id = 1", &[])? else {
        return Ok(false);
    };
    let version: i64 = r.get(0)?;
    conn.execute("DELETE FROM finding_stats", &[])?;
    conn.execute(REBUILD_ALL, &[])?;
    conn.execute("DELETE FROM finding_stats_stale WHERE id = 1 AND version = ?", params![version])?;
    Ok(true)
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
