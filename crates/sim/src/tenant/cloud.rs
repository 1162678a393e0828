//! The Cortex Cloud tenant: VCS-onboarded repositories with deployment status and
//! internet exposure (code-to-cloud). Some exposure goes through an AWS classic load
//! balancer, which Cortex cannot analyse: those repositories say UNSUPPORTED, and the
//! product must report that rather than guess.

use super::vocab::{REPO_SUFFIXES, REPO_WORDS};
use super::{Tag, World, event_time, has_event};
use crate::rng::{Rng, h};
use crate::types::{DeployedAsset, Repository, Text};

/// Deployment / exposure situations a repository can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Exposure {
    NotDeployed,
    DeployedInternal,
    DeployedExposed,
    /// Deployed behind an AWS classic ELB: exposure cannot be determined.
    DeployedClassicElb,
    Unknown,
}

impl Exposure {
    pub fn deployment_status(self) -> &'static str {
        match self {
            Exposure::NotDeployed => "NOT_DEPLOYED",
            Exposure::DeployedInternal | Exposure::DeployedExposed | Exposure::DeployedClassicElb => "DEPLOYED",
            Exposure::Unknown => "UNKNOWN",
        }
    }
    pub fn internet_exposure(self) -> &'static str {
        match self {
            Exposure::NotDeployed | Exposure::DeployedInternal => "NOT_EXPOSED",
            Exposure::DeployedExposed => "EXPOSED",
            Exposure::DeployedClassicElb => "UNSUPPORTED",
            Exposure::Unknown => "UNKNOWN",
        }
    }
    fn next(self) -> Exposure {
        match self {
            Exposure::NotDeployed => Exposure::DeployedInternal,
            Exposure::DeployedInternal => Exposure::DeployedExposed,
            Exposure::DeployedExposed => Exposure::DeployedInternal,
            Exposure::DeployedClassicElb => Exposure::DeployedExposed,
            Exposure::Unknown => Exposure::NotDeployed,
        }
    }
}

pub const CLASSIC_ELB_REASON: &str = "Internet exposure detection is not supported for AWS classic load balancers";

/// `owner/name` of repository `r`; unique across the tenant.
pub fn repo_full_name(r: u64) -> String {
    let combos = (REPO_WORDS.len() * REPO_SUFFIXES.len()) as u64;
    let k = r % combos;
    let word = REPO_WORDS[(k / REPO_SUFFIXES.len() as u64) as usize];
    let suffix = REPO_SUFFIXES[(k % REPO_SUFFIXES.len() as u64) as usize];
    let owner = ["acme", "acme-platform", "acme-data"][(r % 3) as usize];
    if r < combos { format!("{owner}/{word}-{suffix}") } else { format!("{owner}/{word}-{suffix}-{}", r / combos + 1) }
}

/// `github.com` or `gitlab.com` for repository `r`.
pub fn repo_host(seed: u64, r: u64) -> &'static str {
    if h(seed, &[Tag::Repo as u64, r, 1]) % 100 < 85 { "github.com" } else { "gitlab.com" }
}

pub fn repo_url(seed: u64, r: u64) -> String {
    format!("https://{}/{}", repo_host(seed, r), repo_full_name(r))
}

/// The `assetId` of repository `r` (a UUID-like id, as Cortex asset ids are).
pub fn repo_asset_id(seed: u64, r: u64) -> String {
    let x = h(seed, &[Tag::Repo as u64, r, 4]);
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", x as u32, (x >> 32) & 0xffff, r & 0xfff, (x >> 48) & 0xfff, r)
}

impl World {
    /// The repository whose `assetId` is `id`.
    pub fn repository_index(&self, id: &str) -> Option<u64> {
        let r = u64::from_str_radix(id.rsplit('-').next()?, 16).ok()?;
        (r < self.repository_count() && repo_asset_id(self.seed(), r) == id).then_some(r)
    }

    /// The Cortex XDR endpoint (a cloud server) that repository `r`'s compute instance is,
    /// for about half of the repositories (used only where the repository is deployed).
    pub fn repository_host(&self, r: u64) -> Option<u64> {
        let seed = self.seed();
        let n = self.cfg.scale.xdr_endpoints;
        if n == 0 || !h(seed, &[Tag::Repo as u64, r, 7]).is_multiple_of(2) {
            return None;
        }
        let start = h(seed, &[Tag::Repo as u64, r, 8]) % n;
        (0..64).map(|k| (start + k) % n).find(|e| self.endpoint_cloud(*e).is_some())
    }

    pub fn repository_count(&self) -> u64 {
        self.cfg.scale.cloud_repositories
    }

