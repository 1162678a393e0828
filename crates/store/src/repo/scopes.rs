//! Scopes: a vendor's containers of records (Semgrep projects) and which repository
//! asset each maps to. Only records of mapped scopes are ingested.
//!
//! A scope is mapped `auto` (its URL matched a repository asset, or one was created for
//! it when the integration maps future projects), `manual` (a user chose the
//! repository), `unmapped` (with the reason), or `excluded` (a user unmapped it; it is
//! never mapped automatically again). Repository identity is the normalized URL
//! ([`RepoKey`]), so https, ssh and `git@` spellings of one repository agree.

use std::collections::HashMap;

use tributary_core::ident::repo::RepoKey;
use tributary_core::time::{Millis, now_ms};

use super::{json_text, parse_json};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

pub const AUTO: &str = "auto";
pub const MANUAL: &str = "manual";
pub const UNMAPPED: &str = "unmapped";
pub const EXCLUDED: &str = "excluded";

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Scope {
    pub id: i64,
    pub integration_id: i64,
    pub key: String,
    pub name: String,
    /// The URL the vendor detected.
    pub url: Option<String>,
    /// The repository it maps to (normalized), when mapped.
    pub repo_key: Option<String>,
    pub repo_asset_id: Option<i64>,
    pub mapping: String,
    pub reason: Option<String>,
    pub attributes: serde_json::Value,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

impl Scope {
    pub fn is_mapped(&self) -> bool {
        matches!(self.mapping.as_str(), AUTO | MANUAL) && self.repo_key.is_some()
    }
}

/// A scope as the vendor lists it.
#[derive(Debug, Clone)]
pub struct ScopeIn {
    pub key: String,
    pub name: String,
    pub url: Option<String>,
    pub attributes: serde_json::Value,
}

const COLUMNS: &str =
    "id, integration_id, scope_key, name, url, repo_key, repo_asset_id, mapping, reason, attributes, first_seen, last_seen";

fn scope(mut r: Row) -> Result<Scope> {
    Ok(Scope {
        id: r.get(0)?,
        integration_id: r.get(1)?,
        key: r.take(2)?,
        name: r.take(3)?,
        url: r.take(4)?,
        repo_key: r.take(5)?,
        repo_asset_id: r.get(6)?,
        mapping: r.take(7)?,
        reason: r.take(8)?,
        attributes: parse_json(&r.take::<String>(9)?, "scope attributes")?,
        first_seen: r.get(10)?,
        last_seen: r.get(11)?,
    })
}

pub fn list(conn: &mut dyn Conn, integration_id: i64) -> Result<Vec<Scope>> {
    conn.query(&format!("SELECT {COLUMNS} FROM scopes WHERE integration_id = ? ORDER BY name, scope_key"), params![integration_id])?
        .into_iter()
        .map(scope)
        .collect()
}

/// A scope by key or name.
pub fn get(conn: &mut dyn Conn, integration_id: i64, key_or_name: &str) -> Result<Scope> {
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM scopes WHERE integration_id = ? AND (scope_key = ? OR name = ?) ORDER BY id"),
        params![integration_id, key_or_name, key_or_name],
    )?;
    match rows.into_iter().next() {
        Some(r) => scope(r),
        None => Err(StoreError::NotFound { what: "project", name: key_or_name.to_string() }),
    }
}

/// Mapped scopes' repository assets, by scope key (what the pipeline attaches records to).
pub fn asset_map(conn: &mut dyn Conn, integration_id: i64) -> Result<HashMap<String, i64>> {
    let mut out = HashMap::new();
    for mut r in conn.query(
        "SELECT scope_key, repo_asset_id FROM scopes WHERE integration_id = ? AND mapping IN ('auto', 'manual') AND repo_asset_id IS NOT NULL",
        params![integration_id],
    )? {
        out.insert(r.take(0)?, r.get(1)?);
    }
    Ok(out)
}

/// The asset a repository key identifies, if any.
pub fn repository_asset(conn: &mut dyn Conn, key: &str) -> Result<Option<i64>> {
    conn.query_opt("SELECT asset_id FROM asset_identifiers WHERE kind = 'repo_url' AND value = ?", params![key])?
        .map(|r| r.get(0))
        .transpose()
}

