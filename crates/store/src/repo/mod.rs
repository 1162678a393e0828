//! Queries, one module per entity. Every function takes `&mut dyn Conn`, so the same
//! code runs on SQLite and PostgreSQL, inside or outside a transaction.

pub mod audit;
pub mod context;
pub mod coverage;
pub mod findings;
pub mod integrations;
pub mod intel;
pub mod issues;
pub mod maps;
pub mod meta;
pub mod metrics;
pub mod policies;
pub mod profiles;
pub mod raw;
pub mod rules;
pub mod runs;
pub mod scopes;
pub mod stats;
pub mod triage;
pub mod users;
pub mod webhooks;

use crate::error::{Result, StoreError};

/// Maps a unique-constraint violation to a friendly [`StoreError::Conflict`].
pub(crate) fn conflict<T>(r: Result<T>, what: &'static str, name: &str) -> Result<T> {
    r.map_err(|e| if e.is_unique_violation() { StoreError::Conflict { what, name: name.to_string() } } else { e })
}

pub(crate) fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) fn parse_json(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode(format!("{what}: {e}")))
}

pub(crate) fn parse_enum<T: std::str::FromStr>(text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| StoreError::Decode(e.to_string()))
}
