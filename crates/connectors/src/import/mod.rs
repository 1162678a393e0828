//! File imports: `semgrep --json` output and SARIF 2.1.0 from any tool, read as streams
//! of raw records that go through the same transform maps and write path as a sync.
//!
//! A file is read once where its layout allows. [`peek`] reads only as far as the format,
//! SARIF version and tool (a few kilobytes in most files); [`read`] then streams results
//! one at a time and picks up each run's rules as it meets them. A SARIF run whose
//! results come before its `tool` (Semgrep writes them so) needs its rules first: the
//! reader then makes one skimming pass over the file ([`inspect`]) when it meets such a
//! run. A file that turns out broken past the peek fails the import, which is one
//! transaction, so no findings are written; the error carries the line and column.
//!
//! Identity: within a file, a result is its tool, rule, artifact, region and every one
//! of its fingerprints (the matched code standing in when it has none; logged-out
//! Semgrep writes "requires login", which is no fingerprint). A fingerprint is an input,
//! not an identity: CodeQL's `primaryLocationLineHash` or a tool's `scanFileHash` repeat
//! across results, so results alike in all but the region are distinct findings,
//! numbered in the order met, and results alike in all of it are repeats of one finding
//! (counted once; the run's notes say how many). Across scans the id leaves the region
//! out, so a finding keeps it when its line moves. Results whose SARIF `kind` is not
//! `fail` are not findings; suppressed results are imported as risk-accepted.

mod map;
pub mod stream;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde_json::{Value, json};
use tributary_core::hash::KeyHasher;
use tributary_core::model::Completeness;

pub use map::{SARIF_MAP, SEMGREP_JSON_MAP, sarif_map, semgrep_json_map};
use stream::{Event, Shape};

use crate::{Connector, ConnectorError, ConnectorKind, RawRecord, Settings, StreamSpec, ValidSettings};

pub const STREAM: &str = "result";

pub static SEMGREP_JSON: ConnectorKind = ConnectorKind {
    name: "semgrep-json",
    product: "Semgrep Code",
    streams: &[StreamSpec { name: STREAM, completeness: Completeness::PerFinding, default_map: semgrep_json_map }],
    validate: no_settings,
    build: no_connection,
    config_schema: no_schema,
    default_every_hours: None,
    one_per_tenant: false,
};

pub static SARIF: ConnectorKind = ConnectorKind {
    name: "sarif",
    product: "SARIF",
    streams: &[StreamSpec { name: STREAM, completeness: Completeness::PerFinding, default_map: sarif_map }],
    validate: no_settings,
    build: no_connection,
    config_schema: no_schema,
    default_every_hours: None,
    one_per_tenant: false,
};

/// Imports take no settings from users (the tool name is recorded by the import itself).
fn no_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

fn no_settings(_: &str, config: &Value) -> Result<ValidSettings, ConnectorError> {
    Ok((String::new(), config.clone()))
}

