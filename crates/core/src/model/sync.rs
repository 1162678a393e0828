//! Sync runs: one execution of a profile, with its counts and checkpoint.

use serde::Serialize;

use super::string_enum;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Everything the source has; findings not reported are closed at the end.
    Full,
    /// Only what changed since the last watermark; unchanged records are skipped.
    Delta,
    /// A replay of stored raw records through a (changed) transform map; no fetch.
    Replay,
}

string_enum!(SyncMode, "sync mode", { Full => "full", Delta => "delta", Replay => "replay" });

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    Running,
    Succeeded,
    Failed,
}

string_enum!(SyncStatus, "sync status", { Running => "running", Succeeded => "succeeded", Failed => "failed" });

/// How a source's records relate to completeness, which decides how "gone" is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// Each record carries an asset with its complete list of findings from this source
    /// (Cortex XDR endpoint + CVEs): findings missing from the list are closed at once,
    /// and assets not seen by the end of a full sync are retired.
    PerAsset,
    /// Each record is one finding (Semgrep) or one asset: what a full sync did not see
    /// is closed or retired at its end.
    PerFinding,
}

/// What a run did, record by record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RunCounts {
    /// Raw records received from the source.
    pub fetched: i64,
    /// Findings and assets written for the first time.
    pub created: i64,
    /// Findings and assets whose content changed.
    pub updated: i64,
    /// Findings and assets seen again with identical content (no write).
    pub unchanged: i64,
    /// Findings closed because the source no longer reports them.
    pub closed: i64,
    /// Records skipped (unmapped project, transform error).
    pub skipped: i64,
    pub assets_created: i64,
    pub assets_updated: i64,
    /// Asset attributions ended: the source reports the asset gone, or stopped reporting it.
    pub assets_retired: i64,
    /// Records in scope that produced neither an asset nor a finding (a map whose
    /// identity fields no longer match the vendor's records); counted in `skipped` too.
    /// Not stored: it feeds the run's fuses.
    #[serde(skip)]
    pub unusable: i64,
}

impl RunCounts {
    pub fn add(&mut self, o: &RunCounts) {
        self.fetched += o.fetched;
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.closed += o.closed;
        self.skipped += o.skipped;
        self.assets_created += o.assets_created;
        self.assets_updated += o.assets_updated;
        self.assets_retired += o.assets_retired;
        self.unusable += o.unusable;
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SyncRun {
    pub id: i64,
    pub integration_id: i64,
    pub profile_id: Option<i64>,
    pub mode: SyncMode,
    pub status: SyncStatus,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
    pub counts: RunCounts,
    pub error: Option<String>,
    /// The connector's resumable cursor as of the last committed page.
    pub cursor: Option<serde_json::Value>,
    /// A full run that started while the integration held nothing (no raw records, no
    /// open findings, no active attributions): everything it holds at the end, this run
    /// wrote, so the run records no seen-marks and skips the sweep for unseen items.
    pub initial: bool,
    /// What the run said besides its counts: what the source could not read and why,
    /// what a vendor quota paid for (one line each).
    pub notes: Option<String>,
}
