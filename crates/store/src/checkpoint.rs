//! SQLite's WAL checkpointer: a background thread with its own connection that copies
//! committed WAL frames into the database file, so the writer's commits never pay for
//! a checkpoint (copy + fsync) themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Checkpoint once the WAL holds at least this much. Large on purpose: a bulk load
/// rewrites the same index pages many times, and each checkpoint copies every page the WAL
/// holds, so rare checkpoints copy far less (bench xdr: 16 MiB → 256 MiB cut a full sync
/// by 15%).
pub(crate) const CHECKPOINT_WAL_BYTES: u64 = 256 * 1024 * 1024;
/// A WAL larger than this is truncated once writes have been quiet for `IDLE_AFTER`.
const IDLE_WAL_BYTES: u64 = 4 * 1024 * 1024;
const IDLE_AFTER: Duration = Duration::from_secs(2);
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
    let mut last_modified: Option<SystemTime> = None;
    let mut quiet_since = Instant::now();
    let mut dirty = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(TICK);
        let Ok(meta) = std::fs::metadata(&wal) else { continue };
        let modified = meta.modified().ok();
        if modified != last_modified {
            last_modified = modified;
            quiet_since = Instant::now();
            dirty = true;
            if meta.len() >= CHECKPOINT_WAL_BYTES
                && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::debug!(message = "WAL checkpoint skipped.", error = %e);
            }
            continue;
        }
        // Writes went quiet: fold the WAL in and shrink it, here rather than in the
        // writer's next commit (freeing gigabytes of file takes the kernel a while).
        if dirty && quiet_since.elapsed() >= IDLE_AFTER {
            dirty = false;
            if meta.len() > IDLE_WAL_BYTES {
                match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)) {
                    Ok(0) => last_modified = std::fs::metadata(&wal).ok().and_then(|m| m.modified().ok()),
                    Ok(_) => dirty = true,
                    Err(e) => tracing::debug!(message = "WAL truncation skipped.", error = %e),
                }
            }
        }
    }
}
