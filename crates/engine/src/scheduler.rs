//! The scheduler: every tick, runs the active profiles that are due. Several nodes may run
//! it against one PostgreSQL database: a profile's next run is claimed with a conditional
//! update, so only one node starts it, and the run lease keeps one sync per integration.

use std::sync::Arc;
use std::time::Duration;

use tributary_core::time::now_ms;
use tributary_store::repo::profiles;

use crate::pipeline::{NoProgress, SyncOptions};
use crate::{Engine, Result};

/// Claims due profiles and starts them; returns the names started.
pub async fn tick(engine: &Engine) -> Result<Vec<String>> {
    let now = now_ms();
    let claimed = engine
        .blocking(move |store| {
            Ok(store.write(|c| {
                let mut started = Vec::new();
                for p in profiles::due(c, now)? {
                    let Some(expected) = p.next_run_at else { continue };
                    let next = p.schedule.next_after(now);
                    if profiles::claim(c, p.id, expected, now, next)? {
                        started.push(p.name);
                    }
                }
                Ok(started)
            })?)
        })
        .await?;
    for name in &claimed {
        let e = engine.clone();
        let n = name.clone();
        tokio::spawn(async move {
            tracing::info!(message = "Scheduled sync started.", profile = %n);
            match e.sync(&n, SyncOptions::default(), Arc::new(NoProgress)).await {
                Ok(run) => {
                    tracing::info!(message = "Scheduled sync finished.", profile = %n, run = run.id, created = run.counts.created, closed = run.counts.closed)
                }
                Err(err) => tracing::warn!(message = "Scheduled sync failed.", profile = %n, error = %err),
            }
        });
    }
    Ok(claimed)
}

/// Runs [`tick`] every `every` until `shutdown` resolves.
pub async fn run(engine: Engine, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = interval.tick() => {
                if let Err(e) = tick(&engine).await {
                    tracing::warn!(message = "Scheduler tick failed.", error = %e);
                }
            }
        }
    }
}
