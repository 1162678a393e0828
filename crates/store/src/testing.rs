//! Test support: a fresh database on either backend, and [`backend_tests!`] to run the
//! same test body against SQLite and PostgreSQL.
//!
//! PostgreSQL tests use `TRIBUTARY_TEST_PG` (a server URL; `scripts/test.sh` starts one)
//! and a private schema per test, dropped afterwards. If it is unset the PostgreSQL
//! tests fail with instructions: a backend is never skipped silently.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Store, StoreOptions};

pub const PG_ENV: &str = "TRIBUTARY_TEST_PG";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", p.display()));
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test.
pub struct TestDb {
    pub backend: Backend,
    pub dir: TempDir,
    /// The `--db` URL (for tests that run the CLI against the same database).
    pub url: String,
    schema: Option<(String, String)>,
}

/// The PostgreSQL server URL for tests, or a panic that says how to get one.
pub fn pg_url() -> String {
    match std::env::var(PG_ENV) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => panic!(
            "{PG_ENV} is not set: PostgreSQL tests need a server. Run ./scripts/test.sh (it starts a throwaway \
             cluster), or set {PG_ENV}=postgres://user@127.0.0.1:PORT/db"
        ),
    }
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let dir = TempDir::new("tributary_test");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb { backend, dir, url, schema: None }
            }
            Backend::Postgres => {
                let base = pg_url();
                let schema = unique("t");
                let mut admin =
                    postgres::Client::connect(&base, postgres::NoTls).unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}={base}: {e}"));
                admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap_or_else(|e| panic!("create schema: {e}"));
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                TestDb { backend, dir, url, schema: Some((base, schema)) }
            }
        }
    }

    pub fn sqlite() -> TestDb {
        Self::new(Backend::Sqlite)
    }

    pub fn postgres() -> TestDb {
        Self::new(Backend::Postgres)
    }

    pub fn options(&self) -> StoreOptions {
        StoreOptions::new(self.dir.path().join("data")).db(self.url.clone())
    }

    /// Opens (and migrates) the store.
    pub fn open(&self) -> Store {
        Store::open(&self.options()).unwrap_or_else(|e| panic!("open {:?} store: {e}", self.backend))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut admin) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Runs each test body once per backend, in modules `sqlite` and `postgres` (an
/// illustration, not a doctest: the expansion holds `#[test]` functions):
///
/// ```text
/// tributary_store::backend_tests! {
///     fn stores_things(db) { let store = db.open(); /* … */ }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* fn $name:ident($db:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[test] fn $name() { let $db = $crate::testing::TestDb::sqlite(); $body } )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[test] fn $name() { let $db = $crate::testing::TestDb::postgres(); $body } )*
        }
    };
}
