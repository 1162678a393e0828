//! Scopes (Semgrep projects) and their repository mapping, around runs and by hand.
//!
//! Before a fresh run of a scoped connector, the vendor's scopes are listed and mapped
//! (`store::repo::scopes::refresh`); each mapped scope's repository asset is written
//! through the ingest path (so it is attributed to the integration and survives the run's
//! sweep) and the run attaches scoped records to it. A scope that became mapped turns a
//! delta run into a full one: its history is older than the delta window.

use std::collections::HashMap;

use serde_json::json;
use tributary_connectors::Connector;
use tributary_core::ident::repo::RepoKey;
use tributary_core::model::{Completeness, SyncMode};
use tributary_core::transform::{Applied, TargetModel, stage};
use tributary_store::ingest::{self, RecordIn, RunContext};
use tributary_store::repo::scopes::{self, Scope, ScopeIn};
use tributary_store::repo::{audit, integrations, rules, runs};
use tributary_store::{Conn, StoreError};

use crate::integrations::kind_of;
use crate::pipeline::{Prepared, RUN_STATE};
use crate::{Engine, EngineError, Result};

/// A repository asset staged from a URL, as a record the ingest path can write.
fn repository_record(scope_key: &str, url: &str, connector: &str, product: &str) -> Option<RecordIn> {
    let key = RepoKey::parse(url).ok()?;
    let mut applied = Applied::default();
    applied.asset.insert("repository".into(), json!({"url": url, "name": key.path()}));
    let staged = stage(applied, TargetModel::Repository, connector, product);
    Some(RecordIn { stream: "scope".into(), key: scope_key.to_string(), asset: staged.asset, ..RecordIn::default() })
}

/// Writes the repository assets of an integration's mapped scopes and links the scopes
/// to them. Returns mapped scope → asset.
pub(crate) fn write_scope_assets(c: &mut dyn Conn, ctx: &RunContext, connector: &str) -> tributary_store::Result<HashMap<String, i64>> {
    let mapped: Vec<Scope> = scopes::list(c, ctx.integration_id)?.into_iter().filter(Scope::is_mapped).collect();
    let records: Vec<RecordIn> = mapped
        .iter()
        .filter_map(|s| {
            let key = s.repo_key.as_deref()?;
            // The vendor's own spelling when it is this repository; else the canonical URL.
            let url = match &s.url {
                Some(u) if RepoKey::parse(u).is_ok_and(|k| k.as_str() == key) => u.clone(),
                _ => RepoKey::parse(&format!("https://{key}")).map(|k| k.https_url()).unwrap_or_else(|_| format!("https://{key}")),
            };
            repository_record(&s.key, &url, connector, &ctx.source)
        })
        .collect();
    if !records.is_empty() {
        ingest::write_context_assets(c, ctx, records)?;
    }
    scopes::link_assets(c, ctx.integration_id)?;
    scopes::asset_map(c, ctx.integration_id)
}

fn scope_ins(listed: Vec<tributary_connectors::ScopeInfo>) -> Vec<ScopeIn> {
    listed.into_iter().map(|s| ScopeIn { key: s.key, name: s.name, url: s.url, attributes: s.attributes }).collect()
}

fn auto_map_future(config: &serde_json::Value) -> bool {
    config.get("auto_map_future").and_then(serde_json::Value::as_bool).unwrap_or(false)
}

impl Engine {
    /// Lists and maps a scoped connector's scopes for a run (fresh runs only: a resumed
    /// run keeps the mapping it started with). `None` for connectors without scopes.
    pub(crate) async fn prepare_scopes(&self, prep: &mut Prepared, connector: &dyn Connector) -> Result<Option<HashMap<String, i64>>> {
        let integration_id = prep.integration.id;
        if prep.resumed {
            let map = self.blocking(move |s| Ok(s.read(|c| scopes::list(c, integration_id))?)).await?;
            if map.is_empty() {
                return Ok(None);
            }
            return Ok(Some(self.blocking(move |s| Ok(s.read(|c| scopes::asset_map(c, integration_id))?)).await?));
        }
        let Some(listed) = connector.scopes().await? else { return Ok(None) };
        let listed = scope_ins(listed);
        let auto = auto_map_future(&prep.integration.config);
        let (run_id, mode, kind) = (prep.run.id, prep.run.mode, prep.kind);
        let (map, mode) = self
            .blocking(move |store| {
                Ok(store.write(|c| {
                    let refreshed = scopes::refresh(c, integration_id, &listed, auto)?;
                    let mut mode = mode;
                    if mode == SyncMode::Delta && !refreshed.newly_mapped.is_empty() {
                        mode = SyncMode::Full;
                        runs::set_mode(c, run_id, mode)?;
                    }
                    let ctx = RunContext {
                        run_id,
                        integration_id,
                        source: kind.product.to_string(),
                        full: mode != SyncMode::Delta,
                        completeness: Completeness::PerFinding,
                        rules: rules::list(c)?,
                        scope: None,
                        seen_in_memory: None,
                        scope_is_new: false,
                    };
                    Ok((write_scope_assets(c, &ctx, kind.name)?, mode))
                })?)
            })
            .await?;
        prep.run.mode = mode;
        Ok(Some(map))
    }

