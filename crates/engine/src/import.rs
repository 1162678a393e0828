//! `tributary import`: a Semgrep JSON or SARIF file into the findings of one repository.
//!
//! Each format (and, for SARIF, each tool) has its own integration (`import-semgrep`,
//! `import-sarif-<tool>`), created on first use with a default profile, so imports have
//! runs, raw records and editable maps like any sync. An import is a full run scoped to
//! its repository: a later scan of the same repository and tool closes what is gone and
//! reopens what came back; other repositories' findings are untouched. The file is
//! checked whole first, then streamed through the pipeline, and every page plus the sweep
//! commit in one transaction: a bad file changes nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;
use tributary_connectors::import::{self, FileFormat, Inspected, ReadStats};
use tributary_connectors::{RawPage, RawRecord};
use tributary_core::ident::repo::RepoKey;
use tributary_core::model::{IntegrationStatus, Schedule, SyncMode, SyncRun};
use tributary_core::secret::Secret;
use tributary_store::StoreError;
use tributary_store::ingest::{self, RecordIn};
use tributary_store::repo::{audit, integrations, maps, profiles, runs};

use crate::pipeline::{Prepared, Producer, Progress, RunMaps};
use crate::{Engine, EngineError, Result};

/// Records per page handed to the pipeline.
const PAGE: usize = 250;

pub struct ImportRequest {
    pub format: FileFormat,
    pub path: PathBuf,
    /// The repository the scan covers (any URL spelling).
    pub repo_url: String,
    /// SARIF: the tool name to file findings under (default: the file's `tool.driver.name`).
    pub tool: Option<String>,
    /// Go ahead even if the import would close most of the repository's findings.
    pub allow_mass_close: bool,
}

pub struct ImportOutcome {
    /// The import's run; `None` for a valid log with nothing to import and no tool to
    /// reconcile (SARIF `"runs": []`).
    pub run: Option<SyncRun>,
    pub integration: String,
    pub product: String,
    pub inspected: Inspected,
}

/// Pages of a file being read on a blocking thread, one page ahead (so the pipeline
/// knows which page is the last).
pub struct FileReader {
    rx: mpsc::Receiver<std::result::Result<Vec<RawRecord>, String>>,
    pending: Option<Vec<RawRecord>>,
    total: Option<u64>,
    pages: u64,
    /// What the read counted besides records, once it has ended.
    stats: std::sync::Arc<std::sync::Mutex<ReadStats>>,
}

