//! The scheduler: every tick, runs the active profiles that are due. Several nodes may run
//! it against one PostgreSQL database: a profile's next run is claimed with a conditional
//! update, so only one node starts it, and the run lease keeps one sync per integration.
//!
//! * One run per profile at a time: a profile whose run (started here) is still going is
//!   not claimed again; its due time is taken up by the first tick after the run ends.
//! * Missed times (the server was down) run once: the claim moves the profile to its
//!   next time after *now*, however many were missed.
//! * The clock is a parameter ([`Scheduler::tick_at`]), so tests set it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tributary_core::time::{Millis, now_ms};
use tributary_store::repo::profiles;

use crate::pipeline::{NoProgress, SyncOptions};
use crate::{Engine, EngineError, Result};

/// How often `serve` looks for due profiles.
pub const DEFAULT_TICK: Duration = Duration::from_secs(15);

/// Runs due profiles; remembers which of its runs are still going.
#[derive(Clone)]
pub struct Scheduler {
    engine: Engine,
    /// Profiles (ids) with a run started here that has not ended.
    running: Arc<Mutex<HashSet<i64>>>,
}

impl Scheduler {
    pub fn new(engine: Engine) -> Scheduler {
        Scheduler { engine, running: Arc::new(Mutex::new(HashSet::new())) }
    }

    fn running(&self) -> Result<std::sync::MutexGuard<'_, HashSet<i64>>> {
        self.running.lock().map_err(|_| EngineError::Internal("scheduler state lock poisoned".into()))
    }

    /// Profiles with a run still going (started by this scheduler).
    pub fn busy(&self) -> Result<usize> {
        Ok(self.running()?.len())
    }

    /// Claims the profiles due at `now` and starts their runs; returns the names started.
    pub async fn tick_at(&self, now: Millis) -> Result<Vec<String>> {
        let busy: HashSet<i64> = self.running()?.clone();
        let claimed = self
            .engine
            .blocking(move |store| {
                Ok(store.write(|c| {
                    let mut started = Vec::new();
                    for p in profiles::due(c, now)? {
                        let Some(expected) = p.next_run_at else { continue };
                        if busy.contains(&p.id) {
                            continue;
                        }
                        // The next time after now: missed times coalesce into this run.
                        let next = p.schedule.next_after(now);
                        if profiles::claim(c, p.id, expected, now, next)? {
                            started.push((p.id, p.name));
                        }
                    }
                    Ok(started)
                })?)
            })
            .await?;
        let mut names = Vec::with_capacity(claimed.len());
        for (id, name) in claimed {
            self.running()?.insert(id);
            let (me, n) = (self.clone(), name.clone());
            tokio::spawn(async move {
                tracing::info!(message = "Scheduled sync started.", profile = %n);
                match me.engine.sync(&n, SyncOptions::default(), Arc::new(NoProgress)).await {
                    Ok(run) => {
                        tracing::info!(message = "Scheduled sync finished.", profile = %n, run = run.id, created = run.counts.created, closed = run.counts.closed)
                    }
                    Err(err) => tracing::warn!(message = "Scheduled sync failed.", profile = %n, error = %err),
                }
                if let Ok(mut r) = me.running.lock() {
                    r.remove(&id);
                }
            });
            names.push(name);
        }
        Ok(names)
    }

    /// Ticks every `every` with the real clock until `shutdown` resolves.
    pub async fn run(self, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => {
                    if let Err(e) = self.tick_at(now_ms()).await {
                        tracing::warn!(message = "Scheduler tick failed.", error = %e);
                    }
                    // Webhook deliveries that are due (new ones, and retries after backoff).
                    if let Err(e) = self.engine.deliver_notifications(now_ms()).await {
                        tracing::warn!(message = "Sending notifications failed.", error = %e);
                    }
                }
            }
        }
    }
}

/// One tick with the real clock (a scheduler of its own: no memory of earlier runs).
pub async fn tick(engine: &Engine) -> Result<Vec<String>> {
    Scheduler::new(engine.clone()).tick_at(now_ms()).await
}
