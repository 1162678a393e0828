//! Exploit intelligence (EPSS scores, the CISA KEV catalog) by CVE. Each load replaces
//! its table whole, in the caller's transaction, so a bad file changes nothing; when it
//! was loaded and from which version is kept in `meta`.

use serde::Serialize;

use crate::conn::Conn;
use crate::error::Result;
use crate::value::Param;

/// Rows per INSERT statement.
const BATCH: usize = 400;

/// Empties the EPSS table (before a load, in its transaction).
pub fn clear_epss(conn: &mut dyn Conn) -> Result<()> {
    conn.execute("DELETE FROM intel_epss", &[])?;
    Ok(())
}

/// Adds EPSS rows `(cve, epss, percentile)`; a CVE listed twice keeps its last row.
pub fn add_epss(conn: &mut dyn Conn, rows: &[(String, f64, f64)]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let marks = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let mut p: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 3);
        for (cve, e, pct) in chunk {
            p.extend([Param::Text(cve), Param::Real(*e), Param::Real(*pct)]);
        }
        conn.execute(
            &format!(
                "INSERT INTO intel_epss (cve, epss, percentile) VALUES {marks} \
                 ON CONFLICT (cve) DO UPDATE SET epss = excluded.epss, percentile = excluded.percentile"
            ),
            &p,
        )?;
    }
    Ok(())
}

/// One KEV entry as stored.
pub struct KevRow<'a> {
    pub cve: &'a str,
    pub name: &'a str,
    pub vendor: &'a str,
    pub product: &'a str,
    pub date_added: &'a str,
    pub due_date: Option<&'a str>,
    pub ransomware: Option<&'a str>,
    pub forensic_triage: Option<&'a str>,
}

/// Replaces the KEV catalog.
pub fn replace_kev(conn: &mut dyn Conn, rows: &[KevRow<'_>]) -> Result<()> {
    conn.execute("DELETE FROM intel_kev", &[])?;
    for chunk in rows.chunks(BATCH) {
        let marks = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut p: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 8);
        for r in chunk {
            p.extend([
                Param::Text(r.cve),
                Param::Text(r.name),
                Param::Text(r.vendor),
                Param::Text(r.product),
                Param::Text(r.date_added),
                r.due_date.map_or(Param::Null, Param::Text),
                r.ransomware.map_or(Param::Null, Param::Text),
                r.forensic_triage.map_or(Param::Null, Param::Text),
            ]);
        }
        conn.execute(
            &format!(
                "INSERT INTO intel_kev (cve, name, vendor, product, date_added, due_date, ransomware, forensic_triage) VALUES {marks} \
                 ON CONFLICT (cve) DO NOTHING"
            ),
            &p,
        )?;
    }
    Ok(())
}

/// What is loaded.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IntelStatus {
    pub epss_rows: i64,
    pub epss_model_version: Option<String>,
    pub epss_score_date: Option<String>,
    pub epss_loaded_at: Option<String>,
    pub kev_rows: i64,
    pub kev_catalog_version: Option<String>,
    pub kev_loaded_at: Option<String>,
}

pub fn status(conn: &mut dyn Conn) -> Result<IntelStatus> {
    let mut meta = |k: &str| super::meta::get(conn, k);
    let (mv, sd, el, kv, kl) = (
        meta("epss_model_version")?,
        meta("epss_score_date")?,
        meta("epss_loaded_at")?,
        meta("kev_catalog_version")?,
        meta("kev_loaded_at")?,
    );
    Ok(IntelStatus {
        epss_rows: conn.scalar("SELECT COUNT(*) FROM intel_epss", &[])?,
        epss_model_version: mv,
        epss_score_date: sd,
        epss_loaded_at: el,
        kev_rows: conn.scalar("SELECT COUNT(*) FROM intel_kev", &[])?,
        kev_catalog_version: kv,
        kev_loaded_at: kl,
    })
}
