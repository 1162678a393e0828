//! The CVE catalog both Cortex XDR and Semgrep Supply Chain draw from: ids, CVSS v3.1
//! vectors (scored with the `cvss` crate through `tributary-core`), some v4.0 vectors,
//! CWEs mostly from the 2025 Top 25, EPSS, descriptions. Sized to the scale; the only
//! pre-computed table in the simulator (vocabulary, not tenant data).

use tributary_core::vuln::score_cvss;

use super::vocab::{HOST_PRODUCTS, VULN_CWES};
use super::{BASE_MS, DAY_MS, Tag};
use crate::config::Scale;
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct Cve {
    pub id: String,
    pub v31: String,
    pub v40: Option<String>,
    pub score: f64,
    /// `CRITICAL` / `HIGH` / `MEDIUM` / `LOW`.
    pub severity: &'static str,
    pub cwe: u32,
    pub product: &'static str,
    pub fixed_version: Option<String>,
    pub description: String,
    pub published: i64,
    pub epss: f64,
    pub epss_percentile: f64,
    pub exploitable: bool,
}

pub struct Catalog {
    pub cves: Vec<Cve>,
}

pub fn catalog_size(scale: &Scale) -> usize {
    (scale.xdr_endpoints / 25 + scale.sca_findings / 50).clamp(400, 6_000) as usize
}

const IMPACTS: &[&str] = &[
    "remote code execution",
    "privilege escalation",
    "denial of service",
    "information disclosure",
    "authentication bypass",
    "arbitrary file read",
    "memory corruption",
    "request smuggling",
];
const VECTORS: &[&str] = &[
    "a crafted request",
    "a malformed certificate",
    "specially crafted input",
    "a malicious archive",
    "an unauthenticated network packet",
    "a crafted HTTP header",
];

fn v31(r: &mut Rng) -> String {
    let av = r.weighted(&[(60, "N"), (10, "A"), (25, "L"), (5, "P")]);
    let ac = r.weighted(&[(80, "L"), (20, "H")]);
    let pr = r.weighted(&[(50, "N"), (35, "L"), (15, "H")]);
    let ui = r.weighted(&[(70, "N"), (30, "R")]);
    let s = r.weighted(&[(85, "U"), (15, "C")]);
    let cia = [(50, "H"), (30, "L"), (20, "N")];
    let (mut c, i, a) = (r.weighted(&cia), r.weighted(&cia), r.weighted(&cia));
    if c == "N" && i == "N" && a == "N" {
        c = "H";
    }
    format!("CVSS:3.1/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{i}/A:{a}")
}

fn v40(r: &mut Rng) -> String {
    let av = r.weighted(&[(60, "N"), (10, "A"), (25, "L"), (5, "P")]);
    let ac = r.weighted(&[(80, "L"), (20, "H")]);
    let at = r.weighted(&[(80, "N"), (20, "P")]);
    let pr = r.weighted(&[(50, "N"), (35, "L"), (15, "H")]);
    let ui = r.weighted(&[(70, "N"), (20, "P"), (10, "A")]);
    let cia = [(50, "H"), (30, "L"), (20, "N")];
    let (vc, vi, va) = (r.weighted(&cia), r.weighted(&cia), r.weighted(&cia));
    let sub = [(20, "H"), (20, "L"), (60, "N")];
    let (sc, si, sa) = (r.weighted(&sub), r.weighted(&sub), r.weighted(&sub));
    format!("CVSS:4.0/AV:{av}/AC:{ac}/AT:{at}/PR:{pr}/UI:{ui}/VC:{vc}/VI:{vi}/VA:{va}/SC:{sc}/SI:{si}/SA:{sa}")
}

impl Catalog {
    pub fn new(seed: u64, size: usize) -> Catalog {
        let mut cves = Vec::with_capacity(size);
        for k in 0..size {
            let mut r = Rng::new(seed, &[Tag::Cve as u64, k as u64]);
            let year = 2016 + (k % 10) as i64;
            // Unique by construction: the number encodes k.
            let id = format!("CVE-{year}-{}", 10_000 + k / 10 * 7 + (k % 10) * 3);
            let vector = v31(&mut r);
            let score = score_cvss(&vector).map(|s| s.base_score).unwrap_or(5.0);
            let severity = if score >= 9.0 {
                "CRITICAL"
            } else if score >= 7.0 {
                "HIGH"
            } else if score >= 4.0 {
                "MEDIUM"
            } else {
                "LOW"
            };
            let cwe = r.weighted(VULN_CWES);
            let product = r.pick(HOST_PRODUCTS);
            let fixed_version = r.chance(0.85).then(|| format!("{}.{}.{}", r.range(1, 9), r.range(0, 30), r.range(1, 40)));
            let description = format!(
                "{product} {} allows {} via {}.",
                match &fixed_version {
                    Some(v) => format!("before {v}"),
                    None => "through the latest release".into(),
                },
                r.pick(IMPACTS),
                r.pick(VECTORS)
            );
            let published = BASE_MS - (r.range(30, 3_000) as i64) * DAY_MS - year.rem_euclid(7) * 3_600_000;
            let epss = ((r.next_u64() % 10_000) as f64 / 10_000.0).powi(4);
            let epss_percentile = (epss.sqrt().sqrt() * 0.98 + 0.01).min(0.9999);
            let v40 = r.chance(0.2).then(|| v40(&mut r));
            let exploitable = epss > 0.3 || r.chance(0.05);
            cves.push(Cve {
                id,
                v31: vector,
                v40,
                score,
                severity,
                cwe,
                product,
                fixed_version,
                description,
                published,
                epss: (epss * 10_000.0).round() / 10_000.0,
                epss_percentile: (epss_percentile * 10_000.0).round() / 10_000.0,
                exploitable,
            });
        }
        Catalog { cves }
    }

    pub fn get(&self, k: u64) -> &Cve {
        &self.cves[(k % self.cves.len() as u64) as usize]
    }

    pub fn len(&self) -> usize {
        self.cves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cves.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_unique_and_vectors_score() {
        let c = Catalog::new(1, 2_000);
        let ids: HashSet<&str> = c.cves.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids.len(), 2_000);
        for x in &c.cves {
            let s = score_cvss(&x.v31).unwrap();
            assert_eq!(s.base_score, x.score);
            if let Some(v4) = &x.v40 {
                score_cvss(v4).unwrap();
            }
            assert!(tributary_core::vuln::normalize_cve(&x.id).is_some(), "{}", x.id);
        }
        let top25 = c.cves.iter().filter(|x| tributary_core::vuln::cwe_top25_rank(x.cwe).is_some()).count();
        assert!(top25 * 100 / c.cves.len() > 70, "mostly Top 25: {top25}");
    }
}
