//! Issues: the same problem seen by one or more sources, grouped by correlation.

use serde::Serialize;

use super::{FindingStatus, Severity};
use crate::time::Millis;

/// A correlated group of findings (same CVE on the same asset/package, same rule at the
/// same code location), whatever tool reported them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Issue {
    pub id: i64,
    /// Correlation key the findings share.
    pub key: String,
    pub title: String,
    pub severity: Severity,
    pub status: FindingStatus,
    pub finding_count: i64,
    pub first_seen: Millis,
    pub last_seen: Millis,
}