    /// Exposure of repository `r` on `day`, with the day it last changed (0 = never).
    pub fn repository_exposure(&self, r: u64, day: u32) -> (Exposure, u32) {
        let mut rng = Rng::new(self.seed(), &[Tag::Repo as u64, r, 2]);
        let mut e = rng.weighted(&[
            (30, Exposure::NotDeployed),
            (25, Exposure::DeployedInternal),
            (30, Exposure::DeployedExposed),
            (5, Exposure::DeployedClassicElb),
            (10, Exposure::Unknown),
        ]);
        let mut changed = 0;
        for d in 1..=day {
            if has_event(self.seed(), Tag::RepoEvent, r, d, self.cfg.churn.repository_change) {
                e = e.next();
                changed = d;
            }
        }
        (e, changed)
    }

    pub fn repository(&self, r: u64, day: u32) -> Repository {
        let seed = self.seed();
        let mut rng = Rng::new(seed, &[Tag::Repo as u64, r, 3]);
        let full = repo_full_name(r);
        let name = full.split('/').nth(1).unwrap_or(&full).to_string();
        let host = repo_host(seed, r);
        let (exposure, changed) = self.repository_exposure(r, day);
        let mut assets = Vec::new();
        let mk = |k: u64, kind: &str, exposed: Option<bool>, path: Option<&'static str>| DeployedAsset {
            asset_id: format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                h(seed, &[r, k]) as u32,
                r & 0xffff,
                k & 0xfff,
                r & 0xfff,
                h(seed, &[r, k, 9]) & 0xffff_ffff_ffff
            )
            .into(),
            asset_name: format!("{name}-{kind}-{k}").into(),
            asset_type: match kind {
                "svc" => "Kubernetes Workload".into(),
                "vm" => "Compute Instance".into(),
                _ => "Serverless Function".into(),
            },
            internet_exposed: exposed,
            exposure_path: path.map(Text::from),
            cloud_instance_id: None,
            cloud_provider: None,
        };
        // The compute instance (a Cortex XDR endpoint) some deployed repositories run on.
        let on_host = |mut a: DeployedAsset| {
            if let Some((provider, instance, _)) = self.repository_host(r).and_then(|e| self.endpoint_cloud(e)) {
                a.cloud_instance_id = Some(instance.into());
                a.cloud_provider = Some(provider.into());
            }
            a
        };
        match exposure {
            Exposure::DeployedInternal => {
                for k in 0..rng.range(1, 2) {
                    assets.push(mk(k, "svc", Some(false), None));
                }
                if self.repository_host(r).is_some() {
                    assets.push(on_host(mk(5, "vm", Some(false), None)));
                }
            }
            Exposure::DeployedExposed => {
                let path = rng.pick(&["AWS_ALB", "K8S_INGRESS", "AZURE_APP_GATEWAY", "GCP_HTTPS_LB"]);
                assets.push(mk(0, "svc", Some(true), Some(path)));
                if rng.chance(0.5) {
                    assets.push(mk(1, "fn", Some(false), None));
                }
                if self.repository_host(r).is_some() {
                    assets.push(on_host(mk(5, "vm", Some(true), Some(path))));
                }
            }
            Exposure::DeployedClassicElb => assets.push(on_host(mk(0, "vm", None, Some("AWS_CLASSIC_ELB")))),
            Exposure::NotDeployed | Exposure::Unknown => {}
        }
        let updated_at =
            if changed > 0 { event_time(seed, Tag::RepoEvent, r, changed) } else { super::BASE_MS - (r as i64 % 500) * 60_000 };
        Repository {
            asset_id: repo_asset_id(seed, r).into(),
            repository_name: name.clone().into(),
            full_repository_name: full.clone().into(),
            repository_url: format!("https://{host}/{full}").into(),
            source: if host == "github.com" { "GITHUB".into() } else { "GITLAB".into() },
            default_branch: if rng.chance(0.85) { "main".into() } else { "master".into() },
            visibility: (rng.weighted(&[(80, "PRIVATE"), (12, "INTERNAL"), (8, "PUBLIC")])).into(),
            last_scan_time: Some(super::BASE_MS - rng.range(1, 20 * 24) as i64 * 3_600_000),
            deployment_status: exposure.deployment_status().into(),
            deployed_assets: assets,
            internet_exposure: Some(exposure.internet_exposure().into()),
            internet_exposure_reason: (exposure == Exposure::DeployedClassicElb).then(|| CLASSIC_ELB_REASON.into()),
            updated_at: Some(updated_at),
        }
    }
}
