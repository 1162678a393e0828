//! Store errors: every one of them reads as a one-line instruction to the user where
//! the user can fix it (bad URL, unreachable server, key problems, schema versions).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL '{url}': {reason} (expected sqlite:///path/to/file.db or postgres://user@host:port/db)")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason} (is the server running and reachable?)")]
    Unreachable { target: String, reason: String },
    #[error("cannot open SQLite database {path}: {reason}")]
    SqliteOpen { path: PathBuf, reason: String },
    #[error("data directory {path} is not usable: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error(
        "the database schema is version {db} but this tributary binary supports up to version {supported}; \
         upgrade tributary (refusing to touch a newer schema)"
    )]
    SchemaTooNew { db: i64, supported: i64 },
    #[error("the database has not been initialized; run `tributary db migrate`")]
    NotMigrated,
    #[error("{0}")]
    Key(String),
    #[error("{what} '{name}' not found")]
    NotFound { what: &'static str, name: String },
    #[error("{what} '{name}' already exists")]
    Conflict { what: &'static str, name: String },
    #[error("{0}")]
    Invalid(String),
    /// A run's fuse tripped: its transaction was rolled back on purpose.
    #[error("{0}")]
    Stopped(String),
    /// The run is no longer running (its integration was deleted under it): the page or
    /// sweep being written was rolled back, so nothing outlives the integration.
    #[error("run {0} was cancelled (its integration was deleted); nothing more was written")]
    Cancelled(i64),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(String),
    #[error("stored data is malformed: {0}")]
    Decode(String),
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The Display of postgres::Error is terse ("db error"); the DbError carries the text.
        match e.as_db_error() {
            Some(db) => StoreError::Postgres(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

impl StoreError {
    /// True for unique-constraint violations (mapped to [`StoreError::Conflict`] by callers).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            StoreError::Postgres(msg) => msg.starts_with("23505"),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
