//! Database status and migration: the use cases that run before an [`crate::App`] exists.

use serde::Serialize;
use tributary_store::{Store, StoreOptions};

use crate::Result;

/// How the store was opened.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Opened {
    pub database: String,
    /// The schema version found (none: a new database).
    pub from: Option<i64>,
    pub to: i64,
    /// Where the master key came from.
    pub key: String,
}

/// `db status`: the database, its schema, and whether the master key opens it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DbStatus {
    pub database: String,
    pub backend: &'static str,
    pub schema_version: Option<i64>,
    pub master_key: String,
    /// Why the master key does not fit this database (none: it does).
    pub key_problem: Option<String>,
}

/// Reports on the database even when the key is the wrong one (that is what it is for).
pub fn db_status(opts: &StoreOptions) -> Result<DbStatus> {
    let store = Store::open(&opts.clone().report_key_only())?;
    let version = store.read(|c| tributary_store::migrate::version(c))?;
    Ok(DbStatus {
        database: store.url().to_string(),
        backend: store.backend(),
        schema_version: version,
        master_key: store.key_origin().to_string(),
        key_problem: store.key_problem().map(str::to_string),
    })
}

/// Whether a store is reachable and at which schema (health checks).
pub fn probe(app: &crate::App) -> Result<Option<i64>> {
    Ok(app.store().read(|c| tributary_store::migrate::version(c))?)
}

/// The environment variable holding the master key (hex).
pub const MASTER_KEY_ENV: &str = tributary_store::keyring::KEY_ENV;

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = tributary_store::migrate::SCHEMA_VERSION;
