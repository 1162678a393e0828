//! Exports of findings: SARIF 2.1.0 (code weaknesses), OCSF 1.8.0 as JSON lines
//! (Vulnerability Finding 2002 for vulnerabilities, Application Security Posture Finding
//! 2007 for code weaknesses), and CSV with spreadsheet formula injection guarded.
//!
//! An [`ExportWriter`] takes one [`ExportRecord`] at a time and writes it to any
//! `io::Write`: the caller streams pages from the store, so memory stays constant whatever
//! the size. SARIF needs no second pass either: rules are not listed up front (they are
//! optional in SARIF 2.1.0); each result names its rule and carries the rule's details in
//! its properties. The schemas the output is validated against are committed under
//! `crates/core/tests/schemas/` (see its README for where each came from).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::Severity;
use crate::time::{Millis, to_rfc3339};

/// The OCSF version the output declares (`metadata.version`) and is validated against.
pub const OCSF_VERSION: &str = "1.8.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Sarif,
    Ocsf,
    Csv,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Sarif, ExportFormat::Ocsf, ExportFormat::Csv];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Sarif => "sarif",
            ExportFormat::Ocsf => "ocsf",
            ExportFormat::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Sarif => "application/sarif+json",
            ExportFormat::Ocsf => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension of a download.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Sarif => "sarif",
            ExportFormat::Ocsf => "ocsf.jsonl",
            ExportFormat::Csv => "csv",
        }
    }

    /// Whether a finding of this kind has a place in the format (SARIF is for code).
    pub fn takes(self, kind: &str) -> bool {
        self != ExportFormat::Sarif || kind == "code_weakness"
    }
}

/// One finding as exports see it (read from the store by `store::query::export_page`).
#[derive(Debug, Clone, Default)]
pub struct ExportRecord {
    pub id: i64,
    pub issue_id: Option<i64>,
    pub product: String,
    /// `vulnerability` or `code_weakness`.
    pub kind: String,
    pub severity: Option<Severity>,
    /// The vendor's status: open, fixed, risk_accepted, false_positive.
    pub status: String,
    /// The user's decision, when one is in force.
    pub triage: Option<String>,
    pub assignee: Option<String>,
    pub title: String,
    pub cve: Option<String>,
    pub cvss_score: Option<f64>,
    pub cvss_version: Option<String>,
    pub external_id: String,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub closed_at: Option<Millis>,
    /// The normalized attributes an export reads ([`export_attributes`]).
    pub attributes: Value,
    pub asset_name: String,
    pub asset_kind: String,
    pub repository: Option<String>,
}

impl ExportRecord {
    fn attr(&self, pointer: &str) -> Option<&Value> {
        self.attributes.pointer(pointer).filter(|v| !v.is_null())
    }

