//! Risk: a finding's 0–100 score with the factors that make it up, and its BOD 26-04
//! decision (`core::risk`); the weights are the team's (kept in the database).

use serde::Serialize;
use serde_json::json;
use tributary_core::model::Role;
use tributary_core::risk::{Risk, RiskInput, RiskWeights, assess};
use tributary_store::repo::{findings, intel};

use crate::{App, AppError, Principal, Result};

const WEIGHTS_KEY: &str = "risk_weights";

/// A finding's risk, explained.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Explanation {
    pub finding_id: i64,
    #[serde(flatten)]
    pub risk: Risk,
    /// What it was computed from.
    pub input: RiskInput,
    pub weights: RiskWeights,
}

impl App {
    pub fn risk_weights(&self, who: &Principal) -> Result<RiskWeights> {
        who.require(Role::Viewer, "reading risk weights")?;
        let text: Option<String> = self.store().read(|c| {
            c.query_opt("SELECT value FROM meta WHERE key = ?", tributary_store::params![WEIGHTS_KEY])?.map(|mut r| r.take(0)).transpose()
        })?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(|e| AppError::Internal(format!("stored risk weights: {e}"))),
            None => Ok(RiskWeights::default()),
        }
    }

    /// Sets the weights (every score explains itself with the weights it was given).
    pub fn set_risk_weights(&self, who: &Principal, w: &RiskWeights) -> Result<RiskWeights> {
        who.require(Role::Analyst, "changing risk weights")?;
        let values = [
            w.cvss,
            w.kev,
            w.epss,
            w.cwe_top25,
            w.reachable,
            w.unreachable,
            w.fix_available,
            w.deployed,
            w.not_deployed,
            w.internet_exposed,
            w.criticality_step,
        ];
        if values.iter().any(|v| !v.is_finite() || v.abs() > 100.0) {
            return Err(AppError::invalid("weights", "each weight is a number from -100 to 100"));
        }
        let text = serde_json::to_string(w).map_err(|e| AppError::Internal(e.to_string()))?;
        self.change(who, "risk.weights", WEIGHTS_KEY, |c| {
            intel::set_meta(c, WEIGHTS_KEY, &text)?;
            Ok((w.clone(), json!(w)))
        })
    }

    /// A finding's score, the factors that add up to it, and its decision.
    pub fn explain(&self, who: &Principal, finding_id: i64) -> Result<Explanation> {
        who.require(Role::Viewer, "reading a finding's risk")?;
        let weights = self.risk_weights(who)?;
        let input = self.store().read(|c| findings::risk_input(c, finding_id))?;
        Ok(Explanation { finding_id, risk: assess(&input, &weights), input, weights })
    }
}