fn no_connection(_: Settings) -> Result<Box<dyn Connector>, ConnectorError> {
    Err(ConnectorError::Config("file imports have no connection to sync; run `tributary import` with a new file".into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    SemgrepJson,
    Sarif,
}

impl FileFormat {
    pub fn kind(self) -> &'static ConnectorKind {
        match self {
            FileFormat::SemgrepJson => &SEMGREP_JSON,
            FileFormat::Sarif => &SARIF,
        }
    }
    fn label(self) -> &'static str {
        match self {
            FileFormat::SemgrepJson => "Semgrep JSON",
            FileFormat::Sarif => "SARIF",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {reason}")]
    Io { file: String, reason: String },
    #[error("{file}: not valid {format} at line {line}, column {column}: {reason}")]
    Syntax { file: String, format: &'static str, line: usize, column: usize, reason: String },
    #[error("{file}: {reason}")]
    Unsupported { file: String, reason: String },
}

/// What a look at the file learned before the import starts.
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    /// The tool that wrote the file (SARIF `tool.driver.name` of the first run).
    pub tool: String,
    pub tool_version: Option<String>,
    /// Results counted; all of the file's only when `complete`.
    pub results: u64,
    pub bytes: u64,
    /// The whole file was read: it is valid JSON of the format, `results` counts them
    /// all and every run's tool is known. A [`peek`] stops before the end.
    pub complete: bool,
    /// SARIF: per run, the tool object (driver and rules); `Null` where not yet seen.
    runs: Vec<Value>,
}

/// How far [`scan`] reads.
#[derive(Clone, Copy, PartialEq)]
enum Until {
    /// The whole file.
    End,
    /// Until the tool and format are known (SARIF: the version and the first run's tool;
    /// Semgrep JSON: the start of `results`).
    Enough,
}

const SEMGREP_SHAPE: Shape = Shape::Object(&[("version", Shape::Keep), ("results", Shape::Stream)]);
const SARIF_SHAPE: Shape = Shape::Object(&[
    ("version", Shape::Keep),
    ("runs", Shape::ArrayOf(&Shape::Object(&[("tool", Shape::Keep), ("results", Shape::Stream)]))),
]);

fn open(path: &Path) -> Result<(BufReader<File>, u64), ImportError> {
    let file = path.display().to_string();
    let f = File::open(path).map_err(|e| ImportError::Io { file: file.clone(), reason: format!("cannot open it: {e}") })?;
    let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((BufReader::with_capacity(1 << 20, f), bytes))
}

fn syntax(path: &Path, format: FileFormat, e: serde_json::Error) -> ImportError {
    let file = path.display().to_string();
    if e.is_io() {
        return ImportError::Io { file, reason: e.to_string() };
    }
    let reason = e.to_string();
    // serde_json appends " at line L column C"; we say it first.
    let reason = reason.rsplit_once(" at line ").map(|(r, _)| r.to_string()).unwrap_or(reason);
    ImportError::Syntax { file, format: format.label(), line: e.line(), column: e.column(), reason }
}

/// A first look: the format, version and tool, read only as far as they go (in most
/// files, a few kilobytes), so a large report is read once, by [`read`]. Problems past that
/// point surface from `read`.
pub fn peek(path: &Path, format: FileFormat) -> Result<Inspected, ImportError> {
    scan(path, format, Until::Enough)
}

/// A full pass: checks the whole file, counts its results and collects every run's tool.
pub fn inspect(path: &Path, format: FileFormat) -> Result<Inspected, ImportError> {
    scan(path, format, Until::End)
}

fn scan(path: &Path, format: FileFormat, until: Until) -> Result<Inspected, ImportError> {
    let file = path.display().to_string();
    let (reader, bytes) = open(path)?;
    let mut out = Inspected { bytes, ..Inspected::default() };
    let mut version: Option<Value> = None;
    let mut saw_results = false;
    let mut enough = false;
    let shape = match format {
        FileFormat::SemgrepJson => SEMGREP_SHAPE,
        FileFormat::Sarif => SARIF_SHAPE,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let read = stream::read(&mut de, shape, true, &mut |e| {
        match e {
            Event::Value { path, value, .. } if path == ["version"] => version = Some(value),
            Event::Value { path, index, value } if path == ["runs", "tool"] => {
                let run = index.first().copied().unwrap_or(0);
                if out.runs.len() <= run {
                    out.runs.resize(run + 1, Value::Null);
                }
                out.runs[run] = value;
            }
            Event::Start { .. } => saw_results = true,
            Event::Element { .. } => out.results += 1,
            _ => {}
        }
        enough = until == Until::Enough
            && match format {
                FileFormat::SemgrepJson => saw_results,
                FileFormat::Sarif => version.is_some() && out.runs.first().is_some_and(|t| !t.is_null()),
            };
        // Stops the read; told apart from a real error by `enough`.
        if enough { Err("enough".into()) } else { Ok(()) }
    });
    if !enough {
        read.map_err(|e| syntax(path, format, e))?;
        de.end().map_err(|e| syntax(path, format, e))?;
        out.complete = true;
    }
    match format {
        FileFormat::SemgrepJson => {
            if !saw_results {
                return Err(ImportError::Unsupported {
                    file,
                    reason: "this is not `semgrep --json` output: it has no \"results\" array".into(),
                });
            }
            out.tool = "Semgrep".into();
            out.tool_version = version.and_then(|v| v.as_str().map(str::to_string));
        }
        FileFormat::Sarif => {
            match version.as_ref().and_then(Value::as_str) {
                Some("2.1.0") => {}
                Some(v) => {
                    return Err(ImportError::Unsupported {
                        file,
                        reason: format!("SARIF version {v} is not supported; Tributary reads SARIF 2.1.0"),
                    });
                }
                None => return Err(ImportError::Unsupported { file, reason: "no SARIF \"version\"; Tributary reads SARIF 2.1.0".into() }),
            }
            // `"runs": []` is a valid, empty log: no tool, nothing to import or close.
            let driver = out.runs.first().and_then(|t| t.get("driver"));
            out.tool = driver.and_then(|d| d.get("name")).and_then(Value::as_str).unwrap_or("").trim().to_string();
            if out.tool.is_empty() && !out.runs.is_empty() {
                out.tool = "SARIF".into();
            }
            out.tool_version =
                driver.and_then(|d| d.get("semanticVersion").or_else(|| d.get("version"))).and_then(Value::as_str).map(str::to_string);
        }
    }
    Ok(out)
}

/// Identities of the results of one file. A result is identified by tool, rule,
/// artifact, its fingerprints (the matched code when it has none) and its region. A
/// fingerprint is an input, not an identity: CodeQL's `primaryLocationLineHash` or a
/// `scanFileHash` repeat across results, so results sharing every fingerprint but not
/// the region are distinct findings, numbered in the order met; a rescan that moved
/// their lines keeps their numbers, so their ids. Results equal in all of it are
/// repeats of one finding, counted once.
#[derive(Default)]
struct Identities {
    /// Base identity (tool, rule, artifact, fingerprints) → the regions met, in order.
    groups: HashMap<u64, Vec<u64>>,
}

impl Identities {
    /// The id of a result, or `None` when it repeats one already read.
    fn key(&mut self, base: &[&str], region: &str) -> Option<String> {
        let hash = |parts: &[&str]| parts.iter().fold(KeyHasher::new(), |h, p| h.part(p)).finish64() as u64;
        let (b, r) = (hash(base), hash(&[region]));
        let regions = self.groups.entry(b).or_default();
        if regions.contains(&r) {
            return None;
        }
        regions.push(r);
        Some(match regions.len() {
            1 => format!("{b:016x}"),
            n => format!("{b:016x}-{n}"),
        })
    }
}

/// What reading a file counted besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Results equal to an earlier one in every part of their identity.
    pub repeats: u64,
    /// Results whose `kind` says they are not failures (`pass`, `review`, …).
    pub not_failures: u64,
    /// Results suppressed in the source or by the tool (imported as risk-accepted).
    pub suppressed: u64,
    /// Results with a field cut to [`FIELD_CAP`].
    pub truncated: u64,
}

impl ReadStats {
    /// The run's notes about them.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.repeats > 0 {
            out.push(format!(
                "{} results repeated an earlier one exactly (same tool, rule, file, region and fingerprints) and were counted as one finding",
                self.repeats
            ));
        }
        if self.not_failures > 0 {
            out.push(format!(
                "{} results were not failures (SARIF kind pass, review, open, informational or notApplicable) and are not findings",
                self.not_failures
            ));
        }
        if self.suppressed > 0 {
            out.push(format!("{} results are suppressed in the source or by the tool: imported as risk-accepted", self.suppressed));
        }
        if self.truncated > 0 {
            out.push(format!("{} results had a field over {} bytes, cut with a marker", self.truncated, FIELD_CAP));
        }
        out
    }
}

