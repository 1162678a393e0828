//! Users, roles and API tokens.

use serde::Serialize;

use super::string_enum;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read-only.
    Viewer,
    /// Reads, triages, runs syncs.
    Analyst,
    /// Everything, including integrations, users and secrets.
    Admin,
}

string_enum!(Role, "role", { Viewer => "viewer", Analyst => "analyst", Admin => "admin" });

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: Millis,
}

/// An API token. Only a hash of the token is stored; the token itself is shown once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}
