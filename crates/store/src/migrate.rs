//! Schema versions and migrations.
//!
//! A fresh database gets the current schema ([`crate::schema`]) in one transaction and
//! is stamped with [`SCHEMA_VERSION`]. An older database runs the upgrade steps in
//! [`UPGRADES`] from its version onward. A database stamped with a *newer* version is
//! refused: an old binary must never write to a schema it does not understand.

use crate::conn::{Conn, Dialect};
use crate::error::{Result, StoreError};
use crate::{params, schema};
use tributary_core::identify;
use tributary_core::time::now_ms;

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = 7;

/// Upgrade steps: `(version, name, DDL for a dialect)`. Step N upgrades N-1 → N.
type Upgrade = (i64, &'static str, fn(Dialect) -> Vec<String>);
pub const UPGRADES: &[Upgrade] = &[
    (2, "raw record dictionaries; initial runs", |d| {
        vec![
            schema::create_table_sql(&schema::RAW_DICTS, d),
            format!("ALTER TABLE raw_records ADD COLUMN {}", schema::column_sql(&schema::RAW_DICT_ID, d)),
            format!("ALTER TABLE sync_runs ADD COLUMN {}", schema::column_sql(&schema::SYNC_RUN_INITIAL, d)),
        ]
    }),
    (3, "run notes; findings by repository", |d| {
        vec![
            format!("ALTER TABLE sync_runs ADD COLUMN {}", schema::column_sql(&schema::SYNC_RUN_NOTES, d)),
            schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_REPO),
        ]
    }),
    (4, "triage, comments, standing triage rules; token revocation", |d| {
        let mut v: Vec<String> = [
            schema::FINDING_TRIAGE,
            schema::FINDING_TRIAGE_REASON,
            schema::FINDING_TRIAGE_UNTIL,
            schema::FINDING_ASSIGNEE,
            schema::FINDING_TRIAGED_AT,
        ]
        .iter()
        .map(|c| format!("ALTER TABLE findings ADD COLUMN {}", schema::column_sql(c, d)))
        .collect();
        v.push(format!("ALTER TABLE api_tokens ADD COLUMN {}", schema::column_sql(&schema::API_TOKEN_REVOKED_AT, d)));
        v.extend(schema::table_ddl(&schema::FINDING_COMMENTS, d));
        v.extend(schema::table_ddl(&schema::TRIAGE_RULES, d));
        v.extend(schema::table_ddl(&schema::FINDING_STATS, d));
        v.extend(schema::table_ddl(&schema::FINDING_STATS_STALE, d));
        v.extend(schema::table_ddl(&schema::INTEL_EPSS, d));
        v.extend(schema::table_ddl(&schema::INTEL_KEV, d));
        v.push("DROP INDEX findings_product_status".to_string());
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_PRODUCT_STATUS));
        v.push(crate::repo::stats::REBUILD_ALL.to_string());
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_OPEN_SEVERITY));
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_CVE));
        v.push(schema::create_index_sql(&schema::ASSETS, &schema::ASSETS_NAME_LOWER));
        v
    }),
    (5, "issues (correlation, risk), repository context, asset criticality, policies, daily metrics", |d| {
        let mut v: Vec<String> = [schema::FINDING_CWE_TOP25, schema::FINDING_REACH, schema::FINDING_FIX, schema::FINDING_VECTOR]
            .iter()
            .map(|c| format!("ALTER TABLE findings ADD COLUMN {}", schema::column_sql(c, d)))
            .collect();
        v.push(format!("ALTER TABLE assets ADD COLUMN {}", schema::column_sql(&schema::ASSET_CRITICALITY, d)));
        // The version-1 issues table was never written.
        v.push("DROP TABLE issues".to_string());
        v.extend(schema::table_ddl(&schema::ISSUES, d));
        v.extend(schema::table_ddl(&schema::REPO_CONTEXT, d));
        v.extend(schema::table_ddl(&schema::POLICIES, d));
        v.extend(schema::table_ddl(&schema::POLICY_RESULTS, d));
        v.extend(schema::table_ddl(&schema::METRICS_DAILY, d));
        v.extend(schema::table_ddl(&schema::HOST_CONTEXT, d));
        v.extend(schema::table_ddl(&schema::ISSUE_LINKS, d));
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_ISSUE));
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_UPDATED));
        // Existing findings get their issue ids and traits from Rust (`repo::issues::backfill`)
        // the next time the store opens.
        v.push(format!("INSERT INTO meta (key, value) VALUES ('{}', '1')", crate::repo::issues::BACKFILL_KEY));
        v
    }),
    (6, "webhooks, their deliveries, issues notified; audit events by target", |d| {
        let mut v = schema::table_ddl(&schema::WEBHOOKS, d);
        v.extend(schema::table_ddl(&schema::WEBHOOK_DELIVERIES, d));
        v.extend(schema::table_ddl(&schema::NOTIFIED_ISSUES, d));
        v.push(schema::create_index_sql(&schema::AUDIT_EVENTS, &schema::AUDIT_EVENTS_TARGET));
        v
    }),
    (7, "issue ids grouped by anchor asset; partial indexes on findings' CVE and repository", |_| {
        let mut v = vec![schema::drop_index_sql(&schema::FINDINGS_CVE), schema::drop_index_sql(&schema::FINDINGS_REPO)];
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_CVE));
        v.push(schema::create_index_sql(&schema::FINDINGS, &schema::FINDINGS_REPO));
        // Every finding's issue id takes the new shape (`Correlation::issue_id`) the next
        // time the store opens (`repo::issues::backfill`); from 4 the schema-5 step already
        // asked for it.
        v.push(format!("INSERT INTO meta (key, value) VALUES ('{}', '1') ON CONFLICT (key) DO NOTHING", crate::repo::issues::BACKFILL_KEY));
        v
    }),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationReport {
    pub from: Option<i64>,
    pub to: i64,
}

