//! Transform maps: stored as JSON rules, validated before every save (an invalid map is
//! refused whole — never half-applied), built-in maps read-only.

use tributary_core::time::now_ms;
use tributary_core::transform::{TransformMap, TransformMapSpec};

use super::{conflict, json_text, parse_enum, parse_json};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct StoredMap {
    pub id: i64,
    pub spec: TransformMapSpec,
    pub builtin: bool,
    pub version: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, connector, source_model, target_model, product, description, rules, builtin, version, updated_at";

fn stored(mut r: Row) -> Result<StoredMap> {
    let rules = parse_json(&r.take::<String>(7)?, "map rules")?;
    Ok(StoredMap {
        id: r.get(0)?,
        spec: TransformMapSpec {
            name: r.take(1)?,
            connector: r.take(2)?,
            source_model: r.take(3)?,
            target_model: parse_enum(&r.take::<String>(4)?)?,
            product: r.take(5)?,
            description: r.take(6)?,
            rules: serde_json::from_value(rules).map_err(|e| StoreError::Decode(format!("map rules: {e}")))?,
        },
        builtin: r.get(8)?,
        version: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// Refuses a map that does not compile, listing every problem.
pub fn validate(spec: &TransformMapSpec) -> Result<()> {
    TransformMap::compile(spec.clone()).map(|_| ()).map_err(|errors| {
        StoreError::Invalid(format!(
            "map '{}' is invalid: {}",
            spec.name,
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
        ))
    })
}

fn rules_json(spec: &TransformMapSpec) -> String {
    json_text(&serde_json::to_value(&spec.rules).unwrap_or_default())
}

pub fn create(conn: &mut dyn Conn, spec: &TransformMapSpec, builtin: bool) -> Result<StoredMap> {
    validate(spec)?;
    let now = now_ms();
    let r = conn.query_one(
        &format!(
            "INSERT INTO transform_maps (name, connector, source_model, target_model, product, description, rules, builtin, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING {COLUMNS}"
        ),
        params![
            spec.name.as_str(),
            spec.connector.as_str(),
            spec.source_model.as_str(),
            spec.target_model.as_str(),
            &spec.product,
            &spec.description,
            rules_json(spec).as_str(),
            builtin,
            now,
            now
        ],
    );
    stored(conflict(r, "transform map", &spec.name)?)
}

/// Installs or refreshes a connector's built-in map (on every start; cheap when unchanged).
pub fn upsert_builtin(conn: &mut dyn Conn, spec: &TransformMapSpec) -> Result<()> {
    match find(conn, &spec.name)? {
        None => create(conn, spec, true).map(|_| ()),
        Some(m) if m.builtin && m.spec != *spec => {
            validate(spec)?;
            conn.execute(
                "UPDATE transform_maps SET connector = ?, source_model = ?, target_model = ?, product = ?, description = ?, rules = ?, \
                 version = version + 1, updated_at = ? WHERE id = ?",
                params![
                    spec.connector.as_str(),
                    spec.source_model.as_str(),
                    spec.target_model.as_str(),
                    &spec.product,
                    &spec.description,
                    rules_json(spec).as_str(),
                    now_ms(),
                    m.id
                ],
            )?;
            Ok(())
        }
        Some(_) => Ok(()),
    }
}

pub fn find(conn: &mut dyn Conn, name: &str) -> Result<Option<StoredMap>> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM transform_maps WHERE name = ?"), params![name])?.map(stored).transpose()
}

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<StoredMap> {
    find(conn, name)?.ok_or_else(|| StoreError::NotFound { what: "transform map", name: name.to_string() })
}

pub fn by_id(conn: &mut dyn Conn, id: i64) -> Result<StoredMap> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM transform_maps WHERE id = ?"), params![id])?
        .map(stored)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { what: "transform map", name: id.to_string() })
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<StoredMap>> {
    conn.query(&format!("SELECT {COLUMNS} FROM transform_maps ORDER BY connector, name"), &[])?.into_iter().map(stored).collect()
}

/// Replaces a user map's definition (validated first; built-in maps are read-only).
pub fn update(conn: &mut dyn Conn, name: &str, spec: &TransformMapSpec) -> Result<StoredMap> {
    let current = get(conn, name)?;
    if current.builtin {
        return Err(StoreError::Invalid(format!(
            "'{name}' is a built-in map and cannot be edited; clone it first (tributary map clone {name} NEW)"
        )));
    }
    if spec.connector != current.spec.connector || spec.source_model != current.spec.source_model {
        return Err(StoreError::Invalid(format!(
            "a map keeps its connector and source model: '{name}' reads {}/{}",
            current.spec.connector, current.spec.source_model
        )));
    }
    let mut spec = spec.clone();
    spec.name = name.to_string();
    validate(&spec)?;
    conn.execute(
        "UPDATE transform_maps SET target_model = ?, product = ?, description = ?, rules = ?, version = version + 1, updated_at = ? WHERE id = ?",
        params![spec.target_model.as_str(), &spec.product, &spec.description, rules_json(&spec).as_str(), now_ms(), current.id],
    )?;
    by_id(conn, current.id)
}

/// Every `vendorProductName` findings can carry (for case-insensitive query matching on
/// an index): the maps' products, plus those findings hold (file imports name their
/// product at run time), from the maintained counts.
pub fn products(conn: &mut dyn Conn) -> Result<Vec<String>> {
    let mut out: Vec<String> = conn
        .query("SELECT DISTINCT product FROM transform_maps WHERE product IS NOT NULL", &[])?
        .into_iter()
        .map(|mut r| r.take(0))
        .collect::<Result<_>>()?;
    for mut r in conn.query("SELECT DISTINCT product FROM finding_stats", &[])? {
        let p: String = r.take(0)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}
