//! Connectors: everything that talks to vendors, and nothing that talks to the database.
//!
//! A connector kind ([`ConnectorKind`]) describes a vendor: its name, product, record
//! streams with their default transform maps, and how to build a [`Connector`] from an
//! integration's settings. A [`Connector`] can test its credentials and open a
//! [`Source`] that yields [`RawPage`]s with a resumable cursor. Adding a vendor is one
//! module plus one line in [`CONNECTORS`].
//!
//! * [`http`]: the shared client (timeouts, gzip, retries with backoff and jitter that
//!   honour `Retry-After`, rate limit, worded errors).
//! * [`cortex`]: the Cortex platform's key auth and error bodies (XDR and Cloud).
//! * [`cortex_xdr`]: Cortex XDR endpoints and their CVEs.
//! * [`cortex_cloud`]: Cortex Cloud repositories with deployment and internet exposure.
//! * [`semgrep`]: Semgrep Code (SAST) and Supply Chain (SCA) findings per project.
//! * [`import`]: `semgrep --json` and SARIF 2.1.0 files, streamed.

#[cfg(test)]
pub(crate) mod arbitrary;
pub mod chain;
pub mod cortex;
pub mod cortex_cloud;
pub mod cortex_xdr;
pub mod error;
pub mod http;
pub mod import;
pub mod intel;
pub mod semgrep;
pub mod task;

use std::future::Future;
use std::pin::Pin;

pub use error::ConnectorError;
use tributary_core::model::{Completeness, SyncMode};
use tributary_core::secret::Secret;
use tributary_core::transform::TransformMapSpec;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A connector's resumable position, stored with each committed page.
pub type Cursor = serde_json::Value;

/// One vendor record, as the transform map sees it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub stream: &'static str,
    /// Unique within the stream (endpoint id, finding id).
    pub key: String,
    /// The record as a tree, or `Null` when the source kept only its text in `raw_json`
    /// (the pipeline then parses just what the map reads: [`TransformMap::read`]). Use
    /// [`RawRecord::parsed`] to get a tree either way.
    ///
    /// [`TransformMap::read`]: tributary_core::transform::TransformMap::read
    pub body: serde_json::Value,
    /// The vendor reports the record gone (e.g. an uninstalled agent): its asset
    /// attribution ends and its findings close, whatever the map says.
    pub tombstone: bool,
    /// Vendor container the record belongs to (e.g. a Semgrep project id).
    pub scope: Option<String>,
    /// The record's JSON text when the source has it verbatim (stored as the raw record
    /// instead of serializing `body` again).
    pub raw_json: Option<String>,
}

impl RawRecord {
    /// The record's text when the source sent text only (`body` is `Null`).
    pub fn text_only(&self) -> Option<&str> {
        match (&self.body, &self.raw_json) {
            (serde_json::Value::Null, Some(text)) => Some(text),
            _ => None,
        }
    }

    /// The record as a tree: `body`, or `raw_json` parsed when the source sent text only.
    pub fn parsed(&self) -> Result<std::borrow::Cow<'_, serde_json::Value>, serde_json::Error> {
        match self.text_only() {
            Some(text) => serde_json::from_str(text).map(std::borrow::Cow::Owned),
            None => Ok(std::borrow::Cow::Borrowed(&self.body)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RawPage {
    pub records: Vec<RawRecord>,
    /// Where the next page starts; `None` when this was the last page.
    pub next: Option<Cursor>,
    /// Delta watermark candidate after this page (committed only when the run succeeds).
    pub watermark: Option<serde_json::Value>,
    /// Records the source expects in all, when it knows (for progress and ETA).
    pub total: Option<u64>,
}

/// What a sync should fetch.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub mode: SyncMode,
    /// From the last successful run (delta syncs fetch what changed after it).
    pub watermark: Option<serde_json::Value>,
}

/// Yields pages; each call continues from the cursor of the previous page (or `None` for
/// the first page), so a run can resume from any committed cursor.
pub trait Source: Send {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>>;
    /// What the run should say besides its counts (what could not be read and why, what
    /// the vendor's quota paid for), asked once the last page is in.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// For a delta run: the scopes (e.g. Semgrep projects) whose records this run read
    /// whole, so what they no longer list is closed. `None`: the delta reconciles nothing
    /// beyond its records (a per-asset source closes per record).
    fn reconciled_scopes(&self) -> Option<Vec<String>> {
        None
    }
}

/// The result of a connection test, in words.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub summary: String,
    /// Facts the test learned that belong in the integration's config (e.g. the Semgrep
    /// deployment a token reaches); merged in when the integration is saved.
    pub learned: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A vendor container that records belong to (a Semgrep project). Scoped records are
/// ingested only when their scope is mapped to an asset (see `store::repo::scopes`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeInfo {
    /// What records carry in [`RawRecord::scope`] (the Semgrep project name).
    pub key: String,
    pub name: String,
    /// The repository URL the vendor detected, verbatim.
    pub url: Option<String>,
    pub attributes: serde_json::Value,
}

pub trait Connector: Send + Sync {
    /// A cheap authenticated call.
    fn test(&self) -> BoxFuture<'_, Result<TestReport, ConnectorError>>;
    fn source(&self, plan: &SyncPlan) -> Box<dyn Source>;
    /// The streams this integration is configured to fetch (default: all of its kind).
    fn streams(&self) -> Option<Vec<&'static str>> {
        None
    }
    /// The vendor's scopes, for connectors whose records belong to one (default: none).
    fn scopes(&self) -> BoxFuture<'_, Result<Option<Vec<ScopeInfo>>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }
    /// Whether the integration asked for context to be written back to its scopes.
    fn write_back(&self) -> bool {
        false
    }
    /// Adds and removes tags on a scope (a Semgrep project) in the vendor's tenant.
    fn set_scope_tags<'a>(
        &'a self,
        _scope: &'a str,
        _add: &'a [String],
        _remove: &'a [String],
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async { Err(ConnectorError::Config("this connector cannot tag its scopes".into())) })
    }
}

