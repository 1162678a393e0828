//! Exploit intelligence: EPSS scores and the CISA KEV catalog loaded from their published
//! files (no network: the files are given), each replacing the last load whole in one
//! transaction, so a bad file changes nothing.

use std::path::Path;

use serde::Serialize;
use serde_json::json;
use tributary_connectors::intel;
use tributary_core::model::Role;
use tributary_store::StoreError;
use tributary_store::repo::intel as store_intel;
use tributary_store::repo::meta;

pub use tributary_store::repo::intel::IntelStatus;

use crate::{App, Principal, Result};

/// What a load did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IntelLoad {
    pub rows: u64,
    /// EPSS `model_version` or KEV `catalogVersion`.
    pub version: Option<String>,
    /// EPSS `score_date` or KEV `dateReleased`.
    pub date: Option<String>,
}

fn invalid(e: intel::IntelError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

impl App {
    /// Loads an EPSS daily CSV (optionally gzipped), replacing the scores loaded before.
    pub fn load_epss(&self, who: &Principal, path: &Path) -> Result<IntelLoad> {
        who.require(Role::Analyst, "loading exploit intelligence")?;
        let file = path.display().to_string();
        let reader = intel::open(path).map_err(|e| crate::AppError::invalid("file", e.to_string()))?;
        self.change(who, "intel.load.epss", &file, |c| {
            store_intel::clear_epss(c)?;
            let mut batch: Vec<(String, f64, f64)> = Vec::with_capacity(5_000);
            let mut flush_err: Option<StoreError> = None;
            let (meta, rows) = intel::read_epss(reader, &file, |r| {
                batch.push((r.cve, r.epss, r.percentile));
                if batch.len() == 5_000 {
                    if let Err(e) = store_intel::add_epss(c, &batch) {
                        flush_err = Some(e);
                        return Err(intel::IntelError::Io { file: file.clone(), reason: "database write failed".into() });
                    }
                    batch.clear();
                }
                Ok(())
            })
            .map_err(|e| flush_err.take().unwrap_or_else(|| invalid(e)))?;
            store_intel::add_epss(c, &batch)?;
            let now = tributary_core::time::to_rfc3339(tributary_core::time::now_ms());
            for (k, v) in [
                ("epss_model_version", meta.model_version.clone()),
                ("epss_score_date", meta.score_date.clone()),
                ("epss_loaded_at", Some(now)),
            ] {
                meta::set(c, k, v.as_deref().unwrap_or(""))?;
            }
            // Every issue's score reads EPSS: rescored in the same transaction.
            tributary_store::repo::issues::refresh_all(c)?;
            let out = IntelLoad { rows, version: meta.model_version, date: meta.score_date };
            let detail = json!({"rows": out.rows, "model_version": out.version, "score_date": out.date});
            Ok((out, detail))
        })
    }

    /// Loads a CISA KEV catalog JSON (optionally gzipped), replacing the one loaded before.
    pub fn load_kev(&self, who: &Principal, path: &Path) -> Result<IntelLoad> {
        who.require(Role::Analyst, "loading exploit intelligence")?;
        let file = path.display().to_string();
        let reader = intel::open(path).map_err(|e| crate::AppError::invalid("file", e.to_string()))?;
        let cat = intel::read_kev(reader, &file).map_err(|e| crate::AppError::invalid("file", e.to_string()))?;
        self.change(who, "intel.load.kev", &file, |c| {
            let rows: Vec<store_intel::KevRow<'_>> = cat
                .vulnerabilities
                .iter()
                .map(|v| store_intel::KevRow {
                    cve: &v.cve,
                    name: &v.name,
                    vendor: &v.vendor,
                    product: &v.product,
                    date_added: &v.date_added,
                    due_date: v.due_date.as_deref(),
                    ransomware: v.ransomware.as_deref(),
                    forensic_triage: v.forensic_triage.as_deref(),
                })
                .collect();
            store_intel::replace_kev(c, &rows)?;
            let now = tributary_core::time::to_rfc3339(tributary_core::time::now_ms());
            meta::set(c, "kev_catalog_version", &cat.version)?;
            meta::set(c, "kev_loaded_at", &now)?;
            tributary_store::repo::issues::refresh_all(c)?;
            let out = IntelLoad { rows: rows.len() as u64, version: Some(cat.version.clone()), date: cat.released.clone() };
            let detail = json!({"rows": out.rows, "catalog_version": out.version});
            Ok((out, detail))
        })
    }

    pub fn intel_status(&self, who: &Principal) -> Result<IntelStatus> {
        who.require(Role::Viewer, "reading exploit intelligence")?;
        Ok(self.store().read(store_intel::status)?)
    }
}