/// What [`refresh`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refreshed {
    /// Scopes that became mapped or now map elsewhere: their history must be fetched in full.
    pub newly_mapped: Vec<String>,
    /// Mapped scopes whose repository has no asset yet (to be created from the URL).
    pub to_create: Vec<String>,
    pub mapped: usize,
    pub unmapped: usize,
}

/// Records the vendor's current scopes and decides each one's mapping: user choices
/// (`manual`, `excluded`) stand; otherwise a scope maps to the repository asset its URL
/// identifies, or — with `auto_map_future` — to one created for it.
pub fn refresh(conn: &mut dyn Conn, integration_id: i64, listed: &[ScopeIn], auto_map_future: bool) -> Result<Refreshed> {
    let now = now_ms();
    let existing: HashMap<String, Scope> = list(conn, integration_id)?.into_iter().map(|s| (s.key.clone(), s)).collect();
    let mut out = Refreshed::default();
    for s in listed {
        let prior = existing.get(&s.key);
        let (mapping, repo_key, reason): (&str, Option<String>, Option<String>) = match prior.map(|p| p.mapping.as_str()) {
            Some(MANUAL) => (MANUAL, prior.and_then(|p| p.repo_key.clone()), None),
            Some(EXCLUDED) => (EXCLUDED, None, prior.and_then(|p| p.reason.clone())),
            _ => match s.url.as_deref().map(RepoKey::parse) {
                None => {
                    (UNMAPPED, None, Some(format!("no repository URL; map it by hand: tributary projects map '{}' --repo URL", s.name)))
                }
                Some(Err(e)) => (UNMAPPED, None, Some(format!("{e}; map it by hand with --repo URL"))),
                Some(Ok(key)) => {
                    if repository_asset(conn, key.as_str())?.is_some() {
                        (AUTO, Some(key.as_str().to_string()), None)
                    } else if auto_map_future {
                        out.to_create.push(s.key.clone());
                        (AUTO, Some(key.as_str().to_string()), None)
                    } else {
                        (
                            UNMAPPED,
                            None,
                            Some(format!(
                                "no repository asset matches {} (sync Cortex Cloud, map it by hand, or add the integration with --auto-map-future)",
                                key.https_url()
                            )),
                        )
                    }
                }
            },
        };
        let mapped = matches!(mapping, AUTO | MANUAL) && repo_key.is_some();
        if mapped {
            out.mapped += 1;
            let before = prior.filter(|p| p.is_mapped()).and_then(|p| p.repo_key.clone());
            if before != repo_key {
                out.newly_mapped.push(s.key.clone());
            }
        } else {
            out.unmapped += 1;
        }
        let attrs = json_text(&s.attributes);
        match prior {
            Some(p) => {
                conn.execute(
                    "UPDATE scopes SET name = ?, url = ?, repo_key = ?, mapping = ?, reason = ?, attributes = ?, last_seen = ? WHERE id = ?",
                    params![s.name.as_str(), s.url.as_deref(), repo_key.as_deref(), mapping, reason.as_deref(), attrs.as_str(), now, p.id],
                )?;
                if p.repo_key != repo_key {
                    conn.execute("UPDATE scopes SET repo_asset_id = NULL WHERE id = ?", params![p.id])?;
                }
            }
            None => {
                conn.execute(
                    "INSERT INTO scopes (integration_id, scope_key, name, url, repo_key, repo_asset_id, mapping, reason, attributes, first_seen, last_seen) \
                     VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                    params![integration_id, s.key.as_str(), s.name.as_str(), s.url.as_deref(), repo_key.as_deref(), mapping, reason.as_deref(), attrs.as_str(), now, now],
                )?;
            }
        }
    }
    // Scopes the vendor no longer lists (archived or deleted projects) stop being ingested;
    // a full sync closes what they had reported.
    let listed_keys: std::collections::HashSet<&str> = listed.iter().map(|s| s.key.as_str()).collect();
    for (key, s) in &existing {
        if !listed_keys.contains(key.as_str()) && s.mapping != EXCLUDED {
            conn.execute(
                "UPDATE scopes SET mapping = ?, repo_asset_id = NULL, reason = ? WHERE id = ?",
                params![UNMAPPED, "no longer listed by the vendor (archived or deleted)", s.id],
            )?;
        }
    }
    Ok(out)
}