impl FileReader {
    fn start(path: PathBuf, format: FileFormat, inspected: Inspected, scope: String) -> FileReader {
        let (tx, rx) = mpsc::channel(2);
        // The number of results is known only when the peek read the whole file.
        let total = inspected.complete.then_some(inspected.results);
        let stats = std::sync::Arc::new(std::sync::Mutex::new(ReadStats::default()));
        let counted = stats.clone();
        tokio::task::spawn_blocking(move || {
            let mut page = Vec::with_capacity(PAGE);
            let r = import::read(&path, format, &inspected, &scope, &mut |rec| {
                page.push(rec);
                if page.len() == PAGE {
                    tx.blocking_send(Ok(std::mem::replace(&mut page, Vec::with_capacity(PAGE))))
                        .map_err(|_| "the import was stopped".to_string())?;
                }
                Ok(())
            });
            let last = match r {
                Ok(read) => {
                    if let Ok(mut s) = counted.lock() {
                        *s = read;
                    }
                    Ok(page)
                }
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.blocking_send(last);
        });
        FileReader { rx, pending: None, total, pages: 0, stats }
    }

    /// The read's notes (repeats, suppressed results, cut fields …).
    pub(crate) fn notes(&self) -> Vec<String> {
        self.stats.lock().map(|s| s.notes()).unwrap_or_default()
    }

    pub(crate) async fn next(&mut self) -> Result<RawPage> {
        let current = match self.pending.take() {
            Some(p) => p,
            None => self.recv().await?.unwrap_or_default(),
        };
        let following = self.recv().await?;
        self.pages += 1;
        let next = following.as_ref().map(|_| json!({"page": self.pages}));
        self.pending = following;
        Ok(RawPage { records: current, next, watermark: None, total: self.total })
    }

    async fn recv(&mut self) -> Result<Option<Vec<RawRecord>>> {
        match self.rx.recv().await {
            Some(Ok(p)) => Ok(Some(p)),
            Some(Err(e)) => Err(EngineError::Invalid(e)),
            None => Ok(None),
        }
    }
}

/// `Semgrep OSS` → `semgrep-oss`.
fn slug(tool: &str) -> String {
    let s: String = tool.trim().to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() { "tool".into() } else { s }
}

impl Engine {
    pub async fn import_file(&self, req: ImportRequest, actor: &str, progress: Arc<dyn Progress>) -> Result<ImportOutcome> {
        let key = RepoKey::parse(&req.repo_url).map_err(|e| EngineError::Invalid(format!("--repo: {e}")))?;
        let (path, format) = (req.path.clone(), req.format);
        let inspected = tokio::task::spawn_blocking(move || import::peek(&path, format))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let kind = format.kind();
        let product = match format {
            FileFormat::SemgrepJson => kind.product.to_string(),
            FileFormat::Sarif => req.tool.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| inspected.tool.clone()),
        };
        if product.is_empty() {
            // A valid log without runs names no tool: there is nothing to import, and no
            // integration whose findings a rescan could close.
            return Ok(ImportOutcome { run: None, integration: String::new(), product, inspected });
        }
        let base_name = match format {
            FileFormat::SemgrepJson => "import-semgrep".to_string(),
            FileFormat::Sarif => format!("import-sarif-{}", slug(&product)),
        };
        let (actor, scope, url, file) = (actor.to_string(), key.as_str().to_string(), req.repo_url.clone(), req.path.display().to_string());
        let (p, bytes, allow_mass_close) = (product.clone(), inspected.bytes, req.allow_mass_close);
        let prep = self
            .blocking(move |store| {
                store
                    .write(|c| {
                        let (n, integration) = import_integration(c, store, kind, &base_name, &p)?;
                        if let Some((run, _, _)) = runs::unfinished(c, integration.id)? {
                            // An import never resumes: an abandoned one is closed as failed.
                            runs::finish(
                                c,
                                run.id,
                                tributary_core::model::SyncStatus::Failed,
                                Some("abandoned import"),
                                &Default::default(),
                            )?;
                        }
                        let profile = profiles::default_for(c, integration.id)?;
                        let overrides = profile.map(|p| p.maps).unwrap_or_default();
                        let mut run_maps = RunMaps::load(c, kind, &overrides, None).map_err(|e| StoreError::Invalid(e.to_string()))?;
                        run_maps.product_override = Some(p.clone());
                        let run = runs::start(c, integration.id, None, SyncMode::Full, &crate::lease_owner())?;
                        integrations::set_status(c, integration.id, IntegrationStatus::Running, Some(&format!("importing {file}")))?;
                        // The repository the findings attach to: written in the import's own
                        // transaction, so a file that fails leaves no asset behind.
                        let mut applied = tributary_core::transform::Applied::default();
                        applied.asset.insert("repository".into(), json!({"url": url, "name": key.path()}));
                        let staged =
                            tributary_core::transform::stage(applied, tributary_core::transform::TargetModel::Repository, kind.name, &p);
                        let context =
                            vec![RecordIn { stream: "scope".into(), key: scope.clone(), asset: staged.asset, ..RecordIn::default() }];
                        audit::record(c, &actor, "import", &file, json!({"integration": n, "repository": scope, "bytes": bytes}))?;
                        let repo = tributary_store::repo::scopes::repository_asset(c, &scope)?.unwrap_or(PENDING_ASSET);
                        let scopes: HashMap<String, i64> = HashMap::from([(scope.clone(), repo)]);
                        let products: Vec<String> = run_maps.products(kind).into_iter().map(|(p, _)| p).collect();
                        let scope_is_new = ingest::scope_is_empty(c, integration.id, &scope, &products)?;
                        Ok((
                            n,
                            Prepared {
                                integration,
                                kind,
                                maps: run_maps,
                                run,
                                resumed: false,
                                scopes: Some(scopes),
                                scope: Some(scope),
                                single_tx: true,
                                scope_is_new,
                                fuses: crate::Fuses { allow_mass_close, ..crate::Fuses::default() },
                                context,
                            },
                        ))
                    })
                    .map_err(EngineError::from)
            })
            .await?;
        let (name, prep) = prep;
        let reader = FileReader::start(req.path.clone(), format, inspected.clone(), prep.scope.clone().unwrap_or_default());
        let run = self.run_pipeline(prep, Producer::File(reader), progress).await?;
        Ok(ImportOutcome { run: Some(run), integration: name, product, inspected })
    }
}

