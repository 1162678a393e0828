//! One connection interface over both databases.
//!
//! Store code writes SQL once, with `?` placeholders, in the subset both SQLite and
//! PostgreSQL speak (`ON CONFLICT`, `RETURNING`, `COALESCE`, integers for times and
//! booleans, text for JSON). The PostgreSQL backend rewrites placeholders to `$n`.
//! Bulk writes go through [`Conn::insert_batch`] / [`Conn::update_batch`], which each
//! backend implements its fastest way (prepared single-row statements on SQLite's
//! writer thread; binary `COPY` and `UPDATE … FROM UNNEST` on PostgreSQL).

pub mod postgres;
pub mod sqlite;

use crate::error::{Result, StoreError};
use crate::value::{Batch, FromValue, Param, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// A database connection. Object-safe so store code is written once against `dyn Conn`.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;
    /// Streams result rows to `f` without collecting them.
    fn query_each(&mut self, sql: &str, params: &[Param<'_>], f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()>;
    /// Runs several `;`-separated statements without parameters (DDL).
    fn batch_execute(&mut self, sql: &str) -> Result<()>;
    /// Inserts every row of `batch` into `table`.
    fn insert_batch(&mut self, table: &str, batch: &Batch) -> Result<u64>;
    /// Updates rows of `table` matched by the batch's first column (the key) with the
    /// batch's other columns.
    fn update_batch(&mut self, table: &str, batch: &Batch) -> Result<u64>;
    /// Like [`insert_batch`](Conn::insert_batch) but rows that collide with an existing
    /// unique key are skipped.
    fn insert_batch_ignore(&mut self, table: &str, batch: &Batch) -> Result<u64>;
    /// Rows of `table` whose key columns (the batch's columns, by name) equal one of the
    /// batch's key tuples. `select` lists the columns returned; include the key columns
    /// to map rows back.
    fn select_by_keys(&mut self, table: &str, select: &[&str], keys: &Batch) -> Result<Vec<Row>>;
    /// Reserves `n` fresh values of `table.id` for rows the caller inserts with explicit ids.
    fn reserve_ids(&mut self, table: &str, n: usize) -> Result<Vec<i64>>;
    /// The connection can no longer be used (server went away).
    fn is_broken(&self) -> bool {
        false
    }
    /// The dialect's statement that starts a write transaction.
    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }
}

impl dyn Conn + '_ {
    pub fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    pub fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or_else(|| StoreError::Decode(format!("expected a row from: {sql}")))
    }

    /// First column of the first row.
    pub fn scalar<T: FromValue>(&mut self, sql: &str, params: &[Param<'_>]) -> Result<T> {
        self.query_one(sql, params)?.take(0)
    }

    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let begin = self.begin_sql();
        self.batch_execute(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch_execute("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // The original error matters more than a failed rollback (e.g. broken link).
                let _ = self.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// Work that several writers must not do at once on PostgreSQL (SQLite has one writer
/// connection, so there it is already one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Schema upgrades (several nodes starting together).
    Migration = 7470101,
    /// Rebuilding context, links and issues by delete-and-insert (two runs ending
    /// together, two nodes).
    Derivation = 7470102,
    /// Rebuilding the maintained finding counts (a page and a background pass).
    FindingStats = 7470103,
}

/// Waits until no other transaction holds `turn`, and holds it until this transaction
/// ends (a PostgreSQL transaction-scoped advisory lock; nothing on SQLite).
pub fn take_turn(conn: &mut dyn Conn, turn: Turn) -> Result<()> {
    if conn.dialect() == Dialect::Postgres {
        conn.execute("SELECT pg_advisory_xact_lock(?)", &[Param::Int(turn as i64)])?;
    }
    Ok(())
}

/// `?,?,?` with `n` placeholders.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 2);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('?');
    }
    s
}

/// Rounds an `IN (…)` list length up to a bucket so prepared-statement caches stay small;
/// callers pad with a repeat of a real value.
pub fn in_bucket(n: usize) -> usize {
    match n {
        0..=8 => 8,
        9..=32 => 32,
        33..=128 => 128,
        129..=512 => 512,
        _ => n.next_multiple_of(512),
    }
}
