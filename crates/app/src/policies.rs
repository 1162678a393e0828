//! Policies (queries with an action label, evaluated after every sync and import; the
//! findings each matched are kept with it) and coverage (which scanner covers which
//! repository).

use serde_json::json;
use tributary_core::model::Role;
pub use tributary_store::repo::coverage::{RepoCoverage, SourceCoverage};
pub use tributary_store::repo::policies::{Policy, PolicyMatch};
use tributary_store::repo::{coverage, policies};

use crate::{App, AppError, Principal, Result};

/// The source columns of the coverage report, in order.
pub fn coverage_sources() -> Vec<&'static str> {
    coverage::SOURCES.iter().map(|s| s.1).collect()
}

impl App {
    pub fn policies(&self, who: &Principal) -> Result<Vec<Policy>> {
        who.require(Role::Viewer, "listing policies")?;
        Ok(self.store().read(policies::list)?)
    }

    /// Adds a policy (its query must compile against findings) and evaluates it now.
    /// Analyst.
    pub fn add_policy(&self, who: &Principal, name: &str, query: &str, action: &str) -> Result<Policy> {
        who.require(Role::Analyst, "adding a policy")?;
        let name = name.trim();
        tributary_core::model::check_name("policy", name).map_err(|e| AppError::invalid("name", e))?;
        if action.trim().is_empty() {
            return Err(AppError::invalid("action", "say what a match means, e.g. \"block release\" or \"page on-call\""));
        }
        let check = self.store().read(|c| {
            let ctx = policies::query_context(c)?;
            Ok(policies::compile(c, &ctx, query).map(|_| ()))
        })?;
        check.map_err(|why| AppError::invalid("query", why))?;
        self.change(who, "policy.add", name, |c| {
            let p = policies::add(c, name, query.trim(), action.trim())?;
            Ok((p, json!({"query": query, "action": action})))
        })
    }

    pub fn delete_policy(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Analyst, "deleting a policy")?;
        self.change(who, "policy.delete", name, |c| Ok((policies::delete(c, name)?, json!({}))))
    }

    /// The findings a policy matched at its last evaluation, most severe first.
    pub fn policy_results(&self, who: &Principal, name: &str, limit: i64) -> Result<Vec<PolicyMatch>> {
        who.require(Role::Viewer, "reading policy results")?;
        Ok(self.store().read(|c| policies::results(c, name, limit.clamp(1, 10_000)))?)
    }

    /// Per repository × source kind: Enabled, Stale (not seen for `stale_days`) or
    /// Disabled, with the open Vulnerabilities and Code Weaknesses.
    pub fn coverage(&self, who: &Principal, stale_days: i64) -> Result<Vec<RepoCoverage>> {
        who.require(Role::Viewer, "reading coverage")?;
        if !(1..=3650).contains(&stale_days) {
            return Err(AppError::invalid("stale_days", "a number of days from 1 to 3650"));
        }
        Ok(self.store().read(|c| coverage::report(c, stale_days, tributary_core::time::now_ms()))?)
    }
}
