//! Exports: the findings a query matches, streamed page by page into SARIF 2.1.0, OCSF
//! 1.8.0 JSON lines or CSV (`tributary_core::export` writes the formats). Memory stays
//! constant whatever the size: one page of records is held at a time.

use std::io::Write;

use serde::Serialize;
pub use tributary_core::export::{ExportFormat, OCSF_VERSION};
use tributary_core::export::{ExportRecord, ExportWriter};
use tributary_store::query::{self as store_query, EXPORT_PAGE, Entity};

use crate::{App, AppError, Principal, Result, Role};

/// What an export wrote.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct ExportSummary {
    pub format: &'static str,
    /// Findings written.
    pub written: u64,
    /// Findings the query matched that the format has no place for (vulnerabilities in
    /// SARIF, which is for code).
    pub skipped: u64,
}

/// Parses a format name, as every front end takes it.
pub fn parse_format(s: &str) -> Result<ExportFormat> {
    ExportFormat::parse(s).ok_or_else(|| AppError::invalid("format", format!("'{s}' is not an export format; use sarif, ocsf or csv")))
}

impl App {
    /// Writes the findings `q` matches (empty: the open ones) to `out` in `format`,
    /// calling `progress` with the running count after each page. An output that fails
    /// (a closed pipe, a client gone) stops the export: `Unavailable`.
    pub fn export<W: Write>(
        &self,
        who: &Principal,
        format: ExportFormat,
        q: &str,
        out: W,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(W, ExportSummary)> {
        who.require(Role::Viewer, "exporting findings")?;
        let c = self.compile(q, Some(Entity::Finding))?;
        let write_failed = |e: std::io::Error| AppError::Unavailable(format!("writing the export failed: {e}"));
        let mut w = ExportWriter::new(format, out).map_err(write_failed)?;
        // Pages are read on a thread of their own while this one formats the previous
        // page: the two overlap (bench/RESULTS.md, exports). Two pages wait at most.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<ExportRecord>>>(2);
        std::thread::scope(|scope| {
            // The sender moves into the reader: when it is done, the pages end.
            scope.spawn(move || {
                let mut after = i64::MIN;
                loop {
                    let mut page = Vec::with_capacity(EXPORT_PAGE as usize);
                    let read = self.store().read(|conn| {
                        store_query::export_page(conn, &c, after, EXPORT_PAGE, &mut |rec| {
                            page.push(rec);
                            Ok(())
                        })
                    });
                    match read {
                        Ok(Some(id)) => {
                            after = id;
                            // The writer stopped (its output failed): done.
                            if tx.send(Ok(page)).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e.into()));
                            break;
                        }
                    }
                }
            });
            for page in rx.iter() {
                for rec in &page? {
                    w.write(rec).map_err(write_failed)?;
                }
                let (written, skipped) = w.counts();
                progress(written + skipped);
            }
            Ok::<(), AppError>(())
        })?;
        let (written, skipped) = w.counts();
        w.finish().map_err(write_failed).map(|out| (out, ExportSummary { format: format.as_str(), written, skipped }))
    }

    /// [`App::export`] on a blocking thread, as chunks of bytes for a streamed HTTP body.
    /// The receiver ends after the last chunk; an error mid-way ends it with the error
    /// (the body is cut, which clients see as a failed download, never a short file that
    /// looks whole).
    pub fn export_chunks(&self, who: &Principal, format: ExportFormat, q: &str) -> Result<tokio::sync::mpsc::Receiver<Result<Vec<u8>>>> {
        who.require(Role::Viewer, "exporting findings")?;
        // Compile first: a bad query is a 400 before any byte is sent.
        self.compile(q, Some(Entity::Finding))?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let (app, who, q) = (self.clone(), who.clone(), q.to_string());
        tokio::task::spawn_blocking(move || {
            let out = ChunkWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
            if let Err(e) = app.export(&who, format, &q, out, &mut |_| {}) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(rx)
    }
}

/// Bytes per streamed chunk.
const CHUNK: usize = 256 * 1024;

/// A writer that sends full chunks down a channel (the HTTP body reads the other end).
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
