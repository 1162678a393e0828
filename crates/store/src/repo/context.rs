//! Repository context: deployment status and internet exposure from Cortex Cloud, kept
//! only where the seed allows (../shared/seeds/000: "only synced for Semgrep projects
//! that are connected to SCMs and have been scanned within the previous 30 days").
//! Every other repository gets a row saying why it has none.
//!
//! "Within 30 days" is counted back from the newest scan of any Semgrep project (capped
//! at now): on a live deployment that is now; it keeps a tenant whose clock is not ours
//! (the simulator's fixed calendar, an archive restored later) meaningful.
//!
//! Rebuilt whole after every run ([`refresh`]): a tenant has thousands of repositories,
//! not millions.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tributary_core::time::{Millis, now_ms, parse_loose, to_rfc3339};

use super::parse_json;
use crate::conn::Conn;
use crate::error::Result;
use crate::params;
use crate::value::{Batch, Column};

/// The connector kind whose repositories carry deployment context.
pub const CLOUD_KIND: &str = "cortex-cloud";
/// Days a Semgrep project's last scan may be old for its repository to get context.
pub const SCAN_WINDOW_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// A repository's context, as front ends show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct RepoContext {
    pub asset_id: i64,
    pub repository: String,
    /// deployed, not_deployed, unknown — `None` when there is no context (see `reason`).
    pub deployment: Option<String>,
    /// exposed, not_exposed, unsupported, unknown — `None` when there is no context.
    pub exposure: Option<String>,
    /// Which workloads, load balancers or assets the vendor named, and why exposure is
    /// unknown or unsupported.
    pub evidence: Value,
    /// Why the repository has no context, when it has none.
    pub reason: Option<String>,
    /// The last scan of its Semgrep project(s).
    pub scanned_at: Option<String>,
}

fn deployment_word(v: Option<&str>) -> &'static str {
    match v.map(str::to_ascii_uppercase).as_deref() {
        Some("DEPLOYED") => "deployed",
        Some("NOT_DEPLOYED") => "not_deployed",
        _ => "unknown",
    }
}

/// The vendor's exposure word, or what the deployed assets say when it gave none. An AWS
/// classic load balancer is never guessed: unsupported (the seed's limitation).
fn exposure_word(v: Option<&str>, assets: &[Value]) -> &'static str {
    match v.map(str::to_ascii_uppercase).as_deref() {
        Some("EXPOSED") => return "exposed",
        Some("NOT_EXPOSED") => return "not_exposed",
        Some("UNSUPPORTED") => return "unsupported",
        _ => {}
    }
    let classic = assets.iter().any(|a| {
        a["exposurePath"].as_str().is_some_and(|p| p.eq_ignore_ascii_case("AWS_CLASSIC_ELB")) && !a["internetExposed"].is_boolean()
    });
    if classic {
        "unsupported"
    } else if assets.iter().any(|a| a["internetExposed"] == Value::Bool(true)) {
        "exposed"
    } else if !assets.is_empty() && assets.iter().all(|a| a["internetExposed"] == Value::Bool(false)) {
        "not_exposed"
    } else {
        "unknown"
    }
}

/// The Cortex Cloud integration, if there is one (there is at most one).
fn cloud_integration(conn: &mut dyn Conn) -> Result<Option<i64>> {
    conn.query_opt("SELECT id FROM integrations WHERE kind = ? ORDER BY id LIMIT 1", params![CLOUD_KIND])?.map(|r| r.get(0)).transpose()
}

struct Project {
    connected: bool,
    scanned: Option<Millis>,
}

