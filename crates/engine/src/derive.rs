//! What is derived from findings after every run (sync, import, replay, failed or not):
//! repository and host context (`store::repo::context`), code-to-runtime links, then the
//! issues of the findings the run touched, rescored (`store::repo::issues`) — and only those, unless the run changed so
//! much that rebuilding all is cheaper — every policy, evaluated against the findings as
//! they are now, and today's metrics snapshot when it is due (hourly at most). Runs after
//! a bulk load's deferred indexes exist.

use tributary_core::time::Millis;
use tributary_store::repo::{context, issues, metrics, policies};

use crate::{Engine, Result};

/// What a derivation did, for the run's log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    pub repos_changed: usize,
    pub issues_rescored: usize,
    pub rebuilt_all: bool,
    /// `(policy, findings it matches now)`.
    pub policies: Vec<(String, i64)>,
    /// Webhook deliveries queued (sent by [`Engine::deliver_notifications`]).
    pub notifications: usize,
}

impl Engine {
    /// Brings context and issues up to date with findings changed at or after `since`.
    /// `hosts`: the run could have changed hosts' exposure or where repositories run (a
    /// Cortex XDR or Cortex Cloud run): rebuild that too.
    pub async fn derive(&self, since: Millis, initial: bool, hosts: bool) -> Result<Derived> {
        self.blocking(move |s| {
            Ok(s.write(|c| {
                // None: so many changed that every issue is rebuilt.
                let ids = if initial { None } else { issues::changed_since(c, since)? };
                let all = ids.is_none();
                let f = issues::follow(c, ids.unwrap_or_default(), hosts, all)?;
                let evaluated = policies::evaluate(c)?;
                // Notifications go out with what they are about: queued in this transaction.
                let notifications = tributary_store::repo::webhooks::after_derive(c, since, &evaluated)?;
                let policies = evaluated.into_iter().map(|e| (e.name, e.matched)).collect();
                let now = tributary_core::time::now_ms();
                if metrics::snapshot_due(c, now)? {
                    metrics::snapshot(c, now)?;
                }
                Ok(Derived {
                    repos_changed: f.repos_changed,
                    issues_rescored: f.issues_rebuilt,
                    rebuilt_all: f.rebuilt_all,
                    policies,
                    notifications,
                })
            })?)
        })
        .await
    }

    /// Rebuilds every issue (after new weights or exploit intelligence).
    pub async fn rescore_all(&self) -> Result<u64> {
        self.blocking(|s| Ok(s.write(issues::refresh_all)?)).await
    }
}

impl Engine {
    /// Write-back, for integrations that asked for it (Semgrep's `write_back`): the
    /// deployment context as project tags in the vendor's tenant. Returns the projects
    /// changed. One project failing stops this pass (the next run tries again); nothing
    /// in the store depends on it.
    pub async fn write_back(&self) -> Result<usize> {
        let all = self.blocking(|s| Ok(s.read(tributary_store::repo::integrations::list)?)).await?;
        let mut changed = 0;
        for i in all.into_iter().filter(|i| i.config.get("write_back").and_then(serde_json::Value::as_bool) == Some(true)) {
            let connector = self.connector(&i).await?;
            if !connector.write_back() {
                continue;
            }
            let id = i.id;
            let plan = self.blocking(move |s| Ok(s.read(|c| context::tag_plan(c, id))?)).await?;
            for ch in plan {
                connector.set_scope_tags(&ch.scope, &ch.add, &ch.remove).await?;
                let (scope_id, after, name, detail) = (
                    ch.scope_id,
                    ch.after.clone(),
                    i.name.clone(),
                    serde_json::json!({"project": ch.scope, "added": ch.add, "removed": ch.remove}),
                );
                self.blocking(move |s| {
                    Ok(s.write(|c| {
                        context::set_scope_tags(c, scope_id, &after)?;
                        tributary_store::repo::audit::record(c, "write-back", "project.tags", &name, detail)
                    })?)
                })
                .await?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}
