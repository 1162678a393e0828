//! Ground truth: the exact counts a correct full sync must end up with, computed by
//! walking every entity (so it is only as fast as the tenant is big).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use tributary_core::ident::repo::RepoKey;

use super::World;
use super::cloud::repo_url;
use super::semgrep::{IssueType, RepoLink, Status};

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}

impl World {
    pub fn truth(&self, day: u32) -> Value {
        // Cortex XDR.
        let mut endpoints = 0u64;
        let mut uninstalled = 0u64;
        let mut host_findings = 0u64;
        let mut host_by_severity = BTreeMap::new();
        for i in 0..self.endpoint_count(day) {
            let st = self.endpoint_state(i, day);
            if st.retired() {
                uninstalled += 1;
                continue;
            }
            endpoints += 1;
            for s in st.open_slots() {
                host_findings += 1;
                bump(&mut host_by_severity, &self.cves.get(s.cve).severity.to_ascii_lowercase());
            }
        }

        // Cortex Cloud.
        let mut repo_keys = HashSet::new();
        let mut by_deployment = BTreeMap::new();
        let mut by_exposure = BTreeMap::new();
        for r in 0..self.repository_count() {
            if let Ok(k) = RepoKey::parse(&repo_url(self.seed(), r)) {
                repo_keys.insert(k);
            }
            let (e, _) = self.repository_exposure(r, day);
            bump(&mut by_deployment, e.deployment_status());
            bump(&mut by_exposure, e.internet_exposure());
        }

        // Semgrep projects.
        let mut with_url = vec![false; self.project_count() as usize];
        let (mut mapped, mut unmatched, mut no_url, mut stale) = (0u64, 0u64, 0u64, 0u64);
        for p in 0..self.project_count() {
            let info = self.project(p);
            if info.stale {
                stale += 1;
            }
            match &info.url {
                None => no_url += 1,
                Some(u) => {
                    with_url[p as usize] = true;
                    let matched = RepoKey::parse(u).map(|k| repo_keys.contains(&k)).unwrap_or(false);
                    debug_assert_eq!(matched, matches!(info.link, RepoLink::Cloud(_)));
                    if matched { mapped += 1 } else { unmatched += 1 }
                }
            }
        }

        // Issues (core::transform::Correlation, as ingest keys them): per repository, a
        // rule at a file and line (SAST), a CVE on a package without its version (SCA;
        // a GHSA-only finding is its own issue); per host, a CVE. Code to runtime: a host
        // finding whose CVE the code of a repository deployed on that host has joins
        // that repository's issue (smallest package identity, then repository identity).
        let mut sast_keys: HashSet<(String, String, String, i64)> = HashSet::new();
        let mut sca_keys: HashSet<(String, String, String)> = HashSet::new();
        let mut sca_own = 0u64;
        // repository key → CVE → smallest package identity with it.
        let mut repo_cves: HashMap<String, HashMap<String, String>> = HashMap::new();

        // Semgrep findings of projects that have a URL (what an integration that maps future
        // projects ingests): open ones (open, reviewing), triaged ones (ignored), fixed and
        // removed ones, and every one neither fixed nor removed (what a first full sync
        // stores; findings already fixed when first seen are history, not stored).
        // `_total`: what the listing holds (removed findings leave it).
        // Package assets: every package version an SCA finding of such a project names.
        let mut out = serde_json::Map::new();
        let mut purls = HashSet::new();
        for t in [IssueType::Sast, IssueType::Sca] {
            let (mut open, mut total, mut stored) = (0u64, 0u64, 0u64);
            let (mut triaged, mut fixed, mut removed) = (0u64, 0u64, 0u64);
            let mut by_severity = BTreeMap::new();
            let mut by_status = BTreeMap::new();
            for f in 0..self.finding_count(t, day) {
                let st = self.finding_state(t, f, day);
                bump(
                    &mut by_status,
                    match st.status {
                        Status::Ignored(reason) => reason,
                        s => s.api(),
                    },
                );
                if st.status != Status::Removed {
                    total += 1;
                }
                if !with_url[self.finding_project(t, f) as usize] {
                    continue;
                }
                if t == IssueType::Sca
                    && let Some(p) = self.sca_purl(f)
                {
                    purls.insert(p);
                }
                match st.status {
                    Status::Fixed => fixed += 1,
                    Status::Removed => removed += 1,
                    Status::Ignored(_) => triaged += 1,
                    _ => {}
                }
                if matches!(st.status, Status::Fixed | Status::Removed) {
                    continue;
                }
                stored += 1;
                let project = self.project(self.finding_project(t, f));
                let repo = project.url.as_deref().and_then(|u| RepoKey::parse(u).ok()).map(|k| k.as_str().to_string()).unwrap_or_default();
                match t {
                    IssueType::Sast => {
                        let fd = self.finding(t, f, day);
                        let path = fd.location.file_path.trim_start_matches("./").to_string();
                        sast_keys.insert((repo, fd.rule.name.to_string(), path, fd.location.line));
                    }
                    IssueType::Sca => match (self.sca_vuln(f), self.sca_purl(f)) {
                        (Ok(k), Some(purl)) => {
                            let cve = self.cves.get(k).id.clone();
                            let identity = format!("purl:{purl}");
                            let best = repo_cves.entry(repo.clone()).or_default().entry(cve.clone()).or_insert_with(|| identity.clone());
                            if identity < *best {
                                *best = identity;
                            }
                            sca_keys.insert((repo, tributary_core::ident::purl::without_version(&purl).to_string(), cve));
                        }
                        _ => sca_own += 1,
                    },
                }
                if !st.status.is_open() {
                    continue;
                }
                open += 1;
                bump(&mut by_severity, self.finding_severity(t, f));
            }
            out.insert(format!("{}_findings_stored", t.as_str()), json!(stored));
            out.insert(format!("{}_findings", t.as_str()), json!(open));
            out.insert(format!("{}_findings_triaged", t.as_str()), json!(triaged));
            out.insert(format!("{}_findings_fixed", t.as_str()), json!(fixed));
            out.insert(format!("{}_findings_removed", t.as_str()), json!(removed));
            out.insert(format!("{}_findings_by_severity", t.as_str()), json!(by_severity));
            out.insert(format!("{}_findings_total", t.as_str()), json!(total));
            out.insert(format!("{}_findings_by_status", t.as_str()), json!(by_status));
        }
        // Hosts: one issue per open CVE, unless it joins a deployed repository's issue.
        let mut runs_on: HashMap<u64, Vec<String>> = HashMap::new();
        for r in 0..self.repository_count() {
            let (e, _) = self.repository_exposure(r, day);
            if e.deployment_status() != "DEPLOYED" {
                continue;
            }
            if let (Some(host), Ok(k)) = (self.repository_host(r), RepoKey::parse(&repo_url(self.seed(), r))) {
                runs_on.entry(host).or_default().push(k.as_str().to_string());
            }
        }
        let (mut host_issues, mut linked) = (0u64, 0u64);
        let mut runtime: HashSet<(String, String, String)> = HashSet::new();
        for i in 0..self.endpoint_count(day) {
            let st = self.endpoint_state(i, day);
            if st.retired() {
                continue;
            }
            let cves: HashSet<String> = st.open_slots().map(|s| self.cves.get(s.cve).id.clone()).collect();
            for cve in cves {
                let target = runs_on
                    .get(&i)
                    .into_iter()
                    .flatten()
                    .filter_map(|repo| {
                        repo_cves.get(repo).and_then(|m| m.get(&cve)).map(|pkg| (pkg.clone(), format!("repo_url:{repo}"), repo.clone()))
                    })
                    .min();
                match target {
                    Some((pkg, _, repo)) => {
                        linked += 1;
                        let purl = pkg.strip_prefix("purl:").unwrap_or(&pkg);
                        runtime.insert((repo, tributary_core::ident::purl::without_version(purl).to_string(), cve));
                    }
                    None => host_issues += 1,
                }
            }
        }
        let total = sast_keys.len() as u64 + sca_keys.len() as u64 + sca_own + host_issues;
        let issues = json!({
            "total": total,
            "code_to_runtime": runtime.len(),
            "multi_source": runtime.len(),
            "single_source": total - runtime.len() as u64,
            "host_findings_linked": linked,
        });

        let mut semgrep = json!({
            "projects": self.project_count(),
            "projects_mapped": mapped,
            "projects_unmatched": unmatched,
            "projects_without_url": no_url,
            "projects_with_url": mapped + unmatched,
            "projects_stale": stale,
            "package_assets": purls.len(),
        });
        if let Some(obj) = semgrep.as_object_mut() {
            obj.extend(out);
        }
        json!({
            "seed": self.seed(),
            "scale": self.cfg.scale.name,
            "day": day,
            "cortex_xdr": {
                "endpoints": endpoints,
                // Attack-surface records: cloud servers, exposed when they have a public IP.
                "endpoints_in_attack_surface": self.cloud_endpoints(day).len(),
                "endpoints_internet_exposed": self.cloud_endpoints(day).iter().filter(|i| self.endpoint_cloud(**i).is_some_and(|c| c.2.is_some())).count(),
                "endpoints_uninstalled": uninstalled,
                "host_findings": host_findings,
                "host_findings_by_severity": host_by_severity,
            },
            "semgrep": semgrep,
            "issues": issues,
            "cortex_cloud": {
                "repositories": self.repository_count(),
                "repositories_exposed": by_exposure.get("EXPOSED").copied().unwrap_or(0),
                "repositories_by_deployment": by_deployment,
                "repositories_by_exposure": by_exposure,
            },
        })
    }
}
