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
                let fingerprint = ["fingerprints", "partialFingerprints"].iter().find_map(|k| {
                    let obj = result.get(*k)?.as_object()?;
                    let mut names: Vec<&String> = obj.keys().collect();
                    names.sort();
                    names.into_iter().find_map(|n| real_fingerprint(obj.get(n)).map(|v| format!("{n}:{v}")))
                });
                let loc = result.get("locations").and_then(|l| l.get(0)).and_then(|l| l.get("physicalLocation")).unwrap_or(&Value::Null);
                let key = match fingerprint {
                    Some(fp) => format!("fp:{fp}"),
                    None => {
                        let snippet = text(loc, &["region", "snippet", "text"]);
                        let position = if snippet.trim().is_empty() {
                            format!(
                                "{}:{}-{}:{}",
                                num(loc, &["region", "startLine"]),
                                num(loc, &["region", "startColumn"]),
                                num(loc, &["region", "endLine"]),
                                num(loc, &["region", "endColumn"])
                            )
                        } else {
                            snippet.trim().to_string()
                        };
                        occurrences.key(&[&rule_id, text(loc, &["artifactLocation", "uri"]), &position])
                    }
                };
                let (tool, tool_text) = run_tool.map(|t| (t.tool.clone(), t.tool_text.as_str())).unwrap_or((Value::Null, "null"));
                let rule_text = rule_texts.entry(rule_id.clone()).or_insert_with(|| rule.to_string());
                let text = raw_text(&key, raw.get(), Some((rule_text, tool_text)));
                (key.clone(), composite(key, result, Some((rule, tool))), text)
            }
        };
        emit(RawRecord { stream: STREAM, key, body, tombstone: false, scope: Some(scope.to_string()), raw_json: Some(text) })
            .inspect_err(|reason| stopped = Some(reason.clone()))
    });
    if let Some(e) = pass_failed {
        return Err(e);
    }
    match (outcome, stopped) {
        (Ok(()), _) => Ok(()),
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
}
