//! Profiles: which integration runs with which maps, when (manual, once, every N, cron).

use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary_core::model::{Profile, Role, Schedule};
use tributary_core::time::{now_ms, parse_loose, to_rfc3339};
use tributary_store::StoreError;
use tributary_store::repo::{integrations, maps, profiles};

use crate::{App, AppError, Principal, Result};

/// When a profile runs, as a user writes it: at most one of `once`, `every`, `cron`
/// (none: manual); `start`/`end` bound a recurring schedule. Times are RFC 3339.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub once: Option<String>,
    pub every: Option<String>,
    pub cron: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
}

fn time(field: &str, text: &str) -> Result<i64> {
    parse_loose(text).ok_or_else(|| AppError::invalid(field, format!("'{text}' is not a time; use RFC 3339, e.g. 2026-12-01T10:00Z")))
}

impl ScheduleInput {
    pub fn resolve(&self) -> Result<Schedule> {
        let set = [self.once.is_some(), self.every.is_some(), self.cron.is_some()].iter().filter(|b| **b).count();
        if set > 1 {
            return Err(AppError::invalid("schedule", "give one of once, every or cron"));
        }
        if (self.start.is_some() || self.end.is_some()) && self.every.is_none() && self.cron.is_none() {
            return Err(AppError::invalid("start", "start and end go with a recurring schedule (every or cron)"));
        }
        let start = self.start.as_deref().map(|t| time("start", t)).transpose()?.unwrap_or_else(now_ms);
        let end = self.end.as_deref().map(|t| time("end", t)).transpose()?;
        let bad = |field: &'static str| move |e: tributary_core::model::ScheduleError| AppError::invalid(field, e.to_string());
        Ok(match (&self.once, &self.every, &self.cron) {
            (Some(at), _, _) => {
                let at = time("once", at)?;
                if at <= now_ms() {
                    return Err(AppError::invalid("once", format!("{} is in the past", to_rfc3339(at))));
                }
                Schedule::Once { at }
            }
            (None, Some(every), _) => Schedule::recurring_every(every, start, end).map_err(bad("every"))?,
            (None, None, Some(expr)) => Schedule::recurring_cron(expr, start, end).map_err(bad("cron"))?,
            (None, None, None) => Schedule::Manual,
        })
    }
}

/// A profile to add.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProfile {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub integration: String,
    /// Maps to use instead of the defaults, one per record stream.
    #[serde(default)]
    pub maps: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub schedule: ScheduleInput,
}

fn yes() -> bool {
    true
}

/// A profile as front ends show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProfileView {
    #[serde(flatten)]
    pub profile: Profile,
    pub integration: String,
    pub schedule_text: String,
}

impl App {
    pub fn add_profile(&self, who: &Principal, add: AddProfile) -> Result<Profile> {
        who.require(Role::Analyst, "adding a profile")?;
        let schedule = add.schedule.resolve()?;
        let describe = schedule.describe();
        self.change(who, "profile.add", &add.name, |c| {
            let integration = integrations::get(c, &add.integration)?;
            let mut stream_maps = Vec::new();
            for name in &add.maps {
                let m = maps::get(c, name)?;
                if m.spec.connector != integration.kind {
                    return Err(StoreError::Invalid(format!(
                        "map '{name}' reads {} records but '{}' is a {} integration",
                        m.spec.connector, integration.name, integration.kind
                    )));
                }
                if stream_maps.iter().any(|(s, _)| *s == m.spec.source_model) {
                    return Err(StoreError::Invalid(format!("two maps given for the '{}' records", m.spec.source_model)));
                }
                stream_maps.push((m.spec.source_model.clone(), m.id));
            }
            let p = profiles::create(
                c,
                profiles::NewProfile {
                    name: &add.name,
                    description: add.description.as_deref(),
                    integration_id: integration.id,
                    maps: stream_maps,
                    active: add.active,
                    is_default: false,
                    schedule,
                },
            )?;
            Ok((p, json!({"integration": add.integration, "schedule": describe})))
        })
    }

    pub fn profiles(&self, who: &Principal) -> Result<Vec<ProfileView>> {
        who.require(Role::Viewer, "listing profiles")?;
        Ok(self.store().read(|c| {
            let mut out = Vec::new();
            for p in profiles::list(c)? {
                let integration = integrations::by_id(c, p.integration_id)?.name;
                let schedule_text = p.schedule.describe();
                out.push(ProfileView { profile: p, integration, schedule_text });
            }
            Ok(out)
        })?)
    }

    pub fn set_profile_active(&self, who: &Principal, name: &str, active: bool) -> Result<Profile> {
        who.require(Role::Analyst, "enabling or disabling a profile")?;
        let action = if active { "profile.enable" } else { "profile.disable" };
        self.change(who, action, name, |c| Ok((profiles::set_active(c, name, active)?, json!({}))))
    }

    pub fn delete_profile(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Analyst, "deleting a profile")?;
        self.change(who, "profile.delete", name, |c| Ok((profiles::delete(c, name)?, json!({}))))
    }
}
