//! Adding and testing integrations, and building connectors from stored ones.

use serde_json::Value;
use tributary_connectors::http::{ClientOptions, HttpSettings};
use tributary_connectors::{Connector, ConnectorKind, Settings, TestReport};
use tributary_core::model::{Integration, IntegrationStatus, Schedule};
use tributary_core::secret::Secret;
use tributary_store::repo::{audit, integrations, maps, profiles};

use crate::{Engine, EngineError, Result};

pub fn kind_of(name: &str) -> Result<&'static ConnectorKind> {
    tributary_connectors::kind(name).ok_or_else(|| {
        let known: Vec<&str> = tributary_connectors::CONNECTORS.iter().map(|k| k.name).collect();
        EngineError::Invalid(format!("unknown connector '{name}' (known: {})", known.join(", ")))
    })
}

/// HTTP options from an integration's config: its flattened [`HttpSettings`] (rate
/// limit, retry budget, timeout); anything unreadable means the defaults.
pub fn client_options(config: &Value) -> ClientOptions {
    serde_json::from_value::<HttpSettings>(config.clone()).unwrap_or_default().client_options()
}

pub struct NewIntegration {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub config: Value,
    pub secret: Secret,
    /// Test the credentials before saving (on by default).
    pub test: bool,
}

impl Engine {
    /// Builds the connector of a stored integration (opens its credential on a blocking
    /// thread: store calls never run on an async worker).
    pub async fn connector(&self, integration: &Integration) -> Result<Box<dyn Connector>> {
        let kind = kind_of(&integration.kind)?;
        let id = integration.id;
        let secret = self.blocking(move |s| Ok(s.read(|c| integrations::open_secret(c, s.key(), id))?)).await?;
        let settings = Settings {
            base_url: integration.base_url.clone(),
            config: integration.config.clone(),
            secret,
            http: client_options(&integration.config),
        };
        Ok((kind.build)(settings)?)
    }

    /// Validates settings, tests the credentials (unless told not to), then saves the
    /// integration with its default profile — all or nothing.
    pub async fn add_integration(&self, new: NewIntegration, actor: &str) -> Result<(Integration, Option<TestReport>)> {
        let kind = kind_of(&new.kind)?;
        let name = new.name.trim().to_string();
        tributary_core::model::check_name("integration", &name).map_err(EngineError::Invalid)?;
        if name.starts_with("import-") && !tributary_connectors::IMPORTERS.iter().any(|k| k.name == kind.name) {
            return Err(EngineError::Invalid(format!(
                "integration names starting with 'import-' are reserved for file imports (`tributary import`); choose another name than '{name}'"
            )));
        }
        if kind.one_per_tenant {
            let existing = self.blocking(move |s| Ok(s.read(integrations::list)?)).await?;
            if let Some(other) = existing.into_iter().find(|i| i.kind == kind.name) {
                return Err(EngineError::Busy(format!(
                    "there can be only one {} integration, and '{}' is it (one Cortex deployment gives one view of where code runs); delete it first with `tributary integration delete {} --yes`",
                    kind.product, other.name, other.name
                )));
            }
        }
        let (base_url, mut config) = (kind.validate)(&new.base_url, &new.config)?;
        let report = if new.test {
            let settings =
                Settings { base_url: base_url.clone(), config: config.clone(), secret: new.secret.clone(), http: client_options(&config) };
            let connector = (kind.build)(settings)?;
            Some(connector.test().await?)
        } else {
            None
        };
        // What the test learned (e.g. the Semgrep deployment the token reaches) is kept.
        if let (Some(learned), Some(obj)) = (report.as_ref().and_then(|r| r.learned.clone()), config.as_object_mut()) {
            obj.extend(learned);
        }
        let actor = actor.to_string();
        let secret = new.secret;
        let schedule = match kind.default_every_hours {
            Some(h) => Schedule::Every { every_ms: i64::from(h) * 3_600_000, start: tributary_core::time::now_ms(), end: None },
            None => Schedule::Manual,
        };
        let status = if report.is_some() { IntegrationStatus::Connected } else { IntegrationStatus::New };
        let summary = report.as_ref().map(|r| r.summary.clone());
        let integration = self
            .blocking(move |store| {
                Ok(store.write(|c| {
                    let i = integrations::create(
                        c,
                        store.key(),
                        integrations::NewIntegration { name: &name, kind: kind.name, base_url: &base_url, config, secret: &secret },
                    )?;
                    integrations::set_status(c, i.id, status, summary.as_deref())?;
                    let mut stream_maps = Vec::new();
                    for s in kind.streams {
                        stream_maps.push((s.name.to_string(), maps::get(c, &(s.default_map)().name)?.id));
                    }
                    profiles::create(
                        c,
                        profiles::NewProfile {
                            name: &format!("{name}-default"),
                            description: Some(if kind.default_every_hours.is_some() {
                                "The integration's own profile (runs on its schedule under `tributary serve`, and on `tributary sync`)."
                            } else {
                                "The integration's own profile (runs on `tributary sync`)."
                            }),
                            integration_id: i.id,
                            maps: stream_maps,
                            active: true,
                            is_default: true,
                            schedule,
                        },
                    )?;
                    audit::record(c, &actor, "integration.add", &name, serde_json::json!({"kind": kind.name, "base_url": base_url}))?;
                    integrations::by_id(c, i.id)
                })?)
            })
            .await?;
        Ok((integration, report))
    }

    /// Tests a stored integration and records the outcome as its status.
    pub async fn test_integration(&self, name: &str) -> Result<std::result::Result<TestReport, tributary_connectors::ConnectorError>> {
        let n = name.to_string();
        let integration = self.blocking(move |s| Ok(s.read(|c| integrations::get(c, &n))?)).await?;
        let connector = self.connector(&integration).await?;
        let outcome = connector.test().await;
        let (status, reason) = match &outcome {
            Ok(r) => (IntegrationStatus::Connected, r.summary.clone()),
            Err(e) if e.is_connection() => (IntegrationStatus::ConnectionError, e.to_string()),
            Err(e) => (IntegrationStatus::Failed, e.to_string()),
        };
        let id = integration.id;
        self.blocking(move |s| Ok(s.write(|c| integrations::set_status(c, id, status, Some(&reason)))?)).await?;
        Ok(outcome)
    }
}

/// How long deleting an integration waits for its running runs to notice they were
/// stopped (a run checks at its next page or heartbeat, every 30 s at most).
pub const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(45);

impl Engine {
    /// Stops the integration's running runs and waits until each has let go of its lease
    /// (it noticed, rolled back what it was writing and ended), its process is gone, or
    /// its heartbeat went stale — at most `wait`. Returns the runs stopped. Blocking: call
    /// it from a blocking thread. Deleting after this cannot race a live writer; the
    /// delete's own guard (`repo::integrations::delete`) covers a run that outlives the
    /// wait.
    pub fn stop_runs(&self, integration_id: i64, wait: std::time::Duration) -> Result<Vec<i64>> {
        let stopped = self.store.write(|c| tributary_store::repo::runs::request_stop(c, integration_id))?;
        let deadline = std::time::Instant::now() + wait;
        while !stopped.is_empty() && std::time::Instant::now() < deadline {
            let held = self.store.read(|c| tributary_store::repo::runs::still_held(c, &stopped))?;
            let now = tributary_core::time::now_ms();
            let live =
                held.iter().any(|(_, owner, beat)| crate::owner_alive(owner) != Some(false) && now - beat < crate::pipeline::LEASE_MS);
            if !live {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(stopped)
    }
}
