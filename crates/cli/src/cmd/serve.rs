//! `tributary serve`: migrate, then serve the API and run the profiles that are due.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use tributary_engine::Engine;
use tributary_engine::scheduler::Scheduler;
use tributary_server::{AppState, serve};

use super::Ctx;
use crate::args::ServeArgs;

pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<()> {
    let engine = ctx.engine()?;
    let m = engine.store.migration();
    tracing::info!(message = "Database ready.", db = %engine.store.url(), from = ?m.from, to = m.to, key = %engine.store.key_origin());
    let tick = if args.no_scheduler { None } else { Some(scheduler_tick(&args.scheduler_tick)?) };
    super::runtime()?.block_on(serve_and_schedule(engine, args.listen, tick, "", ctrl_c()))
}

/// `--scheduler-tick`: a duration of at least a second.
fn scheduler_tick(text: &str) -> Result<Duration> {
    let ms = tributary_core::model::profile_duration(text).map_err(|e| anyhow::anyhow!("--scheduler-tick: {e}"))?;
    if ms < 1_000 {
        bail!("--scheduler-tick must be at least 1s, got {text}");
    }
    Ok(Duration::from_millis(ms as u64))
}

/// Resolves on Ctrl-C.
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Serves the API on `listen` and, with a `tick`, runs due profiles until `shutdown`.
/// `note` follows the "listening" line.
pub async fn serve_and_schedule(
    engine: Engine,
    listen: SocketAddr,
    tick: Option<Duration>,
    note: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let scheduler = tick.map(|every| {
        tracing::info!(message = "Scheduler running.", tick_ms = every.as_millis() as u64);
        tokio::spawn(Scheduler::new(engine.clone()).run(every, stopped(stop_rx.clone())))
    });
    let state = AppState { store: engine.store.clone() };
    let served = serve(listen, state, stopped(stop_rx), |addr| {
        tracing::info!(message = "Listening.", %addr);
        eprintln!("tributary {} listening on http://{addr}{note}", env!("CARGO_PKG_VERSION"));
    })
    .await;
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    Ok(served?)
}
