//! Webhooks and their deliveries. A webhook's URL and signing secret are sealed with the
//! master key. Notifications are enqueued in the transaction that found them (a sync's
//! derivation, [`after_derive`]): each new match of a policy, and each open issue that is
//! critical or internet-exposed, once per webhook (`notified_issues`). The sender
//! (`engine::notify`) takes deliveries that are due and records each attempt: delivered,
//! or tried again with backoff until [`MAX_ATTEMPTS`].

use tributary_core::notify::{Event, EventKind, Item, LISTED, WebhookKind};
use tributary_core::secret::{MasterKey, Secret};
use tributary_core::time::{Millis, now_ms, to_rfc3339};

use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::repo::policies::Evaluated;
use crate::value::Row;

/// Attempts before a delivery is given up (`failed`).
pub const MAX_ATTEMPTS: i64 = 6;

/// The wait before attempt `n + 1` after `n` failed: 30 s, 1 min, 2 min, … capped at an hour.
pub fn backoff_ms(attempts: i64) -> Millis {
    (30_000i64 << (attempts - 1).clamp(0, 10)).min(3_600_000)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    /// generic, slack or teams.
    pub kind: String,
    /// The URL with its path hidden (the URL itself is write-only).
    pub url_hint: String,
    /// policy_matched, issues_new.
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, name, kind, url_hint, events, enabled, created_at";

fn webhook(mut r: Row) -> Result<Webhook> {
    let events: String = r.take(4)?;
    Ok(Webhook {
        id: r.get(0)?,
        name: r.take(1)?,
        kind: r.take(2)?,
        url_hint: r.take(3)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: r.get(5)?,
        created_at: to_rfc3339(r.get(6)?),
    })
}

fn aad(id: i64, what: &str) -> String {
    format!("webhook:{id}:{what}")
}

/// `https://hooks.slack.com/…` — enough to recognise, nothing to reuse.
pub fn url_hint(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let more = if rest.len() > host.len() { "/…" } else { "" };
            format!("{scheme}://{host}{more}")
        }
        None => "…".into(),
    }
}

pub struct NewWebhook<'a> {
    pub name: &'a str,
    pub kind: WebhookKind,
    pub url: &'a Secret,
    pub secret: &'a Secret,
    pub events: &'a [EventKind],
}