    fn text(&self, pointer: &str) -> Option<&str> {
        self.attr(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    fn int(&self, pointer: &str) -> Option<i64> {
        self.attr(pointer).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
    }

    fn file(&self) -> Option<&str> {
        self.text("/location/filePath")
    }

    fn rule(&self) -> Option<&str> {
        self.text("/findingType/codeWeakness/ruleId")
    }

    /// The first CWE named, split into its id (`CWE-89`) and caption.
    fn cwe(&self) -> Option<(String, Option<String>)> {
        let first = ["/findingType/codeWeakness/cwe", "/findingType/vulnerability/cwe"].iter().find_map(|p| self.attr(p)).and_then(
            |v| match v {
                Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
                Value::String(s) => Some(s.clone()),
                _ => None,
            },
        )?;
        let (id, caption) = match first.split_once(':') {
            Some((id, rest)) => (id.trim().to_string(), Some(rest.trim().to_string()).filter(|c| !c.is_empty())),
            None => (first.trim().to_string(), None),
        };
        let id = if id.to_ascii_uppercase().starts_with("CWE-") { id.to_ascii_uppercase() } else { format!("CWE-{id}") };
        Some((id, caption))
    }

    fn fixed_versions(&self) -> Vec<String> {
        match self.attr("/findingType/vulnerability/fixedVersions") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// The package's name and version: from the attributes, else from `name@version`.
    fn package(&self) -> Option<(String, String)> {
        let name = self.text("/findingType/vulnerability/affectedProduct");
        let version = self.text("/findingType/vulnerability/vulnerableVersion");
        match (name, version) {
            (Some(n), Some(v)) => Some((n.to_string(), v.to_string())),
            _ if self.asset_kind == "package" => {
                let (n, v) = self.asset_name.rsplit_once('@')?;
                Some((name.unwrap_or(n).to_string(), version.unwrap_or(v).to_string()))
            }
            _ => None,
        }
    }

    fn severity_name(&self) -> &'static str {
        self.severity.map(|s| s.as_str()).unwrap_or("unknown")
    }

    fn vendor(&self) -> &str {
        if self.product.starts_with("Semgrep") {
            "Semgrep"
        } else if self.product.starts_with("Cortex") {
            "Palo Alto Networks"
        } else {
            &self.product
        }
    }
}

/// Where a document goes: the output itself, or a CSV writer over it.
enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// The attributes an export reads, and only those: parsing a finding's whole attribute
/// document into a `Value` tree cost most of an export's time (bench/RESULTS.md, web UI
/// and exports). Leaves stay `Value`s, so any type a map produced is taken as it is.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct AttrsIn {
    #[serde(rename = "findingType")]
    finding_type: Option<FindingTypeIn>,
    location: Option<LocationIn>,
    url: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct FindingTypeIn {
    vulnerability: Option<VulnerabilityIn>,
    #[serde(rename = "codeWeakness")]
    code_weakness: Option<CodeWeaknessIn>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct VulnerabilityIn {
    cvss_vector: Option<Value>,
    epss_score: Option<Value>,
    epss_percentile: Option<Value>,
    vulnerable_version: Option<Value>,
    affected_product: Option<Value>,
    fixed_versions: Option<Value>,
    reachability: Option<Value>,
    cwe: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CodeWeaknessIn {
    rule_id: Option<Value>,
    rule_name: Option<Value>,
    message: Option<Value>,
    cwe: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LocationIn {
    file_path: Option<Value>,
    start_line: Option<Value>,
    end_line: Option<Value>,
    start_column: Option<Value>,
    end_column: Option<Value>,
    snippet: Option<Value>,
}

fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        m.insert(key.to_string(), v);
    }
}

/// A finding's stored attributes (JSON text) reduced to what exports read, in the same
/// shape (`findingType.vulnerability.cvssVector`, `location.startLine`, …). Text that is
/// not a JSON object gives an empty object.
pub fn export_attributes(text: &str) -> Value {
    let a: AttrsIn = serde_json::from_str(text).unwrap_or_default();
    let mut root = Map::new();
    if let Some(ft) = a.finding_type {
        let mut t = Map::new();
        if let Some(v) = ft.vulnerability {
            let mut m = Map::new();
            put(&mut m, "cvssVector", v.cvss_vector);
            put(&mut m, "epssScore", v.epss_score);
            put(&mut m, "epssPercentile", v.epss_percentile);
            put(&mut m, "vulnerableVersion", v.vulnerable_version);
            put(&mut m, "affectedProduct", v.affected_product);
            put(&mut m, "fixedVersions", v.fixed_versions);
            put(&mut m, "reachability", v.reachability);
            put(&mut m, "cwe", v.cwe);
            t.insert("vulnerability".into(), Value::Object(m));
        }
        if let Some(c) = ft.code_weakness {
            let mut m = Map::new();
            put(&mut m, "ruleId", c.rule_id);
            put(&mut m, "ruleName", c.rule_name);
            put(&mut m, "message", c.message);
            put(&mut m, "cwe", c.cwe);
            t.insert("codeWeakness".into(), Value::Object(m));
        }
        root.insert("findingType".into(), Value::Object(t));
    }
    if let Some(l) = a.location {
        let mut m = Map::new();
        put(&mut m, "filePath", l.file_path);
        put(&mut m, "startLine", l.start_line);
        put(&mut m, "endLine", l.end_line);
        put(&mut m, "startColumn", l.start_column);
        put(&mut m, "endColumn", l.end_column);
        put(&mut m, "snippet", l.snippet);
        root.insert("location".into(), Value::Object(m));
    }
    put(&mut root, "url", a.url);
    Value::Object(root)
}

/// Streams records into one document of a format.
pub struct ExportWriter<W: Write> {
    format: ExportFormat,
    sink: Sink<W>,
    written: u64,
    skipped: u64,
    buf: Vec<u8>,
}

/// CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "issue_id",
    "product",
    "kind",
    "severity",
    "status",
    "triage",
    "assignee",
    "title",
    "cve",
    "cvss_score",
    "asset",
    "asset_kind",
    "repository",
    "file",
    "line",
    "rule",
    "cwe",
    "first_seen",
    "last_seen",
    "closed_at",
    "external_id",
];

/// A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice
/// for CSV injection): `=`, `+`, `-`, `@`, tab and carriage return.
pub fn guard_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{s}")),
        _ => std::borrow::Cow::Borrowed(s),
    }
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl<W: Write> ExportWriter<W> {
    /// Starts a document (writes the SARIF head or the CSV header).
    pub fn new(format: ExportFormat, mut out: W) -> io::Result<ExportWriter<W>> {
        let sink = match format {
            ExportFormat::Sarif => {
                let driver = json!({
                    "name": "Tributary",
                    "informationUri": "https://github.com/tributary-security/tributary",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                });
                write!(
                    out,
                    r#"{{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{{"tool":{{"driver":{driver}}},"columnKind":"utf16CodeUnits","results":["#
                )?;
                Sink::Plain(out)
            }
            ExportFormat::Ocsf => Sink::Plain(out),
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new().from_writer(out);
                w.write_record(CSV_COLUMNS).map_err(io_err)?;
                Sink::Csv(Box::new(w))
            }
        };
        Ok(ExportWriter { format, sink, written: 0, skipped: 0, buf: Vec::with_capacity(4096) })
    }