/// Rebuilds `repo_context`; returns the repositories whose context changed (their
/// findings' issues are rescored).
pub fn refresh(conn: &mut dyn Conn) -> Result<Vec<i64>> {
    let before: BTreeMap<i64, (Option<String>, Option<String>)> = conn
        .query("SELECT asset_id, deployment, exposure FROM repo_context", &[])?
        .into_iter()
        .map(|mut r| Ok((r.get::<i64>(0)?, (r.take(1)?, r.take(2)?))))
        .collect::<Result<_>>()?;
    let cloud = cloud_integration(conn)?;
    let mut listed: BTreeMap<i64, Value> = BTreeMap::new();
    if let Some(cloud) = cloud {
        for mut r in conn.query("SELECT asset_id, attributes FROM asset_sources WHERE integration_id = ? AND active = 1", params![cloud])? {
            listed.insert(r.get(0)?, parse_json(&r.take::<String>(1)?, "asset source attributes")?);
        }
    }
    let mut projects: BTreeMap<i64, Vec<Project>> = BTreeMap::new();
    for mut r in conn
        .query("SELECT repo_asset_id, url, attributes FROM scopes WHERE repo_asset_id IS NOT NULL AND mapping IN ('auto', 'manual')", &[])?
    {
        let attrs = parse_json(&r.take::<String>(2)?, "scope attributes")?;
        let scanned = attrs["latest_scan_at"].as_str().and_then(parse_loose).or_else(|| attrs["latest_scan_at"].as_i64());
        let connected = r.take::<Option<String>>(1)?.is_some_and(|u| !u.trim().is_empty());
        projects.entry(r.get(0)?).or_default().push(Project { connected, scanned });
    }
    let newest = projects.values().flatten().filter_map(|p| p.scanned).max();
    let reference = newest.map_or_else(now_ms, |n| n.min(now_ms()));
    let cutoff = reference - SCAN_WINDOW_DAYS * DAY_MS;

    let mut repos: Vec<i64> = listed.keys().chain(projects.keys()).copied().collect();
    repos.sort_unstable();
    repos.dedup();
    let now = now_ms();
    let mut cols: [Vec<Option<i64>>; 4] = Default::default();
    let (mut deployment, mut exposure, mut evidence, mut reason) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut changed = Vec::new();
    for repo in repos {
        let ps = projects.get(&repo).map(Vec::as_slice).unwrap_or(&[]);
        let scanned = ps.iter().filter(|p| p.connected).filter_map(|p| p.scanned).max();
        let record = listed.get(&repo);
        let why: Option<String> = if ps.is_empty() {
            Some("no Semgrep project maps to this repository (context is kept for Semgrep projects only)".into())
        } else if !ps.iter().any(|p| p.connected) {
            Some("its Semgrep project is not connected to a source code manager".into())
        } else if scanned.is_none_or(|s| s < cutoff) {
            Some(match scanned {
                Some(s) => format!(
                    "its Semgrep project was last scanned {} ({} days before the newest scan); context needs a scan within {SCAN_WINDOW_DAYS} days",
                    to_rfc3339(s),
                    (reference - s) / DAY_MS
                ),
                None => format!("its Semgrep project has no scan on record; context needs a scan within {SCAN_WINDOW_DAYS} days"),
            })
        } else if cloud.is_none() {
            Some("no Cortex Cloud integration".into())
        } else if record.is_none() {
            Some("Cortex Cloud does not list this repository (onboard its version control system in Cortex)".into())
        } else {
            None
        };
        let (d, e, ev) = match (&why, record) {
            (None, Some(a)) => {
                let dep = &a["deployment"];
                let assets = dep["assets"].as_array().cloned().unwrap_or_default();
                let e = exposure_word(dep["internetExposure"].as_str(), &assets);
                let mut ev = json!({"assets": assets});
                if let Some(r) = dep["exposureReason"].as_str() {
                    ev["exposureReason"] = Value::from(r);
                } else if e == "unsupported" {
                    ev["exposureReason"] = Value::from("Internet exposure detection is not supported for AWS classic load balancers");
                }
                (Some(deployment_word(dep["status"].as_str())), Some(e), ev)
            }
            _ => (None, None, json!({})),
        };
        if before.get(&repo).map(|(a, b)| (a.as_deref(), b.as_deref())) != Some((d, e)) {
            changed.push(repo);
        }
        cols[0].push(Some(repo));
        cols[1].push(cloud);
        cols[2].push(scanned);
        cols[3].push(Some(now));
        deployment.push(d.map(str::to_string));
        exposure.push(e.map(str::to_string));
        evidence.push(Some(ev.to_string()));
        reason.push(why);
    }
    changed.extend(before.keys().filter(|k| !cols[0].contains(&Some(**k))));
    conn.execute("DELETE FROM repo_context", &[])?;
    let [asset_id, integration_id, scanned_at, updated_at] = cols;
    if !asset_id.is_empty() {
        let batch = Batch::new()
            .col("asset_id", Column::Int(asset_id))
            .col("integration_id", Column::Int(integration_id))
            .col("deployment", Column::Text(deployment))
            .col("exposure", Column::Text(exposure))
            .col("evidence", Column::Text(evidence))
            .col("reason", Column::Text(reason))
            .col("scanned_at", Column::Int(scanned_at))
            .col("updated_at", Column::Int(updated_at));
        conn.insert_batch("repo_context", &batch)?;
    }
    Ok(changed)
}

