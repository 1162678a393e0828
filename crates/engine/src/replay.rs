//! Re-applying a transform map to stored raw records: the vendor is not asked again.
//!
//! A replay is a full run over the stored records of one stream, so findings that the
//! new map no longer produces (say, a changed identity) are closed by the same sweep
//! that ends a full sync. The map becomes the one the integration's profile uses for
//! that stream, so later syncs agree with the replay.

use std::sync::Arc;

use serde_json::{Value, json};
use tributary_connectors::{Cursor, RawPage, RawRecord};
use tributary_core::model::{SyncMode, SyncRun};
use tributary_store::repo::{audit, integrations, maps, profiles, raw, runs, scopes};

use crate::integrations::kind_of;
use crate::pipeline::{Fetched, Prepared, Producer, Progress, RunMaps};
use crate::{Engine, EngineError, Result};

const REPLAY_PAGE: i64 = 200;

/// Reads stored raw records of one stream in id order.
pub struct ReplayReader {
    pub integration_id: i64,
    pub stream: &'static str,
    pub total: u64,
}

impl ReplayReader {
    pub(crate) async fn next(&mut self, engine: &Engine, cursor: Option<&Cursor>) -> Result<Fetched> {
        let after = cursor.and_then(|c| c.get("after")).and_then(Value::as_i64).unwrap_or(0);
        let (id, stream) = (self.integration_id, self.stream);
        let rows = engine.blocking(move |s| Ok(s.read(|c| raw::page(c, id, stream, after, REPLAY_PAGE))?)).await?;
        let last = rows.last().map(|r| r.id);
        let full = rows.len() as i64 == REPLAY_PAGE;
        let raw_ids = rows.iter().map(|r| r.id).collect();
        let records = rows
            .into_iter()
            .map(|r| RawRecord { stream, key: r.key, body: r.body, tombstone: false, scope: r.scope, raw_json: None })
            .collect();
        let next = match (full, last) {
            (true, Some(l)) => Some(json!({"after": l})),
            _ => None,
        };
        Ok(Fetched { page: RawPage { records, next, watermark: None, total: Some(self.total) }, raw_ids: Some(raw_ids) })
    }
}

impl Engine {
    /// Re-runs `map` over `integration`'s stored raw records and makes it the map its
    /// profile uses for that stream.
    pub async fn apply_map(&self, map_name: &str, integration_name: &str, actor: &str, progress: Arc<dyn Progress>) -> Result<SyncRun> {
        self.apply_map_with(map_name, integration_name, actor, crate::Fuses::default(), progress).await
    }

    /// [`Engine::apply_map`] with the run's fuses set (`--allow-mass-close`). The map
    /// becomes the integration's only once the replay succeeded: a map that a fuse
    /// stopped is not left in force.
    pub async fn apply_map_with(
        &self,
        map_name: &str,
        integration_name: &str,
        actor: &str,
        fuses: crate::Fuses,
        progress: Arc<dyn Progress>,
    ) -> Result<SyncRun> {
        let (m, i, actor) = (map_name.to_string(), integration_name.to_string(), actor.to_string());
        let (prep, total) = self
            .blocking(move |store| {
                store
                    .write(|c| {
                        let integration = integrations::get(c, &i)?;
                        let map = maps::get(c, &m)?;
                        if map.spec.connector != integration.kind {
                            return Err(tributary_store::StoreError::Invalid(format!(
                                "map '{m}' reads {} records but '{i}' is a {} integration",
                                map.spec.connector, integration.kind
                            )));
                        }
                        let kind = kind_of(&integration.kind).map_err(|e| tributary_store::StoreError::Invalid(e.to_string()))?;
                        let stream = kind.stream(&map.spec.source_model).ok_or_else(|| {
                            tributary_store::StoreError::Invalid(format!(
                                "map '{m}' reads stream '{}', which {} does not have",
                                map.spec.source_model, kind.name
                            ))
                        })?;
                        let total = raw::count(c, integration.id, stream.name)?;
                        if total == 0 {
                            return Err(tributary_store::StoreError::Invalid(format!(
                                "'{i}' has no stored {} records yet; run `tributary sync {i}` first",
                                stream.name
                            )));
                        }
                        audit::record(c, &actor, "map.apply", &m, serde_json::json!({"integration": i}))?;
                        let maps = RunMaps::load(c, kind, &[(stream.name.to_string(), m.clone())], Some(&[stream.name]))
                            .map_err(|e| tributary_store::StoreError::Invalid(e.to_string()))?;
                        if let Some((run, _, _)) = runs::unfinished(c, integration.id)? {
                            return Err(tributary_store::StoreError::Invalid(format!(
                                "a sync of '{i}' is still unfinished (run {}); finish it first",
                                run.id
                            )));
                        }
                        let run = runs::start(c, integration.id, None, SyncMode::Replay, &crate::lease_owner())?;
                        // Scoped records replay against the mapping as it is now.
                        let mapped = scopes::list(c, integration.id)?;
                        let scopes = (!mapped.is_empty()).then(|| scopes::asset_map(c, integration.id)).transpose()?;
                        Ok((
                            Prepared {
                                integration,
                                kind,
                                maps,
                                run,
                                resumed: false,
                                scopes,
                                scope: None,
                                single_tx: false,
                                scope_is_new: false,
                                fuses,
                                context: Vec::new(),
                            },
                            (stream.name, total as u64, map.id),
                        ))
                    })
                    .map_err(EngineError::from)
            })
            .await?;
        let (stream, integration_id, map_id) = (total.0, prep.integration.id, total.2);
        let reader = ReplayReader { integration_id, stream, total: total.1 };
        let run = self.run_pipeline(prep, Producer::Replay(reader), progress).await?;
        // Later syncs use the applied map.
        self.blocking(move |store| {
            Ok(store.write(|c| {
                if let Some(p) = profiles::default_for(c, integration_id)? {
                    profiles::set_map(c, p.id, stream, map_id)?;
                }
                Ok(())
            })?)
        })
        .await?;
        Ok(run)
    }
}