    /// Writes one record; `false` when the format has no place for it (a vulnerability
    /// in SARIF), counted as skipped.
    pub fn write(&mut self, r: &ExportRecord) -> io::Result<bool> {
        if !self.format.takes(&r.kind) {
            self.skipped += 1;
            return Ok(false);
        }
        match &mut self.sink {
            Sink::Plain(out) => {
                self.buf.clear();
                if self.format == ExportFormat::Sarif {
                    if self.written > 0 {
                        self.buf.push(b',');
                    }
                    serde_json::to_writer(&mut self.buf, &sarif_result(r)).map_err(io_err)?;
                } else {
                    serde_json::to_writer(&mut self.buf, &ocsf(r)).map_err(io_err)?;
                    self.buf.push(b'\n');
                }
                out.write_all(&self.buf)?;
            }
            Sink::Csv(w) => {
                w.write_record(csv_row(r).iter().map(|c| guard_cell(c).into_owned())).map_err(io_err)?;
            }
        }
        self.written += 1;
        Ok(true)
    }

    /// Records written and skipped so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.written, self.skipped)
    }

    /// Ends the document and returns the output.
    pub fn finish(self) -> io::Result<W> {
        match self.sink {
            Sink::Plain(mut out) => {
                if self.format == ExportFormat::Sarif {
                    out.write_all(b"]}]}\n")?;
                }
                out.flush()?;
                Ok(out)
            }
            Sink::Csv(w) => {
                let mut out = w.into_inner().map_err(|e| io_err(e.error()))?;
                out.flush()?;
                Ok(out)
            }
        }
    }
}

fn time_text(ms: Millis) -> String {
    to_rfc3339(ms)
}

