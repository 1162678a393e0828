//! The Cortex XDR tenant: endpoints and the CVEs found on them.
//!
//! Endpoint `i` exists from its creation day (0 for the base fleet; added endpoints
//! appear over days), may retire (status `UNINSTALLED`), and on a "change" day its CVE
//! list moves: one open CVE fixed, one new found, sometimes a fixed one reopened. Its
//! `last_seen` is the time of its latest event, so `last_seen ≥ T` returns exactly the
//! endpoints that changed since `T`.

use super::vocab::{CLOUDS, DEPARTMENTS, ENDPOINT_TAGS, ENVS, OSES, ROLES, SERVER_TAGS, SITES, USERS};
use super::{BASE_MS, DAY_MS, Tag, World, event_time, has_event};
use crate::rng::{Rng, h};
use crate::types::{Endpoint, EndpointTags, Text, VaCve, VaEndpoint};

/// One CVE slot of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub cve: u64,
    pub open: bool,
    pub detected: i64,
}

/// An endpoint's state on a day.
#[derive(Debug, Clone)]
pub struct EndpointState {
    pub index: u64,
    pub created_day: u32,
    pub retired_day: Option<u32>,
    /// Time of the latest event, or the base last-seen time.
    pub last_seen: i64,
    pub slots: Vec<Slot>,
}

impl EndpointState {
    pub fn retired(&self) -> bool {
        self.retired_day.is_some()
    }
    pub fn open_slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.open)
    }
}

const ID_MASK: u64 = 0x5c1f_0e9a;

/// 32 hex characters; the last 8 encode the index so ids resolve without a table.
pub fn endpoint_id(seed: u64, i: u64) -> String {
    format!(
        "{:016x}{:08x}{:08x}",
        h(seed, &[Tag::Endpoint as u64, i, 1]),
        (h(seed, &[Tag::Endpoint as u64, i, 2]) >> 32) as u32,
        (i ^ ID_MASK) as u32
    )
}

pub fn endpoint_index(seed: u64, id: &str) -> Option<u64> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let i = u64::from(u32::from_str_radix(&id[24..], 16).ok()?) ^ ID_MASK;
    (endpoint_id(seed, i) == id.to_ascii_lowercase()).then_some(i)
}

impl World {
    /// Endpoints added per day.
    fn added_per_day(&self) -> u64 {
        ((self.cfg.scale.xdr_endpoints as f64 * self.cfg.churn.endpoint_add).round() as u64)
            .max(u64::from(self.cfg.churn.endpoint_add > 0.0))
    }

    /// Endpoint indexes that exist (retired or not) on `day`.
    pub fn endpoint_count(&self, day: u32) -> u64 {
        self.cfg.scale.xdr_endpoints + self.added_per_day() * day as u64
    }

    fn created_day(&self, i: u64) -> u32 {
        let base = self.cfg.scale.xdr_endpoints;
        if i < base { 0 } else { 1 + ((i - base) / self.added_per_day().max(1)) as u32 }
    }

    fn new_slot(&self, i: u64, j: u64, taken: &[Slot], detected: i64) -> Slot {
        let n = self.cves.len() as u64;
        let mut k = h(self.seed(), &[Tag::Slot as u64, i, j]) % n;
        // A CVE appears once per endpoint.
        while taken.iter().any(|s| s.cve == k) {
            k = (k + 1) % n;
        }
        Slot { cve: k, open: true, detected }
    }

    /// The endpoint's state on `day` without its CVE slots (what `get_endpoint` needs).
    pub fn endpoint_timeline(&self, i: u64, day: u32) -> EndpointState {
        let (created_day, retired_day, last_seen) = self.replay_endpoint(i, day, |_, _| {});
        EndpointState { index: i, created_day, retired_day, last_seen, slots: Vec::new() }
    }

    /// Replays the endpoint's events up to `day`: calls `on_change(day, time)` for each
    /// change event and returns `(created day, retired day, last seen)`.
    fn replay_endpoint(&self, i: u64, day: u32, mut on_change: impl FnMut(u32, i64)) -> (u32, Option<u32>, i64) {
        let seed = self.seed();
        let churn = self.cfg.churn;
        let created = self.created_day(i);
        let mut last_seen = if created == 0 {
            BASE_MS - 3_600_000 - (h(seed, &[Tag::Endpoint as u64, i, 3]) % (48 * 3_600_000)) as i64
        } else {
            event_time(seed, Tag::Endpoint, i, created)
        };
        let mut retired_day = None;
        for d in created + 1..=day {
            if has_event(seed, Tag::EndpointRetire, i, d, churn.endpoint_retire) {
                retired_day = Some(d);
                last_seen = event_time(seed, Tag::EndpointRetire, i, d);
                break;
            }
            if has_event(seed, Tag::EndpointChange, i, d, churn.endpoint_change) {
                last_seen = event_time(seed, Tag::EndpointChange, i, d);
                on_change(d, last_seen);
            }
        }
        (created, retired_day, last_seen)
    }

