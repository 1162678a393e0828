//! Risk: a finding's 0–100 score with the factors that make it up, and its BOD 26-04
//! decision (`core::risk`); the weights are the team's (kept in the database).

use serde::Serialize;
use tributary_core::model::Role;
use tributary_core::risk::{Risk, RiskInput, RiskWeights, assess};
use tributary_store::repo::findings;

use crate::{App, AppError, Principal, Result};

const WEIGHTS_KEY: &str = tributary_store::repo::issues::WEIGHTS_KEY;

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
        self.setting(WEIGHTS_KEY)
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
        self.set_setting(who, "risk.weights", WEIGHTS_KEY, w)?;
        self.rescore_all()?;
        Ok(w.clone())
    }

    /// A finding's score, the factors that add up to it, and its decision.
    pub fn explain(&self, who: &Principal, finding_id: i64) -> Result<Explanation> {
        who.require(Role::Viewer, "reading a finding's risk")?;
        let weights = self.risk_weights(who)?;
        let input = self.store().read(|c| findings::risk_input(c, finding_id))?;
        Ok(Explanation { finding_id, risk: assess(&input, &weights), input, weights })
    }
}