/// The longest text a result field keeps (longer ones are cut, with a marker saying so):
/// an 80 MB message must not cost a gigabyte on its way through the pipeline.
pub const FIELD_CAP: usize = 1 << 20;

/// Cuts every string longer than [`FIELD_CAP`] in `v`; returns how many were cut.
fn truncate_fields(v: &mut Value) -> u64 {
    match v {
        Value::String(s) if s.len() > FIELD_CAP => {
            let mut at = FIELD_CAP;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            let dropped = s.len() - at;
            s.truncate(at);
            s.push_str(&format!("…[truncated by Tributary: {dropped} more bytes]"));
            1
        }
        Value::Array(a) => a.iter_mut().map(truncate_fields).sum(),
        Value::Object(o) => o.values_mut().map(truncate_fields).sum(),
        _ => 0,
    }
}

/// A SARIF run's rules (by id, and in order: results may point by index) and its tool as
/// records carry it.
struct RunTool {
    by_id: HashMap<String, Value>,
    list: Vec<Value>,
    tool: Value,
    tool_text: String,
}

/// Per run, once its `tool` has been read.
#[derive(Default)]
struct RunTools(Vec<Option<RunTool>>);

impl RunTools {
    fn learn(&mut self, run: usize, tool: &Value) {
        if tool.is_null() || self.get(run).is_some() {
            return;
        }
        if self.0.len() <= run {
            self.0.resize_with(run + 1, || None);
        }
        let list: Vec<Value> = tool.get("driver").and_then(|d| d.get("rules")).and_then(Value::as_array).cloned().unwrap_or_default();
        let by_id = list.iter().filter_map(|r| Some((r.get("id")?.as_str()?.to_string(), r.clone()))).collect();
        let tool = json!({"name": text(tool, &["driver", "name"]), "version": text(tool, &["driver", "semanticVersion"])});
        let tool_text = tool.to_string();
        self.0[run] = Some(RunTool { by_id, list, tool, tool_text });
    }

