//! Triage: a person's decision on findings (status, reason, expiry, assignee), comments,
//! and standing rules. A sync never writes these columns, so a re-sync cannot undo a
//! decision; the vendor's own `status` stays beside it.

use tributary_core::model::TriageStatus;
use tributary_core::time::{Millis, now_ms};

use super::{conflict, parse_enum};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::query::{Compiled, finding_ids_sql, param};
use crate::value::{Param, Row, Value};

/// What to set. `assignee: None` leaves the assignee as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Decision {
    pub status: TriageStatus,
    pub reason: Option<String>,
    pub until: Option<Millis>,
    pub assignee: Option<String>,
}

/// The triage of one finding as stored.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct FindingTriage {
    pub finding_id: i64,
    pub status: Option<TriageStatus>,
    pub reason: Option<String>,
    pub until: Option<Millis>,
    pub assignee: Option<String>,
    pub at: Option<Millis>,
}

fn set_sql(d: &Decision) -> (String, Vec<Value>) {
    let mut sql = "UPDATE findings SET triage = ?, triage_reason = ?, triage_until = ?, triaged_at = ?".to_string();
    let mut v = vec![
        Value::Text(d.status.as_str().into()),
        d.reason.clone().map_or(Value::Null, Value::Text),
        d.until.map_or(Value::Null, Value::Int),
        Value::Int(now_ms()),
    ];
    if let Some(a) = &d.assignee {
        sql.push_str(", assignee = ?");
        v.push(if a.is_empty() { Value::Null } else { Value::Text(a.clone()) });
    }
    (sql, v)
}

/// Sets the decision on one finding.
pub fn set_one(conn: &mut dyn Conn, finding_id: i64, d: &Decision) -> Result<FindingTriage> {
    let (sql, mut v) = set_sql(d);
    v.push(Value::Int(finding_id));
    let p: Vec<Param<'_>> = v.iter().map(param).collect();
    if conn.execute(&format!("{sql} WHERE id = ?"), &p)? == 0 {
        return Err(StoreError::NotFound { what: "finding", name: finding_id.to_string() });
    }
    get(conn, finding_id)
}

/// Sets the assignee alone (empty: unassigned).
pub fn assign(conn: &mut dyn Conn, finding_id: i64, assignee: &str) -> Result<FindingTriage> {
    let a = if assignee.is_empty() { Param::Null } else { Param::Text(assignee) };
    if conn.execute("UPDATE findings SET assignee = ? WHERE id = ?", &[a, Param::Int(finding_id)])? == 0 {
        return Err(StoreError::NotFound { what: "finding", name: finding_id.to_string() });
    }
    get(conn, finding_id)
}

pub fn get(conn: &mut dyn Conn, finding_id: i64) -> Result<FindingTriage> {
    let Some(mut r) =
        conn.query_opt("SELECT triage, triage_reason, triage_until, assignee, triaged_at FROM findings WHERE id = ?", params![finding_id])?
    else {
        return Err(StoreError::NotFound { what: "finding", name: finding_id.to_string() });
    };
    let status: Option<String> = r.take(0)?;
    Ok(FindingTriage {
        finding_id,
        status: status.map(|s| parse_enum(&s)).transpose()?,
        reason: r.take(1)?,
        until: r.get(2)?,
        assignee: r.take(3)?,
        at: r.get(4)?,
    })
}

/// How many findings a query matches (what a bulk decision would touch).
pub fn count_matching(conn: &mut dyn Conn, c: &Compiled, only_untriaged: bool) -> Result<i64> {
    let sql = ids_sql(c, only_untriaged)?;
    let p: Vec<Param<'_>> = c.params.iter().map(param).collect();
    conn.scalar(&format!("SELECT COUNT(*) FROM ({sql}) m"), &p)
}

fn ids_sql(c: &Compiled, only_untriaged: bool) -> Result<String> {
    let sql = finding_ids_sql(c)
        .ok_or_else(|| StoreError::Invalid("the query is about assets; a triage query names a finding.* field".into()))?;
    Ok(if only_untriaged { format!("{sql} AND f.triage IS NULL") } else { sql })
}

