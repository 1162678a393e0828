//! Triage: a person's decision on a finding (open, in progress, fixed, risk accepted with
//! reason and expiry, false positive), its assignee and comments — one finding at a time,
//! every finding a query matches (previewed, one transaction, one audit entry), or as a
//! standing rule for findings that arrive later. A sync never changes a decision; a
//! finding the vendor reports fixed is closed whatever its triage says.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary_core::model::{Role, TriageStatus};
use tributary_core::time::{now_ms, parse_loose, to_rfc3339};
use tributary_store::repo::triage::{self, Decision};

pub use tributary_store::repo::triage::{Comment, FindingTriage, TriageRule};

use crate::query::Listing;
use crate::{App, AppError, Principal, Result};

pub const MAX_COMMENT: usize = 10_000;
pub const MAX_REASON: usize = 2_000;
/// The most findings one bulk decision may list in its audit entry and change.
pub const MAX_BULK: i64 = 1_000_000;

/// A decision as a user gives it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    pub status: TriageStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// When a risk acceptance ends (RFC 3339 or a date).
    #[serde(default)]
    pub until: Option<String>,
    /// Assign as well (empty: unassign).
    #[serde(default)]
    pub assignee: Option<String>,
}

impl TriageInput {
    fn decision(&self) -> Result<Decision> {
        let reason = self.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_string);
        if let Some(r) = &reason
            && r.chars().count() > MAX_REASON
        {
            return Err(AppError::invalid("reason", format!("at most {MAX_REASON} characters")));
        }
        let until = match self.until.as_deref() {
            Some(t) => {
                Some(parse_loose(t).ok_or_else(|| AppError::invalid("until", format!("'{t}' is not a time; use RFC 3339 or a date")))?)
            }
            None => None,
        };
        match self.status {
            TriageStatus::RiskAccepted => {
                if reason.is_none() {
                    return Err(AppError::invalid("reason", "a risk acceptance needs a reason"));
                }
                match until {
                    None => return Err(AppError::invalid("until", "a risk acceptance needs an expiry (until)")),
                    Some(u) if u <= now_ms() => return Err(AppError::invalid("until", format!("{} is in the past", to_rfc3339(u)))),
                    Some(_) => {}
                }
            }
            TriageStatus::FalsePositive if reason.is_none() => {
                return Err(AppError::invalid("reason", "say why it is a false positive"));
            }
            _ if until.is_some() => return Err(AppError::invalid("until", "only a risk acceptance has an expiry")),
            _ => {}
        }
        Ok(Decision { status: self.status, reason, until, assignee: self.assignee.as_ref().map(|a| a.trim().to_string()) })
    }
}

/// What a bulk decision did (or, previewed, would do).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BulkOutcome {
    pub matched: i64,
    pub applied: bool,
    pub finding_ids: Vec<i64>,
}

impl App {
    pub fn triage(&self, who: &Principal, finding_id: i64, input: &TriageInput) -> Result<FindingTriage> {
        who.require(Role::Analyst, "triaging")?;
        let d = input.decision()?;
        self.change(who, "triage.set", &finding_id.to_string(), |c| {
            let before = triage::get(c, finding_id)?;
            let after = triage::set_one(c, finding_id, &d)?;
            Ok((after, json!({"before": before.status, "status": d.status, "reason": d.reason, "until": d.until, "assignee": d.assignee})))
        })
    }

    pub fn assign(&self, who: &Principal, finding_id: i64, assignee: &str) -> Result<FindingTriage> {
        who.require(Role::Analyst, "assigning findings")?;
        let a = assignee.trim();
        self.change(who, "triage.assign", &finding_id.to_string(), |c| Ok((triage::assign(c, finding_id, a)?, json!({"assignee": a}))))
    }

    pub fn comment(&self, who: &Principal, finding_id: i64, body: &str) -> Result<Comment> {
        who.require(Role::Analyst, "commenting")?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_COMMENT {
            return Err(AppError::invalid("body", format!("1 to {MAX_COMMENT} characters")));
        }
        self.change(who, "triage.comment", &finding_id.to_string(), |c| {
            let added = triage::add_comment(c, finding_id, &who.name, body)?;
            let id = added.id;
            Ok((added, json!({"comment_id": id})))
        })
    }

    /// Applies a decision to every finding `q` matches; with `preview`, only counts them.
    /// One transaction, one audit entry listing every finding.
    pub fn bulk_triage(&self, who: &Principal, q: &str, input: &TriageInput, preview: bool) -> Result<BulkOutcome> {
        who.require(Role::Analyst, "triaging")?;
        let d = input.decision()?;
        let compiled = self.compile(q, Some(Listing::Finding))?;
        if preview {
            let matched = self.store().read(|c| triage::count_matching(c, &compiled, false))?;
            return Ok(BulkOutcome { matched, applied: false, finding_ids: Vec::new() });
        }
        let ids = self.change(who, "triage.bulk", q, |c| {
            let n = triage::count_matching(c, &compiled, false)?;
            if n > MAX_BULK {
                return Err(tributary_store::StoreError::Invalid(format!(
                    "the query matches {n} findings; one decision covers at most {MAX_BULK}"
                )));
            }
            let ids = triage::set_matching(c, &compiled, &d, false)?;
            let detail =
                json!({"query": q, "status": d.status, "reason": d.reason, "until": d.until, "assignee": d.assignee, "findings": ids});
            Ok((ids, detail))
        })?;
        Ok(BulkOutcome { matched: ids.len() as i64, applied: true, finding_ids: ids })
    }

    /// Keeps a decision standing: applied now to the untriaged findings `q` matches, and
    /// after every sync and import to new ones.
    pub fn add_triage_rule(&self, who: &Principal, name: &str, q: &str, input: &TriageInput) -> Result<(TriageRule, Vec<i64>)> {
        who.require(Role::Analyst, "adding triage rules")?;
        tributary_core::model::check_name("triage rule", name).map_err(|e| AppError::invalid("name", e))?;
        let d = input.decision()?;
        let compiled = self.compile(q, Some(Listing::Finding))?;
        self.change(who, "triage.rule.add", name, |c| {
            let rule = triage::create_rule(c, name, q, &d, &who.name)?;
            let ids = triage::set_matching(c, &compiled, &d, true)?;
            triage::add_applied(c, rule.id, ids.len() as i64)?;
            let detail = json!({"query": q, "status": d.status, "reason": d.reason, "until": d.until, "findings": ids});
            Ok(((rule, ids), detail))
        })
    }

    /// A finding's triage history (decisions, assignments, comments), newest first.
    pub fn finding_history(&self, who: &Principal, finding_id: i64) -> Result<Vec<tributary_core::model::AuditEvent>> {
        who.require(Role::Viewer, "reading a finding's history")?;
        Ok(self.store().read(|c| tributary_store::repo::audit::for_target(c, "triage.", &finding_id.to_string(), 200))?)
    }

    pub fn triage_rules(&self, who: &Principal) -> Result<Vec<TriageRule>> {
        who.require(Role::Viewer, "listing triage rules")?;
        Ok(self.store().read(triage::rules)?)
    }

    pub fn delete_triage_rule(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Analyst, "deleting triage rules")?;
        self.change(who, "triage.rule.delete", name, |c| Ok((triage::delete_rule(c, name)?, json!({}))))
    }
}