    /// The endpoint's state on `day` (replays its events; a handful per endpoint).
    pub fn endpoint_state(&self, i: u64, day: u32) -> EndpointState {
        let seed = self.seed();
        let mut r = Rng::new(seed, &[Tag::Endpoint as u64, i, 0]);
        let avg = self.cfg.scale.cves_per_endpoint.max(1);
        let count = r.range(avg / 2, avg + avg / 2);
        let first_seen = self.first_seen(i);
        let mut slots = Vec::with_capacity(count as usize + 4);
        for j in 0..count {
            let detected = first_seen + (h(seed, &[Tag::Slot as u64, i, j, 9]) % (30 * DAY_MS as u64)) as i64;
            let s = self.new_slot(i, j, &slots, detected.min(BASE_MS - DAY_MS));
            slots.push(s);
        }
        let (created_day, retired_day, last_seen) = self.replay_endpoint(i, day, |d, t| {
            // A change fixes one open CVE, finds a new one, and sometimes reopens a fixed one.
            let mut e = Rng::new(seed, &[Tag::SlotEdit as u64, i, d as u64]);
            let open: Vec<usize> = (0..slots.len()).filter(|k| slots[*k].open).collect();
            if !open.is_empty() {
                slots[open[e.below(open.len() as u64) as usize]].open = false;
            }
            let j = slots.len() as u64;
            let s = self.new_slot(i, j, &slots, t);
            slots.push(s);
            let fixed: Vec<usize> = (0..slots.len()).filter(|k| !slots[*k].open).collect();
            if !fixed.is_empty() && e.chance(0.3) {
                let k = fixed[e.below(fixed.len() as u64) as usize];
                slots[k].open = true;
                slots[k].detected = t;
            }
        });
        EndpointState { index: i, created_day, retired_day, last_seen, slots }
    }

    /// Every endpoint index that exists on `day` (retired ones too), ordered by endpoint
    /// id: the order of `get_endpoint` sorted by `endpoint_id` and of `va_endpoints`
    /// sorted the same way. Cached per day.
    pub fn endpoints_by_id(&self, day: u32) -> std::sync::Arc<Vec<u64>> {
        self.endpoint_set("order:endpoint_id", day, || {
            let mut ids: Vec<(String, u64)> = (0..self.endpoint_count(day)).map(|i| (endpoint_id(self.seed(), i), i)).collect();
            ids.sort_unstable();
            ids.into_iter().map(|(_, i)| i).collect()
        })
    }

    pub fn first_seen(&self, i: u64) -> i64 {
        let created = self.created_day(i);
        if created > 0 {
            return event_time(self.seed(), Tag::Endpoint, i, created);
        }
        BASE_MS - (30 + h(self.seed(), &[Tag::Endpoint as u64, i, 4]) % 700) as i64 * DAY_MS - (i % 86_400) as i64 * 1000
    }

    /// The endpoint's OS, whether it is a server, and its host name.
    fn endpoint_identity(&self, i: u64) -> (&'static super::vocab::OsInfo, bool, String) {
        let mut r = Rng::new(self.seed(), &[Tag::Endpoint as u64, i, 6]);
        let os = r.weighted_ref(OSES);
        let server = os.platform == "linux" || os.name.contains("Server");
        let name = if server {
            format!("{}-{}-{}-{:05}", r.pick(ROLES), r.pick(ENVS), r.pick(SITES), i)
        } else {
            format!("{}-ws-{:05}", r.pick(DEPARTMENTS), i)
        };
        (os, server, name)
    }

    /// The endpoint's host name (`endpoint_name`).
    pub fn endpoint_name(&self, i: u64) -> String {
        self.endpoint_identity(i).2
    }

