//! Tributary's store: schema, migrations and queries for SQLite (the embedded default)
//! and PostgreSQL (scale-out), behind one interface.
//!
//! * [`Store`] opens a database from a URL, checks and migrates its schema, loads the
//!   master key, and hands out connections: [`Store::read`] from a pool, and
//!   [`Store::write`] in a transaction (SQLite: one writer connection; readers in WAL).
//! * [`conn`] is the connection interface both backends implement; store code is written
//!   once against `dyn Conn` with `?` placeholders.
//! * [`schema`] describes every table once; DDL for both dialects is generated from it.
//! * [`repo`] holds the queries, one module per entity; [`ingest`] the bulk write path.
//!
//! Invariant: the store knows no vendor. Connectors hand it staged records; it never
//! parses vendor JSON except to keep the raw bytes.

mod checkpoint;
pub mod conn;
pub mod error;
pub mod ingest;
pub mod keyring;
pub mod migrate;
pub mod pool;
pub mod query;
pub mod repo;
pub mod schema;
pub mod testing;
pub mod url;
pub mod value;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use conn::{Conn, Dialect};
pub use error::{Result, StoreError};
pub use keyring::KeyOrigin;
pub use migrate::MigrationReport;
pub use url::DbUrl;
pub use value::{Batch, Column, FromValue, Param, Row, Value};

use tributary_core::secret::MasterKey;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub data_dir: PathBuf,
    /// `sqlite:///…` or `postgres://…`; default: `tributary.db` in the data directory.
    pub db: Option<String>,
    /// The master key as hex (normally from `TRIBUTARY_MASTER_KEY`).
    pub master_key: Option<String>,
    /// Connections in the read pool (PostgreSQL: all connections).
    pub pool_size: usize,
    /// Refuse to open with a master key that does not match the database's (default).
    /// Off only to report on the key (`db status`): the store then says what is wrong in
    /// [`Store::key_problem`] and must not be used to read or write secrets.
    pub key_check: bool,
}

impl StoreOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        StoreOptions { data_dir: data_dir.into(), db: None, master_key: None, pool_size: 4, key_check: true }
    }
    /// Opens even when the master key does not match (see [`StoreOptions::key_check`]).
    pub fn report_key_only(mut self) -> Self {
        self.key_check = false;
        self
    }
    pub fn db(mut self, url: impl Into<String>) -> Self {
        self.db = Some(url.into());
        self
    }
    pub fn master_key(mut self, hex: impl Into<String>) -> Self {
        self.master_key = Some(hex.into());
        self
    }
}

struct Inner {
    checkpointer: Option<checkpoint::Checkpointer>,
    url: DbUrl,
    data_dir: PathBuf,
    /// SQLite's single writer connection; PostgreSQL writes through the pool.
    writer: Option<Mutex<Box<dyn Conn>>>,
    pool: pool::Pool,
    key: MasterKey,
    key_origin: KeyOrigin,
    key_problem: Option<String>,
    migration: MigrationReport,
}

/// A handle to the database; cheap to clone and share across threads.
#[derive(Clone)]
pub struct Store(Arc<Inner>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.0.url).finish_non_exhaustive()
    }
}

