//! Benchmarks. Each prints a table of phases with rows/s, the ratio to the floor measured
//! in the same run, and peak RSS; record the output in bench/RESULTS.md.

mod context;
mod phases;
mod read;
mod semgrep;
mod sim;
mod store;
mod xdr;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Bench {
    /// Store upserts: first load, unchanged re-upsert and 1% changed, against a plain-INSERT floor, on SQLite and PostgreSQL.
    Store(store::Args),
    /// (internal) one backend of `bench store`, in its own process so its peak RSS is its own.
    #[command(hide = true)]
    StoreChild(store::ChildArgs),
    /// Simulator throughput (MB of JSON per server CPU-second) and reference-scale RSS.
    Sim(sim::Args),
    /// (internal) the simulator under test, on a single-threaded runtime.
    #[command(hide = true)]
    SimServer(sim::ServerArgs),
    /// Cortex XDR full sync (100,000 endpoints × ~20 CVEs) vs a fetch+parse+insert floor, and a delta.
    Xdr(xdr::Args),
    /// (internal) one measured phase of `bench xdr` in its own process.
    #[command(hide = true)]
    XdrChild(xdr::ChildArgs),
    /// Semgrep full sync (500k SAST + 200k SCA) vs a fetch+parse+insert floor, a delta, and a 100 MB SARIF import.
    Semgrep(semgrep::Args),
    /// (internal) one measured phase of `bench semgrep` in its own process.
    #[command(hide = true)]
    SemgrepChild(semgrep::ChildArgs),
    /// Reads over the reference tenant (2.7 M findings): ten typical queries (p95) with
    /// their plans, and GET /api/v1/findings?limit=100 under 32 connections.
    Read(read::Args),
    /// Issues and risk over the reference tenant: rebuilt from scratch, after a one-day
    /// delta, and deleting Semgrep (killed midway, then for real).
    Context(context::Args),
    /// (internal) the deletion `bench context` kills midway.
    #[command(hide = true)]
    ContextDelete(context::DeleteArgs),
}

pub fn run(b: Bench) -> Result<()> {
    match b {
        Bench::Store(a) => store::run(a),
        Bench::StoreChild(a) => store::child(a),
        Bench::Sim(a) => sim::run(a),
        Bench::SimServer(a) => sim::server(a),
        Bench::Xdr(a) => xdr::run(a),
        Bench::XdrChild(a) => xdr::child(a),
        Bench::Semgrep(a) => semgrep::run(a),
        Bench::SemgrepChild(a) => semgrep::child(a),
        Bench::Read(a) => read::run(a),
        Bench::Context(a) => context::run(a),
        Bench::ContextDelete(a) => context::delete_child(a),
    }
}

/// One measured phase.
pub struct Phase {
    pub name: String,
    pub rows: u64,
    pub secs: f64,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
}

pub fn fmt_rate(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
