//! `tributary sim` and `tributary sim truth`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tributary_sim::{Scale, Security, SimConfig};

use crate::args::{ScaleArg, SecurityArg, SimArgs, SimCommand, SimWorldArgs};

/// `100ms`, `2s`, `1m`, or a bare number of milliseconds.
pub fn parse_latency(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, "ms"),
    };
    let n: f64 = num.parse().with_context(|| format!("invalid duration '{text}': use e.g. 100ms or 1s"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1_000.0,
        "m" => n * 60_000.0,
        _ => bail!("invalid duration '{text}': the unit must be ms, s or m"),
    };
    if !ms.is_finite() || ms < 0.0 {
        bail!("invalid duration '{text}'");
    }
    Ok(Duration::from_micros((ms * 1_000.0) as u64))
}

fn config(w: &SimWorldArgs) -> Result<SimConfig> {
    let mut scale = match w.scale {
        ScaleArg::Small => Scale::small(),
        ScaleArg::Medium => Scale::medium(),
        ScaleArg::Reference => Scale::reference(),
    };
    let set = |v: Option<u64>, slot: &mut u64| {
        if let Some(n) = v {
            *slot = n;
        }
    };
    set(w.xdr_endpoints, &mut scale.xdr_endpoints);
    set(w.cves_per_endpoint, &mut scale.cves_per_endpoint);
    set(w.semgrep_projects, &mut scale.semgrep_projects);
    set(w.sast_findings, &mut scale.sast_findings);
    set(w.sca_findings, &mut scale.sca_findings);
    set(w.cloud_repositories, &mut scale.cloud_repositories);
    if scale.semgrep_projects == 0 && scale.sast_findings + scale.sca_findings > 0 {
        bail!("findings need at least one Semgrep project (--semgrep-projects)");
    }
    let mut cfg = SimConfig::new(w.seed, scale);
    cfg.start_day = w.advance_days;
    if let Some(c) = w.churn {
        if !(0.0..=1.0).contains(&c) {
            bail!("--churn must be between 0 and 1, got {c}");
        }
        cfg.churn.endpoint_change = c;
    }
    if let Some(p) = w.project_scan {
        if !(0.0..=1.0).contains(&p) {
            bail!("--project-scan must be between 0 and 1, got {p}");
        }
        cfg.churn.project_scan = p;
    }
    cfg.host_insights = !w.no_host_insights;
    cfg.xdr_total_count = !w.no_total_count;
    cfg.semgrep_listing_cap = w.listing_cap;
    Ok(cfg)
}

pub fn run(a: SimArgs) -> Result<()> {
    if let Some(SimCommand::Truth(w)) = a.command {
        let cfg = config(&w)?;
        let world = tributary_sim::World::new(cfg);
        println!("{}", serde_json::to_string_pretty(&world.truth(world.day()))?);
        return Ok(());
    }
    let mut cfg = config(&a.world)?;
    let c = &mut cfg.credentials;
    if let Some(t) = a.semgrep_token {
        c.semgrep_token = t;
    }
    if let Some(v) = a.xdr_key_id {
        c.xdr_key_id = v;
    }
    if let Some(v) = a.xdr_key {
        c.xdr_key = v;
    }
    c.xdr_security = match a.xdr_security {
        SecurityArg::Standard => Security::Standard,
        SecurityArg::Advanced => Security::Advanced,
    };
    if let Some(v) = a.cloud_key_id {
        c.cloud_key_id = v;
    }
    if let Some(v) = a.cloud_key {
        c.cloud_key = v;
    }
    if let Some(spec) = &a.faults {
        cfg.faults = spec.parse().map_err(|e: String| anyhow::anyhow!("invalid --faults: {e}"))?;
    }
    if let Some(l) = &a.latency {
        cfg.latency = parse_latency(l)?;
    }
    cfg.rate_limit = a.rate_limit;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let server = tributary_sim::start(cfg.clone(), a.listen).await.with_context(|| format!("cannot listen on {}", a.listen))?;
        eprintln!("{}", tributary_sim::banner(&cfg, server.addr));
        let _ = tokio::signal::ctrl_c().await;
        server.stop().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_units() {
        assert_eq!(parse_latency("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_latency("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_latency("250").unwrap(), Duration::from_millis(250));
        assert!(parse_latency("fast").is_err());
        assert!(parse_latency("3h").is_err());
    }
}
