//! File imports: Semgrep CLI JSON and SARIF, one repository per file.

use std::sync::Arc;

use tributary_core::model::Role;
use tributary_engine::Progress;
use tributary_engine::import::ImportRequest;

pub use tributary_connectors::import::FileFormat;
pub use tributary_engine::import::ImportOutcome;

use crate::{App, Principal, Result};

/// A file to import.
pub struct ImportFile {
    pub format: FileFormat,
    pub path: std::path::PathBuf,
    /// The repository the scan covers (any URL spelling).
    pub repo_url: String,
    /// SARIF: file findings under this tool name instead of the log's.
    pub tool: Option<String>,
    /// Go ahead even if the import would close most of the repository's findings.
    pub allow_mass_close: bool,
}

impl App {
    /// Imports a file; nothing is written unless all of it is.
    pub async fn import_file(&self, who: &Principal, f: ImportFile, progress: Arc<dyn Progress>) -> Result<ImportOutcome> {
        who.require(Role::Analyst, "importing scan results")?;
        let req =
            ImportRequest { format: f.format, path: f.path, repo_url: f.repo_url, tool: f.tool, allow_mass_close: f.allow_mass_close };
        Ok(self.engine.import_file(req, &who.name, progress).await?)
    }
}
