//! Simulator configuration: scale, credentials, churn, faults, latency.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Sizes of the simulated tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub name: &'static str,
    pub xdr_endpoints: u64,
    /// Average CVEs per endpoint (each endpoint has 50–150 % of it).
    pub cves_per_endpoint: u64,
    pub semgrep_projects: u64,
    pub sast_findings: u64,
    pub sca_findings: u64,
    pub cloud_repositories: u64,
}

impl Scale {
    /// The demo: ~50 projects / 2,000 findings / 200 endpoints.
    pub fn small() -> Scale {
        Scale {
            name: "small",
            xdr_endpoints: 200,
            cves_per_endpoint: 20,
            semgrep_projects: 50,
            sast_findings: 1_400,
            sca_findings: 600,
            cloud_repositories: 50,
        }
    }
    pub fn medium() -> Scale {
        Scale {
            name: "medium",
            xdr_endpoints: 5_000,
            cves_per_endpoint: 20,
            semgrep_projects: 300,
            sast_findings: 40_000,
            sca_findings: 16_000,
            cloud_repositories: 300,
        }
    }
    /// The benchmark tenant.
    pub fn reference() -> Scale {
        Scale {
            name: "reference",
            xdr_endpoints: 100_000,
            cves_per_endpoint: 20,
            semgrep_projects: 2_000,
            sast_findings: 500_000,
            sca_findings: 200_000,
            cloud_repositories: 2_000,
        }
    }
}

impl FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "small" => Ok(Scale::small()),
            "medium" => Ok(Scale::medium()),
            "reference" => Ok(Scale::reference()),
            other => Err(format!("unknown scale '{other}' (small, medium or reference)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Standard,
    Advanced,
}

impl FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Ok(Security::Standard),
            "advanced" => Ok(Security::Advanced),
            other => Err(format!("unknown security level '{other}' (standard or advanced)")),
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Standard => "standard",
            Security::Advanced => "advanced",
        })
    }
}

/// Credentials the simulated tenants accept.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// A Semgrep token with the Web API scope.
    pub semgrep_token: String,
    /// A Semgrep token with only the Agent (CI) scope: the Web API answers it with 404.
    pub semgrep_ci_token: String,
    pub xdr_key_id: String,
    pub xdr_key: String,
    pub xdr_security: Security,
    /// A key id whose role cannot view endpoints (the API answers 403).
    pub xdr_no_role_key_id: String,
    pub cloud_key_id: String,
    pub cloud_key: String,
}

pub const DEFAULT_SEMGREP_TOKEN: &str = "sgp_tributarysimwebapi000000000000000000";
pub const DEFAULT_SEMGREP_CI_TOKEN: &str = "sgp_tributarysimcionly00000000000000000";
pub const DEFAULT_XDR_KEY_ID: &str = "11";
pub const DEFAULT_XDR_KEY: &str = "xdrsimkey0000000000000000000000000000000000000000000000000000001";
pub const DEFAULT_XDR_NO_ROLE_KEY_ID: &str = "13";
pub const DEFAULT_CLOUD_KEY_ID: &str = "21";
pub const DEFAULT_CLOUD_KEY: &str = "cloudsimkey00000000000000000000000000000000000000000000000000001";

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            semgrep_token: DEFAULT_SEMGREP_TOKEN.into(),
            semgrep_ci_token: DEFAULT_SEMGREP_CI_TOKEN.into(),
            xdr_key_id: DEFAULT_XDR_KEY_ID.into(),
            xdr_key: DEFAULT_XDR_KEY.into(),
            xdr_security: Security::Standard,
            xdr_no_role_key_id: DEFAULT_XDR_NO_ROLE_KEY_ID.into(),
            cloud_key_id: DEFAULT_CLOUD_KEY_ID.into(),
            cloud_key: DEFAULT_CLOUD_KEY.into(),
        }
    }
}

/// Per-request fault probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    pub too_many: f64,
    pub server_error: f64,
    pub slow: f64,
    pub reset: f64,
    pub truncate: f64,
    /// A whole, well-formed reply of the wrong shape (a vendor contract change).
    pub shape: f64,
    /// Delay of a `slow` response.
    pub slow_delay: Duration,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.too_many + self.server_error + self.slow + self.reset + self.truncate + self.shape > 0.0
    }
}

