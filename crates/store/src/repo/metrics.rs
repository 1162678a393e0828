//! Daily metrics for trends: [`snapshot`] records today's state (one GROUP BY over the
//! findings, replacing today's rows) — after a run when today has none or the last is
//! an hour old ([`snapshot_due`]: the scan costs ~2 s at 2.6 M findings, too much for
//! every run), or when asked; [`trend`] sums the days back.
//! Rows are per integration, so deleting one removes its share of every day: the trends
//! are recomputed without it by construction.

use std::collections::BTreeMap;

use tributary_core::model::Severity;
use tributary_core::time::{Millis, now_ms};

use crate::conn::Conn;
use crate::error::Result;
use crate::params;
use crate::value::{Batch, Column};

const DAY_MS: i64 = 86_400_000;

/// `YYYY-MM-DD` (UTC) of a time.
pub fn day_of(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// How old today's snapshot may get before a run takes a new one.
pub const SNAPSHOT_EVERY_MS: i64 = 3_600_000;

/// Whether a run ending at `now` should take today's snapshot.
pub fn snapshot_due(conn: &mut dyn Conn, now: Millis) -> Result<bool> {
    let last: Option<i64> = conn.scalar("SELECT MAX(taken_at) FROM metrics_daily WHERE day = ?", params![day_of(now).as_str()])?;
    Ok(last.is_none_or(|t| now - t >= SNAPSHOT_EVERY_MS))
}

/// Replaces today's snapshot with the findings as they are now. Returns the rows written.
pub fn snapshot(conn: &mut dyn Conn, now: Millis) -> Result<usize> {
    let day = day_of(now);
    let start = now - now.rem_euclid(DAY_MS);
    let rows = conn.query(
        "SELECT integration_id, product, severity, status, COUNT(*), \
         SUM(CASE WHEN first_seen >= ? THEN 1 ELSE 0 END), \
         SUM(CASE WHEN closed_at >= ? THEN 1 ELSE 0 END), \
         CAST(SUM(CASE WHEN closed_at >= ? THEN closed_at - first_seen ELSE 0 END) AS BIGINT) \
         FROM findings GROUP BY integration_id, product, severity, status",
        params![start, start, start],
    )?;
    conn.execute("DELETE FROM metrics_daily WHERE day = ?", params![day.as_str()])?;
    if rows.is_empty() {
        return Ok(0);
    }
    let n = rows.len();
    let mut ints: [Vec<Option<i64>>; 7] = Default::default();
    let (mut product, mut status) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for mut r in rows {
        ints[0].push(Some(r.get(0)?));
        product.push(Some(r.take::<String>(1)?));
        ints[1].push(Some(r.get(2)?));
        status.push(Some(r.take::<String>(3)?));
        ints[2].push(Some(r.get(4)?));
        ints[3].push(Some(r.get::<Option<i64>>(5)?.unwrap_or(0)));
        ints[4].push(Some(r.get::<Option<i64>>(6)?.unwrap_or(0)));
        ints[5].push(Some(r.get::<Option<i64>>(7)?.unwrap_or(0).max(0)));
        ints[6].push(Some(now));
    }
    let [integration, severity, count, new, fixed, remediation, taken] = ints;
    let batch = Batch::new()
        .col("day", Column::Text(vec![Some(day); n]))
        .col("integration_id", Column::Int(integration))
        .col("product", Column::Text(product))
        .col("severity", Column::Int(severity))
        .col("status", Column::Text(status))
        .col("n", Column::Int(count))
        .col("new", Column::Int(new))
        .col("fixed", Column::Int(fixed))
        .col("remediation_ms", Column::Int(remediation))
        .col("taken_at", Column::Int(taken));
    conn.insert_batch("metrics_daily", &batch)?;
    Ok(n)
}

/// One day of the trend.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct DayMetrics {
    pub day: String,
    /// Open findings by severity.
    pub open_by_severity: BTreeMap<String, i64>,
    /// Open findings by source (product).
    pub open_by_source: BTreeMap<String, i64>,
    /// All findings by status.
    pub by_status: BTreeMap<String, i64>,
    /// First seen that day.
    pub new: i64,
    /// Closed that day.
    pub fixed: i64,
    /// Mean time from first seen to fixed of the findings fixed that day, in days.
    pub mttr_days: Option<f64>,
}

/// The last `days` days that have a snapshot, oldest first.
pub fn trend(conn: &mut dyn Conn, days: i64) -> Result<Vec<DayMetrics>> {
    let since = day_of(now_ms() - (days - 1).max(0) * DAY_MS);
    let mut out: BTreeMap<String, (DayMetrics, i64)> = BTreeMap::new();
    for mut r in conn.query(
        "SELECT day, product, severity, status, CAST(SUM(n) AS BIGINT), CAST(SUM(new) AS BIGINT), CAST(SUM(fixed) AS BIGINT), \
         CAST(SUM(remediation_ms) AS BIGINT) FROM metrics_daily \
         WHERE day >= ? GROUP BY day, product, severity, status",
        params![since.as_str()],
    )? {
        let day: String = r.take(0)?;
        let (m, remediation) = out.entry(day.clone()).or_insert_with(|| (DayMetrics { day, ..Default::default() }, 0));
        let product: String = r.take(1)?;
        let severity = Severity::from_ocsf_id(r.get(2)?).unwrap_or(Severity::Info).to_string();
        let status: String = r.take(3)?;
        let n = num(&r, 4)?;
        if status == "open" {
            *m.open_by_severity.entry(severity).or_default() += n;
            *m.open_by_source.entry(product).or_default() += n;
        }
        *m.by_status.entry(status).or_default() += n;
        m.new += num(&r, 5)?;
        m.fixed += num(&r, 6)?;
        *remediation += num(&r, 7)?;
    }
    Ok(out
        .into_values()
        .map(|(mut m, remediation)| {
            m.mttr_days = (m.fixed > 0).then(|| (remediation as f64 / m.fixed as f64 / DAY_MS as f64 * 10.0).round() / 10.0);
            m
        })
        .collect())
}

/// A SUM column (cast to BIGINT: PostgreSQL sums BIGINT as NUMERIC), 0 when NULL.
fn num(r: &crate::value::Row, i: usize) -> Result<i64> {
    Ok(r.get::<Option<i64>>(i)?.unwrap_or(0))
}