/// Points mapped scopes at the assets their repository keys identify.
pub fn link_assets(conn: &mut dyn Conn, integration_id: i64) -> Result<u64> {
    conn.execute(
        "UPDATE scopes SET repo_asset_id = (SELECT i.asset_id FROM asset_identifiers i WHERE i.kind = 'repo_url' AND i.value = scopes.repo_key) \
         WHERE integration_id = ? AND mapping IN ('auto', 'manual') AND repo_key IS NOT NULL",
        params![integration_id],
    )
}

/// A user maps a scope to a repository (by URL). Returns the scope before the change.
pub fn set_manual(conn: &mut dyn Conn, integration_id: i64, key_or_name: &str, repo: &RepoKey) -> Result<Scope> {
    let s = get(conn, integration_id, key_or_name)?;
    conn.execute(
        "UPDATE scopes SET mapping = ?, repo_key = ?, repo_asset_id = NULL, reason = NULL WHERE id = ?",
        params![MANUAL, repo.as_str(), s.id],
    )?;
    Ok(s)
}

/// A user unmaps a scope: it is excluded from ingestion (and from automatic mapping)
/// and the findings it brought in are removed. Returns the findings removed.
pub fn exclude(conn: &mut dyn Conn, integration_id: i64, key_or_name: &str) -> Result<(Scope, u64)> {
    let s = get(conn, integration_id, key_or_name)?;
    conn.execute(
        "UPDATE scopes SET mapping = ?, repo_key = NULL, repo_asset_id = NULL, reason = ? WHERE id = ?",
        params![EXCLUDED, "unmapped by hand; map it again with tributary projects map", s.id],
    )?;
    let issues = super::issues::ids_of(conn, "integration_id = ? AND scope = ?", params![integration_id, s.key.as_str()])?;
    let removed = conn.execute("DELETE FROM findings WHERE integration_id = ? AND scope = ?", params![integration_id, s.key.as_str()])?;
    super::issues::refresh_ids(conn, &issues)?;
    super::stats::mark_stale(conn)?;
    if let Some(old) = s.repo_asset_id {
        prune_relations(conn, old)?;
    }
    Ok((s, removed))
}

/// Moves a scope's findings from one repository asset to another: code findings attach
/// to the repository itself; package findings keep their package and change context.
pub fn move_findings(conn: &mut dyn Conn, integration_id: i64, key: &str, from: i64, to: i64) -> Result<u64> {
    if from == to {
        return Ok(0);
    }
    let moved = conn.execute(
        "UPDATE findings SET asset_id = ? WHERE integration_id = ? AND scope = ? AND asset_id = ?",
        params![to, integration_id, key, from],
    )?;
    let recontext = conn.execute(
        "UPDATE findings SET repo_asset_id = ? WHERE integration_id = ? AND scope = ? AND repo_asset_id = ?",
        params![to, integration_id, key, from],
    )?;
    conn.execute(
        "INSERT INTO asset_relations (parent_id, child_id, kind) \
         SELECT DISTINCT CAST(? AS BIGINT), asset_id, 'contains' FROM findings WHERE integration_id = ? AND scope = ? AND repo_asset_id = ? AND asset_id <> ? \
         ON CONFLICT DO NOTHING",
        params![to, integration_id, key, to, to],
    )?;
    prune_relations(conn, from)?;
    super::issues::recorrelate_scope(conn, integration_id, key)?;
    Ok(moved.max(recontext))
}

/// Drops `repo`'s "contains" links to packages that no finding places in it any more.
fn prune_relations(conn: &mut dyn Conn, repo: i64) -> Result<u64> {
    conn.execute(
        "DELETE FROM asset_relations WHERE parent_id = ? AND kind = 'contains' AND NOT EXISTS \
         (SELECT 1 FROM findings f WHERE f.repo_asset_id = asset_relations.parent_id AND f.asset_id = asset_relations.child_id)",
        params![repo],
    )
}