fn csv_row(r: &ExportRecord) -> Vec<String> {
    let opt = |v: Option<&str>| v.unwrap_or("").to_string();
    vec![
        r.id.to_string(),
        r.issue_id.map(|i| i.to_string()).unwrap_or_default(),
        r.product.clone(),
        r.kind.clone(),
        r.severity_name().to_string(),
        r.status.clone(),
        opt(r.triage.as_deref()),
        opt(r.assignee.as_deref()),
        r.title.clone(),
        opt(r.cve.as_deref()),
        r.cvss_score.map(|s| s.to_string()).unwrap_or_default(),
        r.asset_name.clone(),
        r.asset_kind.clone(),
        opt(r.repository.as_deref()),
        opt(r.file()),
        r.int("/location/startLine").map(|l| l.to_string()).unwrap_or_default(),
        opt(r.rule()),
        r.cwe().map(|(id, _)| id).unwrap_or_default(),
        time_text(r.first_seen),
        time_text(r.last_seen),
        r.closed_at.map(time_text).unwrap_or_default(),
        r.external_id.clone(),
    ]
}

/// SARIF `level` and the `security-severity` GitHub code scanning reads.
fn sarif_level(s: Option<Severity>) -> (&'static str, &'static str) {
    match s {
        Some(Severity::Critical) => ("error", "9.5"),
        Some(Severity::High) => ("error", "8.0"),
        Some(Severity::Medium) => ("warning", "5.5"),
        Some(Severity::Low) => ("note", "3.0"),
        Some(Severity::Info) | None => ("note", "0.0"),
    }
}

fn sarif_result(r: &ExportRecord) -> Value {
    let (level, security_severity) = sarif_level(r.severity);
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(r.rule().unwrap_or("tributary.unknown-rule")));
    result.insert("level".into(), json!(level));
    let message = r.text("/findingType/codeWeakness/message").unwrap_or(&r.title);
    result.insert("message".into(), json!({"text": message}));
    if let Some(path) = r.file() {
        let mut location = json!({"artifactLocation": {"uri": path}});
        if let Some(start) = r.int("/location/startLine").filter(|l| *l >= 1) {
            let mut region = json!({"startLine": start});
            if let Some(end) = r.int("/location/endLine").filter(|l| *l >= start) {
                region["endLine"] = json!(end);
            }
            if let Some(c) = r.int("/location/startColumn").filter(|c| *c >= 1) {
                region["startColumn"] = json!(c);
            }
            if let Some(c) = r.int("/location/endColumn").filter(|c| *c >= 1) {
                region["endColumn"] = json!(c);
            }
            if let Some(snippet) = r.text("/location/snippet") {
                region["snippet"] = json!({"text": snippet});
            }
            location["region"] = region;
        }
        result.insert("locations".into(), json!([{"physicalLocation": location}]));
    }
    // Our id as a fingerprint: two findings at the same place in different repositories
    // stay two results when the file is imported again.
    result.insert("partialFingerprints".into(), json!({"tributaryFindingId/v1": r.id.to_string()}));
    let mut props = Map::new();
    props.insert("security-severity".into(), json!(security_severity));
    props.insert("tributary.findingId".into(), json!(r.id));
    props.insert("tributary.product".into(), json!(r.product));
    props.insert("tributary.severity".into(), json!(r.severity_name()));
    props.insert("tributary.status".into(), json!(r.status));
    if let Some(repo) = &r.repository {
        props.insert("tributary.repository".into(), json!(repo));
    }
    if let Some(t) = &r.triage {
        props.insert("tributary.triage".into(), json!(t));
    }
    if let Some((cwe, _)) = r.cwe() {
        props.insert("tags".into(), json!(["security", cwe]));
    }
    result.insert("properties".into(), Value::Object(props));
    Value::Object(result)
}

