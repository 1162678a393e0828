//! `cargo xtask bench sim`: how fast the simulator serves JSON pages, and its memory at
//! reference scale.
//!
//! The simulator runs in a child process on a single-threaded runtime; throughput is
//! measured as bytes of page bodies per second of the child's CPU time (user + system),
//! i.e. per core, so a client sharing the machine does not distort it. Walks: Semgrep
//! SAST and SCA findings (3,000 per page), Cortex XDR endpoints (100 per page) and their
//! CVEs (batches of 100 endpoints), Cortex Cloud repositories.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tributary_sim::config::{DEFAULT_CLOUD_KEY, DEFAULT_CLOUD_KEY_ID, DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};

#[derive(clap::Args)]
pub struct Args {
    /// small, medium or reference.
    #[arg(long, default_value = "reference")]
    scale: String,
}

#[derive(clap::Args)]
pub struct ServerArgs {
    #[arg(long)]
    pub scale: String,
    /// Override: Cortex XDR endpoints.
    #[arg(long)]
    pub endpoints: Option<u64>,
}

/// Starts the simulator child process; returns it and its base address.
pub fn spawn_server(scale: &str, endpoints: Option<u64>) -> Result<(std::process::Child, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["bench", "sim-server", "--scale", scale]);
    if let Some(n) = endpoints {
        cmd.args(["--endpoints", &n.to_string()]);
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().context("starting the simulator child")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
    Ok((child, format!("http://{}", line.trim())))
}

/// The child: a simulator on a current-thread runtime; prints its address.
pub fn server(a: ServerArgs) -> Result<()> {
    let mut scale: tributary_sim::Scale = a.scale.parse().map_err(anyhow::Error::msg)?;
    if let Some(n) = a.endpoints {
        scale.xdr_endpoints = n;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let sim = tributary_sim::start(tributary_sim::SimConfig::new(1, scale), "127.0.0.1:0".parse()?).await?;
        println!("{}", sim.addr);
        std::future::pending::<()>().await;
        Ok(())
    })
}