/// Rebuilds hosts' internet exposure (from the attack-surface records Cortex XDR
/// integrations bring) and the `deployed_to` links from repositories to the hosts their
/// workloads run on (Cortex Cloud's deployed assets, by cloud instance id, where the host
/// has one). Returns the hosts whose exposure changed.
pub fn refresh_hosts(conn: &mut dyn Conn) -> Result<Vec<i64>> {
    let before: BTreeMap<i64, i64> = conn
        .query("SELECT asset_id, exposed FROM host_context", &[])?
        .into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    let mut hosts: BTreeMap<i64, (bool, Vec<Value>)> = BTreeMap::new();
    for mut r in conn.query(
        "SELECT s.asset_id, s.attributes FROM asset_sources s JOIN integrations i ON i.id = s.integration_id \
         WHERE i.kind = 'cortex-xdr' AND s.active = 1 AND s.attributes LIKE '%internetExposed%'",
        &[],
    )? {
        let attrs = parse_json(&r.take::<String>(1)?, "asset source attributes")?;
        let Some(exposed) = attrs["exposure"]["internetExposed"].as_bool() else { continue };
        let e = hosts.entry(r.get(0)?).or_insert((false, Vec::new()));
        e.0 |= exposed;
        e.1.push(json!({"exposed": exposed, "ips": attrs["exposure"]["ips"], "services": attrs["exposure"]["services"]}));
    }
    let mut changed: Vec<i64> = hosts.iter().filter(|(k, v)| before.get(k) != Some(&i64::from(v.0))).map(|(k, _)| *k).collect();
    changed.extend(before.keys().filter(|k| !hosts.contains_key(k)));
    conn.execute("DELETE FROM host_context", &[])?;
    if !hosts.is_empty() {
        let now = now_ms();
        let n = hosts.len();
        let (mut ids, mut exposed, mut evidence) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for (id, (e, ev)) in hosts {
            ids.push(Some(id));
            exposed.push(Some(i64::from(e)));
            evidence.push(Some(Value::Array(ev).to_string()));
        }
        let batch = Batch::new()
            .col("asset_id", Column::Int(ids))
            .col("exposed", Column::Int(exposed))
            .col("evidence", Column::Text(evidence))
            .col("updated_at", Column::Int(vec![Some(now); n]));
        conn.insert_batch("host_context", &batch)?;
    }
    // Where each repository runs.
    conn.execute("DELETE FROM asset_relations WHERE kind = 'deployed_to'", &[])?;
    let cloud = cloud_integration(conn)?;
    if let Some(cloud) = cloud {
        for mut r in conn.query("SELECT asset_id, attributes FROM asset_sources WHERE integration_id = ? AND active = 1", params![cloud])? {
            let repo: i64 = r.get(0)?;
            let attrs = parse_json(&r.take::<String>(1)?, "asset source attributes")?;
            for a in attrs["deployment"]["assets"].as_array().into_iter().flatten() {
                let (Some(id), Some(provider)) = (a["cloudInstanceId"].as_str(), a["cloudProvider"].as_str()) else { continue };
                let key = format!("{}:{id}", provider.to_ascii_lowercase());
                conn.execute(
                    "INSERT INTO asset_relations (parent_id, child_id, kind) \
                     SELECT CAST(? AS BIGINT), i.asset_id, 'deployed_to' FROM asset_identifiers i WHERE i.kind = 'cloud_instance_id' AND i.value = ? \
                     ON CONFLICT DO NOTHING",
                    params![repo, key.as_str()],
                )?;
            }
        }
    }
    Ok(changed)
}