/// OCSF `status_id`/`status` and `activity_id` from the vendor's status and the triage.
fn ocsf_status(r: &ExportRecord) -> (i64, &'static str, i64) {
    let closed = r.status == "fixed" || r.triage.as_deref() == Some("fixed");
    if closed {
        return (4, "Resolved", 3);
    }
    match (r.status.as_str(), r.triage.as_deref()) {
        ("risk_accepted" | "false_positive", _) | (_, Some("risk_accepted" | "false_positive")) => (3, "Suppressed", 2),
        (_, Some("in_progress")) => (2, "In Progress", 2),
        _ => (1, "New", 1),
    }
}

fn severity_caption(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Critical) => "Critical",
        Some(Severity::High) => "High",
        Some(Severity::Medium) => "Medium",
        Some(Severity::Low) => "Low",
        Some(Severity::Info) => "Informational",
        None => "Unknown",
    }
}

/// The CVSS version of a vector (`CVSS:3.1/…` → 3.1, a bare v2 vector → 2.0).
fn cvss_version(vector: &str) -> Option<String> {
    match vector.strip_prefix("CVSS:") {
        Some(rest) => rest.split('/').next().map(str::to_string),
        None if vector.contains("Au:") => Some("2.0".into()),
        None => None,
    }
}

// OCSF events as typed structs that borrow from the record: building a `Value` tree per
// finding cost three times the rest of the export (bench/RESULTS.md, exports).
fn none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

#[derive(Serialize)]
struct OcsfEvent<'a> {
    activity_id: i64,
    category_uid: i64,
    class_uid: i64,
    type_uid: i64,
    severity_id: i64,
    severity: &'static str,
    status_id: i64,
    status: &'static str,
    time: i64,
    metadata: OcsfMetadata,
    finding_info: FindingInfo<'a>,
    vulnerabilities: [OcsfVulnerability<'a>; 1],
    resources: Vec<Resource<'a>>,
    #[serde(skip_serializing_if = "none")]
    end_time: Option<i64>,
    #[serde(skip_serializing_if = "none")]
    application: Option<Named<'a>>,
    unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
struct OcsfMetadata {
    version: &'static str,
    product: Product<'static>,
}

#[derive(Serialize)]
struct Product<'a> {
    name: &'a str,
    vendor_name: &'a str,
    #[serde(skip_serializing_if = "none")]
    version: Option<&'static str>,
}

#[derive(Serialize)]
struct FindingInfo<'a> {
    uid: String,
    uid_alt: &'a str,
    title: &'a str,
    types: [&'static str; 1],
    first_seen_time: i64,
    last_seen_time: i64,
    product: Product<'a>,
    #[serde(skip_serializing_if = "none")]
    src_url: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct OcsfVulnerability<'a> {
    title: &'a str,
    severity: &'static str,
    vendor_name: &'a str,
    #[serde(skip_serializing_if = "none")]
    cve: Option<Cve<'a>>,
    #[serde(skip_serializing_if = "none")]
    cwe: Option<Cwe>,
    #[serde(skip_serializing_if = "none")]
    advisory: Option<Advisory<'a>>,
    #[serde(skip_serializing_if = "none")]
    affected_code: Option<[AffectedCode<'a>; 1]>,
    #[serde(skip_serializing_if = "none")]
    affected_packages: Option<[AffectedPackage; 1]>,
    #[serde(skip_serializing_if = "none")]
    is_fix_available: Option<bool>,
}

#[derive(Serialize)]
struct Cve<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "none")]
    cvss: Option<[Cvss<'a>; 1]>,
    #[serde(skip_serializing_if = "none")]
    epss: Option<Epss>,
    #[serde(skip_serializing_if = "none")]
    related_cwes: Option<[Cwe; 1]>,
}

#[derive(Serialize)]
struct Cvss<'a> {
    base_score: f64,
    version: String,
    depth: &'static str,
    #[serde(skip_serializing_if = "none")]
    vector_string: Option<&'a str>,
}

#[derive(Serialize)]
struct Epss {
    /// OCSF types the score as a string.
    score: String,
    #[serde(skip_serializing_if = "none")]
    percentile: Option<f64>,
}

