//! One finding or asset with everything known about it: attributes, the source record it
//! came from, its triage and comments (detail pages and the API's single-item reads).

use serde::Serialize;
use serde_json::Value as Json;
use tributary_core::model::Severity;
use tributary_core::time::to_rfc3339;

use super::{parse_json, raw, triage};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SourceRecord {
    pub integration: String,
    pub stream: String,
    pub key: String,
    pub record: Json,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingDetail {
    pub id: i64,
    pub product: String,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub cve: Option<String>,
    pub cvss_score: Option<f64>,
    pub external_id: String,
    pub asset: AssetRef,
    pub first_seen: String,
    pub last_seen: String,
    pub closed_at: Option<String>,
    pub attributes: Json,
    pub triage: triage::FindingTriage,
    pub comments: Vec<triage::Comment>,
    pub source: Option<SourceRecord>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetRef {
    pub id: i64,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetSource {
    pub integration: String,
    pub source: String,
    pub source_key: String,
    pub active: bool,
    pub attributes: Json,
    pub first_seen: String,
    pub last_seen: String,
    pub record: Option<Json>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetDetail {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub identity: String,
    pub matched_rule: String,
    pub attributes: Json,
    pub first_seen: String,
    pub last_seen: String,
    pub sources: Vec<AssetSource>,
    pub open_findings: i64,
}

fn integration_name(conn: &mut dyn Conn, id: i64) -> Result<String> {
    Ok(conn.query_opt("SELECT name FROM integrations WHERE id = ?", params![id])?.map(|mut r| r.take(0)).transpose()?.unwrap_or_default())
}

pub fn finding(conn: &mut dyn Conn, id: i64) -> Result<FindingDetail> {
    let Some(mut r) = conn.query_opt(
        "SELECT f.id, f.product, f.kind, f.severity, f.status, f.title, f.cve, f.cvss_score, f.external_id, \
         a.id, a.kind, a.name, f.first_seen, f.last_seen, f.closed_at, f.attributes, f.raw_id, f.integration_id \
         FROM findings f JOIN assets a ON a.id = f.asset_id WHERE f.id = ?",
        params![id],
    )?
    else {
        return Err(StoreError::NotFound { what: "finding", name: id.to_string() });
    };
    let severity: i64 = r.get(3)?;
    let raw_id: Option<i64> = r.get(16)?;
    let integration_id: i64 = r.get(17)?;
    let attributes: String = r.take(15)?;
    let source = match raw_id {
        Some(rid) => raw::get(conn, rid)?.map(|(stream, s)| (stream, s.key, s.body)),
        None => None,
    };
    let integration = integration_name(conn, integration_id)?;
    Ok(FindingDetail {
        id: r.get(0)?,
        product: r.take(1)?,
        kind: r.take(2)?,
        severity: Severity::from_ocsf_id(severity).map(|s| s.as_str().to_string()).unwrap_or_default(),
        status: r.take(4)?,
        title: r.take(5)?,
        cve: r.take(6)?,
        cvss_score: r.get(7)?,
        external_id: r.take(8)?,
        asset: AssetRef { id: r.get(9)?, kind: r.take(10)?, name: r.take(11)? },
        first_seen: to_rfc3339(r.get(12)?),
        last_seen: to_rfc3339(r.get(13)?),
        closed_at: r.get::<Option<i64>>(14)?.map(to_rfc3339),
        attributes: parse_json(&attributes, "finding attributes")?,
        triage: triage::get(conn, id)?,
        comments: triage::comments(conn, id)?,
        source: source.map(|(stream, key, record)| SourceRecord { integration, stream, key, record }),
    })
}

pub fn asset(conn: &mut dyn Conn, id: i64) -> Result<AssetDetail> {
    let Some(mut r) = conn.query_opt(
        "SELECT id, kind, name, identity, matched_rule, attributes, first_seen, last_seen FROM assets WHERE id = ?",
        params![id],
    )?
    else {
        return Err(StoreError::NotFound { what: "asset", name: id.to_string() });
    };
    let attributes: String = r.take(5)?;
    let mut sources = Vec::new();
    for mut s in conn.query(
        "SELECT integration_id, source, source_key, active, attributes, first_seen, last_seen, raw_id FROM asset_sources WHERE asset_id = ? ORDER BY id",
        params![id],
    )? {
        let integration = integration_name(conn, s.get(0)?)?;
        let attrs: String = s.take(4)?;
        let raw_id: Option<i64> = s.get(7)?;
        let record = match raw_id {
            Some(rid) => raw::get(conn, rid)?.map(|(_, r)| r.body),
            None => None,
        };
        sources.push(AssetSource {
            integration,
            source: s.take(1)?,
            source_key: s.take(2)?,
            active: s.get::<i64>(3)? != 0,
            attributes: parse_json(&attrs, "asset source attributes")?,
            first_seen: to_rfc3339(s.get(5)?),
            last_seen: to_rfc3339(s.get(6)?),
            record,
        });
    }
    let open_findings = conn.scalar("SELECT COUNT(*) FROM findings WHERE asset_id = ? AND status = 'open'", params![id])?;
    Ok(AssetDetail {
        id: r.get(0)?,
        kind: r.take(1)?,
        name: r.take(2)?,
        identity: r.take(3)?,
        matched_rule: r.take(4)?,
        attributes: parse_json(&attributes, "asset attributes")?,
        first_seen: to_rfc3339(r.get(6)?),
        last_seen: to_rfc3339(r.get(7)?),
        sources,
        open_findings,
    })
}

/// What a finding's risk is computed from: its own fields and attributes, the loaded
/// exploit intelligence for its CVE, its repository's deployment context and its asset's
/// (or repository's) criticality.
pub fn risk_input(conn: &mut dyn Conn, id: i64) -> Result<tributary_core::risk::RiskInput> {
    use tributary_core::risk::{Reachability, RiskInput};
    let Some(mut r) = conn.query_opt(
        "SELECT f.severity, f.cvss_score, f.cve, f.attributes, f.repo_asset_id, COALESCE(ra.criticality, a.criticality) \
         FROM findings f JOIN assets a ON a.id = f.asset_id LEFT JOIN assets ra ON ra.id = f.repo_asset_id WHERE f.id = ?",
        params![id],
    )?
    else {
        return Err(StoreError::NotFound { what: "finding", name: id.to_string() });
    };
    let severity: i64 = r.get(0)?;
    let cvss: Option<f64> = r.get(1)?;
    let cve: Option<String> = r.take(2)?;
    let attrs = parse_json(&r.take::<String>(3)?, "finding attributes")?;
    let repo: Option<i64> = r.get(4)?;
    let criticality = r.get::<Option<i64>>(5)?.and_then(|c| u8::try_from(c).ok());
    let (deployed, internet_exposed) = match repo {
        Some(repo) => super::context::facts(conn, repo)?,
        None => (None, None),
    };
    let vuln = &attrs["findingType"]["vulnerability"];
    let cwes = vuln["cwe"].as_array().into_iter().chain(attrs["findingType"]["codeWeakness"]["cwe"].as_array()).flatten();
    let top25 =
        cwes.filter_map(|c| c.as_str()).filter_map(tributary_core::vuln::cwe_id).filter_map(tributary_core::vuln::cwe_top25_rank).min();
    let (mut epss, mut pct, mut kev) = (None, None, false);
    if let Some(cve) = &cve {
        if let Some(e) = conn.query_opt("SELECT epss, percentile FROM intel_epss WHERE cve = ?", params![cve.as_str()])? {
            (epss, pct) = (e.get(0)?, e.get(1)?);
        }
        kev = conn.query_opt("SELECT 1 FROM intel_kev WHERE cve = ?", params![cve.as_str()])?.is_some();
    }
    Ok(RiskInput {
        severity: Severity::from_ocsf_id(severity).unwrap_or(Severity::Info),
        cvss,
        cvss_vector: vuln["cvssVector"].as_str().map(str::to_string),
        epss,
        epss_percentile: pct,
        kev,
        cwe_top25_rank: top25,
        reachability: vuln["reachability"].as_str().map_or(Reachability::Unknown, Reachability::parse_loose),
        fix_available: vuln["fixedVersions"].as_array().map(|v| !v.is_empty()),
        deployed,
        internet_exposed,
        criticality,
        vector_facts: None,
    })
}
