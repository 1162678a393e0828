//! `tributary export --format sarif|ocsf|csv [--query Q] [--out FILE]` (`--format` is the
//! global output flag, which takes the export formats too).

use std::io::{BufWriter, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tributary_app::export::{ExportFormat, ExportSummary};

use super::Ctx;
use crate::args::{ExportArgs, Format};

/// Progress of an export: a bar on a terminal, a line every few seconds otherwise.
struct Counter {
    bar: Option<ProgressBar>,
    last: Instant,
}

impl Counter {
    fn new(total: Option<u64>) -> Counter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("export [{elapsed_precise}] {bar:30} {human_pos}/{human_len} findings {per_sec} ETA {eta}")
            {
                b.set_style(style);
            }
            b
        });
        Counter { bar, last: Instant::now() }
    }

    fn at(&mut self, n: u64) {
        match &self.bar {
            Some(b) => b.set_position(n),
            None if self.last.elapsed() > Duration::from_secs(5) => {
                self.last = Instant::now();
                eprintln!("export: {n} findings read");
            }
            None => {}
        }
    }

    fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn report(s: &ExportSummary, to: &str) {
    let skipped =
        if s.skipped > 0 { format!(" ({} vulnerabilities left out: SARIF is for code weaknesses)", s.skipped) } else { String::new() };
    eprintln!("exported {} findings as {} to {to}{skipped}", s.written, s.format);
}

pub fn run(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    let format = match ctx.format {
        Format::Sarif => ExportFormat::Sarif,
        Format::Ocsf => ExportFormat::Ocsf,
        Format::Csv => ExportFormat::Csv,
        Format::Table | Format::Json => anyhow::bail!("choose what to export as: --format sarif, ocsf or csv"),
    };
    let app = ctx.app()?;
    let who = ctx.who();
    let total = app.count(&who, &a.query, None).ok().and_then(|n| u64::try_from(n).ok());
    let mut counter = Counter::new(total);
    match &a.out {
        Some(path) => {
            // Written beside the target and renamed when complete: a failed export leaves
            // no file that looks whole.
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            let tmp = tempfile::NamedTempFile::new_in(&dir).with_context(|| format!("cannot write in {}", dir.display()))?;
            let out = BufWriter::with_capacity(1 << 20, tmp);
            let result = app.export(&who, format, &a.query, out, &mut |n| counter.at(n));
            counter.done();
            let (out, summary) = result?;
            let tmp = out.into_inner().map_err(|e| e.into_error()).context("cannot finish the file")?;
            tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
            report(&summary, &path.display().to_string());
        }
        None => {
            let stdout = std::io::stdout().lock();
            let result = app.export(&who, format, &a.query, BufWriter::with_capacity(1 << 20, stdout), &mut |n| counter.at(n));
            counter.done();
            let (mut out, summary) = result?;
            out.flush()?;
            report(&summary, "standard output");
        }
    }
    Ok(())
}