    fn get(&self, run: usize) -> Option<&RunTool> {
        self.0.get(run).and_then(Option::as_ref)
    }
}

/// A fingerprint worth keeping (logged-out Semgrep writes "requires login").
fn real_fingerprint(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty() && *s != "requires login")
}

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn num(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return String::new(),
        }
    }
    cur.to_string()
}

/// The record a map reads: `{key, result, rule?, tool?, status?, suppression?}` (built by
/// moving, not copying: `json!` would serialize the result again).
fn composite(key: String, result: Value, sarif: Option<(Value, Value)>, extra: &[(&str, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("key".into(), Value::String(key));
    m.insert("result".into(), result);
    if let Some((rule, tool)) = sarif {
        m.insert("rule".into(), rule);
        m.insert("tool".into(), tool);
    }
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    Value::Object(m)
}

/// [`composite`] as JSON text, assembled from the result's own text (no serializer).
fn raw_text(key: &str, result: &str, sarif: Option<(&str, &str)>, extra: &[(&str, Value)]) -> String {
    let key = Value::String(key.to_string()).to_string();
    let mut out = String::with_capacity(result.len() + 64 + sarif.map_or(0, |(r, t)| r.len() + t.len()));
    out.push_str("{\"key\":");
    out.push_str(&key);
    out.push_str(",\"result\":");
    out.push_str(result);
    if let Some((rule, tool)) = sarif {
        out.push_str(",\"rule\":");
        out.push_str(rule);
        out.push_str(",\"tool\":");
        out.push_str(tool);
    }
    for (k, v) in extra {
        out.push_str(&format!(",\"{k}\":{v}"));
    }
    out.push('}');
    out
}

/// A SARIF result's first accepted suppression (a suppression without a status is
/// accepted; `underReview` and `rejected` ones do not suppress).
fn accepted_suppression(result: &Value) -> Option<Value> {
    result
        .get("suppressions")?
        .as_array()?
        .iter()
        .find(|s| s.get("status").and_then(Value::as_str).is_none_or(|st| st == "accepted"))
        .cloned()
}

/// Second pass: streams results as raw records (scope: the repository they belong to).
/// `emit` returning an error stops the read.
pub fn read(
    path: &Path,
    format: FileFormat,
    inspected: &Inspected,
    scope: &str,
    emit: &mut dyn FnMut(RawRecord) -> Result<(), String>,
) -> Result<ReadStats, ImportError> {
    let (reader, _) = open(path)?;
    let mut ids = Identities::default();
    let mut stats = ReadStats::default();
    let mut runs = RunTools::default();
    for (i, tool) in inspected.runs.iter().enumerate() {
        runs.learn(i, tool);
    }
    let mut inspected_all = inspected.complete;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let shape = match format {
        FileFormat::SemgrepJson => SEMGREP_SHAPE,
        FileFormat::Sarif => SARIF_SHAPE,
    };
    let mut stopped: Option<String> = None;
    // The extra pass for a results-first run failed (the file is broken further on).
    let mut pass_failed: Option<ImportError> = None;
    // Rules as JSON text, made once per rule.
    let mut rule_texts: HashMap<String, String> = HashMap::new();
    let outcome = stream::read(&mut de, shape, false, &mut |e| {
        let (index, raw) = match e {
            Event::Value { path, index, value } if path == ["runs", "tool"] => {
                runs.learn(index.first().copied().unwrap_or(0), &value);
                return Ok(());
            }
            Event::Element { index, raw: Some(raw), .. } => (index, raw),
            _ => return Ok(()),
        };
        let mut result: Value = serde_json::from_str(raw.get()).map_err(|e| format!("a result: {e}"))?;
        // A result over the cap is cut and re-serialized; the rest keep their own text.
        let cut = if raw.get().len() > FIELD_CAP { truncate_fields(&mut result) } else { 0 };
        let raw = if cut > 0 {
            stats.truncated += 1;
            tracing::warn!(message = "A result field was over the cap and was cut.", file = %path.display(), cap = FIELD_CAP);
            drop(raw);
            None
        } else {
            Some(raw)
        };
        let result_text = |result: &Value| raw.as_ref().map(|r| r.get().to_string()).unwrap_or_else(|| result.to_string());
        let region = |start: &str, end: &str| format!("{start}-{end}");
        let (key, body, text) = match format {
            FileFormat::SemgrepJson => {
                let fp = real_fingerprint(result.get("extra").and_then(|x| x.get("fingerprint")));
                let lines = real_fingerprint(result.get("extra").and_then(|x| x.get("lines")));
                let evidence = match (fp, lines) {
                    (Some(f), _) => format!("fingerprint={f}"),
                    (None, Some(l)) => format!("code={}", l.trim()),
                    (None, None) => String::new(),
                };
                let at = region(
                    &format!("{}:{}", num(&result, &["start", "line"]), num(&result, &["start", "col"])),
                    &format!("{}:{}", num(&result, &["end", "line"]), num(&result, &["end", "col"])),
                );
                let Some(key) = ids.key(&["Semgrep", text(&result, &["check_id"]), text(&result, &["path"]), &evidence], &at) else {
                    stats.repeats += 1;
                    return Ok(());
                };
                let mut extra: Vec<(&str, Value)> = Vec::new();
                if result.get("extra").and_then(|x| x.get("is_ignored")).and_then(Value::as_bool) == Some(true) {
                    stats.suppressed += 1;
                    extra.push(("status", json!("suppressed")));
                }
                let text = raw_text(&key, &result_text(&result), None, &extra);
                (key.clone(), composite(key, result, None, &extra), text)
            }
            FileFormat::Sarif => {
                // Only failures are findings (`kind` absent means fail).
                if result.get("kind").and_then(Value::as_str).is_some_and(|k| k != "fail") {
                    stats.not_failures += 1;
                    return Ok(());
                }
                let run = index.first().copied().unwrap_or(0);
                if runs.get(run).is_none() && !inspected_all {
                    // This run's results come before its tool (Semgrep writes them so):
                    // one full pass for every run's rules, then on.
                    let all = match inspect(path, format) {
                        Ok(all) => all,
                        Err(e) => {
                            let reason = e.to_string();
                            pass_failed = Some(e);
                            return Err(reason);
                        }
                    };
                    for (i, tool) in all.runs.iter().enumerate() {
                        runs.learn(i, tool);
                    }
                    inspected_all = true;
                }
                let run_tool = runs.get(run);
                let (by_id, list) = run_tool.map(|t| (Some(&t.by_id), Some(&t.list))).unwrap_or((None, None));
                let rule_id = result
                    .get("ruleId")
                    .and_then(Value::as_str)
                    .or_else(|| result.get("rule").and_then(|r| r.get("id")).and_then(Value::as_str));
                let rule_index =
                    result.get("ruleIndex").or_else(|| result.get("rule").and_then(|r| r.get("index"))).and_then(Value::as_u64);
                let rule = rule_id
                    .and_then(|id| by_id.and_then(|m| m.get(id)))
                    .or_else(|| rule_index.and_then(|i| list.and_then(|l| l.get(i as usize))))
                    .cloned()
                    .unwrap_or(Value::Null);
                let rule_id = rule_id.or_else(|| rule.get("id").and_then(Value::as_str)).unwrap_or("").to_string();
                // Every fingerprint, by name: all of them are part of the identity.
                let mut prints: Vec<String> = ["fingerprints", "partialFingerprints"]
                    .iter()
                    .filter_map(|k| result.get(*k).and_then(Value::as_object))
                    .flat_map(|obj| obj.iter().filter_map(|(n, v)| real_fingerprint(Some(v)).map(|v| format!("{n}={v}"))))
                    .collect();
                prints.sort();
                let loc = result.get("locations").and_then(|l| l.get(0)).and_then(|l| l.get("physicalLocation")).unwrap_or(&Value::Null);
                let snippet = text(loc, &["region", "snippet", "text"]).trim();
                if prints.is_empty() && !snippet.is_empty() {
                    prints.push(format!("code={snippet}"));
                }
                let at = region(
                    &format!("{}:{}", num(loc, &["region", "startLine"]), num(loc, &["region", "startColumn"])),
                    &format!("{}:{}", num(loc, &["region", "endLine"]), num(loc, &["region", "endColumn"])),
                );
                let tool_name = run_tool.map(|t| text(&t.tool, &["name"]).to_string()).unwrap_or_default();
                let mut base: Vec<&str> = vec![&tool_name, &rule_id, text(loc, &["artifactLocation", "uri"])];
                base.extend(prints.iter().map(String::as_str));
                let Some(key) = ids.key(&base, &at) else {
                    stats.repeats += 1;
                    return Ok(());
                };
                let mut extra: Vec<(&str, Value)> = Vec::new();
                if let Some(sup) = accepted_suppression(&result) {
                    stats.suppressed += 1;
                    extra.push(("status", json!("suppressed")));
                    extra.push(("suppression", sup));
                }
                let (tool, tool_text) = run_tool.map(|t| (t.tool.clone(), t.tool_text.as_str())).unwrap_or((Value::Null, "null"));
                let rule_text = rule_texts.entry(rule_id.clone()).or_insert_with(|| rule.to_string());
                let text = raw_text(&key, &result_text(&result), Some((rule_text, tool_text)), &extra);
                (key.clone(), composite(key, result, Some((rule, tool)), &extra), text)
            }
        };
        emit(RawRecord { stream: STREAM, key, body, tombstone: false, scope: Some(scope.to_string()), raw_json: Some(text) })
            .inspect_err(|reason| stopped = Some(reason.clone()))
    });
    if let Some(e) = pass_failed {
        return Err(e);
    }
    match (outcome, stopped) {
        (Ok(()), _) => Ok(stats),
        // The consumer stopped the read: its reason, not a syntax error.
        (Err(_), Some(reason)) => Err(ImportError::Io { file: path.display().to_string(), reason }),
        (Err(e), None) => Err(syntax(path, format, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, level: &str) -> String {
        json!({"id": id, "name": id, "defaultConfiguration": {"level": level}}).to_string()
    }

    fn result(rule: &str, n: u32) -> String {
        json!({"ruleId": rule, "message": {"text": format!("m{n}")},
               "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.py"}, "region": {"startLine": n}}}]})
        .to_string()
    }

    /// A run as text, its keys in the given order (`json!` would sort them).
    fn run(tool_first: bool, name: &str, rules: &[String], results: &[String]) -> String {
        let tool = format!(r#""tool": {{"driver": {{"name": "{name}", "semanticVersion": "1.0", "rules": [{}]}}}}"#, rules.join(","));
        let results = format!(r#""results": [{}]"#, results.join(","));
        if tool_first { format!("{{{tool}, {results}}}") } else { format!("{{{results}, {tool}}}") }
    }

    fn sarif(runs: &[String]) -> String {
        format!(r#"{{"version": "2.1.0", "runs": [{}]}}"#, runs.join(","))
    }

    /// Reads `doc` as SARIF the way an import does: peek, then stream.
    fn records(doc: &str) -> (Inspected, Vec<Value>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sarif");
        std::fs::write(&path, doc).unwrap();
        let peeked = peek(&path, FileFormat::Sarif).unwrap();
        let mut out = Vec::new();
        read(&path, FileFormat::Sarif, &peeked, "github.com/acme/x", &mut |r| {
            out.push(r.body);
            Ok(())
        })
        .unwrap();
        (peeked, out)
    }

    #[test]
    fn tool_first_runs_are_read_once_and_results_first_runs_still_get_their_rules() {
        // Run 0 names its tool first (the peek stops there); run 1 puts results first.
        let doc = sarif(&[
            run(true, "First", &[rule("r.a", "error")], &[result("r.a", 1), result("r.a", 2)]),
            run(false, "Second", &[rule("r.b", "note")], &[result("r.b", 3)]),
        ]);
        let (peeked, recs) = records(&doc);
        assert!(!peeked.complete, "the peek stopped at the first run's tool");
        assert_eq!((peeked.tool.as_str(), peeked.tool_version.as_deref(), peeked.results), ("First", Some("1.0"), 0));
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0]["rule"]["defaultConfiguration"]["level"], "error");
        assert_eq!(recs[0]["tool"]["name"], "First");
        assert_eq!(recs[2]["rule"]["defaultConfiguration"]["level"], "note", "found by the extra pass");
        assert_eq!(recs[2]["tool"]["name"], "Second");
    }

    #[test]
    fn a_results_first_file_is_peeked_through_its_first_run() {
        let doc = sarif(&[run(false, "Semgrep OSS", &[rule("r.a", "warning")], &[result("r.a", 1)])]);
        let (peeked, recs) = records(&doc);
        assert_eq!((peeked.tool.as_str(), peeked.results), ("Semgrep OSS", 1));
        assert_eq!(recs[0]["rule"]["defaultConfiguration"]["level"], "warning");
    }

    #[test]
    fn broken_files_past_the_peek_fail_the_read_with_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.sarif");
        let full = sarif(&[run(true, "T", &[], &[result("x", 1), result("x", 2)])]);
        std::fs::write(&path, &full[..full.len() - 20]).unwrap();
        let peeked = peek(&path, FileFormat::Sarif).expect("the head is fine");
        let err = read(&path, FileFormat::Sarif, &peeked, "s", &mut |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("cut.sarif: not valid SARIF at line 1"), "{err}");
        assert!(inspect(&path, FileFormat::Sarif).is_err(), "a full pass refuses it up front");
        // A results-first run makes the reader look ahead; the cut is reported as such.
        let full = sarif(&[run(true, "T", &[], &[result("x", 1)]), run(false, "U", &[], &[result("y", 2), result("y", 3)])]);
        std::fs::write(&path, &full[..full.len() - 20]).unwrap();
        let peeked = peek(&path, FileFormat::Sarif).expect("the head is fine");
        let mut n = 0;
        let err = read(&path, FileFormat::Sarif, &peeked, "s", &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cut.sarif: not valid SARIF at line 1"), "{err}");
        assert_eq!(err.matches("cut.sarif").count(), 1, "said once: {err}");
        assert_eq!(n, 1, "the first run's result was read before the look-ahead");
    }

    /// Peek then read, as an import does; the result or a worded error, never a panic.
    fn import_of(bytes: &[u8], format: FileFormat) -> Result<usize, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("any");
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        let peeked = peek(&path, format).map_err(|e| e.to_string())?;
        let mut n = 0;
        read(&path, format, &peeked, "s", &mut |_| {
            n += 1;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(n)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn any_file_imports_or_is_refused_in_words(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            results in proptest::collection::vec(crate::arbitrary::json(), 0..5),
            tool in crate::arbitrary::json(),
            doc in crate::arbitrary::json(),
        ) {
            for format in [FileFormat::Sarif, FileFormat::SemgrepJson] {
                if let Err(e) = import_of(&raw, format) {
                    proptest::prop_assert!(!e.is_empty());
                }
                let _ = import_of(doc.to_string().as_bytes(), format);
            }
            // Well-formed envelopes around arbitrary results: every shape is handled.
            let sarif = json!({"version": "2.1.0", "runs": [{"tool": tool, "results": results.clone()}]});
            let _ = import_of(sarif.to_string().as_bytes(), FileFormat::Sarif);
            let semgrep = json!({"version": "1.0", "results": results});
            let _ = import_of(semgrep.to_string().as_bytes(), FileFormat::SemgrepJson);
        }
    }
}
