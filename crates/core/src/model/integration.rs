//! Integrations: one configured connection to one vendor tenant.

use serde::Serialize;

use super::string_enum;
use crate::time::Millis;

/// What `integration list` shows (the vendor products' own status words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationStatus {
    /// Added, credentials not yet checked.
    New,
    /// Credentials checked and working.
    Connected,
    /// A sync is running.
    Running,
    /// The last sync completed.
    Processed,
    /// The last sync failed after the connection worked.
    Failed,
    /// The vendor could not be reached or refused the credentials.
    ConnectionError,
}

string_enum!(IntegrationStatus, "integration status", {
    New => "new", Connected => "connected", Running => "running", Processed => "processed",
    Failed => "failed", ConnectionError => "connection_error",
});

impl IntegrationStatus {
    /// The status as the UI words it: `Connection Error`, `Processed`, …
    pub fn label(self) -> &'static str {
        match self {
            IntegrationStatus::New => "New",
            IntegrationStatus::Connected => "Connected",
            IntegrationStatus::Running => "Running",
            IntegrationStatus::Processed => "Processed",
            IntegrationStatus::Failed => "Failed",
            IntegrationStatus::ConnectionError => "Connection Error",
        }
    }
}

/// A configured integration. The credential is never part of this type: it is sealed
/// in the store and only opened by the engine when it builds a connector.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    /// Connector kind, e.g. `cortex-xdr`, `semgrep`.
    pub kind: String,
    pub base_url: String,
    /// Connector-specific settings (key id, security level, types…), never secrets.
    pub config: serde_json::Value,
    pub status: IntegrationStatus,
    pub status_reason: Option<String>,
    pub status_at: Option<Millis>,
    pub created_at: Millis,
}
