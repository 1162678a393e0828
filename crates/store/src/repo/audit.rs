//! The audit trail: append-only.

use tributary_core::model::AuditEvent;
use tributary_core::time::now_ms;

use super::{json_text, parse_json};
use crate::conn::Conn;
use crate::error::Result;
use crate::params;

pub fn record(conn: &mut dyn Conn, actor: &str, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_events (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        params![now_ms(), actor, action, target, json_text(&detail).as_str()],
    )?;
    Ok(())
}

pub fn recent(conn: &mut dyn Conn, limit: i64) -> Result<Vec<AuditEvent>> {
    events(conn.query("SELECT id, at, actor, action, target, detail FROM audit_events ORDER BY id DESC LIMIT ?", params![limit])?)
}

/// The events about one target whose action starts with `prefix` (e.g. a finding's
/// `triage.` history), newest first.
pub fn for_target(conn: &mut dyn Conn, prefix: &str, target: &str, limit: i64) -> Result<Vec<AuditEvent>> {
    let like = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
    events(conn.query(
        "SELECT id, at, actor, action, target, detail FROM audit_events WHERE target = ? AND action LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
        params![target, like.as_str(), limit],
    )?)
}

fn events(rows: Vec<crate::value::Row>) -> Result<Vec<AuditEvent>> {
    rows.into_iter()
        .map(|mut r| {
            let detail: Option<String> = r.take(5)?;
            Ok(AuditEvent {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.take(2)?,
                action: r.take(3)?,
                target: r.take(4)?,
                detail: detail.map(|d| parse_json(&d, "audit detail")).transpose()?.unwrap_or_default(),
            })
        })
        .collect()
}
