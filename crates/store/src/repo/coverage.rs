//! Coverage: which repositories each code scanner covers — per repository × source
//! kind, Enabled (seen within N days), Stale (mapped or reporting, but not seen for N
//! days) or Disabled (no integration of that kind covers it: never set up, unmapped, or
//! deleted) — with the repository's open Vulnerabilities and Code Weaknesses. Computed
//! when asked, from scopes and findings, so a deleted integration's column reads
//! Disabled at once (the seed's deletion rule) without anything to clean up.

use std::collections::BTreeMap;

use tributary_core::time::{Millis, to_rfc3339};

use crate::conn::Conn;
use crate::error::Result;

/// Source kinds that scan repositories, with what they find: `(kind, label,
/// vulnerabilities, code weaknesses)`.
pub const SOURCES: &[(&str, &str, bool, bool)] =
    &[("semgrep", "Semgrep", true, true), ("semgrep-json", "Semgrep CLI import", false, true), ("sarif", "SARIF import", false, true)];

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SourceCoverage {
    /// The source kind's label (Semgrep, Semgrep CLI import, SARIF import).
    pub source: String,
    /// Enabled, Stale or Disabled.
    pub status: String,
    /// The integrations of this kind that cover it.
    pub integrations: Vec<String>,
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct RepoCoverage {
    pub asset_id: i64,
    pub repository: String,
    pub sources: Vec<SourceCoverage>,
    /// Some Enabled source finds vulnerabilities (SCA) here.
    pub vulnerabilities_covered: bool,
    /// Some Enabled source finds code weaknesses (SAST) here.
    pub code_weaknesses_covered: bool,
    /// Open vulnerability findings in the repository (all sources).
    pub vulnerabilities: i64,
    /// Open code-weakness findings in the repository (all sources).
    pub code_weaknesses: i64,
}

#[derive(Default)]
struct Seen {
    integrations: Vec<String>,
    last: Millis,
}

/// Coverage of every repository; a source not seen for `stale_days` is Stale.
pub fn report(conn: &mut dyn Conn, stale_days: i64, now: Millis) -> Result<Vec<RepoCoverage>> {
    let repos: Vec<(i64, String)> = conn
        .query("SELECT id, name FROM assets WHERE kind = 'repository' ORDER BY name, id", &[])?
        .into_iter()
        .map(|mut r| Ok((r.get(0)?, r.take(1)?)))
        .collect::<Result<_>>()?;
    // (repo, kind) → integrations and when last seen: mapped scopes, then findings.
    let mut seen: BTreeMap<(i64, String), Seen> = BTreeMap::new();
    let mut note = |repo: i64, kind: String, name: String, last: Millis| {
        let s = seen.entry((repo, kind)).or_default();
        if !s.integrations.contains(&name) {
            s.integrations.push(name);
        }
        s.last = s.last.max(last);
    };
    for mut r in conn.query(
        "SELECT s.repo_asset_id, i.kind, i.name, s.last_seen FROM scopes s JOIN integrations i ON i.id = s.integration_id \
         WHERE s.repo_asset_id IS NOT NULL AND s.mapping IN ('auto', 'manual')",
        &[],
    )? {
        note(r.get(0)?, r.take(1)?, r.take(2)?, r.get(3)?);
    }
    let mut counts: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for mut r in conn.query(
        "SELECT f.repo_asset_id, i.kind, i.name, MAX(f.last_seen), \
         SUM(CASE WHEN f.status = 'open' AND f.kind = 'vulnerability' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN f.status = 'open' AND f.kind = 'code_weakness' THEN 1 ELSE 0 END) \
         FROM findings f JOIN integrations i ON i.id = f.integration_id WHERE f.repo_asset_id IS NOT NULL \
         GROUP BY f.repo_asset_id, i.kind, i.name",
        &[],
    )? {
        let repo: i64 = r.get(0)?;
        let c = counts.entry(repo).or_default();
        c.0 += r.get::<i64>(4)?;
        c.1 += r.get::<i64>(5)?;
        note(repo, r.take(1)?, r.take(2)?, r.get(3)?);
    }
    let cutoff = now - stale_days * 86_400_000;
    let mut out = Vec::with_capacity(repos.len());
    for (id, name) in repos {
        let mut sources = Vec::new();
        let (mut vulns, mut code) = (false, false);
        for (kind, label, v, c) in SOURCES {
            let s = seen.remove(&(id, kind.to_string()));
            let status = match &s {
                None => "Disabled",
                Some(s) if s.last < cutoff => "Stale",
                Some(_) => "Enabled",
            };
            if status == "Enabled" {
                vulns |= v;
                code |= c;
            }
            sources.push(SourceCoverage {
                source: label.to_string(),
                status: status.to_string(),
                integrations: s.as_ref().map(|s| s.integrations.clone()).unwrap_or_default(),
                last_seen: s.map(|s| to_rfc3339(s.last)),
            });
        }
        let (v, c) = counts.get(&id).copied().unwrap_or((0, 0));
        out.push(RepoCoverage {
            asset_id: id,
            repository: name,
            sources,
            vulnerabilities_covered: vulns,
            code_weaknesses_covered: code,
            vulnerabilities: v,
            code_weaknesses: c,
        });
    }
    Ok(out)
}