/// One record stream of a connector.
pub struct StreamSpec {
    pub name: &'static str,
    pub completeness: Completeness,
    pub default_map: fn() -> TransformMapSpec,
}

/// Everything needed to build a connector.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: String,
    pub config: serde_json::Value,
    pub secret: Secret,
    pub http: http::ClientOptions,
}

/// Settings after validation: the normalized base URL and config.
pub type ValidSettings = (String, serde_json::Value);

/// A connector's config object as its typed struct. Keys the struct (with its flattened
/// HTTP settings) does not know are refused by name: a typo must not be ignored. (serde's
/// `deny_unknown_fields` does not work with `flatten`; the schema lists every key.)
pub(crate) fn parse_config<T: serde::de::DeserializeOwned + schemars::JsonSchema>(config: &serde_json::Value) -> Result<T, ConnectorError> {
    if let Some(obj) = config.as_object() {
        let known = config_keys::<T>();
        if let Some(k) = obj.keys().find(|k| !known.iter().any(|x| x == *k)) {
            return Err(ConnectorError::Config(format!("unknown setting '{k}' (known: {})", known.join(", "))));
        }
    } else if !config.is_null() {
        return Err(ConnectorError::Config("the settings must be a JSON object".into()));
    }
    T::deserialize(config).map_err(|e| ConnectorError::Config(e.to_string()))
}

/// The keys a config struct takes, from its schema.
fn config_keys<T: schemars::JsonSchema>() -> Vec<String> {
    let schema = schemars::schema_for!(T);
    schema.get("properties").and_then(|p| p.as_object()).map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// A config struct's JSON Schema, for API clients and forms.
pub fn config_schema<T: schemars::JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(T).to_value()
}

/// A typed config back to the JSON stored with the integration.
pub(crate) fn config_value<T: serde::Serialize>(config: &T) -> Result<serde_json::Value, ConnectorError> {
    serde_json::to_value(config).map_err(|e| ConnectorError::Config(e.to_string()))
}

/// A non-empty selection (`what`: e.g. "scan type") from `allowed`.
pub(crate) fn check_choice(chosen: &[String], allowed: &[&str], what: &str) -> Result<(), ConnectorError> {
    let list = allowed.join(", ");
    if chosen.is_empty() {
        return Err(ConnectorError::Config(format!("choose at least one {what}: {list}")));
    }
    if let Some(t) = chosen.iter().find(|t| !allowed.contains(&t.as_str())) {
        return Err(ConnectorError::Config(format!("unknown {what} '{t}' ({list})")));
    }
    Ok(())
}

pub struct ConnectorKind {
    /// `cortex-xdr`, `semgrep`, …
    pub name: &'static str,
    /// Source name on assets (`asset.inventory:(source:…)`) and default `vendorProductName`.
    pub product: &'static str,
    pub streams: &'static [StreamSpec],
    /// Checks settings and returns them normalized (base URL, config), before any request.
    pub validate: fn(base_url: &str, config: &serde_json::Value) -> Result<ValidSettings, ConnectorError>,
    pub build: fn(Settings) -> Result<Box<dyn Connector>, ConnectorError>,
    /// The JSON Schema of its settings (what `validate` accepts as `config`).
    pub config_schema: fn() -> serde_json::Value,
    /// The integration's own profile runs every this many hours from when it is added
    /// (`None`: on demand only).
    pub default_every_hours: Option<u32>,
    /// At most one integration of this kind (its context would otherwise conflict).
    pub one_per_tenant: bool,
}

/// Every connector, in one place.
pub static CONNECTORS: &[&ConnectorKind] = &[&cortex_xdr::KIND, &semgrep::KIND, &cortex_cloud::KIND];

/// File formats `tributary import` reads; integrations of these kinds hold imports.
pub static IMPORTERS: &[&ConnectorKind] = &[&import::SEMGREP_JSON, &import::SARIF];

/// A connector or importer kind by name.
pub fn kind(name: &str) -> Option<&'static ConnectorKind> {
    CONNECTORS.iter().chain(IMPORTERS).copied().find(|k| k.name == name)
}

impl ConnectorKind {
    pub fn stream(&self, name: &str) -> Option<&'static StreamSpec> {
        self.streams.iter().find(|s| s.name == name)
    }
}
