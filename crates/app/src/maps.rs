//! Transform maps: list, show, clone, edit, validate, preview on stored records, and
//! apply (replay stored records through a map, no fetch).

use std::sync::Arc;

use serde_json::json;
use tributary_core::model::{Role, SyncRun};
use tributary_core::transform::{TransformMap, TransformMapSpec};
use tributary_engine::{Fuses, Progress};
use tributary_store::repo::maps;

pub use tributary_store::repo::maps::StoredMap;

use crate::{App, AppError, Principal, Result};

/// Reads a map definition from JSON or YAML text; `origin` names it in errors.
pub fn parse_map(text: &str, yaml: bool, origin: &str) -> Result<TransformMapSpec> {
    let yaml = yaml || !text.trim_start().starts_with('{');
    if yaml {
        serde_norway::from_str(text).map_err(|e| AppError::invalid("map", format!("{origin} is not a valid map (YAML): {e}")))
    } else {
        serde_json::from_str(text).map_err(|e| AppError::invalid("map", format!("{origin} is not a valid map (JSON): {e}")))
    }
}

/// Checks a map: every problem, one per line.
pub fn validate_map(spec: &TransformMapSpec) -> Result<()> {
    if let Err(errors) = TransformMap::compile(spec.clone()) {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        return Err(AppError::invalid("rules", format!("map '{}' is invalid:\n{}", spec.name, list.join("\n"))));
    }
    Ok(())
}

impl App {
    pub fn maps(&self, who: &Principal) -> Result<Vec<StoredMap>> {
        who.require(Role::Viewer, "listing maps")?;
        Ok(self.store().read(maps::list)?)
    }

    pub fn map(&self, who: &Principal, name: &str) -> Result<StoredMap> {
        who.require(Role::Viewer, "reading a map")?;
        Ok(self.store().read(|c| maps::get(c, name))?)
    }

    /// Copies a map (built-in or not) under a new name, to edit.
    pub fn clone_map(&self, who: &Principal, name: &str, new_name: &str) -> Result<StoredMap> {
        who.require(Role::Analyst, "cloning a map")?;
        self.change(who, "map.clone", new_name, |c| {
            let mut spec = maps::get(c, name)?.spec;
            spec.name = new_name.to_string();
            spec.description = Some(format!("Copy of {name}."));
            Ok((maps::create(c, &spec, false)?, json!({"from": name})))
        })
    }

    /// Replaces a map's rules (it keeps its name); refuses an invalid map whole.
    pub fn edit_map(&self, who: &Principal, name: &str, mut spec: TransformMapSpec) -> Result<StoredMap> {
        who.require(Role::Analyst, "editing a map")?;
        spec.name = name.to_string();
        validate_map(&spec)?;
        let rules = spec.rules.len();
        self.change(who, "map.edit", name, |c| Ok((maps::update(c, name, &spec)?, json!({"rules": rules}))))
    }

    /// A map applied to up to `sample` stored records of an integration: input beside output.
    pub async fn preview_map(
        &self,
        who: &Principal,
        name: &str,
        integration: &str,
        sample: usize,
    ) -> Result<Vec<(serde_json::Value, serde_json::Value)>> {
        who.require(Role::Viewer, "previewing a map")?;
        if !(1..=100).contains(&sample) {
            return Err(AppError::invalid("sample", "between 1 and 100 records"));
        }
        let n = name.to_string();
        let spec = self.blocking(move |app| Ok(app.store().read(|c| maps::get(c, &n))?.spec)).await?;
        self.preview_spec(who, spec, integration, sample).await
    }

    /// An unsaved map applied to stored records (the editor's preview).
    pub async fn preview_spec(
        &self,
        who: &Principal,
        spec: TransformMapSpec,
        integration: &str,
        sample: usize,
    ) -> Result<Vec<(serde_json::Value, serde_json::Value)>> {
        who.require(Role::Viewer, "previewing a map")?;
        let pairs = self.engine.preview(spec, integration, sample).await?;
        if pairs.is_empty() {
            return Err(AppError::Conflict(format!("'{integration}' has no records to preview yet; sync it first")));
        }
        Ok(pairs)
    }

    /// Re-runs an integration's stored records through a map; it becomes the map the
    /// integration uses once the replay succeeded.
    pub async fn apply_map(
        &self,
        who: &Principal,
        name: &str,
        integration: &str,
        fuses: Fuses,
        progress: Arc<dyn Progress>,
    ) -> Result<SyncRun> {
        who.require(Role::Analyst, "applying a map")?;
        Ok(self.engine.apply_map_with(name, integration, &who.name, fuses, progress).await?)
    }
}