pub fn create(conn: &mut dyn Conn, key: &MasterKey, new: NewWebhook<'_>) -> Result<Webhook> {
    let now = now_ms();
    let events = serde_json::to_string(&new.events.iter().map(|e| e.as_str()).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
    let r = conn.query_one(
        &format!(
            "INSERT INTO webhooks (name, kind, url_hint, events, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING {COLUMNS}"
        ),
        params![new.name, new.kind.as_str(), url_hint(new.url.expose()).as_str(), events.as_str(), now, now],
    );
    let created = match r {
        Ok(r) => webhook(r)?,
        Err(StoreError::Conflict { .. }) => return Err(StoreError::Conflict { what: "webhook", name: new.name.to_string() }),
        Err(e) => return Err(e),
    };
    let url = key.seal_secret(&aad(created.id, "url"), new.url);
    let secret = key.seal_secret(&aad(created.id, "secret"), new.secret);
    conn.execute("UPDATE webhooks SET url = ?, secret = ? WHERE id = ?", params![&url, &secret, created.id])?;
    Ok(created)
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Webhook>> {
    conn.query(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY name"), &[])?.into_iter().map(webhook).collect()
}

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<Webhook> {
    conn.query_opt(&format!("SELECT {COLUMNS} FROM webhooks WHERE name = ?"), params![name])?
        .map(webhook)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound { what: "webhook", name: name.to_string() })
}

pub fn delete(conn: &mut dyn Conn, name: &str) -> Result<()> {
    let w = get(conn, name)?;
    conn.execute("DELETE FROM notified_issues WHERE webhook_id = ?", params![w.id])?;
    conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", params![w.id])?;
    conn.execute("DELETE FROM webhooks WHERE id = ?", params![w.id])?;
    Ok(())
}

/// The URL and signing secret of a webhook (for the sender only).
pub fn open_target(conn: &mut dyn Conn, key: &MasterKey, id: i64) -> Result<(Secret, Secret)> {
    let r = conn.query_one("SELECT url, secret FROM webhooks WHERE id = ?", params![id])?;
    let open = |i: usize, what: &str| -> Result<Secret> {
        let sealed: Option<Vec<u8>> = r.get(i)?;
        let sealed = sealed.ok_or_else(|| StoreError::Invalid(format!("webhook {id} has no {what}")))?;
        key.open_secret(&aad(id, what), &sealed).map_err(|e| StoreError::Key(format!("cannot open the {what} of webhook {id}: {e}")))
    };
    Ok((open(0, "url")?, open(1, "secret")?))
}

/// Queues `event` for webhook `w`, in its kind's body.
pub fn enqueue(conn: &mut dyn Conn, w: &Webhook, event: &Event) -> Result<i64> {
    let kind = WebhookKind::parse(&w.kind).unwrap_or(WebhookKind::Generic);
    let body = tributary_core::notify::body(kind, event).to_string();
    let now = now_ms();
    conn.scalar(
        "INSERT INTO webhook_deliveries (webhook_id, event, body, status, attempts, next_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?) RETURNING id",
        params![w.id, event.event.as_str(), body.as_str(), now, now],
    )
}

fn wants(w: &Webhook, e: EventKind) -> bool {
    w.enabled && w.events.iter().any(|x| x == e.as_str())
}

/// After a derivation at `now` (issues updated since `since`, policies just evaluated):
/// queues what each webhook asked for. Returns the deliveries queued.
pub fn after_derive(conn: &mut dyn Conn, since: Millis, policies: &[Evaluated]) -> Result<usize> {
    let hooks = list(conn)?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let now = now_ms();
    let at = to_rfc3339(now);
    let mut queued = 0;
    for w in &hooks {
        if wants(w, EventKind::IssuesNew) {
            // Each issue once per webhook: what was told is remembered.
            let n = conn.execute(
                "INSERT INTO notified_issues (webhook_id, issue_id, notified_at) \
                 SELECT ?, i.id, ? FROM issues i WHERE i.status = 'open' AND i.updated_at >= ? \
                 AND (i.severity >= 5 OR i.factors LIKE '%\"internet_exposed\"%') \
                 AND NOT EXISTS (SELECT 1 FROM notified_issues n WHERE n.webhook_id = ? AND n.issue_id = i.id)",
                params![w.id, now, since, w.id],
            )? as i64;
            if n > 0 {
                let items = conn
                    .query(
                        &format!(
                            "SELECT i.id, i.title, i.severity, i.score FROM notified_issues n JOIN issues i ON i.id = n.issue_id \
                             WHERE n.webhook_id = ? AND n.notified_at = ? ORDER BY i.score DESC, i.id LIMIT {LISTED}"
                        ),
                        params![w.id, now],
                    )?
                    .into_iter()
                    .map(|mut r| {
                        Ok(Item {
                            id: format!("issue:{}", r.get::<i64>(0)?),
                            title: r.take(1)?,
                            severity: severity_name(r.get(2)?),
                            score: Some(r.get::<i64>(3)? as f64 / 10.0),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let summary = format!("{n} new critical or internet-exposed issue{}", if n == 1 { "" } else { "s" });
                let e = Event { event: EventKind::IssuesNew, at: at.clone(), summary, count: n, items, detail: serde_json::Value::Null };
                enqueue(conn, w, &e)?;
                queued += 1;
            }
        }
        if wants(w, EventKind::PolicyMatched) {
            for p in policies.iter().filter(|p| p.new > 0) {
                let items = finding_items(conn, &p.new_sample)?;
                let summary = format!(
                    "Policy '{}' ({}) matched {} new finding{} ({} in all)",
                    p.name,
                    p.action,
                    p.new,
                    if p.new == 1 { "" } else { "s" },
                    p.matched
                );
                let detail = serde_json::json!({"policy": p.name, "action": p.action, "matched": p.matched, "new": p.new});
                let e = Event { event: EventKind::PolicyMatched, at: at.clone(), summary, count: p.new, items, detail };
                enqueue(conn, w, &e)?;
                queued += 1;
            }
        }
    }
    Ok(queued)
}

fn severity_name(id: i64) -> String {
    tributary_core::model::Severity::from_ocsf_id(id).map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into())
}

fn finding_items(conn: &mut dyn Conn, ids: &[i64]) -> Result<Vec<Item>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(mut r) = conn.query_opt("SELECT title, severity FROM findings WHERE id = ?", params![*id])? {
            out.push(Item { id: format!("finding:{id}"), title: r.take(0)?, severity: severity_name(r.get(1)?), score: None });
        }
    }
    Ok(out)
}

/// A delivery that is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub body: String,
    pub attempts: i64,
}

/// Deliveries due at `now`, oldest first.
pub fn due(conn: &mut dyn Conn, now: Millis, limit: i64) -> Result<Vec<Due>> {
    conn.query(
        &format!(
            "SELECT d.id, d.webhook_id, d.event, d.body, d.attempts FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_at <= ? AND w.enabled = 1 ORDER BY d.next_at, d.id LIMIT {}",
            limit.max(1)
        ),
        params![now],
    )?
    .into_iter()
    .map(|mut r| Ok(Due { id: r.get(0)?, webhook_id: r.get(1)?, event: r.take(2)?, body: r.take(3)?, attempts: r.get(4)? }))
    .collect()
}

/// Records a successful attempt.
pub fn delivered(conn: &mut dyn Conn, id: i64, code: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_code = ?, last_error = NULL, delivered_at = ? WHERE id = ?",
        params![code, now, id],
    )?;
    Ok(())
}

/// Records a failed attempt: tried again after [`backoff_ms`], or given up after
/// [`MAX_ATTEMPTS`].
pub fn attempt_failed(conn: &mut dyn Conn, id: i64, attempts_before: i64, code: Option<i64>, error: &str, now: Millis) -> Result<()> {
    let attempts = attempts_before + 1;
    let status = if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    conn.execute(
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_at = ?, last_code = ?, last_error = ? WHERE id = ?",
        params![status, attempts, now + backoff_ms(attempts), code, error, id],
    )?;
    Ok(())
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Delivery {
    pub id: i64,
    pub webhook: String,
    pub event: String,
    /// pending, delivered, or failed (given up).
    pub status: String,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_at: Option<String>,
    pub last_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// The delivery log, newest first (of one webhook when named).
pub fn deliveries(conn: &mut dyn Conn, webhook: Option<&str>, limit: i64) -> Result<Vec<Delivery>> {
    let mut sql = "SELECT d.id, w.name, d.event, d.status, d.attempts, d.next_at, d.last_code, d.last_error, d.created_at, d.delivered_at \
                   FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
        .to_string();
    let rows = match webhook {
        Some(name) => {
            get(conn, name)?;
            sql.push_str(&format!(" WHERE w.name = ? ORDER BY d.id DESC LIMIT {}", limit.clamp(1, 1000)));
            conn.query(&sql, params![name])?
        }
        None => {
            sql.push_str(&format!(" ORDER BY d.id DESC LIMIT {}", limit.clamp(1, 1000)));
            conn.query(&sql, &[])?
        }
    };
    rows.into_iter()
        .map(|mut r| {
            let status: String = r.take(3)?;
            let next: Millis = r.get(5)?;
            Ok(Delivery {
                id: r.get(0)?,
                webhook: r.take(1)?,
                event: r.take(2)?,
                next_at: (status == "pending").then(|| to_rfc3339(next)),
                status,
                attempts: r.get(4)?,
                last_code: r.get(6)?,
                last_error: r.take(7)?,
                created_at: to_rfc3339(r.get(8)?),
                delivered_at: r.get::<Option<Millis>>(9)?.map(to_rfc3339),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_hide_the_path_and_backoff_grows_to_a_cap() {
        assert_eq!(url_hint("https://hooks.slack.com/services/T0/B0/XYZ"), "https://hooks.slack.com/…");
        assert_eq!(url_hint("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(20), 3_600_000);
    }
}
