//! Sync now (waiting, or in the background with live progress read from the run) and
//! sync runs.

use std::sync::{Arc, Mutex};

use tributary_core::model::{Role, RunCounts, SyncRun};
use tributary_engine::{Progress, SyncOptions};
use tributary_store::repo::{integrations, runs};

use crate::{App, AppError, Principal, Result};

impl App {
    /// Runs a profile (or an integration's own profile) now and waits for it.
    pub async fn sync(&self, who: &Principal, target: &str, opts: SyncOptions, progress: Arc<dyn Progress>) -> Result<SyncRun> {
        who.require(Role::Analyst, "running a sync")?;
        self.audit_sync(who, target, &opts).await?;
        Ok(self.engine.sync(target, opts, progress).await?)
    }

    /// Who asked for a run, and how (the run itself is in `sync_runs`).
    async fn audit_sync(&self, who: &Principal, target: &str, opts: &SyncOptions) -> Result<()> {
        let (w, t) = (who.clone(), target.to_string());
        let detail = serde_json::json!({"full": opts.force_full, "allow_mass_close": opts.fuses.allow_mass_close});
        self.blocking(move |app| app.change(&w, "sync.request", &t, |_| Ok(((), detail)))).await
    }

    /// Starts a sync in the background and returns its run as soon as it has one; read
    /// its progress with [`App::run`]. A sync that cannot start (unknown name, already
    /// running, bad credentials) is an error here.
    pub async fn start_sync(&self, who: &Principal, target: &str, opts: SyncOptions) -> Result<SyncRun> {
        who.require(Role::Analyst, "running a sync")?;
        self.audit_sync(who, target, &opts).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let notify = Arc::new(Started(Mutex::new(Some(tx))));
        let engine = self.engine.clone();
        let target = target.to_string();
        let progress = notify.clone();
        let task = tokio::spawn(async move {
            let out = engine.sync(&target, opts, progress.clone()).await;
            if let Err(e) = &out {
                tracing::warn!(message = "Background sync failed.", target = %target, error = %e);
            }
            // Ended before it started: the error is the answer.
            progress.send(out.as_ref().map(|r| r.clone()).map_err(|e| e.to_string()));
            out
        });
        match rx.await {
            Ok(Ok(run)) => Ok(run),
            Ok(Err(_)) | Err(_) => match task.await {
                Ok(Err(e)) => Err(e.into()),
                Ok(Ok(run)) => Ok(run),
                Err(e) => Err(AppError::Internal(e.to_string())),
            },
        }
    }

    /// Recent runs, newest first (of one integration when named).
    pub fn runs(&self, who: &Principal, integration: Option<&str>, limit: i64) -> Result<Vec<SyncRun>> {
        who.require(Role::Viewer, "listing runs")?;
        if !(1..=1000).contains(&limit) {
            return Err(AppError::invalid("limit", "between 1 and 1000"));
        }
        Ok(self.store().read(|c| {
            let id = integration.map(|n| integrations::get(c, n).map(|i| i.id)).transpose()?;
            runs::list(c, id, limit)
        })?)
    }

    /// One run: its status and counts so far (a live run's are updated with each page).
    pub fn run(&self, who: &Principal, id: i64) -> Result<SyncRun> {
        who.require(Role::Viewer, "reading a run")?;
        Ok(self.store().read(|c| runs::get(c, id))?)
    }
}

/// Reports the run once it has started.
struct Started(Mutex<Option<tokio::sync::oneshot::Sender<std::result::Result<SyncRun, String>>>>);

impl Started {
    fn send(&self, v: std::result::Result<SyncRun, String>) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(v);
        }
    }
}

impl Progress for Started {
    fn started(&self, run: &SyncRun, _resumed: bool) {
        self.send(Ok(run.clone()));
    }
    fn committed(&self, _counts: &RunCounts) {}
}