fn prepare_data_dir(dir: &Path) -> Result<()> {
    let err = |reason: String| StoreError::DataDir { path: dir.to_path_buf(), reason };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| err(format!("not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn connect_pg(config: &postgres::Config) -> Result<Box<dyn Conn>> {
    match config.connect(postgres::NoTls) {
        Ok(mut client) => {
            // JIT compilation pays off for long analytic queries; ours are short batches
            // whose cost estimates (stale statistics mid-load) cross `jit_above_cost`,
            // and compiling them cost a fifth of the server's CPU in a bulk load.
            client.batch_execute("SET jit = off")?;
            Ok(Box::new(conn::postgres::PgConn::new(client)))
        }
        Err(e) => {
            let reason = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => {
                    let mut s = e.to_string();
                    let mut src = std::error::Error::source(&e);
                    while let Some(inner) = src {
                        s = inner.to_string();
                        src = inner.source();
                    }
                    s
                }
            };
            Err(StoreError::Unreachable { target: DbUrl::pg_target(config), reason })
        }
    }
}

impl Store {
    /// Opens the database, migrating it to the current schema, and loads the master key.
    pub fn open(opts: &StoreOptions) -> Result<Store> {
        prepare_data_dir(&opts.data_dir)?;
        let url = match &opts.db {
            Some(u) => DbUrl::parse(u)?,
            None => DbUrl::default_for(&opts.data_dir),
        };
        let (writer, pool): (Option<Mutex<Box<dyn Conn>>>, pool::Pool) = match &url {
            DbUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    prepare_data_dir(parent)?;
                }
                let w = conn::sqlite::SqliteConn::open(path, true)?;
                let path = path.clone();
                let factory = move || -> Result<Box<dyn Conn>> { Ok(Box::new(conn::sqlite::SqliteConn::open(&path, false)?)) };
                (Some(Mutex::new(Box::new(w))), pool::Pool::new(opts.pool_size, Box::new(factory)))
            }
            DbUrl::Postgres(config, _) => {
                let config = (**config).clone();
                // Fail fast with a clear message if the server is unreachable.
                let first = connect_pg(&config)?;
                let p = pool::Pool::new(opts.pool_size.max(2), Box::new(move || connect_pg(&config)));
                drop(first);
                (None, p)
            }
        };
        let checkpointer = match &url {
            DbUrl::Sqlite(path) => Some(checkpoint::Checkpointer::spawn(path.clone())),
            DbUrl::Postgres(..) => None,
        };
        let mut partial = Inner {
            checkpointer,
            url,
            data_dir: opts.data_dir.clone(),
            writer,
            pool,
            key: MasterKey::generate(),
            key_origin: KeyOrigin::Env,
            key_problem: None,
            migration: MigrationReport { from: None, to: migrate::SCHEMA_VERSION },
        };
        let report = with_write_conn(&partial, |c| {
            let report = migrate::migrate(c)?;
            // A deferred index a crashed load left missing, unless a run is still going.
            if c.query_opt("SELECT 1 FROM sync_runs WHERE status = 'running' LIMIT 1", &[])?.is_none() {
                build_missing_indexes(c)?;
            }
            // Findings from before schema 5 get their issues (once).
            repo::issues::backfill(c)?;
            Ok(report)
        })?;
        let (key, origin, problem) = with_write_conn(&partial, |c| keyring::load(&opts.data_dir, opts.master_key.as_deref(), c))?;
        if let (true, Some(p)) = (opts.key_check, &problem) {
            return Err(StoreError::Key(p.clone()));
        }
        partial.key = key;
        partial.key_origin = origin;
        partial.key_problem = problem;
        partial.migration = report;
        Ok(Store(Arc::new(partial)))
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.0.url.backend()
    }

    pub fn url(&self) -> &DbUrl {
        &self.0.url
    }

    pub fn data_dir(&self) -> &Path {
        &self.0.data_dir
    }

    pub fn key(&self) -> &MasterKey {
        &self.0.key
    }

    /// Why the master key in use cannot open this database's secrets (only with
    /// [`StoreOptions::report_key_only`]; otherwise opening fails instead).
    pub fn key_problem(&self) -> Option<&str> {
        self.0.key_problem.as_deref()
    }

    pub fn key_origin(&self) -> &KeyOrigin {
        &self.0.key_origin
    }

    /// What opening did to the schema.
    pub fn migration(&self) -> MigrationReport {
        self.0.migration
    }

    /// Runs read-only work on a pooled connection (blocking; call from a blocking thread).
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut c = self.0.pool.get()?;
        f(&mut *c)
    }

    /// Runs `f` in a write transaction: committed on `Ok`, rolled back on `Err`.
    pub fn write<T>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        with_write_conn(&self.0, |c| c.transaction(f))
    }

    /// The write connection without an implicit transaction (for callers that batch
    /// several transactions, like the ingest writer).
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        with_write_conn(&self.0, f)
    }

    /// SQLite: copies the whole WAL into the database and truncates it, now (the
    /// background checkpointer does this lazily). PostgreSQL: nothing to do.
    /// Drops the indexes a bulk load builds better at its end ([`schema::DEFERRABLE`]).
    pub fn defer_indexes(&self) -> Result<()> {
        self.write(|c| {
            for (_, i) in schema::DEFERRABLE {
                c.batch_execute(&schema::drop_index_sql(i))?;
            }
            Ok(())
        })
    }

    /// Builds any deferred index that is missing (at the end of every run, and on open
    /// when no run is going: a crash mid-load leaves none missing for long).
    pub fn ensure_indexes(&self) -> Result<()> {
        self.write(build_missing_indexes)
    }

    /// Refreshes the query planner's statistics (SQLite `ANALYZE`, under a second at 2.6 M
    /// findings; PostgreSQL `ANALYZE` of the big tables, which samples).
    pub fn analyze(&self) -> Result<()> {
        self.write(|c| match c.dialect() {
            Dialect::Sqlite => c.batch_execute("ANALYZE"),
            Dialect::Postgres => c.batch_execute("ANALYZE findings, assets, asset_sources, asset_identifiers"),
        })
    }

    /// Waits while the background checkpointer holds the checkpoint lock (it answers
    /// "busy" rather than queueing).
    pub fn checkpoint(&self) -> Result<()> {
        if self.0.writer.is_none() {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            let mut busy = 0i64;
            with_write_conn(&self.0, |c| {
                c.query_each("PRAGMA wal_checkpoint(TRUNCATE)", &[], &mut |r| {
                    busy = r.get(0)?;
                    Ok(())
                })
            })?;
            if busy == 0 || std::time::Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(c) = self.checkpointer.take() {
            c.stop();
        }
        if let Some(w) = &self.writer {
            let mut guard = w.lock().unwrap_or_else(|p| p.into_inner());
            // Leave a small WAL behind; failure here only means a bigger WAL next time.
            let _ = guard.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }
    }
}

fn with_write_conn<T>(inner: &Inner, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
    match &inner.writer {
        Some(w) => {
            let mut guard = w.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut **guard)
        }
        None => {
            let mut c = inner.pool.get()?;
            f(&mut *c)
        }
    }
}

/// Builds the deferred indexes that are missing. Existence is read from the catalog first:
/// on PostgreSQL even `CREATE INDEX IF NOT EXISTS` would wait for running writes.
fn build_missing_indexes(c: &mut dyn Conn) -> Result<()> {
    for (t, i) in schema::DEFERRABLE {
        let exists = match c.dialect() {
            Dialect::Sqlite => c.query_opt("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", params![i.name])?,
            Dialect::Postgres => {
                c.query_opt("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?", params![i.name])?
            }
        };
        if exists.is_none() {
            c.batch_execute(&schema::create_index_sql(t, i))?;
        }
    }
    Ok(())
}
