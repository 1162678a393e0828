//! The engine: runs profiles end to end and keeps them on schedule.
//!
//! * [`Engine`] wraps a store; [`Engine::bootstrap`] installs the connectors' built-in
//!   transform maps.
//! * [`pipeline`]: one sync run — fetch (async) → transform (thread) → write (thread),
//!   with bounded channels between them, the checkpoint committed with each page, resume
//!   after a crash, delta or full mode, and the end-of-run sweep.
//! * [`replay`]: re-applies a (changed) transform map to stored raw records, no fetch.
//! * [`preview`]: a map applied to a few records, input beside output.
//! * [`scheduler`]: runs due profiles (`tributary serve`).
//! * [`integrations`]: adding and testing integrations.
//! * [`import`]: Semgrep JSON and SARIF files, one repository at a time.
//! * [`scopes`]: vendor scopes (Semgrep projects) and their repository mapping.

pub mod derive;
pub mod import;
pub mod integrations;
pub mod notify;
pub mod pipeline;
pub mod preview;
pub mod replay;
pub mod scheduler;
pub mod scopes;

use tributary_connectors::ConnectorError;
use tributary_store::repo::maps;
use tributary_store::{Store, StoreError};

pub use pipeline::{Fuses, Progress, SyncOptions, SyncTarget};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Busy(String),
    /// A fuse stopped the run before its sweep was committed (see `pipeline::Fuses`).
    #[error("{0}")]
    Stopped(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The engine over one store.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    /// How often a live run renews its lease, whether or not it commits (a quarter of
    /// [`pipeline::LEASE_MS`] by default).
    pub heartbeat_every: std::time::Duration,
}

impl Engine {
    pub fn new(store: Store) -> Engine {
        Engine { store, heartbeat_every: std::time::Duration::from_millis(pipeline::LEASE_MS as u64 / 4) }
    }

    /// Installs or refreshes every connector's built-in maps. Idempotent and cheap.
    pub fn bootstrap(&self) -> Result<()> {
        self.store.write(|c| {
            for kind in tributary_connectors::CONNECTORS.iter().chain(tributary_connectors::IMPORTERS) {
                for stream in kind.streams {
                    maps::upsert_builtin(c, &(stream.default_map)())?;
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Runs blocking store work off the async runtime. Invariant: async code reaches the
    /// store only through here (the PostgreSQL client blocks, and must not block a worker).
    pub async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> Result<T> + Send + 'static) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(|e| EngineError::Internal(e.to_string()))?
    }
}

/// `host:pid`, the owner of a run's lease.
pub fn lease_owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Whether the process named by a lease owner is still alive. Only answerable for this
/// host; another host's lease is trusted until its heartbeat goes stale.
pub fn owner_alive(owner: &str) -> Option<bool> {
    let (host, pid) = owner.rsplit_once(':')?;
    let me = lease_owner();
    let my_host = me.rsplit_once(':').map(|(h, _)| h)?;
    if host != my_host {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    if pid == std::process::id() {
        return Some(true);
    }
    Some(std::path::Path::new(&format!("/proc/{pid}")).exists())
}