fn meta_exists(conn: &mut dyn Conn) -> Result<bool> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        Dialect::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'",
    };
    Ok(conn.scalar::<i64>(sql, &[])? > 0)
}

/// The database's schema version, or `None` for an empty database.
pub fn version(conn: &mut dyn Conn) -> Result<Option<i64>> {
    if !meta_exists(conn)? {
        return Ok(None);
    }
    let v: Option<String> =
        conn.query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?.map(|mut r| r.take(0)).transpose()?;
    v.map(|s| s.parse::<i64>().map_err(|_| StoreError::Decode(format!("schema_version '{s}' is not a number")))).transpose()
}

/// Refuses schemas newer than this binary.
pub fn check(conn: &mut dyn Conn) -> Result<Option<i64>> {
    let v = version(conn)?;
    if let Some(db) = v
        && db > SCHEMA_VERSION
    {
        return Err(StoreError::SchemaTooNew { db, supported: SCHEMA_VERSION });
    }
    Ok(v)
}

/// Brings the database to [`SCHEMA_VERSION`]. Safe to run concurrently from several
/// nodes: PostgreSQL takes an advisory lock, SQLite an immediate write transaction.
pub fn migrate(conn: &mut dyn Conn) -> Result<MigrationReport> {
    conn.transaction(|tx| {
        crate::conn::take_turn(tx, crate::conn::Turn::Migration)?;
        let from = check(tx)?;
        match from {
            None => {
                for stmt in schema::ddl(tx.dialect()) {
                    tx.batch_execute(&stmt)?;
                }
                for r in identify::default_rules() {
                    tx.execute(
                        "INSERT INTO identification_rules (asset_kind, identifier, precedence) VALUES (?, ?, ?)",
                        params![r.asset_kind.as_str(), r.identifier.as_str(), r.precedence],
                    )?;
                }
                tx.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", params![now_ms().to_string().as_str()])?;
            }
            Some(v) => {
                for (version, _name, steps) in UPGRADES.iter().filter(|(n, _, _)| *n > v) {
                    for stmt in steps(tx.dialect()) {
                        tx.batch_execute(&stmt)?;
                    }
                    tracing::info!(message = "Applied schema upgrade.", version);
                }
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string().as_str()],
        )?;
        Ok(MigrationReport { from, to: SCHEMA_VERSION })
    })
}
