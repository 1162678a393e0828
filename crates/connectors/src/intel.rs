//! Exploit-intelligence feeds in their published formats, read as streams: FIRST's EPSS
//! daily CSV (`epss_scores-YYYY-MM-DD.csv[.gz]`: `#model_version:…,score_date:…` lines, a
//! `cve,epss,percentile` header, ~240k rows) and CISA's KEV catalog JSON
//! (`catalogVersion`, `dateReleased`, `count`, `vulnerabilities[]`). Formats and fields:
//! docs/vendors.md (and ../shared/reference/data-model.md §3). Nothing here downloads:
//! the files are given.

use std::io::{BufRead, BufReader, Read};

/// One EPSS row.
#[derive(Debug, Clone, PartialEq)]
pub struct EpssRow {
    pub cve: String,
    /// Probability of exploitation activity in the next 30 days, 0–1.
    pub epss: f64,
    /// Rank among all scored CVEs, 0–1.
    pub percentile: f64,
}

/// The `#key:value` metadata of an EPSS file (`model_version`, `score_date`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpssMeta {
    pub model_version: Option<String>,
    pub score_date: Option<String>,
}

/// One KEV entry (values trimmed: the catalog has trailing spaces in places).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct KevEntry {
    #[serde(rename = "cveID")]
    pub cve: String,
    #[serde(rename = "vendorProject", default)]
    pub vendor: String,
    #[serde(default)]
    pub product: String,
    #[serde(rename = "vulnerabilityName", default)]
    pub name: String,
    #[serde(rename = "dateAdded")]
    pub date_added: String,
    #[serde(rename = "dueDate", default)]
    pub due_date: Option<String>,
    #[serde(rename = "knownRansomwareCampaignUse", default)]
    pub ransomware: Option<String>,
    /// BOD 26-04: forensic triage required.
    #[serde(rename = "forensicTriage", default)]
    pub forensic_triage: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct KevCatalog {
    #[serde(rename = "catalogVersion")]
    pub version: String,
    #[serde(rename = "dateReleased", default)]
    pub released: Option<String>,
    #[serde(default)]
    pub count: Option<u64>,
    pub vulnerabilities: Vec<KevEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("cannot read {file}: {reason}")]
    Io { file: String, reason: String },
    #[error("{file}, line {line}: {reason}")]
    Line { file: String, line: u64, reason: String },
    #[error("{file} is not a KEV catalog: {reason}")]
    Kev { file: String, reason: String },
}

fn valid_cve(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    matches!((parts.next(), parts.next(), parts.next()), (Some("CVE"), Some(y), Some(n))
        if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) && n.len() >= 4 && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Opens a file, gunzipping when it is gzip (by its magic bytes, whatever its name).
pub fn open(path: &std::path::Path) -> Result<Box<dyn BufRead>, IntelError> {
    let file = path.display().to_string();
    let io = |e: std::io::Error| IntelError::Io { file: file.clone(), reason: e.to_string() };
    let mut f = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let gz = f.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz { Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f))) } else { Box::new(f) })
}

/// Reads an EPSS CSV: its metadata, then every row handed to `row` (in batches the caller
/// chooses). Any malformed line stops it with the line number.
pub fn read_epss(
    reader: impl BufRead,
    file: &str,
    mut row: impl FnMut(EpssRow) -> Result<(), IntelError>,
) -> Result<(EpssMeta, u64), IntelError> {
    let mut meta = EpssMeta::default();
    let mut header = false;
    let mut n = 0;
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let bad = |reason: String| IntelError::Line { file: file.to_string(), line: line_no, reason };
        let line = line.map_err(|e| bad(format!("not text: {e}")))?;
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix('#') {
            for kv in m.split(',') {
                match kv.split_once(':') {
                    Some(("model_version", v)) => meta.model_version = Some(v.trim().to_string()),
                    Some(("score_date", v)) => meta.score_date = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if !header {
            if line.trim() != "cve,epss,percentile" {
                return Err(bad(format!(
                    "expected the header 'cve,epss,percentile', found '{}'",
                    line.chars().take(60).collect::<String>()
                )));
            }
            header = true;
            continue;
        }
        let mut cols = line.split(',');
        let (Some(cve), Some(epss), Some(pct), None) = (cols.next(), cols.next(), cols.next(), cols.next()) else {
            return Err(bad("expected three columns: cve,epss,percentile".into()));
        };
        let cve = cve.trim().to_ascii_uppercase();
        if !valid_cve(&cve) {
            return Err(bad(format!("'{cve}' is not a CVE id")));
        }
        let num = |s: &str, what: &str| -> Result<f64, IntelError> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| bad(format!("{what} '{s}' is not a number from 0 to 1")))
        };
        row(EpssRow { cve, epss: num(epss, "epss")?, percentile: num(pct, "percentile")? })?;
        n += 1;
    }
    if !header {
        return Err(IntelError::Line {
            file: file.to_string(),
            line: 1,
            reason: "no 'cve,epss,percentile' header: not an EPSS file".into(),
        });
    }
    Ok((meta, n))
}

/// Reads a KEV catalog (a few MB: read whole), checking every entry.
pub fn read_kev(mut reader: impl Read, file: &str) -> Result<KevCatalog, IntelError> {
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|e| IntelError::Io { file: file.to_string(), reason: e.to_string() })?;
    let mut cat: KevCatalog = serde_json::from_str(&text).map_err(|e| IntelError::Kev { file: file.to_string(), reason: e.to_string() })?;
    for (i, v) in cat.vulnerabilities.iter_mut().enumerate() {
        for s in [&mut v.cve, &mut v.vendor, &mut v.product, &mut v.name, &mut v.date_added] {
            *s = s.trim().to_string();
        }
        if !valid_cve(&v.cve) {
            return Err(IntelError::Kev { file: file.to_string(), reason: format!("entry {}: '{}' is not a CVE id", i + 1, v.cve) });
        }
    }
    if let Some(c) = cat.count
        && c as usize != cat.vulnerabilities.len()
    {
        return Err(IntelError::Kev {
            file: file.to_string(),
            reason: format!("it says count {c} but lists {} vulnerabilities (a truncated download?)", cat.vulnerabilities.len()),
        });
    }
    Ok(cat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epss_rows_and_metadata() {
        let text = "#model_version:v2025.03.14,score_date:2026-05-18T00:00:00Z\ncve,epss,percentile\nCVE-1999-0001,0.0046,0.7385\ncve-2024-3400,0.95732,0.99721\n";
        let mut rows = Vec::new();
        let (meta, n) = read_epss(text.as_bytes(), "f", |r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(meta.model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(rows[1].cve, "CVE-2024-3400");
        for (bad, want) in [
            ("cve,epss,percentile\nCVE-1999-0001,1.5,0.2\n", "line 2"),
            ("cve,epss\n", "header"),
            ("cve,epss,percentile\nnot-a-cve,0.1,0.2\n", "not a CVE id"),
            ("", "not an EPSS file"),
        ] {
            let e = read_epss(bad.as_bytes(), "f", |_| Ok(())).unwrap_err().to_string();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }
}
