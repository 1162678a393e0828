//! `tributary sync NAME [--full]`, with a progress bar on a terminal and plain log lines
//! otherwise.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tributary_app::{Progress, SyncOptions};
use tributary_core::model::{RunCounts, SyncRun};

use super::{Ctx, runtime};
use crate::args::SyncArgs;

pub fn run(ctx: &Ctx, a: SyncArgs) -> Result<()> {
    let app = ctx.app()?;
    let view = ProgressView::new(&a.name);
    let fuses = a.fuses.fuses();
    let opts = SyncOptions { force_full: a.full, fuses, ..SyncOptions::default() };
    let run = runtime()?.block_on(app.sync(&ctx.who(), &a.name, opts, view.clone()));
    match run {
        Ok(run) => {
            view.finish(&run);
            Ok(())
        }
        Err(e) => {
            view.abandon();
            Err(e.into())
        }
    }
}

/// Draws progress: an indicatif bar on a terminal, a log line every few seconds otherwise.
pub struct ProgressView {
    bar: Option<ProgressBar>,
    label: String,
    state: Mutex<ViewState>,
}

struct ViewState {
    started: Instant,
    last_line: Instant,
    fetched: u64,
    counts: RunCounts,
}

fn summary(k: &RunCounts) -> String {
    format!(
        "findings {} new, {} changed, {} unchanged, {} closed; assets {} new, {} changed, {} retired",
        k.created, k.updated, k.unchanged, k.closed, k.assets_created, k.assets_updated, k.assets_retired
    )
}

impl ProgressView {
    pub fn new(label: &str) -> Arc<ProgressView> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] {bar:30} {human_pos}/{human_len} records {per_sec} ETA {eta} {msg}",
            ) {
                b.set_style(style);
            }
            b.set_prefix(label.to_string());
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        let now = Instant::now();
        Arc::new(ProgressView {
            bar,
            label: label.to_string(),
            state: Mutex::new(ViewState { started: now, last_line: now, fetched: 0, counts: RunCounts::default() }),
        })
    }

    pub fn finish(&self, run: &SyncRun) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        let secs = self.state.lock().map(|s| s.started.elapsed().as_secs_f64()).unwrap_or(0.0);
        println!(
            "{}: {} sync (run {}) {} in {:.1}s: {} records; {}",
            self.label,
            run.mode,
            run.id,
            run.status,
            secs,
            run.counts.fetched,
            summary(&run.counts)
        );
        for note in run.notes.iter().flat_map(|n| n.lines()) {
            println!("{}: {note}", self.label);
        }
    }

    pub fn abandon(&self) {
        if let Some(b) = &self.bar {
            b.abandon();
        }
    }

    fn log(&self, force: bool) {
        let Ok(mut s) = self.state.lock() else { return };
        if self.bar.is_some() || !(force || s.last_line.elapsed() >= Duration::from_secs(5)) {
            return;
        }
        s.last_line = Instant::now();
        let rate = s.fetched as f64 / s.started.elapsed().as_secs_f64().max(0.001);
        eprintln!("{}: {} records fetched ({rate:.0}/s); {}", self.label, s.fetched, summary(&s.counts));
    }
}

impl Progress for ProgressView {
    fn started(&self, run: &SyncRun, resumed: bool) {
        let mut what =
            if resumed { format!("resuming {} sync, run {}", run.mode, run.id) } else { format!("{} sync, run {}", run.mode, run.id) };
        if run.initial {
            what.push_str(" (the integration holds nothing yet: no sweep needed)");
        }
        match &self.bar {
            Some(b) => b.set_message(what),
            None => eprintln!("{}: {what}", self.label),
        }
    }

    fn fetched(&self, fetched: u64, total: Option<u64>) {
        if let Ok(mut s) = self.state.lock() {
            s.fetched = fetched;
        }
        if let Some(b) = &self.bar {
            if let Some(t) = total {
                b.set_length(t.max(fetched));
            }
            b.set_position(fetched);
        }
        self.log(false);
    }

    fn committed(&self, counts: &RunCounts) {
        if let Ok(mut s) = self.state.lock() {
            s.counts = *counts;
        }
        if let Some(b) = &self.bar {
            b.set_message(format!("{} findings written", counts.created + counts.updated));
        }
        self.log(false);
    }
}
