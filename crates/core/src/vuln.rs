//! Vulnerability reference data and scoring helpers: CVSS vectors (via the RustSec
//! `cvss` crate), CWE ids and the CWE Top 25 (2025), CVE id hygiene.

use std::str::FromStr;

use serde::Serialize;

use crate::model::Severity;

/// A scored CVSS vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvssScore {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: &'static str,
    pub base_score: f64,
    pub severity: Severity,
    /// The vector as given (trimmed).
    pub vector: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS vector '{vector}': {reason}")]
pub struct CvssError {
    pub vector: String,
    pub reason: String,
}

/// Parses and scores a CVSS v2/v3.x/v4.0 vector.
///
/// The `cvss` crate accepts v3 vectors with missing base metrics (scoring them 0.0);
/// we refuse those, since a silently-zero score would rank a real problem last.
pub fn score_cvss(vector: &str) -> Result<CvssScore, CvssError> {
    // A tenant has a few hundred distinct vectors across millions of findings: parse each
    // once per thread.
    thread_local! {
        static SCORED: std::cell::RefCell<std::collections::HashMap<String, Result<CvssScore, CvssError>>> = Default::default();
    }
    SCORED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(hit) = cache.get(vector) {
            return hit.clone();
        }
        if cache.len() >= 4096 {
            cache.clear();
        }
        let scored = score_cvss_uncached(vector);
        cache.insert(vector.to_string(), scored.clone());
        scored
    })
}

fn score_cvss_uncached(vector: &str) -> Result<CvssScore, CvssError> {
    let v = vector.trim();
    let err = |reason: String| CvssError { vector: v.to_string(), reason };
    let parsed = cvss::Cvss::from_str(v).map_err(|e| err(e.to_string()))?;
    let version = match &parsed {
        cvss::Cvss::CvssV20(_) => "2.0",
        cvss::Cvss::CvssV30(b) | cvss::Cvss::CvssV31(b) => {
            let complete = b.av.is_some()
                && b.ac.is_some()
                && b.pr.is_some()
                && b.ui.is_some()
                && b.s.is_some()
                && b.c.is_some()
                && b.i.is_some()
                && b.a.is_some();
            if !complete {
                return Err(err("a v3 vector needs all eight base metrics AV/AC/PR/UI/S/C/I/A".into()));
            }
            if matches!(parsed, cvss::Cvss::CvssV30(_)) { "3.0" } else { "3.1" }
        }
        cvss::Cvss::CvssV40(_) => "4.0",
        _ => return Err(err("unsupported CVSS version".into())),
    };
    let base_score = (parsed.score() * 10.0).round() / 10.0;
    Ok(CvssScore { version, base_score, severity: Severity::from_cvss(base_score), vector: v.to_string() })
}

/// The 2025 CWE Top 25, rank order (cwe.mitre.org, published December 2025).
pub const CWE_TOP25_2025: [u32; 25] =
    [79, 89, 352, 862, 787, 22, 416, 125, 78, 94, 120, 434, 476, 121, 502, 122, 863, 20, 284, 200, 306, 918, 77, 639, 770];

/// Rank (1–25) of a CWE in the 2025 Top 25.
pub fn cwe_top25_rank(cwe: u32) -> Option<u8> {
    CWE_TOP25_2025.iter().position(|c| *c == cwe).map(|i| i as u8 + 1)
}

/// Extracts the numeric id from `CWE-89`, `CWE-89: Improper Neutralization…`, `cwe_89`, `89`.
pub fn cwe_id(text: &str) -> Option<u32> {
    let t = text.trim();
    let rest = t.get(..4).filter(|p| p.eq_ignore_ascii_case("cwe-") || p.eq_ignore_ascii_case("cwe_")).map(|_| &t[4..]).unwrap_or(t);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// Uppercases and validates a CVE id (`cve-2024-1234` → `CVE-2024-1234`).
pub fn normalize_cve(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_uppercase();
    let rest = t.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    let ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && num.len() >= 4 && num.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_reference_vectors() {
        let s = score_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s.version, s.base_score, s.severity), ("3.1", 9.8, Severity::Critical));
        let s = score_cvss("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N").unwrap();
        assert_eq!((s.base_score, s.severity), (6.1, Severity::Medium));
        let s = score_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!((s.version, s.base_score), ("4.0", 9.3));
        assert!(score_cvss("CVSS:3.1/AV:N").is_err(), "incomplete v3 must be refused");
        assert!(score_cvss("CVSS:4.0/AV:N/AC:L").is_err());
        assert!(score_cvss("garbage").is_err());
    }

    #[test]
    fn cwe_helpers() {
        assert_eq!(cwe_id("CWE-89: Improper Neutralization of Special Elements"), Some(89));
        assert_eq!(cwe_id("cwe_79"), Some(79));
        assert_eq!(cwe_id("CWE-"), None);
        assert_eq!(cwe_top25_rank(79), Some(1));
        assert_eq!(cwe_top25_rank(770), Some(25));
        assert_eq!(cwe_top25_rank(1321), None);
        assert_eq!(normalize_cve(" cve-2024-6387 ").as_deref(), Some("CVE-2024-6387"));
        assert_eq!(normalize_cve("GHSA-xxxx"), None);
    }
}
