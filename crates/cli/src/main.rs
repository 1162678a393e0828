//! `tributary`: the command-line interface. Parsing and output live here; the work is
//! done by the library crates. Errors are printed as one line (`error: …`) with exit
//! code 1; usage errors exit with 2.

mod args;
mod cmd;
mod output;

use clap::Parser;

// Ingest allocates many small strings per record; mimalloc frees them far faster than
// glibc malloc does under two busy threads (see bench/RESULTS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = args::Cli::parse();
    // Output piped into `head` (or a pager that quits) meets a closed pipe: end quietly
    // as other Unix tools do, instead of panicking in `println!`. The long-running
    // commands keep Rust's default (SIGPIPE ignored), so a closed stdout cannot stop a
    // server; their writes just fail.
    if !matches!(cli.command, args::Command::Serve(_) | args::Command::Demo(_) | args::Command::Sim(_)) {
        die_on_closed_pipe();
    }
    init_logging(&cli);
    if let Err(e) = cmd::run(cli) {
        eprintln!("error: {}", one_line(&e));
        std::process::exit(1);
    }
}

#[cfg(unix)]
fn die_on_closed_pipe() {
    // SAFETY: called on the main thread before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_on_closed_pipe() {}

/// The error and its causes on one line, without repeating a cause the message already holds.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

fn init_logging(cli: &args::Cli) {
    use tracing_subscriber::EnvFilter;
    let default = if cli.verbose || matches!(cli.command, args::Command::Serve(_) | args::Command::Demo(_)) { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("TRIBUTARY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
