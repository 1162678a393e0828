//! File imports: `semgrep --json` output and SARIF 2.1.0 from any tool, read as streams
//! of raw records that go through the same transform maps and write path as a sync.
//!
//! A file is read twice. The first pass checks the whole document (syntax, SARIF
//! version, shape) and collects the small parts (tool, rules) without keeping results;
//! the second streams results one at a time. A broken file is refused before anything
//! is written, with its line and column.
//!
//! Identity: a finding keeps its id across scans of the same repository. Semgrep and
//! SARIF fingerprints are used when real (logged-out Semgrep writes "requires login");
//! otherwise the id hashes the rule, the file, the matched code (or its position) and
//! which occurrence of that match in the file it is.

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
};

pub static SARIF: ConnectorKind = ConnectorKind {
    name: "sarif",
    product: "SARIF",
    streams: &[StreamSpec { name: STREAM, completeness: Completeness::PerFinding, default_map: sarif_map }],
    validate: no_settings,
    build: no_connection,
};

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

/// What the first pass learned.
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    /// The tool that wrote the file (SARIF `tool.driver.name` of the first run).
    pub tool: String,
    pub tool_version: Option<String>,
    pub results: u64,
    pub bytes: u64,
    /// SARIF: per run, the tool object (driver and rules).
    runs: Vec<Value>,
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

/// First pass: checks the whole file and collects tool and rules.
pub fn inspect(path: &Path, format: FileFormat) -> Result<Inspected, ImportError> {
    let file = path.display().to_string();
    let (reader, bytes) = open(path)?;
    let mut out = Inspected { bytes, ..Inspected::default() };
    let mut version: Option<Value> = None;
    let mut saw_results = false;
    let shape = match format {
        FileFormat::SemgrepJson => SEMGREP_SHAPE,
        FileFormat::Sarif => SARIF_SHAPE,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    stream::read(&mut de, shape, true, &mut |e| {
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
        Ok(())
    })
    .map_err(|e| syntax(path, format, e))?;
    de.end().map_err(|e| syntax(path, format, e))?;
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
            if out.runs.is_empty() && !saw_results {
                return Err(ImportError::Unsupported { file, reason: "this SARIF log has no runs".into() });
            }
            let driver = out.runs.first().and_then(|t| t.get("driver"));
            out.tool = driver.and_then(|d| d.get("name")).and_then(Value::as_str).unwrap_or("SARIF").trim().to_string();
            out.tool_version =
                driver.and_then(|d| d.get("semanticVersion").or_else(|| d.get("version"))).and_then(Value::as_str).map(str::to_string);
        }
    }
    Ok(out)
}

/// Counts identities per file, so repeated identical matches get distinct ids.
#[derive(Default)]
struct Occurrences(HashMap<i64, u32>);