/// Every repository's context (or why it has none), by repository name.
pub fn list(conn: &mut dyn Conn) -> Result<Vec<RepoContext>> {
    let rows = conn.query(
        "SELECT c.asset_id, a.name, c.deployment, c.exposure, c.evidence, c.reason, c.scanned_at \
         FROM repo_context c JOIN assets a ON a.id = c.asset_id ORDER BY a.name, c.asset_id",
        &[],
    )?;
    rows.into_iter()
        .map(|mut r| {
            Ok(RepoContext {
                asset_id: r.get(0)?,
                repository: r.take(1)?,
                deployment: r.take(2)?,
                exposure: r.take(3)?,
                evidence: parse_json(&r.take::<String>(4)?, "repository context evidence")?,
                reason: r.take(5)?,
                scanned_at: r.get::<Option<i64>>(6)?.map(to_rfc3339),
            })
        })
        .collect()
}

/// `(deployed, internet exposed)` of a repository, `None` where unknown.
pub fn facts(conn: &mut dyn Conn, repo_asset_id: i64) -> Result<(Option<bool>, Option<bool>)> {
    Ok(match conn.query_opt("SELECT deployment, exposure FROM repo_context WHERE asset_id = ?", params![repo_asset_id])? {
        Some(mut r) => (deployed(r.take::<Option<String>>(0)?.as_deref()), exposed(r.take::<Option<String>>(1)?.as_deref())),
        None => (None, None),
    })
}

pub fn deployed(word: Option<&str>) -> Option<bool> {
    match word {
        Some("deployed") => Some(true),
        Some("not_deployed") => Some(false),
        _ => None,
    }
}

pub fn exposed(word: Option<&str>) -> Option<bool> {
    match word {
        Some("exposed") => Some(true),
        Some("not_exposed") => Some(false),
        _ => None,
    }
}

/// The tag a project gets when its repository is deployed (write-back).
pub const TAG_DEPLOYED: &str = "tributary:deployed";
/// The tag a project gets when its repository is exposed to the internet (write-back).
pub const TAG_EXPOSED: &str = "tributary:internet-exposed";

/// One project's tags to change in the vendor's tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    pub scope_id: i64,
    pub scope: String,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Its whole tag set once changed (kept with the scope, so the next run sends nothing).
    pub after: Vec<String>,
}

/// What write-back must change on an integration's mapped projects: the tags our context
/// says they should carry, against the tags they carry (only `tributary:` tags are ours
/// to add or remove).
pub fn tag_plan(conn: &mut dyn Conn, integration_id: i64) -> Result<Vec<TagChange>> {
    let mut out = Vec::new();
    for mut r in conn.query(
        "SELECT s.id, s.scope_key, s.attributes, c.deployment, c.exposure FROM scopes s \
         LEFT JOIN repo_context c ON c.asset_id = s.repo_asset_id \
         WHERE s.integration_id = ? AND s.mapping IN ('auto', 'manual')",
        params![integration_id],
    )? {
        let attrs = parse_json(&r.take::<String>(2)?, "scope attributes")?;
        let tags: Vec<String> = attrs["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect();
        let (d, e): (Option<String>, Option<String>) = (r.take(3)?, r.take(4)?);
        let mut want = Vec::new();
        if d.as_deref() == Some("deployed") {
            want.push(TAG_DEPLOYED.to_string());
        }
        if e.as_deref() == Some("exposed") {
            want.push(TAG_EXPOSED.to_string());
        }
        let add: Vec<String> = want.iter().filter(|t| !tags.contains(t)).cloned().collect();
        let remove: Vec<String> = tags.iter().filter(|t| t.starts_with("tributary:") && !want.contains(t)).cloned().collect();
        if add.is_empty() && remove.is_empty() {
            continue;
        }
        let mut after: Vec<String> = tags.iter().filter(|t| !remove.contains(t)).cloned().collect();
        after.extend(add.iter().cloned());
        out.push(TagChange { scope_id: r.get(0)?, scope: r.take(1)?, add, remove, after });
    }
    Ok(out)
}

/// Records a project's tags as written back.
pub fn set_scope_tags(conn: &mut dyn Conn, scope_id: i64, tags: &[String]) -> Result<()> {
    let Some(mut r) = conn.query_opt("SELECT attributes FROM scopes WHERE id = ?", params![scope_id])? else { return Ok(()) };
    let mut attrs = parse_json(&r.take::<String>(0)?, "scope attributes")?;
    if let Some(o) = attrs.as_object_mut() {
        o.insert("tags".into(), json!(tags));
    }
    conn.execute("UPDATE scopes SET attributes = ? WHERE id = ?", params![attrs.to_string().as_str(), scope_id])?;
    Ok(())
}