impl FromStr for Faults {
    type Err = String;
    /// `429=0.05,500=0.02,slow=0.01,reset=0.01,truncate=0.005,shape=0.001`
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults { slow_delay: Duration::from_millis(1500), ..Faults::default() };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("fault '{part}' must be KIND=PROBABILITY"))?;
            let p: f64 = v.trim().parse().map_err(|_| format!("fault '{part}': '{v}' is not a number"))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault '{part}': probability must be between 0 and 1"));
            }
            match k.trim() {
                "429" => f.too_many = p,
                "500" => f.server_error = p,
                "slow" => f.slow = p,
                "reset" => f.reset = p,
                "truncate" => f.truncate = p,
                "shape" => f.shape = p,
                other => return Err(format!("unknown fault kind '{other}' (429, 500, slow, reset, truncate, shape)")),
            }
        }
        if f.too_many + f.server_error + f.slow + f.reset + f.truncate + f.shape > 1.0 {
            return Err("fault probabilities add up to more than 1".into());
        }
        Ok(f)
    }
}

/// Share of entities that change per simulated day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// Endpoints whose CVE list changes (one fixed, one new, sometimes one reopened).
    pub endpoint_change: f64,
    pub endpoint_add: f64,
    pub endpoint_retire: f64,
    /// Semgrep projects scanned per day (only a scan changes a project's findings and
    /// moves its `latest_scan_at`; stale projects are never scanned).
    pub project_scan: f64,
    /// Findings of a scanned project whose state changes at the scan (open → fixed,
    /// triaged or removed; fixed → reintroduced).
    pub finding_change: f64,
    /// New Semgrep findings per day, as a share of the base count (found by that day's scans).
    pub finding_new: f64,
    /// Repositories whose deployment or exposure changes.
    pub repository_change: f64,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            endpoint_change: 0.01,
            endpoint_add: 0.002,
            endpoint_retire: 0.002,
            project_scan: 0.02,
            finding_change: 0.2,
            finding_new: 0.005,
            repository_change: 0.02,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub scale: Scale,
    pub credentials: Credentials,
    pub churn: Churn,
    pub faults: Faults,
    /// Added to every request.
    pub latency: Duration,
    /// Simulated days already elapsed at start.
    pub start_day: u32,
    /// Requests per second above which the tenant answers 429 (none by default).
    pub rate_limit: Option<u32>,
    /// The Cortex XDR tenant has Host Insights (vulnerability assessment): without it
    /// `get_tenant_info` reports none and the `va_*` XQL datasets answer 402.
    pub host_insights: bool,
    /// `get_endpoint` replies carry `total_count` (real replies often do not).
    pub xdr_total_count: bool,
    /// Daily XQL quota in compute units (the vendor's example tenant: 1000).
    pub xql_quota: f64,
    /// Semgrep findings listings stop after this many results (deployments older than
    /// mid-2026 stopped at 50,000); none: no cap.
    pub semgrep_listing_cap: Option<u64>,
}

impl SimConfig {
    pub fn new(seed: u64, scale: Scale) -> Self {
        SimConfig {
            seed,
            scale,
            credentials: Credentials::default(),
            churn: Churn::default(),
            faults: Faults::default(),
            latency: Duration::ZERO,
            start_day: 0,
            rate_limit: None,
            host_insights: true,
            xdr_total_count: true,
            xql_quota: 1000.0,
            semgrep_listing_cap: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults() {
        let f: Faults = "429=0.05,500=0.02,slow=0.01,reset=0.01,truncate=0.005".parse().unwrap();
        assert_eq!((f.too_many, f.server_error, f.slow, f.reset, f.truncate), (0.05, 0.02, 0.01, 0.01, 0.005));
        assert!("429=2".parse::<Faults>().is_err());
        assert!("boom=0.1".parse::<Faults>().is_err());
        assert!("429".parse::<Faults>().is_err());
    }
}