/// The asset id scoped records carry until the import's transaction has written the
/// repository (the writer puts the real id in).
pub(crate) const PENDING_ASSET: i64 = -1;

/// The import integration of `kind` and tool `product`: `base` (`import-sarif-codeql`),
/// created on first use with its default profile. Tools whose names reduce to the same
/// slug (`Code QL`, `code/ql`) never share one: the later one gets the name with a hash
/// of its exact tool name.
fn import_integration(
    c: &mut dyn tributary_store::Conn,
    store: &tributary_store::Store,
    kind: &'static tributary_connectors::ConnectorKind,
    base: &str,
    product: &str,
) -> tributary_store::Result<(String, tributary_core::model::Integration)> {
    let tool_of = |i: &tributary_core::model::Integration| i.config.get("tool").and_then(serde_json::Value::as_str).map(str::to_string);
    let hashed = format!("{base}-{:08x}", tributary_core::hash::KeyHasher::new().part(product).finish64() as u32);
    for name in [base.to_string(), hashed] {
        match integrations::find(c, &name)? {
            Some(i) if i.kind == kind.name && tool_of(&i).is_none_or(|t| t == product) => return Ok((name, i)),
            Some(i) if i.kind != kind.name => {
                return Err(StoreError::Invalid(format!(
                    "an integration named '{name}' exists and is a {} integration; imports need that name",
                    i.kind
                )));
            }
            // Another tool with the same slug: try the hashed name.
            Some(_) => continue,
            None => {
                let i = integrations::create(
                    c,
                    store.key(),
                    integrations::NewIntegration {
                        name: &name,
                        kind: kind.name,
                        base_url: "",
                        config: json!({"tool": product}),
                        secret: &Secret::new(""),
                    },
                )?;
                let stream_maps = kind
                    .streams
                    .iter()
                    .map(|s| Ok((s.name.to_string(), maps::get(c, &(s.default_map)().name)?.id)))
                    .collect::<tributary_store::Result<Vec<_>>>()?;
                profiles::create(
                    c,
                    profiles::NewProfile {
                        name: &format!("{name}-default"),
                        description: Some("File imports (run by `tributary import`)."),
                        integration_id: i.id,
                        maps: stream_maps,
                        active: false,
                        is_default: true,
                        schedule: Schedule::Manual,
                    },
                )?;
                return Ok((name, i));
            }
        }
    }
    Err(StoreError::Invalid(format!("no free integration name for tool '{product}' (tried '{base}' and its hashed form)")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tool_slugs() {
        assert_eq!(super::slug("Semgrep OSS"), "semgrep-oss");
        assert_eq!(super::slug("  CodeQL  "), "codeql");
        assert_eq!(super::slug("!!"), "tool");
    }
}
