//! The Semgrep tenant: one deployment, its projects (pointing at repositories in
//! several URL spellings), and their SAST and Supply Chain findings.
//!
//! Findings are numbered per issue type: base findings `0..N` are spread over projects
//! by weight; new findings appear each day with ids above `N`. Findings are served
//! newest `relevant_since` first, as the real API does: the few that changed recently
//! come first (kept in a per-day [`Ordering`]), then the untouched base findings in id
//! order (their `relevant_since` decreases with the id by construction).

use tributary_core::ident::purl;

use super::cloud::{repo_full_name, repo_host};
use super::vocab::{BRANCHES, ECOSYSTEMS, FILE_DIRS, FILE_NAMES, RULES, Rule, cwe_name};
use super::{BASE_MS, DAY_MS, Tag, World, event_time, has_event, rfc3339};
use crate::config::SimConfig;
use crate::rng::{Rng, h};
use crate::types::{
    EpssScore, Finding, FindingLocation, FindingRepository, FindingRule, FixRecommendation, FoundDependency, Project, SourcingPolicy, Text,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueType {
    Sast,
    Sca,
}

impl IssueType {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Sast => "sast",
            IssueType::Sca => "sca",
        }
    }
    fn tag(self) -> u64 {
        match self {
            IssueType::Sast => Tag::Sast as u64,
            IssueType::Sca => Tag::Sca as u64,
        }
    }
    pub fn id_base(self) -> i64 {
        match self {
            IssueType::Sast => 70_000_000,
            IssueType::Sca => 80_000_000,
        }
    }
}

pub const DEPLOYMENT_ID: i64 = 4821;
pub const DEPLOYMENT_SLUG: &str = "acme-sec";
pub const DEPLOYMENT_NAME: &str = "Acme Security";
pub const PROJECT_ID_BASE: i64 = 99_000;
/// Base findings' `relevant_since` spans this long before day 0.
const HISTORY_MS: i64 = 90 * DAY_MS;

/// Per-project finding counts (prefix sums), fixed for a configuration.
pub struct Layout {
    sast: Vec<u64>,
    sca: Vec<u64>,
}

fn prefix(cfg: &SimConfig, total: u64, t: u64) -> Vec<u64> {
    let p = cfg.scale.semgrep_projects.max(1);
    // Heavy-tailed weights: a few big monorepos, many small services.
    let weights: Vec<u64> = (0..p)
        .map(|i| {
            let x = h(cfg.seed, &[Tag::Project as u64, i, t]) % 100;
            1 + x * x / 100 + if x > 96 { 60 } else { 0 }
        })
        .collect();
    let sum: u64 = weights.iter().sum();
    let mut out = Vec::with_capacity(p as usize + 1);
    out.push(0);
    let mut acc = 0u64;
    let mut assigned = 0u64;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        let upto = if i as u64 == p - 1 { total } else { total * acc / sum };
        assigned = upto.max(assigned);
        out.push(assigned);
    }
    out
}

impl Layout {
    pub fn new(cfg: &SimConfig) -> Layout {
        Layout { sast: prefix(cfg, cfg.scale.sast_findings, 1), sca: prefix(cfg, cfg.scale.sca_findings, 2) }
    }
    fn prefix(&self, t: IssueType) -> &[u64] {
        match t {
            IssueType::Sast => &self.sast,
            IssueType::Sca => &self.sca,
        }
    }
}

/// Where a project's URL points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoLink {
    /// A repository Cortex Cloud knows (index into its repositories).
    Cloud(u64),
    /// A repository Cortex Cloud does not know.
    Foreign,
    /// No URL: the project is not connected to an SCM.
    NoUrl,
}

#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub index: u64,
    pub id: i64,
    pub name: String,
    pub url: Option<String>,
    pub link: RepoLink,
    /// Last scanned more than 30 days ago.
    pub stale: bool,
    pub ext: &'static str,
    pub branch: &'static str,
    pub created_at: i64,
    pub latest_scan_at: i64,
    pub tags: Vec<String>,
}

