//! Integrations: add (credentials in, never out), test, list, delete. The connector
//! settings are the connectors' own typed structs, re-exported here for front ends.

use serde::Serialize;
use serde_json::json;
use tributary_core::model::{Integration, Role, SyncRun};
use tributary_core::secret::Secret;
use tributary_core::time::to_rfc3339;
use tributary_engine::integrations::NewIntegration;
use tributary_store::repo::{integrations, runs};

pub use tributary_connectors::cortex_cloud::CloudConfig;
pub use tributary_connectors::cortex_xdr::{SecurityLevel, XdrConfig};
pub use tributary_connectors::http::HttpSettings;
pub use tributary_connectors::semgrep::SemgrepConfig;

use crate::{App, AppError, Principal, Result};

/// A connector's settings, typed.
#[derive(Debug, Clone)]
pub enum ConnectorSettings {
    CortexXdr(XdrConfig),
    Semgrep(SemgrepConfig),
    CortexCloud(CloudConfig),
}

impl ConnectorSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorSettings::CortexXdr(_) => "cortex-xdr",
            ConnectorSettings::Semgrep(_) => "semgrep",
            ConnectorSettings::CortexCloud(_) => "cortex-cloud",
        }
    }

    fn to_json(&self) -> Result<serde_json::Value> {
        let v = match self {
            ConnectorSettings::CortexXdr(c) => serde_json::to_value(c),
            ConnectorSettings::Semgrep(c) => serde_json::to_value(c),
            ConnectorSettings::CortexCloud(c) => serde_json::to_value(c),
        };
        v.map_err(|e| AppError::Internal(e.to_string()))
    }

    /// From the JSON the API receives: `kind` names the connector, `config` its settings.
    pub fn from_json(kind: &str, config: serde_json::Value) -> Result<ConnectorSettings> {
        let bad = |e: serde_json::Error| AppError::invalid("config", e.to_string());
        match kind {
            "cortex-xdr" => Ok(ConnectorSettings::CortexXdr(serde_json::from_value(config).map_err(bad)?)),
            "semgrep" => Ok(ConnectorSettings::Semgrep(serde_json::from_value(config).map_err(bad)?)),
            "cortex-cloud" => Ok(ConnectorSettings::CortexCloud(serde_json::from_value(config).map_err(bad)?)),
            other => Err(AppError::invalid("kind", format!("unknown connector '{other}' (known: cortex-xdr, semgrep, cortex-cloud)"))),
        }
    }
}

/// A kind of integration: what it reads, and the JSON Schema of its settings (what the
/// API's `config` takes; forms are built from it).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConnectorInfo {
    pub kind: &'static str,
    pub product: &'static str,
    pub streams: Vec<&'static str>,
    pub config_schema: serde_json::Value,
}

/// The connectors an integration can be added for.
pub fn connectors() -> Vec<ConnectorInfo> {
    tributary_connectors::CONNECTORS
        .iter()
        .map(|k| ConnectorInfo {
            kind: k.name,
            product: k.product,
            streams: k.streams.iter().map(|s| s.name).collect(),
            config_schema: (k.config_schema)(),
        })
        .collect()
}

/// The API base of a Cortex tenant from its FQDN as the console shows it
/// (`acme.xdr.us.paloaltonetworks.com` → `https://api-acme.xdr.us.paloaltonetworks.com`).
pub fn cortex_api_base(fqdn: &str) -> Result<String> {
    tributary_connectors::cortex_cloud::api_base_from_fqdn(fqdn).map_err(|e| AppError::invalid("fqdn", e.to_string()))
}

/// An integration to add.
pub struct AddIntegration {
    pub name: String,
    pub base_url: String,
    pub settings: ConnectorSettings,
    pub secret: Secret,
    /// Test the credentials before saving (default on).
    pub test: bool,
}

/// An integration as front ends show it: never its secret.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IntegrationView {
    #[serde(flatten)]
    pub integration: Integration,
    pub last_run: Option<SyncRun>,
    /// The end of the latest successful run: the data is this old.
    pub last_sync_at: Option<String>,
}

impl App {
    /// Validates, tests (unless told not to) and saves an integration with its default
    /// profile. Admin: it stores a credential.
    pub async fn add_integration(&self, who: &Principal, add: AddIntegration) -> Result<(Integration, Option<String>)> {
        who.require(Role::Admin, "adding an integration (it stores a credential)")?;
        let new = NewIntegration {
            name: add.name,
            kind: add.settings.kind().into(),
            base_url: add.base_url,
            config: add.settings.to_json()?,
            secret: add.secret,
            test: add.test,
        };
        let (i, report) = self.engine.add_integration(new, &who.name).await?;
        Ok((i, report.map(|r| r.summary)))
    }

    /// Tests a stored integration; the outcome becomes its status. `Err` inside: the
    /// connection error, worded for the user.
    pub async fn test_integration(&self, who: &Principal, name: &str) -> Result<std::result::Result<String, String>> {
        who.require(Role::Analyst, "testing an integration")?;
        Ok(self.engine.test_integration(name).await?.map(|r| r.summary).map_err(|e| e.to_string()))
    }

    pub fn integrations(&self, who: &Principal) -> Result<Vec<IntegrationView>> {
        who.require(Role::Viewer, "listing integrations")?;
        Ok(self.store().read(|c| {
            let mut out = Vec::new();
            for i in integrations::list(c)? {
                let last_run = runs::latest(c, i.id)?;
                let last_sync_at = runs::last_success_at(c, i.id)?.map(to_rfc3339);
                out.push(IntegrationView { integration: i, last_run, last_sync_at });
            }
            Ok(out)
        })?)
    }

    pub fn integration(&self, who: &Principal, name: &str) -> Result<IntegrationView> {
        who.require(Role::Viewer, "reading an integration")?;
        Ok(self.store().read(|c| {
            let i = integrations::get(c, name)?;
            let last_run = runs::latest(c, i.id)?;
            let last_sync_at = runs::last_success_at(c, i.id)?.map(to_rfc3339);
            Ok(IntegrationView { integration: i, last_run, last_sync_at })
        })?)
    }

    /// Deletes an integration and everything it brought in, in one transaction — after
    /// stopping its running runs and waiting for them to let go. Admin. Blocking.
    pub fn delete_integration(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Admin, "deleting an integration")?;
        let id = self.store().read(|c| integrations::get(c, name))?.id;
        self.engine.stop_runs(id, tributary_engine::integrations::STOP_WAIT)?;
        self.change(who, "integration.delete", name, |c| {
            let i = integrations::get(c, name)?;
            integrations::delete(c, i.id)?;
            Ok(((), json!({"kind": i.kind})))
        })
    }
}

impl App {
    /// Points an integration at another base URL (e.g. a moved tenant, or the demo's
    /// simulator on a new port). Admin.
    pub fn set_integration_url(&self, who: &Principal, name: &str, base_url: &str) -> Result<()> {
        who.require(Role::Admin, "changing an integration")?;
        self.change(who, "integration.url", name, |c| {
            let i = integrations::get(c, name)?;
            integrations::set_base_url(c, i.id, base_url)?;
            Ok(((), json!({"base_url": base_url})))
        })
    }

    /// Whether an integration of this name exists.
    pub fn has_integration(&self, who: &Principal, name: &str) -> Result<bool> {
        who.require(Role::Viewer, "reading an integration")?;
        Ok(self.store().read(|c| integrations::find(c, name))?.is_some())
    }
}
