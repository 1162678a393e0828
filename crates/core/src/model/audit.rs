//! Audit events: who changed what, when.

use serde::Serialize;

use crate::time::Millis;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Millis,
    /// `cli:<os user>`, `user:<name>`, `scheduler`.
    pub actor: String,
    /// Dotted verb, e.g. `integration.add`, `map.edit`, `user.add`.
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}
