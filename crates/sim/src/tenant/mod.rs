//! The simulated tenants. Everything is derived on demand from `(seed, entity, day)`:
//! the only state is the current simulated day, project tag edits, revoked credentials,
//! and small caches of *changed* entities per day (churn is a small share of a tenant).
//!
//! Time: day 0 is [`BASE_MS`] (2026-11-01T00:00:00Z). An event on day `d ≥ 1` happens
//! at some deterministic moment during `[BASE + (d-1)·DAY, BASE + d·DAY)`; "now" on day
//! `D` is `BASE + D·DAY`. Base data is timestamped before `BASE`, so a delta query
//! (`since`, `last_seen ≥`) after an advance returns exactly what changed.

pub mod cloud;
pub mod cves;
pub mod semgrep;
pub mod truth;
pub mod vocab;
pub mod xdr;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::SimConfig;
use crate::rng::{Rng, h, unit};

pub const BASE_MS: i64 = 1_793_491_200_000;
pub const DAY_MS: i64 = 86_400_000;

/// Fixed tags for hashing, so unrelated fields never share randomness.
#[repr(u64)]
#[derive(Clone, Copy)]
pub enum Tag {
    Endpoint = 1,
    EndpointChange,
    EndpointRetire,
    Slot,
    SlotEdit,
    Cve,
    Project,
    Sast,
    Sca,
    FindingEvent,
    NewFinding,
    Repo,
    RepoEvent,
    Fault,
    EventTime,
    ProjectScan,
    Triage,
    RefCopy,
}

/// The time of an event on day `d ≥ 1` for entity `(tag, id)`.
pub fn event_time(seed: u64, tag: Tag, id: u64, day: u32) -> i64 {
    let jitter = (unit(h(seed, &[Tag::EventTime as u64, tag as u64, id, day as u64])) * (DAY_MS - 1_000) as f64) as i64;
    BASE_MS + (day as i64 - 1) * DAY_MS + jitter
}

/// Does entity `(tag, id)` have an event on day `d`, at rate `p`?
pub fn has_event(seed: u64, tag: Tag, id: u64, day: u32, p: f64) -> bool {
    unit(h(seed, &[tag as u64, id, day as u64])) < p
}

/// A cached filter result: (filter key, day, matching endpoint indexes).
type EndpointSet = (String, u32, Arc<Vec<u64>>);

/// Everything the simulator serves.
pub struct World {
    pub cfg: SimConfig,
    day: AtomicU32,
    pub cves: cves::Catalog,
    pub semgrep: semgrep::Layout,
    /// Project tags edited through the API: project id → tags.
    pub project_tags: Mutex<HashMap<i64, Vec<String>>>,
    /// Vendors whose credentials were revoked through `/_sim/revoke`.
    pub revoked: Mutex<HashSet<String>>,
    /// Counts vendor requests; drives deterministic fault injection.
    pub requests: AtomicU64,
    /// Fault probabilities in force (starts as configured; `/_sim/faults` changes it).
    pub faults: Mutex<crate::config::Faults>,
    /// A vendor contract change: records name their id field differently (Cortex XDR
    /// `agent_id` for `endpoint_id`, Semgrep `finding_id` for `id`).
    pub renamed_ids: std::sync::atomic::AtomicBool,
    orderings: Mutex<HashMap<(semgrep::IssueType, u32), Arc<semgrep::Ordering>>>,
    /// Semgrep projects scanned on a day (day → sorted project indexes).
    scans: Mutex<HashMap<u32, Arc<Vec<u64>>>>,
    endpoint_sets: Mutex<Vec<EndpointSet>>,
}

impl World {
    pub fn new(cfg: SimConfig) -> World {
        let cves = cves::Catalog::new(cfg.seed, cves::catalog_size(&cfg.scale));
        let semgrep = semgrep::Layout::new(&cfg);
        let day = AtomicU32::new(cfg.start_day);
        let faults = cfg.faults;
        World {
            cfg,
            day,
            cves,
            semgrep,
            project_tags: Mutex::new(HashMap::new()),
            revoked: Mutex::new(HashSet::new()),
            requests: AtomicU64::new(0),
            faults: Mutex::new(faults),
            renamed_ids: std::sync::atomic::AtomicBool::new(false),
            orderings: Mutex::new(HashMap::new()),
            scans: Mutex::new(HashMap::new()),
            endpoint_sets: Mutex::new(Vec::new()),
        }
    }

    pub fn seed(&self) -> u64 {
        self.cfg.seed
    }

    pub fn day(&self) -> u32 {
        self.day.load(Ordering::SeqCst)
    }

    pub fn advance(&self, days: u32) -> u32 {
        self.day.fetch_add(days, Ordering::SeqCst) + days
    }

    /// Simulated "now" on the current day.
    pub fn now_ms(&self) -> i64 {
        BASE_MS + self.day() as i64 * DAY_MS
    }

    pub fn rng(&self, parts: &[u64]) -> Rng {
        Rng::new(self.cfg.seed, parts)
    }

    /// The Semgrep finding order for a day (cached; holds only changed findings).
    pub fn ordering(&self, t: semgrep::IssueType, day: u32) -> Arc<semgrep::Ordering> {
        let mut cache = self.orderings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = cache.get(&(t, day)) {
            return o.clone();
        }
        let o = Arc::new(semgrep::Ordering::build(self, t, day));
        if cache.len() > 8 {
            cache.clear();
        }
        cache.insert((t, day), o.clone());
        o
    }

    /// The Semgrep projects scanned on `day ≥ 1` (cached).
    pub fn scanned_projects(&self, day: u32) -> Arc<Vec<u64>> {
        if let Some(v) = self.scans.lock().unwrap_or_else(|p| p.into_inner()).get(&day) {
            return v.clone();
        }
        let mut list: Vec<u64> = (0..self.project_count()).filter(|p| self.project_scanned_raw(*p, day)).collect();
        if list.is_empty() && day > 0 && self.project_count() > 0 {
            // Some project is scanned every day (new findings come from scans).
            let n = self.project_count();
            let start = h(self.seed(), &[Tag::ProjectScan as u64, day as u64]) % n;
            if let Some(p) = (0..n).map(|k| (start + k) % n).find(|p| !self.project(*p).stale) {
                list.push(p);
            }
        }
        let v = Arc::new(list);
        let mut cache = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(day, v.clone());
        v
    }

    /// Endpoint indexes matching a filter (cached per filter and day).
    pub fn endpoint_set(&self, key: &str, day: u32, build: impl FnOnce() -> Vec<u64>) -> Arc<Vec<u64>> {
        {
            let cache = self.endpoint_sets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, _, v)) = cache.iter().find(|(k, d, _)| k == key && *d == day) {
                return v.clone();
            }
        }
        let v = Arc::new(build());
        let mut cache = self.endpoint_sets.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((key.to_string(), day, v.clone()));
        v
    }
}

/// RFC 3339 with milliseconds (`2026-11-01T00:00:00.000Z`), as Semgrep sends it.
/// Hand-rolled (civil-from-days): this runs several times per served finding.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut out = String::with_capacity(24);
    use std::fmt::Write;
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod / 60 % 60, sod % 60);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_matches_chrono() {
        for ms in [0, 1_793_491_200_000, 1_790_928_895_120, 951_782_400_123, 4_102_444_799_999] {
            assert_eq!(super::rfc3339(ms), tributary_core::time::to_rfc3339(ms));
        }
    }
}