impl Occurrences {
    fn key(&mut self, parts: &[&str]) -> String {
        let mut h = KeyHasher::new();
        for p in parts {
            h = h.part(p);
        }
        let base = h.finish64();
        let n = self.0.entry(base).or_insert(0);
        *n += 1;
        format!("{:016x}-{}", base as u64, n)
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

/// The record a map reads: `{key, result, rule?, tool?}` (built by moving, not copying:
/// `json!` would serialize the result again).
fn composite(key: String, result: Value, sarif: Option<(Value, Value)>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("key".into(), Value::String(key));
    m.insert("result".into(), result);
    if let Some((rule, tool)) = sarif {
        m.insert("rule".into(), rule);
        m.insert("tool".into(), tool);
    }
    Value::Object(m)
}

/// [`composite`] as JSON text, assembled from the result's own text (no serializer).
fn raw_text(key: &str, result: &str, sarif: Option<(&str, &str)>) -> String {
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
    out.push('}');
    out
}

/// Second pass: streams results as raw records (scope: the repository they belong to).
/// `emit` returning an error stops the read.
pub fn read(
    path: &Path,
    format: FileFormat,
    inspected: &Inspected,
    scope: &str,
    emit: &mut dyn FnMut(RawRecord) -> Result<(), String>,
) -> Result<(), ImportError> {
    let (reader, _) = open(path)?;
    let mut occurrences = Occurrences::default();
    // SARIF rules per run: by id, and in order (results may point by index).
    let rules: Vec<(HashMap<String, Value>, Vec<Value>)> = inspected
        .runs
        .iter()
        .map(|tool| {
            let list: Vec<Value> = tool.get("driver").and_then(|d| d.get("rules")).and_then(Value::as_array).cloned().unwrap_or_default();
            let by_id = list.iter().filter_map(|r| Some((r.get("id")?.as_str()?.to_string(), r.clone()))).collect();
            (by_id, list)
        })
        .collect();
    // Per run: the tool as records carry it.
    let tools: Vec<Value> = inspected
        .runs
        .iter()
        .map(|t| json!({"name": text(t, &["driver", "name"]), "version": text(t, &["driver", "semanticVersion"])}))
        .collect();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let shape = match format {
        FileFormat::SemgrepJson => SEMGREP_SHAPE,
        FileFormat::Sarif => SARIF_SHAPE,
    };
    let mut stopped: Option<String> = None;
    // Rules as JSON text, made once per rule.
    let mut rule_texts: HashMap<String, String> = HashMap::new();
    let outcome = stream::read(&mut de, shape, false, &mut |e| {
        let Event::Element { index, raw: Some(raw), .. } = e else { return Ok(()) };
        let result: Value = serde_json::from_str(raw.get()).map_err(|e| format!("a result: {e}"))?;
        let (key, body, text) = match format {
            FileFormat::SemgrepJson => {
                let key = match real_fingerprint(result.get("extra").and_then(|x| x.get("fingerprint"))) {
                    Some(fp) => format!("fp:{fp}"),
                    None => occurrences.key(&[
                        text(&result, &["check_id"]),
                        text(&result, &["path"]),
                        &num(&result, &["start", "line"]),
                        &num(&result, &["start", "col"]),
                        &num(&result, &["end", "line"]),
                        &num(&result, &["end", "col"]),
                    ]),
                };
                let text = raw_text(&key, raw.get(), None);
                (key.clone(), composite(key, result, None), text)
            }
            FileFormat::Sarif => {
                let run = index.first().copied().unwrap_or(0);
                let (by_id, list) = rules.get(run).map(|(a, b)| (Some(a), Some(b))).unwrap_or((None, None));
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
                let fingerprint = ["fingerprints", "partialFingerprints"].iter().find_map(|k| {
                    let obj = result.get(*k)?.as_object()?;
                    let mut names: Vec<&String> = obj.keys().collect();
                    names.sort();
                    names.into_iter().find_map(|n| real_fingerprint(obj.get(n)).map(|v| format!("{n}:{v}")))
                });
                let loc =
                    result.get("locations").and_then(|l| l.get(0)).and_then(|l| l.get("physicalLocation")).cloned().unwrap_or(Value::Null);
                let key = match fingerprint {
                    Some(fp) => format!("fp:{fp}"),
                    None => {
                        let snippet = text(&loc, &["region", "snippet", "text"]);
                        let position = if snippet.trim().is_empty() {
                            format!(
                                "{}:{}-{}:{}",
                                num(&loc, &["region", "startLine"]),
                                num(&loc, &["region", "startColumn"]),
                                num(&loc, &["region", "endLine"]),
                                num(&loc, &["region", "endColumn"])
                            )
                        } else {
                            snippet.trim().to_string()
                        };
                        occurrences.key(&[&rule_id, text(&loc, &["artifactLocation", "uri"]), &position])
                    }
                };
                let tool = tools.get(run).cloned().unwrap_or(Value::Null);
                let rule_text = rule_texts.entry(rule_id.clone()).or_insert_with(|| rule.to_string());
                let text = raw_text(&key, raw.get(), Some((rule_text, &tool.to_string())));
                (key.clone(), composite(key, result, Some((rule, tool))), text)
            }
        };
        emit(RawRecord { stream: STREAM, key, body, tombstone: false, scope: Some(scope.to_string()), raw_json: Some(text) })
            .inspect_err(|reason| stopped = Some(reason.clone()))
    });
    match (outcome, stopped) {
        (Ok(()), _) => Ok(()),
        // The consumer stopped the read: its reason, not a syntax error.
        (Err(_), Some(reason)) => Err(ImportError::Io { file: path.display().to_string(), reason }),
        (Err(e), None) => Err(syntax(path, format, e)),
    }
}
