//! The application layer: every use case of Tributary as one typed function — who asks
//! ([`Principal`]), what they ask (typed input), what they get (typed output) or one
//! [`AppError`]. The CLI, the REST API and the web UI call only this crate; none of them
//! reaches the store or the engine (a test checks the dependency graph).
//!
//! Invariants kept here, once for every front end:
//! * **Authorization**: each use case names the role it needs ([`Principal::require`]).
//! * **Audit**: every change writes an audit event in the transaction that makes it.
//!   (Engine operations that change data in their own transaction — adding an
//!   integration, applying a map, mapping a project, importing — take the principal's
//!   name and record it there.)
//! * **Secrets are write-only**: they go in (integration credentials, passwords) and never
//!   come out; tokens are shown once, at creation.
//! * **Blocking store calls** run on the caller's thread; async front ends use
//!   [`App::blocking`].
//!
//! Modules: [`auth`] (users, tokens, login), [`integrations`], [`sync`] (sync now, runs),
//! [`maps`], [`profiles`], [`projects`], [`rules`], [`imports`], [`query`] (assets,
//! findings, fields), [`triage`], [`admin`] (database status and migration).

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod imports;
pub mod integrations;
pub mod intel;
pub mod issues;
pub mod maps;
pub mod metrics;
pub mod notify;
pub mod policies;
pub mod profiles;
pub mod projects;
pub mod query;
pub mod risk;
pub mod rules;
pub mod sla;
pub mod sync;
pub mod triage;
pub mod views;

use std::sync::Arc;

pub use error::{AppError, Result};
pub use tributary_core::model::Role;
use tributary_engine::Engine;
pub use tributary_engine::pipeline::NoProgress;
pub use tributary_engine::scheduler::Scheduler;
pub use tributary_engine::{Fuses, Progress, SyncOptions};
use tributary_store::Store;
pub use tributary_store::StoreOptions;
use tributary_store::repo::audit;

/// Who is asking: a signed-in user, a token's user, or the local operator (the CLI on a
/// host that holds the database and its key is an administrator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// The user's id; `None` for the local operator.
    pub user_id: Option<i64>,
}

fn rank(r: Role) -> u8 {
    match r {
        Role::Viewer => 0,
        Role::Analyst => 1,
        Role::Admin => 2,
    }
}

impl Principal {
    /// The operator of this host (CLI): `cli:$USER`, admin.
    pub fn local() -> Principal {
        Principal { name: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())), role: Role::Admin, user_id: None }
    }

    /// Refuses unless the principal's role is at least `need`.
    pub fn require(&self, need: Role, action: &str) -> Result<()> {
        if rank(self.role) >= rank(need) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("{action} needs the {need} role; {} is {}", self.name, self.role)))
        }
    }
}

/// The application over one store.
#[derive(Clone)]
pub struct App {
    engine: Engine,
    login: Arc<auth::LoginLimiter>,
    aggregates: Arc<dashboard::AggregateCache>,
}

impl App {
    /// Opens (and migrates) the store and installs the connectors' built-in maps.
    pub fn open(opts: &StoreOptions) -> Result<App> {
        let store = Store::open(opts)?;
        let engine = Engine::new(store);
        engine.bootstrap()?;
        Ok(App { engine, login: Arc::new(auth::LoginLimiter::default()), aggregates: Arc::default() })
    }

    /// Where the data lives, for messages: `sqlite:///…` or `postgres://…` (no password).
    pub fn database(&self) -> String {
        self.engine.store.url().to_string()
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.engine.store.backend()
    }

    /// How the store was opened: schema versions and where the master key came from.
    pub fn opened(&self) -> admin::Opened {
        let m = self.engine.store.migration();
        admin::Opened { database: self.database(), from: m.from, to: m.to, key: self.engine.store.key_origin().to_string() }
    }

    /// The scheduler of due profiles (`serve` runs it).
    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.engine.clone())
    }

    /// Runs blocking use cases off an async runtime's workers.
    pub async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&App) -> Result<T> + Send + 'static) -> Result<T> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || f(&app)).await.map_err(|e| AppError::Internal(e.to_string()))?
    }

    fn store(&self) -> &Store {
        &self.engine.store
    }

    /// A change and its audit event, in one transaction.
    fn change<T>(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        f: impl FnOnce(&mut dyn tributary_store::Conn) -> tributary_store::error::Result<(T, serde_json::Value)>,
    ) -> Result<T> {
        let out = self.store().write(|c| {
            let (out, detail) = f(c)?;
            audit::record(c, &who.name, action, target, detail)?;
            Ok(out)
        })?;
        // A change a user makes shows on the dashboard at once.
        self.refresh_dashboard();
        Ok(out)
    }

    /// A team setting kept as JSON in `meta`; its default until set.
    fn setting<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        parse_setting(key, self.store().read(|c| tributary_store::repo::meta::get(c, key))?)
    }

    /// Stores a team setting (audited as `action`).
    fn set_setting<T: serde::Serialize>(&self, who: &Principal, action: &str, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|e| AppError::Internal(e.to_string()))?;
        let detail = serde_json::to_value(value).map_err(|e| AppError::Internal(e.to_string()))?;
        self.change(who, action, key, |c| Ok((tributary_store::repo::meta::set(c, key, &text)?, detail)))
    }

    /// The most recent audit events (admin).
    pub fn audit_events(&self, who: &Principal, limit: i64) -> Result<Vec<tributary_core::model::AuditEvent>> {
        who.require(Role::Admin, "reading the audit trail")?;
        Ok(self.store().read(|c| audit::recent(c, limit.clamp(1, 10_000)))?)
    }
}

/// A stored setting's text as its type (its default when absent).
fn parse_setting<T: serde::de::DeserializeOwned + Default>(key: &str, text: Option<String>) -> Result<T> {
    match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| AppError::Internal(format!("stored setting {key}: {e}"))),
        None => Ok(T::default()),
    }
}

/// How often `serve` looks for due profiles by default.
pub fn scheduler_tick_default() -> std::time::Duration {
    tributary_engine::scheduler::DEFAULT_TICK
}
