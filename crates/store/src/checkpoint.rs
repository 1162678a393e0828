//! SQLite's WAL checkpointer: a background thread with its own connection that copies
//! committed WAL frames into the database file, so the writer's commits never pay for
//! a checkpoint (copy + fsync) themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Checkpoint once the WAL holds at least this much.
const MIN_WAL_BYTES: u64 = 16 * 1024 * 1024;
const TICK: Duration = Duration::from_millis(200);

pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

impl Checkpointer {
    pub fn spawn(db: PathBuf) -> Checkpointer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&db, &flag))
            .map_err(|e| tracing::warn!(message = "Cannot start the SQLite checkpointer; the WAL will grow until restart.", error = %e))
            .ok();
        Checkpointer { stop, handle }
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

fn run(db: &Path, stop: &AtomicBool) {
    let wal = wal_path(db);
    let conn = match rusqlite::Connection::open(db) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(message = "SQLite checkpointer cannot open the database.", error = %e);
            return;
        }
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    let mut last_checkpointed: Option<SystemTime> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(TICK);
        let Ok(meta) = std::fs::metadata(&wal) else { continue };
        let modified = meta.modified().ok();
        if meta.len() < MIN_WAL_BYTES || modified == last_checkpointed {
            continue;
        }
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => last_checkpointed = modified,
            Err(e) => tracing::debug!(message = "WAL checkpoint skipped.", error = %e),
        }
    }
}
