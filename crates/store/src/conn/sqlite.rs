//! SQLite backend (rusqlite, bundled SQLite): WAL, one writer, prepared-statement cache.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::{Conn, Dialect, placeholders};
use crate::error::{Result, StoreError};
use crate::value::{Batch, Column, Param, Row, Value};

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(i),
            Param::Real(r) => ValueRef::Real(r),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

pub struct SqliteConn {
    conn: Connection,
}

/// Page-cache budget per connection, in KiB (negative = KiB for `cache_size`).
const WRITER_CACHE_KIB: i64 = 64 * 1024;
const READER_CACHE_KIB: i64 = 16 * 1024;
/// Size the writer truncates the WAL back to when it restarts it. Well below the
/// checkpointer's threshold, so the file's length keeps tracking how much it holds (the
/// checkpointer reads it as "time to checkpoint").
pub const WAL_KEEP_BYTES: i64 = 64 * 1024 * 1024;

impl SqliteConn {
    pub fn open(path: &Path, writer: bool) -> Result<SqliteConn> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let created = !path.exists();
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::SqliteOpen { path: path.to_path_buf(), reason: e.to_string() })?;
        // The database holds findings and sealed secrets: only its owner reads it (SQLite
        // gives its WAL and shared-memory files the database file's mode).
        #[cfg(unix)]
        if created && path.exists() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::SqliteOpen { path: path.to_path_buf(), reason: format!("cannot make it private: {e}") })?;
        }
        let cache = if writer { WRITER_CACHE_KIB } else { READER_CACHE_KIB };
        // The writer never checkpoints: a checkpoint (copy + fsync) inside a commit halves
        // bulk-insert throughput. The store's checkpointer thread does it on the other core.
        let checkpoint = if writer { 0 } else { 1000 };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
             PRAGMA busy_timeout=10000; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-{cache}; \
             PRAGMA wal_autocheckpoint={checkpoint}; PRAGMA journal_size_limit={WAL_KEEP_BYTES};"
        ))
        .map_err(|e| StoreError::SqliteOpen { path: path.to_path_buf(), reason: e.to_string() })?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteConn { conn })
    }

    pub fn raw(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Binds and runs one statement per row of a batch. SQLite keeps a parameter's value
/// across executions, so a column that holds one value for the whole batch (integration,
/// kind, timestamps, status: most of them in a bulk write) is bound once, at row 0; only
/// the others are bound per row. Binding every column of every row was a fifth of the
/// writer's time in a first load.
struct RowBinder<'b> {
    /// Columns in parameter order.
    cols: Vec<&'b Column>,
    /// Indexes into `cols` of the columns that vary within the batch.
    varying: Vec<usize>,
}

impl<'b> RowBinder<'b> {
    fn new(cols: Vec<&'b Column>) -> Self {
        let varying = (0..cols.len()).filter(|&i| !cols[i].is_constant()).collect();
        RowBinder { cols, varying }
    }

    fn bind(&self, st: &mut rusqlite::Statement<'_>, row: usize) -> rusqlite::Result<()> {
        if row == 0 {
            for (i, col) in self.cols.iter().enumerate() {
                st.raw_bind_parameter(i + 1, col.param(0))?;
            }
        } else {
            for &i in &self.varying {
                st.raw_bind_parameter(i + 1, self.cols[i].param(row))?;
            }
        }
        Ok(())
    }

    fn execute(&self, st: &mut rusqlite::Statement<'_>, row: usize) -> rusqlite::Result<usize> {
        self.bind(st, row)?;
        st.raw_execute()
    }
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn begin_sql(&self) -> &'static str {
        // Take the write lock up front: a deferred transaction that later writes can fail
        // with SQLITE_BUSY instead of waiting.
        "BEGIN IMMEDIATE"
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let mut st = self.conn.prepare_cached(sql)?;
        Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query_each(&mut self, sql: &str, params: &[Param<'_>], f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
        let mut st = self.conn.prepare_cached(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(value(r.get_ref(i)?));
            }
            f(Row(vals))?;
        }
        Ok(())
    }

    fn batch_execute(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn insert_batch(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let sql = format!("INSERT INTO {table} ({}) VALUES ({})", batch.names.join(","), placeholders(batch.names.len()));
        let mut st = self.conn.prepare_cached(&sql)?;
        let binder = RowBinder::new(batch.columns.iter().collect());
        for row in 0..batch.len() {
            binder.execute(&mut st, row)?;
        }
        Ok(batch.len() as u64)
    }

    fn update_batch(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let sets: Vec<String> = batch.names[1..].iter().map(|n| format!("{n}=?")).collect();
        let sql = format!("UPDATE {table} SET {} WHERE {}=?", sets.join(","), batch.names[0]);
        let mut st = self.conn.prepare_cached(&sql)?;
        let binder = RowBinder::new(batch.columns[1..].iter().chain(&batch.columns[..1]).collect());
        let mut changed = 0;
        for row in 0..batch.len() {
            changed += binder.execute(&mut st, row)? as u64;
        }
        Ok(changed)
    }

    fn insert_batch_ignore(&mut self, table: &str, batch: &Batch) -> Result<u64> {
        batch.check()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let sql = format!("INSERT OR IGNORE INTO {table} ({}) VALUES ({})", batch.names.join(","), placeholders(batch.names.len()));
        let mut st = self.conn.prepare_cached(&sql)?;
        let binder = RowBinder::new(batch.columns.iter().collect());
        let mut n = 0;
        for row in 0..batch.len() {
            n += binder.execute(&mut st, row)? as u64;
        }
        Ok(n)
    }

    fn select_by_keys(&mut self, table: &str, select: &[&str], keys: &Batch) -> Result<Vec<Row>> {
        keys.check()?;
        let mut out = Vec::new();
        if keys.is_empty() {
            return Ok(out);
        }
        // In-process point lookups through a cached statement: no round trips to save.
        let cond: Vec<String> = keys.names.iter().map(|n| format!("{n}=?")).collect();
        let sql = format!("SELECT {} FROM {table} WHERE {}", select.join(","), cond.join(" AND "));
        let mut st = self.conn.prepare_cached(&sql)?;
        let width = select.len();
        let binder = RowBinder::new(keys.columns.iter().collect());
        for row in 0..keys.len() {
            binder.bind(&mut st, row)?;
            let mut rows = st.raw_query();
            while let Some(r) = rows.next()? {
                let mut vals = Vec::with_capacity(width);
                for i in 0..width {
                    vals.push(value(r.get_ref(i)?));
                }
                out.push(Row(vals));
            }
        }
        Ok(out)
    }

    fn reserve_ids(&mut self, table: &str, n: usize) -> Result<Vec<i64>> {
        // One writer at a time (the caller holds the write transaction), so MAX(id)+1… is ours.
        let max: i64 = self.conn.query_row(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), [], |r| r.get(0))?;
        Ok((max + 1..=max + n as i64).collect())
    }
}
