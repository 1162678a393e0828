//! Policies: a query in the query language with an action label ("block release",
//! "page on-call"); evaluated after every sync and import ([`evaluate`]), each keeping the
//! findings it matched then (`policy_results`). Deleting an integration removes the
//! results that referred to its findings; the policies stay.

use tributary_core::time::{Millis, now_ms, to_rfc3339};

use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::query::{Compiled, QueryContext, finding_ids_sql, param};
use crate::value::Param;

/// `meta` key of the team's SLA days (read by `finding.slaBreached` in policy queries).
pub const SLA_KEY: &str = "sla_days";

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub action: String,
    pub enabled: bool,
    /// Findings it matched at its last evaluation.
    pub matched: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One finding a policy matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PolicyMatch {
    pub finding_id: i64,
    pub title: String,
    pub product: String,
    pub matched_at: String,
}

/// What compiling a stored query needs: the products in use and the SLA days.
pub fn query_context(conn: &mut dyn Conn) -> Result<QueryContext> {
    let mut products = super::maps::products(conn)?;
    products.sort();
    let sla = match super::meta::get(conn, SLA_KEY)? {
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Decode(format!("stored SLA days: {e}")))?,
        None => Default::default(),
    };
    Ok(QueryContext { products, sla })
}

/// A stored query compiled against findings, or why it no longer compiles.
pub fn compile(conn: &mut dyn Conn, ctx: &QueryContext, query: &str) -> std::result::Result<Compiled, String> {
    let dialect = conn.dialect();
    let expr = tributary_core::query::parse(query).map_err(|e| e.message)?;
    let c = crate::query::compile(&expr, dialect, ctx).map_err(|e| e.message)?;
    if finding_ids_sql(&c).is_none() {
        return Err("a policy's query is about findings: name a finding.* field".into());
    }
    Ok(c)
}

const COLUMNS: &str = "p.id, p.name, p.query, p.action, p.enabled, \
     (SELECT COUNT(*) FROM policy_results r WHERE r.policy_id = p.id), p.created_at, p.updated_at";

fn policy(mut r: crate::value::Row) -> Result<Policy> {
    Ok(Policy {
        id: r.get(0)?,
        name: r.take(1)?,
        query: r.take(2)?,
        action: r.take(3)?,
        enabled: r.get::<i64>(4)? != 0,
        matched: r.get(5)?,
        created_at: to_rfc3339(r.get(6)?),
        updated_at: to_rfc3339(r.get(7)?),
    })
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<Policy>> {
    conn.query(&format!("SELECT {COLUMNS} FROM policies p ORDER BY p.name"), &[])?.into_iter().map(policy).collect()
}

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<Policy> {
    match conn.query_opt(&format!("SELECT {COLUMNS} FROM policies p WHERE p.name = ?"), params![name])? {
        Some(r) => policy(r),
        None => Err(StoreError::NotFound { what: "policy", name: name.to_string() }),
    }
}

/// Saves a policy (its query already checked by the caller) and evaluates it at once.
pub fn add(conn: &mut dyn Conn, name: &str, query: &str, action: &str) -> Result<Policy> {
    let now = now_ms();
    super::conflict(
        conn.execute(
            "INSERT INTO policies (name, query, action, enabled, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
            params![name, query, action, now, now],
        ),
        "policy",
        name,
    )?;
    let p = get(conn, name)?;
    let ctx = query_context(conn)?;
    evaluate_one(conn, &ctx, &p, now)?;
    get(conn, name)
}

pub fn delete(conn: &mut dyn Conn, name: &str) -> Result<()> {
    let p = get(conn, name)?;
    conn.execute("DELETE FROM policy_results WHERE policy_id = ?", params![p.id])?;
    conn.execute("DELETE FROM policies WHERE id = ?", params![p.id])?;
    Ok(())
}

/// A policy's evaluation: how many findings it matches, how many of them it did not
/// match at its previous evaluation (what a notification is about), and the first few of
/// those.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub name: String,
    pub action: String,
    pub matched: i64,
    pub new: i64,
    pub new_sample: Vec<i64>,
}