#[derive(Serialize)]
struct Cwe {
    uid: String,
    #[serde(skip_serializing_if = "none")]
    caption: Option<String>,
}

#[derive(Serialize)]
struct Advisory<'a> {
    uid: &'a str,
    title: &'a str,
}

#[derive(Serialize)]
struct AffectedCode<'a> {
    file: OcsfFile<'a>,
    #[serde(skip_serializing_if = "none")]
    start_line: Option<i64>,
    #[serde(skip_serializing_if = "none")]
    end_line: Option<i64>,
    #[serde(skip_serializing_if = "none")]
    rule: Option<Rule<'a>>,
}

#[derive(Serialize)]
struct OcsfFile<'a> {
    name: &'a str,
    path: &'a str,
    type_id: i64,
    #[serde(rename = "type")]
    type_name: &'static str,
}

#[derive(Serialize)]
struct Rule<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "none")]
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct AffectedPackage {
    name: String,
    version: String,
    #[serde(skip_serializing_if = "none")]
    fixed_in_version: Option<String>,
    #[serde(skip_serializing_if = "none")]
    type_id: Option<i64>,
}

#[derive(Serialize)]
struct Resource<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    role_id: i64,
    role: &'static str,
    #[serde(skip_serializing_if = "none")]
    hostname: Option<&'a str>,
}

#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Unmapped<'a> {
    tributary: TributaryFields<'a>,
}

#[derive(Serialize)]
struct TributaryFields<'a> {
    finding_id: i64,
    #[serde(skip_serializing_if = "none")]
    issue_id: Option<String>,
    #[serde(skip_serializing_if = "none")]
    triage: Option<&'a str>,
    #[serde(skip_serializing_if = "none")]
    assignee: Option<&'a str>,
    #[serde(skip_serializing_if = "none")]
    reachability: Option<&'a str>,
}

fn ocsf_cwe(r: &ExportRecord) -> Option<Cwe> {
    let (uid, caption) = r.cwe()?;
    Some(Cwe { uid, caption })
}

