//! Profiles: an integration, the map per stream, whether it is active, and its schedule.

use tributary_core::model::{Profile, Schedule};
use tributary_core::time::{Millis, now_ms};

use super::{conflict, json_text, parse_json};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

const COLUMNS: &str = "id, name, description, integration_id, active, is_default, schedule, next_run_at, last_run_at";

fn profile(conn: &mut dyn Conn, mut r: Row) -> Result<Profile> {
    let id: i64 = r.get(0)?;
    let schedule: Schedule = serde_json::from_value(parse_json(&r.take::<String>(6)?, "profile schedule")?)
        .map_err(|e| StoreError::Decode(format!("profile schedule: {e}")))?;
    let maps = conn
        .query("SELECT pm.stream, m.name FROM profile_maps pm JOIN transform_maps m ON m.id = pm.map_id WHERE pm.profile_id = ? ORDER BY pm.stream", params![id])?
        .into_iter()
        .map(|mut r| Ok((r.take(0)?, r.take(1)?)))
        .collect::<Result<Vec<(String, String)>>>()?;
    Ok(Profile {
        id,
        name: r.take(1)?,
        description: r.take(2)?,
        integration_id: r.get(3)?,
        maps,
        active: r.get(4)?,
        is_default: r.get(5)?,
        schedule,
        next_run_at: r.get(7)?,
        last_run_at: r.get(8)?,
    })
}

fn collect(conn: &mut dyn Conn, rows: Vec<Row>) -> Result<Vec<Profile>> {
    rows.into_iter().map(|r| profile(conn, r)).collect()
}

pub struct NewProfile<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub integration_id: i64,
    /// `(stream, map id)`.
    pub maps: Vec<(String, i64)>,
    pub active: bool,
    pub is_default: bool,
    pub schedule: Schedule,
}

pub fn create(conn: &mut dyn Conn, p: NewProfile<'_>) -> Result<Profile> {
    let name = p.name.trim();
    tributary_core::model::check_name("profile", name).map_err(StoreError::Invalid)?;
    let next = p.active.then(|| p.schedule.first_run(now_ms())).flatten();
    let schedule = json_text(&serde_json::to_value(&p.schedule).unwrap_or_default());
    let r = conn.query_one(
        &format!(
            "INSERT INTO profiles (name, description, integration_id, active, is_default, schedule, next_run_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
        ),
        params![name, p.description, p.integration_id, p.active, p.is_default, schedule.as_str(), next, now_ms()],
    );
    let row = conflict(r, "profile", name)?;
    let id: i64 = row.get(0)?;
    for (stream, map_id) in &p.maps {
        conn.execute("INSERT INTO profile_maps (profile_id, stream, map_id) VALUES (?, ?, ?)", params![id, stream.as_str(), *map_id])?;
    }
    profile(conn, row)
}

pub fn find(conn: &mut dyn Conn, name: &str) -> Result<Option<Profile>> {
    match conn.query_opt(&format!("SELECT {COLUMNS} FROM profiles WHERE name = ?"), params![name])? {
        Some(r) => Ok(Some(profile(conn, r)?)),
        None => Ok(None),
    }
}

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<Profile> {
    find(conn, name)?.ok_or_else(|| StoreError::NotFound { what: "profile", name: name.to_string() })
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Profile>> {
    let rows = conn.query(&format!("SELECT {COLUMNS} FROM profiles ORDER BY name"), &[])?;
    collect(conn, rows)
}

/// The integration's own profile.
pub fn default_for(conn: &mut dyn Conn, integration_id: i64) -> Result<Option<Profile>> {
    match conn.query_opt(&format!("SELECT {COLUMNS} FROM profiles WHERE integration_id = ? AND is_default = 1"), params![integration_id])? {
        Some(r) => Ok(Some(profile(conn, r)?)),
        None => Ok(None),
    }
}

/// Activates or deactivates a profile (recomputing its next run).
pub fn set_active(conn: &mut dyn Conn, name: &str, active: bool) -> Result<Profile> {
    let p = get(conn, name)?;
    let next = active.then(|| p.schedule.next_after(now_ms())).flatten();
    conn.execute("UPDATE profiles SET active = ?, next_run_at = ? WHERE id = ?", params![active, next, p.id])?;
    get(conn, name)
}

pub fn delete(conn: &mut dyn Conn, name: &str) -> Result<()> {
    let p = get(conn, name)?;
    if p.is_default {
        return Err(StoreError::Invalid(format!("'{name}' is the integration's own profile; it goes when the integration is deleted")));
    }
    conn.execute("DELETE FROM profiles WHERE id = ?", params![p.id])?;
    Ok(())
}

/// Active profiles whose next run is due.
pub fn due(conn: &mut dyn Conn, now: Millis) -> Result<Vec<Profile>> {
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM profiles WHERE active = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at"),
        params![now],
    )?;
    collect(conn, rows)
}

/// Records that a profile ran and when it runs next. `expected_next` makes the claim
/// atomic: of several nodes that saw the profile due, only one moves it on.
pub fn claim(conn: &mut dyn Conn, id: i64, expected_next: Millis, ran_at: Millis, next: Option<Millis>) -> Result<bool> {
    let n = conn.execute(
        "UPDATE profiles SET last_run_at = ?, next_run_at = ? WHERE id = ? AND next_run_at = ?",
        params![ran_at, next, id, expected_next],
    )?;
    Ok(n == 1)
}

/// Maps in use by any profile (a map in use cannot be deleted).
pub fn using_map(conn: &mut dyn Conn, map_id: i64) -> Result<Vec<String>> {
    conn.query("SELECT p.name FROM profiles p JOIN profile_maps pm ON pm.profile_id = p.id WHERE pm.map_id = ?", params![map_id])?
        .into_iter()
        .map(|mut r| r.take(0))
        .collect()
}

/// Points a profile's stream at another map.
pub fn set_map(conn: &mut dyn Conn, profile_id: i64, stream: &str, map_id: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO profile_maps (profile_id, stream, map_id) VALUES (?, ?, ?) ON CONFLICT (profile_id, stream) DO UPDATE SET map_id = excluded.map_id",
        params![profile_id, stream, map_id],
    )?;
    Ok(())
}