    /// The integration's scopes as last recorded, with each one's open finding count;
    /// `refresh` asks the vendor first (and records what changed).
    pub async fn scopes(&self, integration: &str, refresh: bool) -> Result<Vec<(Scope, i64)>> {
        let n = integration.to_string();
        let i = self.blocking(move |s| Ok(s.read(|c| integrations::get(c, &n))?)).await?;
        if refresh {
            let connector = self.connector(&i).await?;
            let Some(listed) = connector.scopes().await? else {
                return Err(EngineError::Invalid(format!("'{}' is a {} integration, which has no projects", i.name, i.kind)));
            };
            let listed = scope_ins(listed);
            let (id, auto) = (i.id, auto_map_future(&i.config));
            self.blocking(move |s| {
                Ok(s.write(|c| {
                    let r = scopes::refresh(c, id, &listed, auto)?;
                    if !r.newly_mapped.is_empty() {
                        runs::require_full(c, id, RUN_STATE)?;
                    }
                    Ok(())
                })?)
            })
            .await?;
        }
        let id = i.id;
        self.blocking(move |s| {
            Ok(s.read(|c| {
                let mut counts: HashMap<String, i64> = HashMap::new();
                for mut r in c.query(
                    "SELECT scope, COUNT(*) FROM findings WHERE integration_id = ? AND status = 'open' AND scope IS NOT NULL GROUP BY scope",
                    tributary_store::params![id],
                )? {
                    counts.insert(r.take(0)?, r.get(1)?);
                }
                Ok(scopes::list(c, id)?.into_iter().map(|s| {
                    let n = counts.get(&s.key).copied().unwrap_or(0);
                    (s, n)
                }).collect())
            })?)
        })
        .await
    }

    /// Maps a scope to a repository by hand: the repository asset is created if needed,
    /// the scope's findings move to it now, and the next sync is a full one.
    pub async fn map_scope(&self, integration: &str, scope: &str, repo_url: &str, actor: &str) -> Result<Scope> {
        let key = RepoKey::parse(repo_url).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let (n, sc, url, actor) = (integration.to_string(), scope.to_string(), repo_url.to_string(), actor.to_string());
        self.blocking(move |store| {
            Ok(store.write(|c| {
                let i = integrations::get(c, &n)?;
                let kind = kind_of(&i.kind).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let before = scopes::set_manual(c, i.id, &sc, &key)?;
                let ctx = RunContext {
                    run_id: 0,
                    integration_id: i.id,
                    source: kind.product.to_string(),
                    full: false,
                    completeness: Completeness::PerFinding,
                    rules: rules::list(c)?,
                    scope: None,
                    seen_in_memory: None,
                    scope_is_new: false,
                };
                if let Some(r) = repository_record(&before.key, &url, kind.name, kind.product) {
                    ingest::write_context_assets(c, &ctx, vec![r])?;
                }
                scopes::link_assets(c, i.id)?;
                let after = scopes::get(c, i.id, &before.key)?;
                if let (Some(from), Some(to)) = (before.repo_asset_id, after.repo_asset_id) {
                    scopes::move_findings(c, i.id, &before.key, from, to)?;
                }
                runs::require_full(c, i.id, RUN_STATE)?;
                audit::record(c, &actor, "project.map", &before.name, json!({"integration": n, "repository": key.as_str()}))?;
                Ok(after)
            })?)
        })
        .await
    }

    /// Unmaps a scope by hand: it is no longer ingested (nor mapped automatically) and
    /// the findings it brought in are removed. Returns the scope and findings removed.
    pub async fn unmap_scope(&self, integration: &str, scope: &str, actor: &str) -> Result<(Scope, u64)> {
        let (n, sc, actor) = (integration.to_string(), scope.to_string(), actor.to_string());
        self.blocking(move |store| {
            Ok(store.write(|c| {
                let i = integrations::get(c, &n)?;
                let (s, removed) = scopes::exclude(c, i.id, &sc)?;
                audit::record(c, &actor, "project.unmap", &s.name, json!({"integration": n, "findings_removed": removed}))?;
                Ok((s, removed))
            })?)
        })
        .await
    }
}