fn ocsf(r: &ExportRecord) -> OcsfEvent<'_> {
    let code = r.kind == "code_weakness";
    let class_uid: i64 = if code { 2007 } else { 2002 };
    let (status_id, status, activity_id) = ocsf_status(r);
    let mut vuln =
        OcsfVulnerability { title: &r.title, severity: severity_caption(r.severity), vendor_name: r.vendor(), ..Default::default() };
    if let Some(cve) = &r.cve {
        let vector = r.text("/findingType/vulnerability/cvssVector");
        let version = r.cvss_version.clone().or_else(|| vector.and_then(cvss_version));
        let cvss = match (r.cvss_score, version) {
            (Some(base_score), Some(version)) => Some([Cvss { base_score, version, depth: "Base", vector_string: vector }]),
            _ => None,
        };
        let epss = r.attr("/findingType/vulnerability/epssScore").and_then(Value::as_f64).map(|score| Epss {
            score: score.to_string(),
            percentile: r.attr("/findingType/vulnerability/epssPercentile").and_then(Value::as_f64),
        });
        vuln.cve = Some(Cve { uid: cve, cvss, epss, related_cwes: ocsf_cwe(r).map(|c| [c]) });
    } else if let Some(cwe) = ocsf_cwe(r) {
        // A vulnerability names exactly one of advisory, cve and cwe (OCSF `just_one`):
        // with a CVE, its CWE goes under the CVE.
        vuln.cwe = Some(cwe);
    } else {
        // A code weakness whose rule names no CWE: the rule is the advisory it breaks.
        vuln.advisory = Some(Advisory { uid: r.rule().unwrap_or(&r.external_id), title: &r.title });
    }
    if code {
        if let Some(path) = r.file() {
            let name = path.rsplit('/').next().unwrap_or(path);
            let rule = r.rule().map(|uid| Rule { uid, name: r.text("/findingType/codeWeakness/ruleName") });
            vuln.affected_code = Some([AffectedCode {
                file: OcsfFile { name, path, type_id: 1, type_name: "Regular File" },
                start_line: r.int("/location/startLine"),
                end_line: r.int("/location/endLine"),
                rule,
            }]);
        }
    } else {
        let fixed = r.fixed_versions();
        if let Some((name, version)) = r.package() {
            let type_id = (r.asset_kind == "host").then_some(2);
            vuln.affected_packages = Some([AffectedPackage { name, version, fixed_in_version: fixed.first().cloned(), type_id }]);
        }
        if r.attr("/findingType/vulnerability/fixedVersions").is_some() {
            vuln.is_fix_available = Some(!fixed.is_empty());
        }
    }
    let host = r.asset_kind == "host";
    let mut resources = vec![Resource {
        name: &r.asset_name,
        type_name: &r.asset_kind,
        role_id: 1,
        role: "Target",
        hostname: host.then_some(r.asset_name.as_str()),
    }];
    if let Some(repo) = r.repository.as_deref().filter(|repo| *repo != r.asset_name) {
        resources.push(Resource { name: repo, type_name: "repository", role_id: 4, role: "Related", hostname: None });
    }
    OcsfEvent {
        activity_id,
        category_uid: 2,
        class_uid,
        type_uid: class_uid * 100 + activity_id,
        severity_id: r.severity.map(|s| s.ocsf_id()).unwrap_or(0),
        severity: severity_caption(r.severity),
        status_id,
        status,
        time: r.last_seen,
        metadata: OcsfMetadata {
            version: OCSF_VERSION,
            product: Product { name: "Tributary", vendor_name: "Tributary", version: Some(env!("CARGO_PKG_VERSION")) },
        },
        finding_info: FindingInfo {
            uid: format!("tributary:finding:{}", r.id),
            uid_alt: &r.external_id,
            title: &r.title,
            types: [if code { "Code Weakness" } else { "Vulnerability" }],
            first_seen_time: r.first_seen,
            last_seen_time: r.last_seen,
            product: Product { name: &r.product, vendor_name: r.vendor(), version: None },
            src_url: r.text("/url"),
        },
        vulnerabilities: [vuln],
        resources,
        end_time: r.closed_at,
        application: code.then(|| Named { name: r.repository.as_deref().unwrap_or(&r.asset_name) }),
        unmapped: Unmapped {
            tributary: TributaryFields {
                finding_id: r.id,
                issue_id: r.issue_id.map(|i| i.to_string()),
                triage: r.triage.as_deref(),
                assignee: r.assignee.as_deref(),
                reachability: r.text("/findingType/vulnerability/reachability"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded() {
        assert_eq!(guard_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guard_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guard_cell("-1+1"), "'-1+1");
        assert_eq!(guard_cell("CVE-2024-1"), "CVE-2024-1");
        assert_eq!(cvss_version("CVSS:3.1/AV:N"), Some("3.1".into()));
        assert_eq!(cvss_version("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some("2.0".into()));
    }

    #[test]
    fn attributes_keep_what_exports_read() {
        let text = r#"{"findingType":{"vulnerability":{"cvssVector":"CVSS:3.1/AV:N","fixedVersions":["1.2"],"other":{"deep":[1,2]}},"codeWeakness":null},"location":{"filePath":"a.go","startLine":"7"},"custom":{"x":1}}"#;
        let v = export_attributes(text);
        assert_eq!(v.pointer("/findingType/vulnerability/cvssVector").unwrap(), "CVSS:3.1/AV:N");
        assert_eq!(v.pointer("/findingType/vulnerability/fixedVersions/0").unwrap(), "1.2");
        assert_eq!(v.pointer("/location/startLine").unwrap(), "7");
        assert!(v.get("custom").is_none() && v.pointer("/findingType/vulnerability/other").is_none());
        assert_eq!(export_attributes("not json"), serde_json::json!({}));
    }
}
