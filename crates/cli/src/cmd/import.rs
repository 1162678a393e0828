//! `tributary import semgrep-json|sarif FILE --repo URL`.

use anyhow::Result;
use tributary_app::imports::{FileFormat, ImportFile};

use super::sync::ProgressView;
use super::{Ctx, runtime};
use crate::args::ImportCommand;

pub fn run(ctx: &Ctx, cmd: ImportCommand) -> Result<()> {
    let req = match cmd {
        ImportCommand::SemgrepJson { file, repo, fuses } => {
            ImportFile { format: FileFormat::SemgrepJson, path: file, repo_url: repo, tool: None, allow_mass_close: fuses.allow_mass_close }
        }
        ImportCommand::Sarif { file, repo, tool, fuses } => {
            ImportFile { format: FileFormat::Sarif, path: file, repo_url: repo, tool, allow_mass_close: fuses.allow_mass_close }
        }
    };
    let app = ctx.app()?;
    let file = req.path.display().to_string();
    let view = ProgressView::new(&format!("import {file}"));
    match runtime()?.block_on(app.import_file(&ctx.who(), req, view.clone())) {
        Ok(out) => {
            let Some(run) = &out.run else {
                view.abandon();
                println!(
                    "{file} is a valid SARIF log with no runs: nothing imported and nothing closed (a log names its tool in each run; \
                     name one with --tool to record an empty scan that closes that tool's findings in this repository)."
                );
                return Ok(());
            };
            view.finish(run);
            let v = out.inspected.tool_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
            println!(
                "Imported {file}: {} results from {}{v}, filed as {} under integration {}.",
                run.counts.fetched, out.inspected.tool, out.product, out.integration
            );
            Ok(())
        }
        Err(e) => {
            view.abandon();
            Err(anyhow::anyhow!("import failed, no findings were written: {e}"))
        }
    }
}
