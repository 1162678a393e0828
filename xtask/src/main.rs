//! `cargo xtask …`: developer tasks. Benchmarks print rows/s, peak RSS and ratios to a
//! floor measured in the same run, so figures from different machines stay comparable.

mod bench;
mod pg;
mod rss;

use clap::{Parser, Subcommand};

// Ingest allocates many small strings per record; mimalloc frees them far faster than
// glibc malloc does under two busy threads (see bench/RESULTS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Tributary developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run a benchmark (see bench/RESULTS.md).
    #[command(subcommand)]
    Bench(bench::Bench),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Bench(b) => bench::run(b),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