    /// The endpoint as `get_endpoint` returns it.
    pub fn endpoint(&self, st: &EndpointState) -> Endpoint {
        let i = st.index;
        let (os, server, name) = self.endpoint_identity(i);
        let mut r = Rng::new(self.seed(), &[Tag::Endpoint as u64, i, 5]);
        let containerized = os.platform == "linux" && r.chance(0.06);
        let endpoint_type = if containerized {
            "AGENT_TYPE_CONTAINERIZED"
        } else if server {
            "AGENT_TYPE_SERVER"
        } else {
            "AGENT_TYPE_WORKSTATION"
        };
        let domain = match os.platform {
            "windows" => "corp.acme.com".to_string(),
            "macos" => String::new(),
            _ if r.chance(0.5) => "svc.acme.internal".to_string(),
            _ => String::new(),
        };
        let (a, b, c) = (16 + ((i >> 16) & 0x3f), (i >> 8) & 0xff, i & 0xff);
        let mut ip = vec![format!("10.{a}.{b}.{c}")];
        if r.chance(0.2) {
            ip.push(format!("172.{}.{b}.{c}", 16 + (a % 16)));
        }
        let ipv6 = if r.chance(0.4) { vec![format!("fd00:{:x}::{:x}", a, i)] } else { vec![] };
        // VMware's OUI: globally administered, so MACs identify hosts.
        let mut macs = vec![format!("00:50:56:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)];
        if os.platform == "linux" && r.chance(0.15) {
            // The Docker bridge: the same locally administered MAC on many hosts.
            macs.push("02:42:ac:11:00:02".into());
        }
        let cloud = if server { r.weighted(CLOUDS) } else { "" };
        let public_ip = (!cloud.is_empty() && r.chance(0.5)).then(|| format!("203.0.{}.{}", b % 256, c));
        let status = if st.retired() { "UNINSTALLED" } else { r.weighted(&[(85, "CONNECTED"), (10, "DISCONNECTED"), (5, "LOST")]) };
        let mut server_tags = Vec::new();
        if server && r.chance(0.4) {
            server_tags.push((r.pick(SERVER_TAGS)).into());
        }
        let mut endpoint_tags = Vec::new();
        if r.chance(0.5) {
            endpoint_tags.push((r.pick(ENDPOINT_TAGS)).into());
        }
        let first_seen = self.first_seen(i);
        let group: Text = if server { format!("{}-servers", os.platform).into() } else { "workstations".into() };
        Endpoint {
            endpoint_id: endpoint_id(self.seed(), i).into(),
            endpoint_name: name.into(),
            endpoint_type: endpoint_type.into(),
            endpoint_status: status.into(),
            os_type: os.os_type.into(),
            operating_system: Some(os.name.into()),
            os_version: Some(os.version.into()),
            ip: ip.into_iter().map(Text::from).collect(),
            ipv6: ipv6.into_iter().map(Text::from).collect(),
            public_ip: public_ip.map(Text::from),
            mac_address: macs.into_iter().map(Text::from).collect(),
            users: vec![(r.pick(USERS)).into()],
            domain: domain.into(),
            alias: "".into(),
            first_seen,
            last_seen: st.last_seen,
            install_date: Some(first_seen),
            content_version: Some(format!("1{}-{}", r.range(400, 499), r.range(10_000, 99_999)).into()),
            installation_package: Some(format!("{}-{}", os.platform, r.pick(ENVS)).into()),
            active_directory: serde_json::Value::Null,
            endpoint_version: format!("8.{}.{}.{}", r.range(3, 8), r.range(0, 2), r.range(10_000, 99_999)).into(),
            is_isolated: "AGENT_UNISOLATED".into(),
            isolated_date: None,
            group_name: Some(vec![group]),
            operational_status: Some((r.weighted(&[(90, "PROTECTED"), (7, "PARTIALLY_PROTECTED"), (3, "UNPROTECTED")])).into()),
            scan_status: Some("SCAN_STATUS_SUCCESS".into()),
            tags: Some(EndpointTags { server_tags, endpoint_tags }),
            cloud_provider: Some(cloud.into()),
        }
    }

    /// The endpoint's row of the XQL dataset `va_endpoints` (none once it is retired).
    pub fn va_endpoint(&self, st: &EndpointState) -> Option<VaEndpoint> {
        if st.retired() {
            return None;
        }
        let mut top: Option<&super::cves::Cve> = None;
        let mut cves = Vec::with_capacity(st.slots.len());
        for s in st.open_slots() {
            let c = self.cves.get(s.cve);
            if top.is_none_or(|t| c.score > t.score) {
                top = Some(c);
            }
            cves.push(Text::from(c.id.clone()));
        }
        Some(VaEndpoint {
            endpoint_id: endpoint_id(self.seed(), st.index).into(),
            endpoint_name: self.endpoint_name(st.index).into(),
            cves,
            severity: top.map_or("NONE", |c| c.severity).into(),
            severity_score: top.map_or(0.0, |c| c.score),
            _time: st.last_seen,
        })
    }

    /// The `va_cves` row of a CVE id.
    pub fn va_cve_by_id(&self, id: &str) -> Option<VaCve> {
        (0..self.cves.len() as u64).find(|k| self.cves.get(*k).id == id).map(|k| self.va_cve(k))
    }

    /// Catalog CVE `k` as a row of the XQL dataset `va_cves`.
    pub fn va_cve(&self, k: u64) -> VaCve {
        let c = self.cves.get(k);
        VaCve {
            name: c.id.clone().into(),
            cve_id: c.id.clone().into(),
            severity: c.severity.into(),
            severity_score: c.score,
            impact_score: (c.score * 0.6 * 10.0).round() / 10.0,
            exploitability_score: (c.score * 0.4 * 10.0).round() / 10.0,
            description: c.description.clone().into(),
            publication_date: c.published,
            affected_products: vec![c.product.into()],
            r#type: if c.product.starts_with("linux-image") || c.product.contains("windows") { "OPERATING_SYSTEM" } else { "APPLICATION" }
                .into(),
            // Written when the tenant first analysed its endpoints (before day 0).
            _time: BASE_MS - DAY_MS,
        }
    }
}

impl World {
    /// Where a cloud server runs: `(provider, instance id, public IP)`; `None` for
    /// on-premises machines and workstations. Fixed for the endpoint's life.
    pub fn endpoint_cloud(&self, i: u64) -> Option<(String, String, Option<String>)> {
        let e = self.endpoint(&self.endpoint_timeline(i, 0));
        let provider = e.cloud_provider.as_deref().filter(|p| !p.is_empty())?.to_string();
        let x = h(self.seed(), &[Tag::Endpoint as u64, i, 13]);
        let id = match provider.as_str() {
            "AWS" => format!("i-0{x:016x}"),
            "Azure" => format!("vm-{:012x}", x & 0xffff_ffff_ffff),
            _ => format!("{}", x % 10_000_000_000_000_000_000),
        };
        Some((provider, id, e.public_ip.map(|p| p.to_string())))
    }

    /// Cloud endpoints present (not uninstalled) on `day`, in index order: the
    /// attack-surface listing. Cached per day.
    pub fn cloud_endpoints(&self, day: u32) -> std::sync::Arc<Vec<u64>> {
        self.endpoint_set("cloud", day, || {
            (0..self.endpoint_count(day))
                .filter(|i| !self.endpoint_timeline(*i, day).retired() && self.endpoint_cloud(*i).is_some())
                .collect()
        })
    }

    /// The attack-surface exposure record of cloud endpoint `i`: exposed (with active
    /// external services) exactly when it has a public IP.
    pub fn exposure_record(&self, i: u64, day: u32) -> crate::types::AsmExposure {
        let seed = self.seed();
        let (provider, instance, public) = self.endpoint_cloud(i).unwrap_or_default();
        let st = self.endpoint_timeline(i, day);
        let x = h(seed, &[Tag::Endpoint as u64, i, 14]);
        let exposed = public.is_some();
        crate::types::AsmExposure {
            asm_ids: vec![
                format!("{:08x}-{:04x}-4{:03x}-9{:03x}-{:012x}", x as u32, (x >> 32) & 0xffff, i & 0xfff, (x >> 48) & 0xfff, i).into(),
            ],
            name: self.endpoint_name(i).into(),
            asset_type: "CLOUD_COMPUTE_INSTANCE".into(),
            cloud_provider: provider.into(),
            cloud_id: instance.into(),
            ips: public.into_iter().map(Text::from).collect(),
            has_active_externally_services: exposed,
            has_xdr_agent: "YES".into(),
            agent_id: endpoint_id(seed, i).into(),
            service_type: if exposed { vec!["HttpServer".into(), "SshServer".into()] } else { vec![] },
            first_observed: Some(self.first_seen(i)),
            last_observed: Some(st.last_seen),
            externally_inferred_cves: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Scale, SimConfig};

    #[test]
    fn ids_round_trip() {
        for i in [0, 1, 99_999, 123_456] {
            let id = endpoint_id(7, i);
            assert_eq!(id.len(), 32);
            assert_eq!(endpoint_index(7, &id), Some(i));
        }
        assert_eq!(endpoint_index(7, "00000000000000000000000000000000"), None);
        assert_eq!(endpoint_index(7, "zz"), None);
    }

    #[test]
    fn churn_changes_last_seen_and_cves() {
        let w = World::new(SimConfig::new(3, Scale::small()));
        let before: Vec<EndpointState> = (0..200).map(|i| w.endpoint_state(i, 0)).collect();
        let after: Vec<EndpointState> = (0..200).map(|i| w.endpoint_state(i, 30)).collect();
        let changed = before.iter().zip(&after).filter(|(a, b)| a.last_seen != b.last_seen).count();
        assert!(changed > 0, "30 days at 1% change rate changes some endpoints");
        for (a, b) in before.iter().zip(&after) {
            if a.last_seen == b.last_seen {
                assert_eq!(a.slots, b.slots, "an endpoint whose last_seen did not move did not change");
            } else {
                assert!(b.last_seen > BASE_MS);
            }
            let t = w.endpoint_timeline(b.index, 30);
            assert_eq!((t.last_seen, t.retired_day, t.created_day), (b.last_seen, b.retired_day, b.created_day));
            let ids: std::collections::HashSet<u64> = b.slots.iter().map(|s| s.cve).collect();
            assert_eq!(ids.len(), b.slots.len(), "a CVE appears once per endpoint");
        }
    }
}