/// New matches listed in an [`Evaluated`].
const SAMPLE: i64 = 20;

fn evaluate_one(conn: &mut dyn Conn, ctx: &QueryContext, p: &Policy, now: Millis) -> Result<Option<Evaluated>> {
    // A query that no longer compiles (a field renamed by an upgrade) matches nothing
    // and is said so, rather than failing the run that evaluates it.
    let c = match compile(conn, ctx, &p.query) {
        Ok(c) => c,
        Err(why) => {
            tracing::warn!(message = "Policy query no longer compiles; it matches nothing.", policy = %p.name, why = %why);
            conn.execute("DELETE FROM policy_results WHERE policy_id = ?", params![p.id])?;
            return Ok(None);
        }
    };
    let Some(ids) = finding_ids_sql(&c) else {
        conn.execute("DELETE FROM policy_results WHERE policy_id = ?", params![p.id])?;
        return Ok(None);
    };
    // The previous results are marked (negated); a match found again is unmarked (it
    // keeps the time it first matched), a new one is inserted with this evaluation's time,
    // and what is still marked no longer matches. New matches are the rows inserted.
    let sql = ids.replacen("SELECT f.id ", "SELECT CAST(? AS BIGINT), f.id, CAST(? AS BIGINT) ", 1);
    let mut args: Vec<Param<'_>> = vec![Param::Int(p.id), Param::Int(now)];
    args.extend(c.params.iter().map(param));
    conn.execute("UPDATE policy_results SET matched_at = -matched_at WHERE policy_id = ?", params![p.id])?;
    let matched = conn.execute(
        &format!("INSERT INTO policy_results (policy_id, finding_id, matched_at) {sql} ON CONFLICT (policy_id, finding_id) DO UPDATE SET matched_at = -policy_results.matched_at"),
        &args,
    )? as i64;
    conn.execute("DELETE FROM policy_results WHERE policy_id = ? AND matched_at < 0", params![p.id])?;
    let new_sample: Vec<i64> = conn
        .query(
            &format!("SELECT finding_id FROM policy_results WHERE policy_id = ? AND matched_at = ? ORDER BY finding_id LIMIT {SAMPLE}"),
            params![p.id, now],
        )?
        .into_iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    let new: i64 = conn.scalar("SELECT COUNT(*) FROM policy_results WHERE policy_id = ? AND matched_at = ?", params![p.id, now])?;
    Ok(Some(Evaluated { name: p.name.clone(), action: p.action.clone(), matched, new, new_sample }))
}

/// Evaluates every enabled policy against the findings as they are now.
pub fn evaluate(conn: &mut dyn Conn) -> Result<Vec<Evaluated>> {
    let all: Vec<Policy> = list(conn)?.into_iter().filter(|p| p.enabled).collect();
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let ctx = query_context(conn)?;
    let now = now_ms();
    let mut out = Vec::new();
    for p in all {
        if let Some(e) = evaluate_one(conn, &ctx, &p, now)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The findings a policy matched at its last evaluation.
pub fn results(conn: &mut dyn Conn, name: &str, limit: i64) -> Result<Vec<PolicyMatch>> {
    let p = get(conn, name)?;
    conn.query(
        "SELECT r.finding_id, f.title, f.product, r.matched_at FROM policy_results r JOIN findings f ON f.id = r.finding_id \
         WHERE r.policy_id = ? ORDER BY f.severity DESC, r.finding_id LIMIT ?",
        params![p.id, limit],
    )?
    .into_iter()
    .map(|mut r| Ok(PolicyMatch { finding_id: r.get(0)?, title: r.take(1)?, product: r.take(2)?, matched_at: to_rfc3339(r.get(3)?) }))
    .collect()
}