/// Sets the decision on every finding the query matches (only untriaged ones for a
/// standing rule) and returns their ids. The caller's transaction makes it all or none.
pub fn set_matching(conn: &mut dyn Conn, c: &Compiled, d: &Decision, only_untriaged: bool) -> Result<Vec<i64>> {
    let ids = ids_sql(c, only_untriaged)?;
    let (sql, mut v) = set_sql(d);
    v.extend(c.params.iter().cloned());
    let p: Vec<Param<'_>> = v.iter().map(param).collect();
    // The subquery is materialized first (SQLite and PostgreSQL both allow updating the
    // table a subquery reads; `IN` reads it before any row changes).
    let rows = conn.query(&format!("{sql} WHERE id IN ({ids}) RETURNING id"), &p)?;
    let mut out: Vec<i64> = rows.into_iter().map(|r| r.get::<i64>(0)).collect::<Result<_>>()?;
    out.sort_unstable();
    Ok(out)
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Comment {
    pub id: i64,
    pub finding_id: i64,
    pub author: String,
    pub body: String,
    pub created_at: Millis,
}

fn comment(mut r: Row) -> Result<Comment> {
    Ok(Comment { id: r.get(0)?, finding_id: r.get(1)?, author: r.take(2)?, body: r.take(3)?, created_at: r.get(4)? })
}

pub fn add_comment(conn: &mut dyn Conn, finding_id: i64, author: &str, body: &str) -> Result<Comment> {
    get(conn, finding_id)?;
    let r = conn.query_one(
        "INSERT INTO finding_comments (finding_id, author, body, created_at) VALUES (?, ?, ?, ?) \
         RETURNING id, finding_id, author, body, created_at",
        params![finding_id, author, body, now_ms()],
    )?;
    comment(r)
}

pub fn comments(conn: &mut dyn Conn, finding_id: i64) -> Result<Vec<Comment>> {
    conn.query(
        "SELECT id, finding_id, author, body, created_at FROM finding_comments WHERE finding_id = ? ORDER BY id",
        params![finding_id],
    )?
    .into_iter()
    .map(comment)
    .collect()
}

/// A standing rule: findings matching `query` that arrive untriaged get `decision`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct TriageRule {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub decision: Decision,
    pub created_by: String,
    pub created_at: Millis,
    /// Findings it has set so far.
    pub applied: i64,
}

fn rule(mut r: Row) -> Result<TriageRule> {
    let status: String = r.take(3)?;
    Ok(TriageRule {
        id: r.get(0)?,
        name: r.take(1)?,
        query: r.take(2)?,
        decision: Decision { status: parse_enum(&status)?, reason: r.take(4)?, until: r.get(5)?, assignee: r.take(6)? },
        created_by: r.take(7)?,
        created_at: r.get(8)?,
        applied: r.get(9)?,
    })
}

const RULE_COLS: &str = "id, name, query, triage, reason, until, assignee, created_by, created_at, applied";

pub fn create_rule(conn: &mut dyn Conn, name: &str, query: &str, d: &Decision, by: &str) -> Result<TriageRule> {
    let r = conn.query_one(
        &format!(
            "INSERT INTO triage_rules (name, query, triage, reason, until, assignee, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {RULE_COLS}"
        ),
        &[
            Param::Text(name),
            Param::Text(query),
            Param::Text(d.status.as_str()),
            d.reason.as_deref().map_or(Param::Null, Param::Text),
            d.until.map_or(Param::Null, Param::Int),
            d.assignee.as_deref().map_or(Param::Null, Param::Text),
            Param::Text(by),
            Param::Int(now_ms()),
        ],
    );
    rule(conflict(r, "triage rule", name)?)
}

pub fn rules(conn: &mut dyn Conn) -> Result<Vec<TriageRule>> {
    conn.query(&format!("SELECT {RULE_COLS} FROM triage_rules ORDER BY id"), &[])?.into_iter().map(rule).collect()
}

pub fn delete_rule(conn: &mut dyn Conn, name: &str) -> Result<()> {
    if conn.execute("DELETE FROM triage_rules WHERE name = ?", params![name])? == 0 {
        return Err(StoreError::NotFound { what: "triage rule", name: name.to_string() });
    }
    Ok(())
}

pub fn add_applied(conn: &mut dyn Conn, rule_id: i64, n: i64) -> Result<()> {
    conn.execute("UPDATE triage_rules SET applied = applied + ? WHERE id = ?", params![n, rule_id])?;
    Ok(())
}

/// Applies every standing rule to the untriaged findings it matches, recording one audit
/// entry per rule that set any. Runs inside the transaction that ends a sync or import,
/// so new findings never show without the decision a rule gives them.
pub fn apply_standing(conn: &mut dyn Conn) -> Result<Vec<(String, Vec<i64>)>> {
    let all = rules(conn)?;
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let qctx = super::policies::query_context(conn)?;
    let dialect = conn.dialect();
    let mut out = Vec::new();
    for r in all {
        // A rule was compiled when it was saved; one that no longer compiles (a field
        // renamed by an upgrade) is skipped and said so rather than failing the sync.
        let compiled = match tributary_core::query::parse(&r.query)
            .map_err(|e| e.message)
            .and_then(|e| crate::query::compile(&e, dialect, &qctx).map_err(|e| e.message))
        {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!(message = "Standing triage rule no longer compiles; skipped.", rule = %r.name, why = %why);
                continue;
            }
        };
        let ids = set_matching(conn, &compiled, &r.decision, true)?;
        if !ids.is_empty() {
            add_applied(conn, r.id, ids.len() as i64)?;
            super::audit::record(
                conn,
                &format!("rule:{}", r.name),
                "triage.rule.apply",
                &r.name,
                serde_json::json!({"status": r.decision.status, "reason": r.decision.reason, "until": r.decision.until, "findings": ids}),
            )?;
            out.push((r.name, ids));
        }
    }
    Ok(out)
}