const LANGS: &[(u32, &str)] = &[(30, "py"), (28, "js"), (18, "java"), (14, "go"), (4, "rb"), (3, "php"), (3, "c")];

fn eco_for(ext: &str, pick: u64) -> usize {
    match ext {
        "py" => 1,
        "js" => 0,
        "java" => 2,
        "go" => 3,
        "c" => 4,
        "rb" | "php" => (pick % ECOSYSTEMS.len() as u64) as usize,
        _ => 5,
    }
}

/// A URL spelling of `host/full` (the same repository, written the ways people do).
fn spelling(r: &mut Rng, host: &str, full: &str) -> String {
    let (owner, name) = full.split_once('/').unwrap_or((full, ""));
    match r.below(7) {
        0 => format!("https://{host}/{full}"),
        1 => format!("https://{host}/{full}.git"),
        2 => format!("git@{host}:{full}.git"),
        3 => format!("ssh://git@{host}/{full}"),
        4 => format!("https://{}/{}/{}/", host.to_uppercase(), capitalize(owner), capitalize(name)),
        5 => format!("HTTPS://{host}/{full}.git/"),
        _ => format!("git@{host}:{}/{}", capitalize(owner), name),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The last project generated, reused while consecutive findings share it.
#[derive(Default)]
pub struct ProjectCache(Option<ProjectInfo>);

impl ProjectCache {
    pub fn get(&mut self, w: &World, p: u64) -> &ProjectInfo {
        if self.0.as_ref().is_none_or(|x| x.index != p) {
            self.0 = Some(w.project(p));
        }
        self.0.get_or_insert_with(|| w.project(p))
    }
}

/// Status of a finding on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Reviewing,
    Fixed,
    /// Ignored with a triage reason.
    Ignored(&'static str),
    /// Removed (its rule or file is gone): it leaves every listing.
    Removed,
}

impl Status {
    pub fn api(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Reviewing => "reviewing",
            Status::Fixed => "fixed",
            Status::Ignored(_) => "ignored",
            Status::Removed => "removed",
        }
    }
    /// Counts as open (what a product maps to "open").
    pub fn is_open(self) -> bool {
        matches!(self, Status::Open | Status::Reviewing)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FindingState {
    pub status: Status,
    pub created_at: i64,
    pub relevant_since: i64,
    /// The status came back from fixed.
    pub reopened: bool,
}

/// Changed and new findings of a day, newest first, plus the sorted ids of changed base
/// findings (to skip them in the base range).
pub struct Ordering {
    pub recent: Vec<(i64, u64)>,
    changed_base: Vec<u64>,
    pub base: u64,
}

impl Ordering {
    pub fn build(w: &World, t: IssueType, day: u32) -> Ordering {
        let base = w.base_findings(t);
        let mut recent = Vec::new();
        let mut changed_base = Vec::new();
        if day > 0 {
            for f in 0..base {
                let st = w.finding_state(t, f, day);
                // Reintroduced findings move to the front; removed ones leave the listing.
                if st.relevant_since >= BASE_MS || st.status == Status::Removed {
                    changed_base.push(f);
                    if st.status != Status::Removed {
                        recent.push((st.relevant_since, f));
                    }
                }
            }
            for f in base..w.finding_count(t, day) {
                let st = w.finding_state(t, f, day);
                if st.status != Status::Removed {
                    recent.push((st.relevant_since, f));
                }
            }
        }
        recent.sort_by(|a, b| b.cmp(a));
        Ordering { recent, changed_base, base }
    }

    pub fn len(&self) -> u64 {
        self.recent.len() as u64 + self.base - self.changed_base.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The finding at position `k` of the newest-first order.
    pub fn at(&self, k: u64) -> u64 {
        if k < self.recent.len() as u64 {
            return self.recent[k as usize].1;
        }
        // The (k - recent)-th base finding that did not change.
        let want = k - self.recent.len() as u64;
        let (mut lo, mut hi) = (want, want + self.changed_base.len() as u64);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let unchanged_upto = mid + 1 - self.changed_base.partition_point(|c| *c <= mid) as u64;
            if unchanged_upto > want { hi = mid } else { lo = mid + 1 }
        }
        lo
    }
}

impl World {
    pub fn project_count(&self) -> u64 {
        self.cfg.scale.semgrep_projects
    }

    pub fn project(&self, p: u64) -> ProjectInfo {
        let seed = self.seed();
        let mut r = Rng::new(seed, &[Tag::Project as u64, p, 0]);
        let repos = self.repository_count();
        let link = if p < repos && r.chance(0.80) {
            RepoLink::Cloud(p)
        } else if r.chance(0.6) {
            RepoLink::Foreign
        } else {
            RepoLink::NoUrl
        };
        let (name, url) = match link {
            RepoLink::Cloud(rep) => {
                let full = repo_full_name(rep);
                (full.clone(), Some(spelling(&mut r, repo_host(seed, rep), &full)))
            }
            RepoLink::Foreign => {
                let full = format!("acme-archive/{}", repo_full_name(p).split('/').nth(1).unwrap_or("legacy"));
                (full.clone(), Some(spelling(&mut r, "github.com", &full)))
            }
            RepoLink::NoUrl => (format!("local/{}", repo_full_name(p).split('/').nth(1).unwrap_or("scan")), None),
        };
        let stale = r.chance(0.08);
        let ext = r.weighted(LANGS);
        let latest_scan_at =
            if stale { BASE_MS - r.range(31, 200) as i64 * DAY_MS } else { BASE_MS - r.range(1, 29 * 24) as i64 * 3_600_000 };
        let mut tags = Vec::new();
        if r.chance(0.3) {
            tags.push(r.pick(&["tier-1", "tier-2", "pci", "internal", "customer-facing"]).to_string());
        }
        ProjectInfo {
            index: p,
            id: PROJECT_ID_BASE + p as i64,
            name,
            url,
            link,
            stale,
            ext,
            branch: r.pick(BRANCHES),
            created_at: BASE_MS - r.range(60, 1_200) as i64 * DAY_MS,
            latest_scan_at,
            tags,
        }
    }

    pub fn project_index(&self, id: i64) -> Option<u64> {
        let p = id.checked_sub(PROJECT_ID_BASE)?;
        (p >= 0 && (p as u64) < self.project_count()).then_some(p as u64)
    }

    /// Looks a project up by name (`org/repo`).
    pub fn project_by_name(&self, name: &str) -> Option<ProjectInfo> {
        (0..self.project_count()).map(|p| self.project(p)).find(|p| p.name == name)
    }

    /// The project as the API returns it (tags reflect edits made through the API).
    pub fn project_json(&self, info: &ProjectInfo, single: bool) -> Project {
        let edited = self.project_tags.lock().unwrap_or_else(|p| p.into_inner()).get(&info.id).cloned();
        let tags = edited.unwrap_or_else(|| info.tags.clone()).into_iter().map(Text::from).collect();
        Project {
            id: info.id,
            name: info.name.clone().into(),
            url: info.url.clone().map(Text::from),
            tags,
            created_at: Some(rfc3339(info.created_at).into()),
            latest_scan_at: Some(rfc3339(self.latest_scan_at(info, self.day())).into()),
            default_branch: Some(info.branch.into()),
            primary_branch: Some(info.branch.into()),
            managed_scan_config: single.then(|| serde_json::json!({"diff_scan": {"enabled": false}, "full_scan": {"enabled": false}})),
        }
    }

    /// Whether project `p` is scanned on day `d ≥ 1` (without the cache; see
    /// [`World::scanned_projects`]). Stale projects are never scanned.
    pub fn project_scanned_raw(&self, p: u64, d: u32) -> bool {
        has_event(self.seed(), Tag::ProjectScan, p, d, self.cfg.churn.project_scan) && !self.project(p).stale
    }

    /// When project `p`'s scan on day `d` finished (its findings change then).
    pub fn scan_time(&self, p: u64, d: u32) -> i64 {
        event_time(self.seed(), Tag::ProjectScan, p, d)
    }

    fn scanned(&self, p: u64, d: u32) -> bool {
        self.scanned_projects(d).binary_search(&p).is_ok()
    }

    /// `latest_scan_at` of a project on `day`: its last scan, or its base time.
    pub fn latest_scan_at(&self, info: &ProjectInfo, day: u32) -> i64 {
        (1..=day).rev().find(|d| self.scanned(info.index, *d)).map_or(info.latest_scan_at, |d| self.scan_time(info.index, d))
    }

    pub fn base_findings(&self, t: IssueType) -> u64 {
        *self.semgrep.prefix(t).last().unwrap_or(&0)
    }

    fn new_per_day(&self, t: IssueType) -> u64 {
        (self.base_findings(t) as f64 * self.cfg.churn.finding_new).round() as u64
    }

    /// Findings (any status) that exist on `day`.
    pub fn finding_count(&self, t: IssueType, day: u32) -> u64 {
        self.base_findings(t) + self.new_per_day(t) * day as u64
    }

    pub fn finding_project(&self, t: IssueType, f: u64) -> u64 {
        let base = self.base_findings(t);
        if f < base {
            let pre = self.semgrep.prefix(t);
            (pre.partition_point(|x| *x <= f) as u64).saturating_sub(1)
        } else {
            // New findings come from that day's scans.
            let scanned = self.scanned_projects(self.finding_created_day(t, f));
            let pick = h(self.seed(), &[Tag::NewFinding as u64, t.tag(), f]);
            match scanned.len() as u64 {
                0 => pick % self.project_count().max(1),
                n => scanned[(pick % n) as usize],
            }
        }
    }

    fn finding_created_day(&self, t: IssueType, f: u64) -> u32 {
        let base = self.base_findings(t);
        if f < base { 0 } else { 1 + ((f - base) / self.new_per_day(t).max(1)) as u32 }
    }

    /// A finding's state on `day`. Only its project's scans change it: a fix, a triage
    /// (ignored, reviewing) or a removal leaves `relevant_since` alone; a fixed finding
    /// that comes back is reintroduced, and `relevant_since` moves to that scan (the
    /// vendor's OpenAPI: "when this finding was detected, the first time or when
    /// reintroduced").
    pub fn finding_state(&self, t: IssueType, f: u64, day: u32) -> FindingState {
        let seed = self.seed();
        let created_day = self.finding_created_day(t, f);
        let base = self.base_findings(t);
        let project = self.finding_project(t, f);
        let (mut status, created_at) = if created_day == 0 {
            let x = h(seed, &[t.tag(), f, 1]) % 100;
            let status = match x {
                0..=79 => Status::Open,
                80..=83 => Status::Reviewing,
                84..=88 => Status::Fixed,
                89..=93 => Status::Ignored("acceptable_risk"),
                94..=97 => Status::Ignored("false_positive"),
                _ => Status::Ignored("no_time"),
            };
            let step = (HISTORY_MS / base.max(1) as i64).max(1);
            (status, BASE_MS - 3_600_000 - (f as i64 + 1) * step)
        } else {
            (Status::Open, self.scan_time(project, created_day))
        };
        let mut relevant_since = created_at;
        let mut reopened = false;
        let id = t.tag() * 1_000_000_000 + f;
        for d in created_day + 1..=day {
            if !has_event(seed, Tag::FindingEvent, id, d, self.cfg.churn.finding_change) || !self.scanned(project, d) {
                continue;
            }
            status = match status {
                Status::Open | Status::Reviewing => match h(seed, &[Tag::Triage as u64, id, d as u64]) % 100 {
                    0..=59 => Status::Fixed,
                    60..=67 => Status::Ignored("acceptable_risk"),
                    68..=74 => Status::Ignored("false_positive"),
                    75..=84 if status == Status::Open => Status::Reviewing,
                    75..=84 => Status::Fixed,
                    _ => Status::Removed,
                },
                Status::Fixed => {
                    reopened = true;
                    relevant_since = self.scan_time(project, d);
                    Status::Open
                }
                Status::Ignored(_) | Status::Removed => continue,
            };
        }
        FindingState { status, created_at, relevant_since, reopened }
    }

    /// A copy of the finding on a pull-request ref (the listing without `dedup=true`
    /// returns one finding per ref): the PR number, for one finding in ten.
    pub fn ref_copy(&self, t: IssueType, f: u64) -> Option<u64> {
        let x = h(self.seed(), &[Tag::RefCopy as u64, t.tag(), f]);
        x.is_multiple_of(10).then_some(1_000 + (x >> 8) % 9_000)
    }

    /// The findings of `projects` on `day`, newest `relevant_since` first (removed ones
    /// left out): a project's base findings are one id range, new ones are few.
    pub fn project_findings(&self, t: IssueType, projects: &[u64], day: u32) -> Vec<u64> {
        let pre = self.semgrep.prefix(t);
        let mut out: Vec<(i64, u64)> = Vec::new();
        let mut push = |f: u64| {
            let st = self.finding_state(t, f, day);
            if st.status != Status::Removed {
                out.push((st.relevant_since, f));
            }
        };
        for &p in projects {
            if let (Some(&a), Some(&b)) = (pre.get(p as usize), pre.get(p as usize + 1)) {
                (a..b).for_each(&mut push);
            }
        }
        for f in self.base_findings(t)..self.finding_count(t, day) {
            if projects.contains(&self.finding_project(t, f)) {
                push(f);
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        out.into_iter().map(|(_, f)| f).collect()
    }

    fn rule_for(&self, ext: &str, pick: u64) -> &'static Rule {
        let matching: Vec<&'static Rule> = RULES.iter().filter(|r| r.ext == ext).collect();
        if matching.is_empty() { &RULES[(pick % RULES.len() as u64) as usize] } else { matching[(pick % matching.len() as u64) as usize] }
    }

    /// Package coordinates of an SCA finding: (ecosystem index, package, version).
    pub fn sca_package(&self, f: u64) -> (usize, &'static str, String) {
        let ext = self.project(self.finding_project(IssueType::Sca, f)).ext;
        self.sca_package_in(f, ext)
    }

    /// [`sca_package`](Self::sca_package) for a finding of a project in language `ext`.
    fn sca_package_in(&self, f: u64, ext: &str) -> (usize, &'static str, String) {
        let mut r = Rng::new(self.seed(), &[Tag::Sca as u64, f, 2]);
        let eco = eco_for(ext, r.next_u64());
        let (_, pkgs, _) = ECOSYSTEMS[eco];
        let k = r.below(pkgs.len() as u64);
        let pkg = pkgs[k as usize];
        // Three versions per package in use across the company.
        let v = r.below(3);
        let mut vr = Rng::new(self.seed(), &[Tag::Sca as u64, eco as u64, k, v]);
        let version = match ECOSYSTEMS[eco].0 {
            "gomod" => format!("v{}.{}.{}", vr.range(0, 2), vr.range(0, 20), vr.range(0, 9)),
            _ => format!("{}.{}.{}", vr.range(0, 5), vr.range(0, 25), vr.range(0, 20)),
        };
        (eco, pkg, version)
    }

    /// The purl of an SCA finding's package.
    pub fn sca_purl(&self, f: u64) -> Option<String> {
        let (eco, pkg, version) = self.sca_package(f);
        purl::build(ECOSYSTEMS[eco].0, pkg, Some(&version)).ok()
    }

    /// Severity as the API spells it.
    pub fn finding_severity(&self, t: IssueType, f: u64) -> &'static str {
        match t {
            IssueType::Sast => {
                Rng::new(self.seed(), &[Tag::Sast as u64, f, 3]).weighted(&[(5, "critical"), (30, "high"), (45, "medium"), (20, "low")])
            }
            IssueType::Sca => match self.sca_vuln(f) {
                Ok(k) => match self.cves.get(k).severity {
                    "CRITICAL" => "critical",
                    "HIGH" => "high",
                    "MEDIUM" => "medium",
                    _ => "low",
                },
                Err(_) => {
                    Rng::new(self.seed(), &[Tag::Sca as u64, f, 4]).weighted(&[(10, "critical"), (40, "high"), (40, "medium"), (10, "low")])
                }
            },
        }
    }

    /// The SCA finding's vulnerability: a catalog CVE, or a GHSA id with no CVE.
    pub fn sca_vuln(&self, f: u64) -> Result<u64, String> {
        let mut r = Rng::new(self.seed(), &[Tag::Sca as u64, f, 5]);
        if r.chance(0.12) {
            const A: &[u8] = b"23456789cfghjmpqrvwx";
            let g: String = (0..12).map(|_| A[r.below(A.len() as u64) as usize] as char).collect();
            Err(format!("GHSA-{}-{}-{}", &g[0..4], &g[4..8], &g[8..12]))
        } else {
            Ok(r.next_u64() % self.cves.len() as u64)
        }
    }

    /// One finding as the API returns it.
    pub fn finding(&self, t: IssueType, f: u64, day: u32) -> Finding {
        self.finding_in(t, f, day, &mut ProjectCache::default())
    }

    /// [`finding`](Self::finding), reusing the project of the previous finding (consecutive
    /// findings usually share one).
    pub fn finding_in(&self, t: IssueType, f: u64, day: u32, cache: &mut ProjectCache) -> Finding {
        let seed = self.seed();
        let st = self.finding_state(t, f, day);
        let p = cache.get(self, self.finding_project(t, f));
        let mut r = Rng::new(seed, &[t.tag(), f, 6]);
        let sha = hex_words(&[h(seed, &[p.index, f / 40, 1]), h(seed, &[p.index, f / 40, 2]), h(seed, &[p.index, f / 40, 3])], 40);
        let canonical = match p.link {
            RepoLink::Cloud(rep) => Some(format!("https://{}/{}", repo_host(seed, rep), repo_full_name(rep))),
            RepoLink::Foreign => Some(format!("https://github.com/{}", p.name)),
            RepoLink::NoUrl => None,
        };
        let (triage_state, triage_reason): (&'static str, Option<&'static str>) = match st.status {
            Status::Ignored(reason) => ("ignored", Some(reason)),
            Status::Reviewing => ("reviewing", None),
            _ if st.reopened => ("reopened", None),
            _ => ("untriaged", None),
        };
        let state = match st.status {
            Status::Fixed => "fixed",
            Status::Ignored(_) => "muted",
            _ => "unresolved",
        };
        let confidence: Text = (r.weighted(&[(50, "high"), (35, "medium"), (15, "low")])).into();
        let relevant: Text = rfc3339(st.relevant_since).into();
        let mut finding = Finding {
            id: t.id_base() + f as i64,
            r#ref: Some(p.branch.into()),
            syntactic_id: Some(hex_words(&[h(seed, &[t.tag(), f, 10]), h(seed, &[t.tag(), f, 11])], 32).into()),
            match_based_id: Some(
                hex_words(
                    &[h(seed, &[t.tag(), f, 12]), h(seed, &[t.tag(), f, 13]), h(seed, &[t.tag(), f, 14]), h(seed, &[t.tag(), f, 15])],
                    64,
                )
                .into(),
            ),
            first_seen_scan_id: Some(5_000_000 + (f / 7) as i64),
            status: st.status.api().into(),
            state: Some(state.into()),
            triage_state: Some(triage_state.into()),
            triage_reason: triage_reason.map(Text::from),
            triage_comment: triage_reason.map(|r| format!("Triaged as {r} by the service owner.").into()),
            triaged_at: triage_reason.map(|_| rfc3339(st.created_at + DAY_MS).into()),
            created_at: Some(rfc3339(st.created_at).into()),
            relevant_since: Some(relevant.clone()),
            state_updated_at: Some(relevant),
            severity: self.finding_severity(t, f).into(),
            confidence: Some(confidence.clone()),
            categories: vec!["security".into()],
            rule_name: "".into(),
            rule_message: None,
            rule: FindingRule {
                name: "".into(),
                message: None,
                category: None,
                confidence: None,
                cwe_names: vec![],
                owasp_names: vec![],
                subcategories: vec![],
                vulnerability_classes: vec![],
            },
            location: FindingLocation { file_path: "".into(), line: 1, column: 1, end_line: 1, end_column: 1 },
            repository: FindingRepository { name: p.name.clone().into(), url: p.url.clone().map(Text::from) },
            line_of_code_url: None,
            sourcing_policy: Some(SourcingPolicy { id: 301, name: "Rule Board - Block".into(), slug: "rule-board-block".into() }),
            vulnerability_identifier: None,
            found_dependency: None,
            fix_recommendations: None,
            reachability: None,
            reachable_condition: None,
            epss_score: None,
            is_malicious: None,
        };
        match t {
            IssueType::Sast => {
                let rule = self.rule_for(p.ext, r.next_u64());
                let path = format!("{}/{}/{}.{}", r.pick(FILE_DIRS), r.pick(FILE_NAMES), r.pick(FILE_NAMES), rule.ext);
                let line = r.range(5, 900) as i64;
                let col = r.range(1, 40) as i64;
                finding.rule_name = rule.id.into();
                finding.rule_message = Some(rule.message.into());
                finding.rule = FindingRule {
                    name: rule.id.into(),
                    message: Some(rule.message.into()),
                    category: Some("security".into()),
                    confidence: Some(confidence),
                    cwe_names: rule.cwe.iter().map(|c| cwe_label(*c)).collect(),
                    owasp_names: rule.owasp.iter().map(|o| Text::from(*o)).collect(),
                    subcategories: vec!["vuln".into()],
                    vulnerability_classes: vec![rule.class.into()],
                };
                finding.line_of_code_url = canonical.map(|u| format!("{u}/blob/{}/{path}#L{line}", &sha[..7]).into());
                finding.location = FindingLocation {
                    file_path: path.into(),
                    line,
                    column: col,
                    end_line: line + r.range(0, 3) as i64,
                    end_column: col + r.range(10, 60) as i64,
                };
            }
            IssueType::Sca => {
                let (eco, pkg, version) = self.sca_package_in(f, p.ext);
                let (eco_name, _, lockfile) = ECOSYSTEMS[eco];
                let vuln = self.sca_vuln(f);
                let (vid, cwe, fixed, epss, message) = match &vuln {
                    Ok(k) => {
                        let c = self.cves.get(*k);
                        (
                            c.id.clone(),
                            c.cwe,
                            c.fixed_version.is_some(),
                            Some(EpssScore { score: c.epss, percentile: c.epss_percentile }),
                            c.description.replace(c.product, pkg),
                        )
                    }
                    Err(ghsa) => (ghsa.clone(), 1321, r.chance(0.7), None, format!("{pkg} {version} is affected by {ghsa}.")),
                };
                let line = r.range(10, 4_000) as i64;
                let short = pkg.rsplit(['/', ':']).next().unwrap_or(pkg);
                let rule_name: Text = format!(
                    "ssc-{:08x}-{}-{}",
                    h(seed, &[Tag::Sca as u64, f, 7]) as u32,
                    short.to_ascii_lowercase(),
                    vid.to_ascii_lowercase()
                )
                .into();
                let message: Text = message.into();
                finding.rule_name = rule_name.clone();
                finding.rule_message = Some(message.clone());
                finding.rule = FindingRule {
                    name: rule_name,
                    message: Some(message),
                    category: Some("security".into()),
                    confidence: Some(confidence),
                    cwe_names: vec![cwe_label(cwe)],
                    owasp_names: vec!["A06:2021 - Vulnerable and Outdated Components".into()],
                    subcategories: vec![],
                    vulnerability_classes: vec![],
                };
                finding.location = FindingLocation { file_path: lockfile.into(), line, column: 1, end_line: line, end_column: 1 };
                let lockfile_url: Option<Text> = canonical.as_ref().map(|u| format!("{u}/blob/{}/{lockfile}#L{line}", &sha[..7]).into());
                finding.line_of_code_url = lockfile_url.clone();
                finding.vulnerability_identifier = Some(vid.into());
                finding.fix_recommendations =
                    Some(if fixed { vec![FixRecommendation { package: pkg.into(), version: bump(&version).into() }] } else { vec![] });
                finding.found_dependency = Some(FoundDependency {
                    package: pkg.into(),
                    version: version.into(),
                    ecosystem: eco_name.into(),
                    // Lower case in the findings listing (the upper-case spellings belong to
                    // the separate dependencies API).
                    transitivity: (r.weighted(&[(40, "direct"), (55, "transitive"), (5, "unknown")])).into(),
                    lockfile_line_url: lockfile_url,
                });
                let reach = r.weighted(&[
                    (20, "reachable"),
                    (5, "always reachable"),
                    (10, "conditionally reachable"),
                    (40, "unreachable"),
                    (25, "no reachability analysis"),
                ]);
                finding.reachability = Some(reach.into());
                finding.reachable_condition =
                    (reach == "conditionally reachable").then(|| format!("{short} is called with user-controlled input").into());
                finding.epss_score = epss;
                finding.is_malicious = Some(false);
            }
        }
        finding
    }
}

/// `CWE-89: Improper Neutralization…` for a CWE id.
fn cwe_label(id: u32) -> Text {
    format!("CWE-{id}: {}", cwe_name(id)).into()
}

/// Lowercase hex of `words`, truncated to `len` characters.
fn hex_words(words: &[u64], len: usize) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(words.len() * 16);
    for w in words {
        for i in (0..16).rev() {
            out.push(D[((w >> (i * 4)) & 0xf) as usize] as char);
        }
    }
    out.truncate(len);
    out
}

/// The next patch version (`1.2.3` → `1.2.4`, `v0.4.1` → `v0.4.2`).
fn bump(v: &str) -> String {
    match v.rsplit_once('.') {
        Some((head, last)) => match last.parse::<u64>() {
            Ok(n) => format!("{head}.{}", n + 1),
            Err(_) => format!("{v}.1"),
        },
        None => format!("{v}.1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scale;
    use tributary_core::ident::repo::RepoKey;

    #[test]
    fn layout_covers_every_finding() {
        let w = World::new(SimConfig::new(5, Scale::small()));
        assert_eq!(w.base_findings(IssueType::Sast), 1_400);
        let mut per: Vec<u64> = vec![0; 50];
        for f in 0..1_400 {
            per[w.finding_project(IssueType::Sast, f) as usize] += 1;
        }
        assert_eq!(per.iter().sum::<u64>(), 1_400);
        assert!(per.iter().filter(|c| **c == 0).count() < 10);
    }

    #[test]
    fn project_urls_normalize_to_their_repository() {
        let w = World::new(SimConfig::new(9, Scale::small()));
        let mut seen = [0; 3];
        for p in 0..w.project_count() {
            let info = w.project(p);
            match info.link {
                RepoLink::Cloud(r) => {
                    seen[0] += 1;
                    let a = RepoKey::parse(info.url.as_deref().unwrap()).unwrap();
                    let b = RepoKey::parse(&crate::tenant::cloud::repo_url(9, r)).unwrap();
                    assert_eq!(a, b, "{:?}", info.url);
                }
                RepoLink::Foreign => seen[1] += 1,
                RepoLink::NoUrl => {
                    seen[2] += 1;
                    assert!(info.url.is_none());
                }
            }
        }
        assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    }

    #[test]
    fn ordering_is_newest_first_and_complete() {
        let w = World::new(SimConfig::new(2, Scale::small()));
        let o = Ordering::build(&w, IssueType::Sast, 3);
        let listed =
            (0..w.finding_count(IssueType::Sast, 3)).filter(|f| w.finding_state(IssueType::Sast, *f, 3).status != Status::Removed).count();
        assert_eq!(o.len(), listed as u64, "every finding but the removed ones");
        let ids: Vec<u64> = (0..o.len()).map(|k| o.at(k)).collect();
        let unique: std::collections::HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
        let times: Vec<i64> = ids.iter().map(|f| w.finding_state(IssueType::Sast, *f, 3).relevant_since).collect();
        assert!(times.windows(2).all(|p| p[0] >= p[1]), "relevant_since descends");
    }
}