pub fn cpu_seconds(pid: u32) -> f64 {
    // /proc/<pid>/stat fields 14 and 15: utime, stime in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

struct Walk {
    name: &'static str,
    bytes: u64,
    requests: u64,
    cpu: f64,
    wall: f64,
}

pub fn run(a: Args) -> Result<()> {
    let (mut child, base) = spawn_server(&a.scale, None)?;
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let result = rt.block_on(walks(&base, pid));
    let rss = peak_rss_mib(pid);
    let _ = child.kill();
    let _ = child.wait();
    let walks = result?;
    println!("cargo xtask bench sim --scale {}\n", a.scale);
    println!("{:<28} {:>9} {:>11} {:>9} {:>14} {:>11}", "walk", "requests", "MB", "wall s", "MB/s per core", "MB/s wall");
    let (mut b, mut c) = (0u64, 0.0);
    for w in &walks {
        let mb = w.bytes as f64 / 1e6;
        println!(
            "{:<28} {:>9} {:>11.1} {:>9.2} {:>14.0} {:>11.0}",
            w.name,
            w.requests,
            mb,
            w.wall,
            mb / w.cpu.max(0.01),
            mb / w.wall.max(0.001)
        );
        b += w.bytes;
        c += w.cpu;
    }
    println!("{:<28} {:>9} {:>11.1} {:>9} {:>14.0}", "all", "", b as f64 / 1e6, "", b as f64 / 1e6 / c.max(0.01));
    println!("\nsimulator peak RSS {rss:.0} MiB ({} scale)", a.scale);
    Ok(())
}

async fn walks(base: &str, pid: u32) -> Result<Vec<Walk>> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    // Semgrep findings.
    for t in ["sast", "sca"] {
        let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
        let (mut bytes, mut requests) = (0u64, 0u64);
        for page in 0.. {
            let body = http
                .get(format!("{base}/semgrep/api/v1/deployments/acme-sec/findings?issue_type={t}&page={page}&page_size=3000"))
                .bearer_auth(DEFAULT_SEMGREP_TOKEN)
                .send()
                .await?
                .bytes()
                .await?;
            requests += 1;
            bytes += body.len() as u64;
            let n = serde_json::from_slice::<Value>(&body)?["findings"].as_array().map_or(0, Vec::len);
            if n < 3000 {
                break;
            }
        }
        out.push(Walk {
            name: if t == "sast" { "semgrep findings (sast)" } else { "semgrep findings (sca)" },
            bytes,
            requests,
            cpu: cpu_seconds(pid) - cpu0,
            wall: t0.elapsed().as_secs_f64(),
        });
    }
    // Cortex XDR endpoints, then their CVE lists.
    let xdr = |path: &str, body: Value| {
        http.post(format!("{base}/cortex-xdr{path}"))
            .header("x-xdr-auth-id", DEFAULT_XDR_KEY_ID)
            .header("Authorization", DEFAULT_XDR_KEY)
            .json(&body)
            .send()
    };
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    let (mut bytes, mut requests) = (0u64, 0u64);
    let mut from = 0u64;
    loop {
        let body = xdr("/public_api/v1/endpoints/get_endpoint/", json!({"request_data": {"search_from": from, "search_to": from + 100}}))
            .await?
            .bytes()
            .await?;
        requests += 1;
        bytes += body.len() as u64;
        let v: Value = serde_json::from_slice(&body)?;
        // A short page is the last one (`total_count` is optional upstream).
        let n = v["reply"]["endpoints"].as_array().map_or(0, Vec::len);
        from += 100;
        if n < 100 {
            break;
        }
    }
    out.push(Walk { name: "cortex-xdr endpoints", bytes, requests, cpu: cpu_seconds(pid) - cpu0, wall: t0.elapsed().as_secs_f64() });
    // Their CVE lists: one XQL query over va_endpoints (start, poll, gzip stream).
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    let (mut bytes, mut requests) = (0u64, 0u64);
    let start: Value = xdr(
        "/public_api/v1/xql/start_xql_query/",
        json!({"request_data": {"query": "dataset = va_endpoints | fields endpoint_id, cves | sort asc endpoint_id", "timeframe": {}}}),
    )
    .await?
    .json()
    .await?;
    requests += 1;
    let query_id = start["reply"].as_str().unwrap_or_default().to_string();
    let stream = loop {
        let body = xdr(
            "/public_api/v1/xql/get_query_results/",
            json!({"request_data": {"query_id": query_id, "pending_flag": true, "format": "json"}}),
        )
        .await?
        .bytes()
        .await?;
        requests += 1;
        bytes += body.len() as u64;
        let v: Value = serde_json::from_slice(&body)?;
        if v["reply"]["status"] != "PENDING" {
            break v["reply"]["results"]["stream_id"].as_str().unwrap_or_default().to_string();
        }
    };
    let body =
        xdr("/public_api/v1/xql/get_query_results_stream/", json!({"request_data": {"stream_id": stream, "is_gzip_compressed": true}}))
            .await?
            .bytes()
            .await?;
    requests += 1;
    bytes += body.len() as u64;
    out.push(Walk {
        name: "cortex-xdr va_endpoints (XQL, gzip)",
        bytes,
        requests,
        cpu: cpu_seconds(pid) - cpu0,
        wall: t0.elapsed().as_secs_f64(),
    });
    // Cortex Cloud repositories.
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    let (mut bytes, mut requests, mut offset) = (0u64, 0u64, 0u64);
    loop {
        let body = http
            .get(format!("{base}/cortex-cloud/public_api/appsec/v1/repositories?offset={offset}&limit=500"))
            .header("x-xdr-auth-id", DEFAULT_CLOUD_KEY_ID)
            .header("Authorization", DEFAULT_CLOUD_KEY)
            .send()
            .await?
            .bytes()
            .await?;
        requests += 1;
        bytes += body.len() as u64;
        let v: Value = serde_json::from_slice(&body)?;
        let n = v["data"].as_array().map_or(0, Vec::len) as u64;
        offset += n;
        if n < 500 {
            break;
        }
    }
    out.push(Walk { name: "cortex-cloud repositories", bytes, requests, cpu: cpu_seconds(pid) - cpu0, wall: t0.elapsed().as_secs_f64() });
    if out.iter().any(|w| w.bytes == 0) {
        bail!("a walk returned nothing; is the simulator answering?");
    }
    Ok(out)
}
