//! The query language compiled to SQL. Every user value becomes a bound parameter;
//! field names come from a fixed catalog (attribute paths are validated against the
//! transform target catalog and bound as parameters too), so no user text reaches SQL.
//!
//! A query is about findings when it names any `finding.*` field, else about assets.
//! Findings queries match *open* findings unless they name `finding.status`
//! (`finding.status:*` matches every status).

use tributary_core::model::Severity;
use tributary_core::query::{Expr, Literal, Op, QueryError, Span, Term, TermValue};
use tributary_core::transform::targets::{self, Place};

use crate::conn::{Conn, Dialect};
use crate::error::Result;
use crate::value::{Param, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Asset,
    Finding,
}

/// What a query needs to know besides its text: known product names (they make
/// case-insensitive matches exact, and so index-friendly) and the service levels
/// (`finding.slaBreached`).
#[derive(Debug, Clone, Default)]
pub struct QueryContext {
    pub products: Vec<String>,
    pub sla: tributary_core::sla::SlaDays,
}

#[derive(Debug, Clone)]
pub struct Compiled {
    pub entity: Entity,
    /// `WHERE` body with `?` placeholders.
    pub condition: String,
    pub params: Vec<Value>,
    dialect: Dialect,
    /// It names an asset field: findings need their asset joined.
    uses_asset: bool,
    /// It names only columns `finding_stats` keeps (product, kind, severity, status): a
    /// count can read the maintained counts instead of the findings.
    stats_ok: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Text(&'static str),
    /// Compared exactly against one of the model's canonical values.
    Product(&'static str),
    Enum(&'static str, &'static [&'static str]),
    Severity(&'static str),
    Number(&'static str),
    /// A whole number (ids): bound as an integer, which PostgreSQL's BIGINT needs.
    Id(&'static str),
    Time(&'static str),
    /// A JSON attribute path under a column.
    Json(&'static str),
    /// `asset.inventory:(source:…)` — a condition over the asset's active attributions.
    Inventory,
    /// `finding.triage`: the decision, with an expired risk acceptance reading as `none`.
    Triage,
    /// `finding.kev`: the finding's CVE is in the loaded CISA KEV catalog.
    Kev,
    /// A number from the loaded EPSS scores of the finding's CVE (`epss`, `percentile`).
    Epss(&'static str),
    /// `finding.slaBreached`: open past its severity's deadline (`QueryContext::sla`).
    SlaBreached,
}

const ASSET_KINDS: &[&str] = &["host", "repository", "package", "cloud_resource"];
const FINDING_KINDS: &[&str] = &["vulnerability", "code_weakness"];
const STATUSES: &[&str] = &["open", "fixed", "risk_accepted", "false_positive"];

const DECISIONS: &[&str] = &["days_3_forensics", "days_3", "days_14", "days_60", "fix_on_system_upgrade"];

const TRIAGES: &[&str] = &["none", "open", "in_progress", "fixed", "risk_accepted", "false_positive"];

/// One field of the query language: its name (and older names), how it is stored and
/// compared, the key it has in API and CLI results (`api`, empty when results do not carry
/// it) and what it means. This table is the field registry: the compiler, the API's
/// filters and sort keys, `tributary query --fields` and docs/query.md are all read from
/// it. Target-model attributes (`asset.hostName`, …) come from the transform targets.
pub struct Field {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    kind: Kind,
    pub api: &'static str,
    pub description: &'static str,
}

const fn f(name: &'static str, aliases: &'static [&'static str], kind: Kind, api: &'static str, description: &'static str) -> Field {
    Field { name, aliases, kind, api, description }
}

pub const FIELDS: &[Field] = &[
    f("asset.type", &["asset.kind"], Kind::Enum("a.kind", ASSET_KINDS), "kind", "Asset kind: host, repository, package, cloud_resource."),
    f("asset.name", &[], Kind::Text("a.name"), "name", "Display name (host name, repository path, package purl)."),
    f("asset.id", &[], Kind::Id("a.id"), "id", "Tributary's asset id."),
    f("asset.identity", &[], Kind::Text("a.identity"), "identity", "The identifier the asset was matched on (kind:value)."),
    f("asset.matchedRule", &[], Kind::Text("a.matched_rule"), "matched_rule", "The identification rule that matched it."),
    f("asset.firstSeen", &[], Kind::Time("a.first_seen"), "first_seen", "First time any source reported it."),
    f("asset.lastSeen", &[], Kind::Time("a.last_seen"), "last_seen", "Last time any source reported it."),
    f(
        "asset.inventory",
        &["asset.source"],
        Kind::Inventory,
        "sources",
        "Sources currently reporting it: asset.inventory:(source:`Cortex XDR`).",
    ),
    f(
        "finding.vendorProductName",
        &["finding.product"],
        Kind::Product("f.product"),
        "product",
        "The tool that reported it (Semgrep, Cortex XDR, an imported tool).",
    ),
    f(
        "finding.kind",
        &[],
        Kind::Enum("f.kind", FINDING_KINDS),
        "kind",
        "vulnerability (CVE in a package or host) or code_weakness (SAST).",
    ),
    f("finding.severity", &[], Kind::Severity("f.severity"), "severity", "critical, high, medium, low, info; compares in that order."),
    f(
        "finding.status",
        &[],
        Kind::Enum("f.status", STATUSES),
        "status",
        "The vendor's status. Queries match open findings unless they name it (finding.status:* for all).",
    ),
    f(
        "finding.triage",
        &[],
        Kind::Triage,
        "triage",
        "The team's decision: none, open, in_progress, fixed, risk_accepted (until it expires), false_positive.",
    ),
    f("finding.assignee", &[], Kind::Text("f.assignee"), "assignee", "Who the finding is assigned to."),
    f("finding.cve", &["finding.cveId"], Kind::Text("f.cve"), "cve", "CVE id (vulnerabilities)."),
    f("finding.kev", &[], Kind::Kev, "", "true when its CVE is in the CISA KEV catalog (tributary intel load kev)."),
    f("finding.epss", &[], Kind::Epss("epss"), "", "EPSS probability of exploitation in 30 days, 0-1 (tributary intel load epss)."),
    f("finding.epssPercentile", &[], Kind::Epss("percentile"), "", "EPSS percentile of its CVE, 0-1."),
    f(
        "finding.slaBreached",
        &[],
        Kind::SlaBreached,
        "",
        "true when open past its deadline — by severity, or by its issue's BOD 26-04 decision if earlier — counted from first seen (tributary sla).",
    ),
    f(
        "finding.issue",
        &["finding.issueId"],
        Kind::Id("f.issue_id"),
        "issue_id",
        "The issue it belongs to (tributary issues): findings of one problem across sources.",
    ),
    f(
        "finding.decision",
        &[],
        Kind::Enum("(SELECT i.decision FROM issues i WHERE i.id = f.issue_id)", DECISIONS),
        "",
        "Its issue's CISA BOD 26-04 decision: days_3_forensics, days_3, days_14, days_60, fix_on_system_upgrade.",
    ),
    f("finding.title", &["finding.name"], Kind::Text("f.title"), "title", "Title; * wildcards search within it."),
    f("finding.externalId", &["finding.externalFindingId"], Kind::Text("f.external_id"), "external_id", "The vendor's id for it."),
    f("finding.id", &[], Kind::Id("f.id"), "id", "Tributary's finding id."),
    f("finding.cvssScore", &[], Kind::Number("f.cvss_score"), "cvss_score", "CVSS base score, 0-10."),
    f("finding.sourceRiskScore", &[], Kind::Number("f.source_score"), "source_score", "The vendor's own risk score."),
    f("finding.firstSeen", &[], Kind::Time("f.first_seen"), "first_seen", "First time it was reported."),
    f("finding.lastSeen", &[], Kind::Time("f.last_seen"), "last_seen", "Last time it was reported."),
    f("finding.closedAt", &[], Kind::Time("f.closed_at"), "closed_at", "When the vendor reported it fixed."),
];

impl Field {
    /// The value type, as docs and the API show it.
    pub fn type_name(&self) -> String {
        match self.kind {
            Kind::Text(_) => "text".into(),
            Kind::Product(_) => "text (a product name)".into(),
            Kind::Enum(_, values) => format!("one of {}", values.join(", ")),
            Kind::Triage => format!("one of {}", TRIAGES.join(", ")),
            Kind::Kev | Kind::SlaBreached => "one of true, false".into(),
            Kind::Epss(_) => "number".into(),
            Kind::Severity(_) => "severity".into(),
            Kind::Number(_) => "number".into(),
            Kind::Id(_) => "whole number".into(),
            Kind::Time(_) => "time (RFC 3339, a date, or an age like 30d)".into(),
            Kind::Json(_) => "attribute".into(),
            Kind::Inventory => "group (source:NAME)".into(),
        }
    }

    /// The operators it takes.
    pub fn operators(&self) -> &'static str {
        match self.kind {
            Kind::Enum(..) | Kind::Triage | Kind::Kev | Kind::SlaBreached => ": !=",
            Kind::Inventory => ":",
            _ => ": = != > >= < <=",
        }
    }

    /// The storage column (`table.column`), or how it is stored when not one column.
    pub fn column(&self) -> &'static str {
        match self.kind {
            Kind::Text(c)
            | Kind::Product(c)
            | Kind::Enum(c, _)
            | Kind::Severity(c)
            | Kind::Number(c)
            | Kind::Id(c)
            | Kind::Time(c)
            | Kind::Json(c) => c,
            Kind::Triage => "f.triage, f.triage_until",
            Kind::Kev => "intel_kev.cve",
            Kind::SlaBreached => "f.severity, f.first_seen",
            Kind::Epss(c) => c,
            Kind::Inventory => "asset_sources",
        }
    }
}

fn field(path: &str) -> Option<(Kind, Option<String>)> {
    if let Some(f) = FIELDS.iter().find(|f| f.name == path || f.aliases.contains(&path)) {
        return Some((f.kind, None));
    }
    // Any target-model attribute: asset.hostName, finding.findingType.codeWeakness.ruleId, …
    for (prefix, place, col) in [("asset.", Place::Asset, "a.attributes"), ("finding.", Place::Finding, "f.attributes")] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let rest = rest.strip_prefix("attributes.").unwrap_or(rest);
            targets::lookup(place, rest)?;
            return Some((Kind::Json(col), Some(rest.to_string())));
        }
    }
    None
}

/// A column expression and the parameters its text holds (bound once per use).
struct Col {
    sql: String,
    params: Vec<Value>,
}

impl Col {
    fn plain(sql: &str) -> Col {
        Col { sql: sql.to_string(), params: Vec::new() }
    }
}

/// The known field nearest to an unknown one.
fn suggest_field(path: &str) -> Option<String> {
    if let Some(s) = targets::nearest(path, FIELDS.iter().map(|f| f.name)) {
        return Some(s.to_string());
    }
    let (prefix, place) = if path.starts_with("asset.") { ("asset.", Place::Asset) } else { ("finding.", Place::Finding) };
    let rest = path.strip_prefix(prefix)?;
    targets::suggest(place, rest).map(|s| format!("{prefix}{s}"))
}

struct Builder<'a> {
    dialect: Dialect,
    ctx: &'a QueryContext,
    params: Vec<Value>,
    entity: Entity,
    names_status: bool,
    uses_asset: bool,
    stats_ok: bool,
}

fn err(message: impl Into<String>, span: Span) -> QueryError {
    QueryError::new(message, span)
}

fn like_pattern(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            c => out.push(c),
        }
    }
    out
}

fn cmp_sql(op: Op) -> &'static str {
    match op {
        Op::Match | Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
    }
}

impl Builder<'_> {
    fn bind(&mut self, v: Value) -> &'static str {
        self.params.push(v);
        "?"
    }

    /// A JSON attribute of `col` as a column expression: its path is a parameter, pushed
    /// again at every use (see [`Builder::col`]).
    fn json_col(&self, col: &str, path: &str) -> Col {
        match self.dialect {
            Dialect::Sqlite => {
                let p = format!("$.{}", path.split('.').map(|s| format!("\"{}\"", s.replace('"', ""))).collect::<Vec<_>>().join("."));
                Col { sql: format!("json_extract({col}, ?)"), params: vec![Value::Text(p)] }
            }
            Dialect::Postgres => {
                Col { sql: format!("(({col})::jsonb #>> string_to_array(?, '.'))"), params: vec![Value::Text(path.to_string())] }
            }
        }
    }

    /// One use of a column expression in the SQL: its parameters are bound for this use.
    fn col(&mut self, c: &Col) -> String {
        self.params.extend(c.params.iter().cloned());
        c.sql.clone()
    }

    fn expr(&mut self, e: &Expr, scope: Option<&str>) -> Result<String, QueryError> {
        Ok(match e {
            Expr::And(parts) => format!("({})", parts.iter().map(|p| self.expr(p, scope)).collect::<Result<Vec<_>, _>>()?.join(" AND ")),
            Expr::Or(parts) => format!("({})", parts.iter().map(|p| self.expr(p, scope)).collect::<Result<Vec<_>, _>>()?.join(" OR ")),
            Expr::Not(inner) => format!("(NOT {})", self.expr(inner, scope)?),
            Expr::Term(t) => self.term(t, scope)?,
        })
    }

    fn term(&mut self, t: &Term, scope: Option<&str>) -> Result<String, QueryError> {
        // Inside `field:( … )`: bare values belong to the scope's field; `sub:v` to a sub-field.
        let (path, span) = match (&t.field, scope) {
            (Some(f), Some("asset.inventory")) => (format!("inventory.{}", f.path), f.span),
            (Some(f), _) => (f.path.clone(), f.span),
            (None, Some(s)) => (
                s.to_string(),
                match &t.value {
                    TermValue::Lit(l) => l.span,
                    TermValue::Group(_) => Span { start: 0, end: 0 },
                },
            ),
            (None, None) => return Err(err("a value needs a field", Span { start: 0, end: 0 })),
        };
        if path == "inventory.source" || path == "inventory.active" {
            self.uses_asset = true;
            self.stats_ok = false;
            return self.inventory_field(&path, t, span);
        }
        let Some((kind, json_path)) = field(&path) else {
            let hint = suggest_field(&path).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            return Err(err(format!("unknown field '{path}'{hint}"), span));
        };
        if path.starts_with("finding.") {
            self.entity = Entity::Finding;
        }
        if path == "finding.status" {
            self.names_status = true;
        }
        if path.starts_with("asset.") {
            self.uses_asset = true;
        }
        if !matches!(kind, Kind::Product("f.product") | Kind::Enum("f.kind" | "f.status", _) | Kind::Severity("f.severity")) {
            self.stats_ok = false;
        }
        match &t.value {
            TermValue::Group(inner) => {
                if let Kind::Inventory = kind {
                    let cond = self.expr(inner, Some("asset.inventory"))?;
                    return Ok(format!("EXISTS (SELECT 1 FROM asset_sources s WHERE s.asset_id = a.id AND s.active = 1 AND {cond})"));
                }
                if t.op != Op::Match {
                    return Err(err("a group of values goes with ':'", span));
                }
                self.expr(inner, Some(&path))
            }
            TermValue::Lit(lit) => {
                if let Kind::Inventory = kind {
                    // asset.source:X is short for asset.inventory:(source:X).
                    let cond = self.text_cmp(&Col::plain("s.source"), t.op, lit, false)?;
                    return Ok(format!("EXISTS (SELECT 1 FROM asset_sources s WHERE s.asset_id = a.id AND s.active = 1 AND {cond})"));
                }
                self.literal(kind, json_path.as_deref(), &path, t.op, lit)
            }
        }
    }

    fn inventory_field(&mut self, path: &str, t: &Term, span: Span) -> Result<String, QueryError> {
        let TermValue::Lit(lit) = &t.value else { return Err(err("inventory fields take one value", span)) };
        match path {
            "inventory.source" => self.text_cmp(&Col::plain("s.source"), t.op, lit, false),
            _ => Err(err(format!("unknown inventory field '{path}' (source)"), span)),
        }
    }

    fn text_cmp(&mut self, c: &Col, op: Op, lit: &Literal, upper: bool) -> Result<String, QueryError> {
        if lit.text == "*" && op == Op::Match {
            return Ok(format!("{} IS NOT NULL", self.col(c)));
        }
        let v = if upper { lit.text.to_ascii_uppercase() } else { lit.text.clone() };
        Ok(match op {
            Op::Match | Op::Eq if v.contains('*') => {
                let col = self.col(c);
                format!("LOWER({col}) LIKE LOWER({}) ESCAPE '\\'", self.bind(Value::Text(like_pattern(&v))))
            }
            // Stored upper case (CVE ids): an exact match reads the column's index.
            Op::Match | Op::Eq if upper => {
                let col = self.col(c);
                format!("{col} = {}", self.bind(Value::Text(v)))
            }
            Op::Match | Op::Eq => {
                let col = self.col(c);
                format!("LOWER({col}) = LOWER({})", self.bind(Value::Text(v)))
            }
            Op::Ne => {
                let (a, b) = (self.col(c), self.col(c));
                format!("({a} IS NULL OR LOWER({b}) <> LOWER({}))", self.bind(Value::Text(v)))
            }
            _ => {
                let col = self.col(c);
                format!("{col} {} {}", cmp_sql(op), self.bind(Value::Text(v)))
            }
        })
    }

    fn literal(&mut self, kind: Kind, json_path: Option<&str>, path: &str, op: Op, lit: &Literal) -> Result<String, QueryError> {
        let any = lit.text == "*" && op == Op::Match;
        match kind {
            Kind::Text(col) => self.text_cmp(&Col::plain(col), op, lit, col == "f.cve"),
            Kind::Product(col) => {
                if any {
                    return Ok("1 = 1".into());
                }
                match self.ctx.products.iter().find(|p| p.eq_ignore_ascii_case(&lit.text)) {
                    // A known product: exact, so the (product, status) index serves it.
                    Some(p) if matches!(op, Op::Match | Op::Eq) => Ok(format!("{col} = {}", self.bind(Value::Text(p.clone())))),
                    _ => self.text_cmp(&Col::plain(col), op, lit, false),
                }
            }
            Kind::Enum(col, values) => {
                if any {
                    return Ok("1 = 1".into());
                }
                let v = choice(path, op, lit, values)?;
                Ok(format!("{col} {} {}", cmp_sql(op), self.bind(Value::Text(v))))
            }
            Kind::Severity(col) => {
                if any {
                    return Ok("1 = 1".into());
                }
                let sev = lit
                    .text
                    .parse::<Severity>()
                    .ok()
                    .or_else(|| Severity::parse_loose(&lit.text))
                    .ok_or_else(|| err(format!("'{}' is not a severity (critical, high, medium, low, info)", lit.text), lit.span))?;
                Ok(format!("{col} {} {}", cmp_sql(op), self.bind(Value::Int(sev.ocsf_id()))))
            }
            Kind::Number(col) => {
                let n = number(lit)?;
                Ok(format!("{col} {} {}", cmp_sql(op), self.bind(Value::Real(n))))
            }
            Kind::Id(col) => {
                let n: i64 = lit.text.parse().map_err(|_| err(format!("'{}' is not a whole number", lit.text), lit.span))?;
                Ok(format!("{col} {} {}", cmp_sql(op), self.bind(Value::Int(n))))
            }
            Kind::Time(col) => {
                let ms = parse_time(&lit.text)
                    .ok_or_else(|| err(format!("'{}' is not a time (RFC 3339, a date, or an age like 30d)", lit.text), lit.span))?;
                // An age (30d) means "this long ago": `lastSeen<30d` reads "more recent than 30 days ago".
                let op = if is_age(&lit.text) { flip(op) } else { op };
                Ok(format!("{col} {} {}", cmp_sql(op), self.bind(Value::Int(ms))))
            }
            Kind::Json(col) => {
                let c = self.json_col(col, json_path.unwrap_or_default());
                if any {
                    return Ok(format!("{} IS NOT NULL", self.col(&c)));
                }
                // Array attributes (tags) match when any element matches.
                let quoted = matches!(op, Op::Match | Op::Eq) && !lit.text.contains('*');
                let cond = self.text_cmp(&c, op, lit, false)?;
                if quoted {
                    let e = self.col(&c);
                    let like = format!(
                        "LOWER({e}) LIKE LOWER({}) ESCAPE '\\'",
                        self.bind(Value::Text(format!("%\"{}\"%", like_pattern(&lit.text))))
                    );
                    Ok(format!("({cond} OR {like})"))
                } else {
                    Ok(cond)
                }
            }
            Kind::Triage => {
                if any {
                    return Ok("f.triage IS NOT NULL".into());
                }
                let v = choice(path, op, lit, TRIAGES)?;
                // A risk acceptance past its expiry is no decision at all. (Parameters
                // bind in the order their `?` appear.)
                let is = if v == "none" { None } else { Some(format!("f.triage = {} AND ", self.bind(Value::Text(v)))) };
                let now = self.bind(Value::Int(tributary_core::time::now_ms()));
                let none = format!(
                    "(f.triage IS NULL OR (f.triage = 'risk_accepted' AND f.triage_until IS NOT NULL AND f.triage_until <= {now}))"
                );
                let cond = match is {
                    None => none,
                    Some(is) => format!("({is}NOT {none})"),
                };
                Ok(if op == Op::Ne { format!("(NOT {cond})") } else { cond })
            }
            Kind::Kev => {
                let Some(holds) = truth(path, op, lit)? else { return Ok("f.cve IS NOT NULL".into()) };
                let exists = "EXISTS (SELECT 1 FROM intel_kev k WHERE k.cve = f.cve)";
                Ok(if holds { exists.into() } else { format!("NOT {exists}") })
            }
            Kind::SlaBreached => {
                let Some(holds) = truth(path, op, lit)? else { return Ok("1 = 1".into()) };
                let now = tributary_core::time::now_ms();
                let mut parts = Vec::new();
                for (sev, days) in self.ctx.sla.deadlines() {
                    let s = self.bind(Value::Int(sev.ocsf_id()));
                    let t = self.bind(Value::Int(now - days as i64 * 86_400_000));
                    parts.push(format!("(f.severity = {s} AND f.first_seen < {t})"));
                }
                // The issue's BOD 26-04 decision may set an earlier deadline: one look at the
                // issue for all decisions (one EXISTS per decision probed the issues index
                // five times per finding: 7 s of a dashboard's first load, bench/RESULTS.md).
                let mut by_decision = Vec::new();
                for (decision, days) in self.ctx.sla.decision_deadlines() {
                    // Bound in the order they appear: placeholders are positional.
                    let d = self.bind(Value::Text(decision.slug().to_string()));
                    let t = self.bind(Value::Int(now - days as i64 * 86_400_000));
                    by_decision.push(format!("(i.decision = {d} AND f.first_seen < {t})"));
                }
                if !by_decision.is_empty() {
                    parts.push(format!("EXISTS (SELECT 1 FROM issues i WHERE i.id = f.issue_id AND ({}))", by_decision.join(" OR ")));
                }
                let breached = if parts.is_empty() { "1 = 0".to_string() } else { format!("({})", parts.join(" OR ")) };
                Ok(if holds { breached } else { format!("(NOT {breached})") })
            }
            Kind::Epss(col) => {
                let sub = format!("(SELECT e.{col} FROM intel_epss e WHERE e.cve = f.cve)");
                if any {
                    return Ok(format!("{sub} IS NOT NULL"));
                }
                let n = number(lit)?;
                Ok(format!("{sub} {} {}", cmp_sql(op), self.bind(Value::Real(n))))
            }
            Kind::Inventory => unreachable!("handled by the caller"),
        }
    }
}

/// A finite number (NaN and infinities are not numbers a user means).
fn number(lit: &Literal) -> Result<f64, QueryError> {
    lit.text.parse().ok().filter(|n: &f64| n.is_finite()).ok_or_else(|| err(format!("'{}' is not a number", lit.text), lit.span))
}

/// A value of a field that takes one of `values` (`-` read as `_`), compared with `:`,
/// `=` or `!=`.
fn choice(path: &str, op: Op, lit: &Literal, values: &[&str]) -> Result<String, QueryError> {
    let v = lit.text.to_ascii_lowercase().replace('-', "_");
    if !values.contains(&v.as_str()) {
        return Err(err(format!("{path} is one of: {}", values.join(", ")), lit.span));
    }
    check_equality(path, op, lit)?;
    Ok(v)
}

/// A true/false field: whether its condition holds for the term (`!=` inverts);
/// `None` for `*`.
fn truth(path: &str, op: Op, lit: &Literal) -> Result<Option<bool>, QueryError> {
    let v = match lit.text.to_ascii_lowercase().as_str() {
        "true" | "yes" => true,
        "false" | "no" => false,
        "*" => return Ok(None),
        _ => return Err(err(format!("{path} is true or false"), lit.span)),
    };
    check_equality(path, op, lit)?;
    Ok(Some(v == (op != Op::Ne)))
}

fn check_equality(path: &str, op: Op, lit: &Literal) -> Result<(), QueryError> {
    if matches!(op, Op::Match | Op::Eq | Op::Ne) { Ok(()) } else { Err(err(format!("{path} compares with ':' or '!='"), lit.span)) }
}

fn is_age(t: &str) -> bool {
    tributary_core::model::profile_duration(t).is_ok()
}

fn flip(op: Op) -> Op {
    match op {
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        o => o,
    }
}

fn parse_time(t: &str) -> Option<i64> {
    if let Ok(ms) = tributary_core::model::profile_duration(t) {
        return Some(tributary_core::time::now_ms() - ms);
    }
    tributary_core::time::parse_loose(t)
}

/// Compiles a parsed query for `dialect`.
pub fn compile(e: &Expr, dialect: Dialect, ctx: &QueryContext) -> Result<Compiled, QueryError> {
    compile_as(e, dialect, ctx, None)
}

/// Everything of an entity (an empty query): all assets, or the open findings.
pub fn all(entity: Entity, dialect: Dialect) -> Compiled {
    let condition = match entity {
        Entity::Asset => "1 = 1",
        Entity::Finding => "f.status = 'open'",
    };
    Compiled { entity, condition: condition.into(), params: Vec::new(), dialect, uses_asset: false, stats_ok: true }
}

/// [`compile`] for a given entity: a findings list filtered by asset fields is about
/// findings; an assets list refuses finding fields.
pub fn compile_as(e: &Expr, dialect: Dialect, ctx: &QueryContext, entity: Option<Entity>) -> Result<Compiled, QueryError> {
    let mut b = Builder {
        dialect,
        ctx,
        params: Vec::new(),
        entity: entity.unwrap_or(Entity::Asset),
        names_status: false,
        uses_asset: false,
        stats_ok: true,
    };
    let mut condition = b.expr(e, None)?;
    if entity == Some(Entity::Asset) && b.entity == Entity::Finding {
        return Err(err("this lists assets; finding fields filter findings (use the findings list)", Span { start: 0, end: 0 }));
    }
    if b.entity == Entity::Finding && !b.names_status {
        condition = format!("f.status = 'open' AND {condition}");
    }
    Ok(Compiled { entity: b.entity, condition, params: b.params, dialect, uses_asset: b.uses_asset, stats_ok: b.stats_ok })
}

/// The `FROM` of a count or id list: findings join their assets only when the query
/// names an asset field (the join costs a lookup per finding).
fn from(c: &Compiled) -> &'static str {
    match c.entity {
        Entity::Asset => "FROM assets a",
        Entity::Finding if c.uses_asset => "FROM findings f JOIN assets a ON a.id = f.asset_id",
        Entity::Finding => "FROM findings f",
    }
}

/// The `FROM` of a page: a finding shows its asset's name.
fn from_page(c: &Compiled) -> &'static str {
    match c.entity {
        Entity::Asset => "FROM assets a",
        Entity::Finding => "FROM findings f JOIN assets a ON a.id = f.asset_id",
    }
}

pub(crate) fn param(v: &Value) -> Param<'_> {
    match v {
        Value::Null => Param::Null,
        Value::Int(i) => Param::Int(*i),
        Value::Real(r) => Param::Real(*r),
        Value::Text(t) => Param::Text(t),
        Value::Blob(b) => Param::Blob(b),
    }
}

fn params(c: &Compiled) -> Vec<Param<'_>> {
    c.params.iter().map(param).collect()
}

/// How many rows match. A findings query over product, kind, severity and status only
/// reads the maintained counts (`finding_stats`, as of each integration's last run).
pub fn count(conn: &mut dyn Conn, c: &Compiled) -> Result<i64> {
    let stats = c.entity == Entity::Finding && c.stats_ok && !crate::repo::stats::any_stale(conn)?;
    conn.scalar(&count_sql(c, stats), &params(c))
}

fn count_sql(c: &Compiled, stats: bool) -> String {
    if stats {
        return format!("SELECT CAST(COALESCE(SUM(f.n), 0) AS BIGINT) FROM finding_stats f WHERE {}", c.condition);
    }
    format!("SELECT COUNT(*) {} WHERE {}", from(c), c.condition)
}

/// Result columns, per entity: the `api` names of [`FIELDS`] results carry.
pub fn columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Asset => &["id", "kind", "name", "identity", "matched_rule", "sources", "first_seen", "last_seen"],
        Entity::Finding => &[
            "id",
            "product",
            "kind",
            "severity",
            "status",
            "triage",
            "assignee",
            "title",
            "cve",
            "asset",
            "external_id",
            "first_seen",
            "last_seen",
        ],
    }
}

/// A sort order for [`page`]: a column that is never null, ties broken by id in the
/// same direction, so a (value, id) cursor continues it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: &'static str,
    col: &'static str,
    pub desc: bool,
}

/// Sort keys per entity: `(api name, column)`.
pub fn sort_keys(entity: Entity) -> &'static [(&'static str, &'static str)] {
    match entity {
        Entity::Asset => &[("id", "a.id"), ("name", "a.name"), ("first_seen", "a.first_seen"), ("last_seen", "a.last_seen")],
        Entity::Finding => &[("severity", "f.severity"), ("id", "f.id"), ("first_seen", "f.first_seen"), ("last_seen", "f.last_seen")],
    }
}

impl Sort {
    /// The default: most severe first for findings, by id for assets.
    pub fn default_for(entity: Entity) -> Sort {
        match entity {
            Entity::Asset => Sort { key: "id", col: "a.id", desc: false },
            Entity::Finding => Sort { key: "severity", col: "f.severity", desc: true },
        }
    }

    /// `severity`, `-severity` (descending), …; the error lists the keys.
    pub fn parse(entity: Entity, text: &str) -> Result<Sort, String> {
        let (desc, key) = match text.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, text),
        };
        match sort_keys(entity).iter().find(|(k, _)| *k == key) {
            Some((k, c)) => Ok(Sort { key: k, col: c, desc }),
            None => {
                let keys: Vec<&str> = sort_keys(entity).iter().map(|(k, _)| *k).collect();
                Err(format!("cannot sort by '{key}': sort by one of {} (prefix - for descending)", keys.join(", ")))
            }
        }
    }

    fn id_col(&self) -> &'static str {
        if self.col.starts_with("f.") { "f.id" } else { "a.id" }
    }
}

/// Where a page ends: the sort value and id of its last row.
pub type Cursor = (Value, i64);

/// One page of matching rows as JSON objects (values typed: numbers, text, severity
/// names), sorted by `sort`, after `after`; with the cursor of the next page when there
/// may be one. Keyset paging: a deep page costs what the first does.
pub fn page(
    conn: &mut dyn Conn,
    c: &Compiled,
    sort: Sort,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<(Vec<serde_json::Value>, Option<Cursor>)> {
    let limit = limit.max(1);
    let (sql, bound) = page_sql(c, sort, after, limit);
    let params: Vec<Param<'_>> = bound.iter().map(param).collect();
    let mut rows = conn.query(&sql, &params)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let sort_index = columns(c.entity).iter().position(|k| *k == sort.key).unwrap_or(0);
    let next = match (more, rows.last()) {
        (true, Some(last)) => {
            let id = match last.0.first() {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            Some((last.0.get(sort_index).cloned().unwrap_or(Value::Null), id))
        }
        _ => None,
    };
    Ok((rows.into_iter().map(|row| row_json(c.entity, row)).collect(), next))
}

/// The SQL of a [`page`] and its parameters (also what [`explain`] shows).
fn page_sql(c: &Compiled, sort: Sort, after: Option<&Cursor>, limit: i64) -> (String, Vec<Value>) {
    let agg = match c.dialect {
        Dialect::Sqlite => "group_concat(s.source, ',')",
        Dialect::Postgres => "string_agg(s.source, ',')",
    };
    let select = match c.entity {
        Entity::Asset => format!(
            "SELECT a.id, a.kind, a.name, a.identity, a.matched_rule, \
             (SELECT {agg} FROM asset_sources s WHERE s.asset_id = a.id AND s.active = 1), a.first_seen, a.last_seen"
        ),
        Entity::Finding => "SELECT f.id, f.product, f.kind, f.severity, f.status, \
             CASE WHEN f.triage = 'risk_accepted' AND f.triage_until IS NOT NULL AND f.triage_until <= ? THEN NULL ELSE f.triage END, \
             f.assignee, f.title, f.cve, a.name, f.external_id, f.first_seen, f.last_seen"
            .into(),
    };
    let mut bound: Vec<Value> = Vec::new();
    if c.entity == Entity::Finding {
        bound.push(Value::Int(tributary_core::time::now_ms()));
    }
    bound.extend(c.params.iter().cloned());
    let (cmp, dir) = if sort.desc { ("<", "DESC") } else { (">", "ASC") };
    let id = sort.id_col();
    let mut condition = c.condition.clone();
    if let Some((v, last_id)) = after {
        if sort.col == id {
            condition = format!("({condition}) AND {id} {cmp} ?");
            bound.push(Value::Int(*last_id));
        } else {
            condition = format!("({condition}) AND ({col} {cmp} ? OR ({col} = ? AND {id} {cmp} ?))", col = sort.col);
            bound.extend([v.clone(), v.clone(), Value::Int(*last_id)]);
        }
    }
    let order = if sort.col == id { format!("{id} {dir}") } else { format!("{} {dir}, {id} {dir}", sort.col) };
    // One row more than asked says whether another page exists.
    let sql = format!("{select} {} WHERE {condition} ORDER BY {order} LIMIT {}", from_page(c), limit + 1);
    (sql, bound)
}

fn row_json(entity: Entity, row: crate::value::Row) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (name, v) in columns(entity).iter().zip(row.0) {
        let j = match v {
            Value::Null => serde_json::Value::Null,
            Value::Int(n) if entity == Entity::Finding && *name == "severity" => {
                serde_json::Value::String(Severity::from_ocsf_id(n).map(|s| s.as_str().to_string()).unwrap_or_default())
            }
            Value::Int(n) if name.ends_with("_seen") => serde_json::Value::String(tributary_core::time::to_rfc3339(n)),
            Value::Int(n) => n.into(),
            Value::Real(r) => r.into(),
            Value::Text(t) => t.into(),
            Value::Blob(_) => serde_json::Value::Null,
        };
        m.insert((*name).to_string(), j);
    }
    serde_json::Value::Object(m)
}

/// The database's plan for a [`page`] (`sort` given) or a count: SQLite's
/// `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`. The benchmarks print it beside timings.
pub fn explain(conn: &mut dyn Conn, c: &Compiled, sort: Option<Sort>, limit: i64) -> Result<Vec<String>> {
    let (sql, bound) = match sort {
        Some(s) => page_sql(c, s, None, limit),
        None => (count_sql(c, c.entity == Entity::Finding && c.stats_ok), c.params.clone()),
    };
    let prefix = match c.dialect {
        Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
        Dialect::Postgres => "EXPLAIN ",
    };
    let params: Vec<Param<'_>> = bound.iter().map(param).collect();
    let rows = conn.query(&format!("{prefix}{sql}"), &params)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            r.0.into_iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(t),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

/// `SELECT f.id …` of the findings a query matches, for `UPDATE … WHERE id IN (…)`; its
/// parameters are [`Compiled::params`].
pub fn finding_ids_sql(c: &Compiled) -> Option<String> {
    (c.entity == Entity::Finding).then(|| format!("SELECT f.id {} WHERE {}", from(c), c.condition))
}

/// Findings read per step of an export.
pub const EXPORT_PAGE: i64 = 5_000;

/// Streams one page of the findings `c` matches, after id `after` in id order, as
/// export records; returns the last id read (none: nothing left). A page is one bounded
/// query, so an export of any size holds one page at a time and never a long read
/// transaction.
pub fn export_page(
    conn: &mut dyn Conn,
    c: &Compiled,
    after: i64,
    limit: i64,
    f: &mut dyn FnMut(tributary_core::export::ExportRecord) -> Result<()>,
) -> Result<Option<i64>> {
    if c.entity != Entity::Finding {
        return Err(crate::StoreError::Invalid("exports are of findings; the query names assets only".into()));
    }
    let sql = format!(
        "SELECT f.id, f.issue_id, f.product, f.kind, f.severity, f.status, \
         CASE WHEN f.triage = 'risk_accepted' AND f.triage_until IS NOT NULL AND f.triage_until <= ? THEN NULL ELSE f.triage END, \
         f.assignee, f.title, f.cve, f.cvss_score, f.cvss_version, f.external_id, f.first_seen, f.last_seen, f.closed_at, \
         f.attributes, a.name, a.kind, (SELECT r.name FROM assets r WHERE r.id = f.repo_asset_id) \
         {} WHERE ({}) AND f.id > ? ORDER BY f.id LIMIT {}",
        from_page(c),
        c.condition,
        limit.max(1)
    );
    let mut bound = vec![Value::Int(tributary_core::time::now_ms())];
    bound.extend(c.params.iter().cloned());
    bound.push(Value::Int(after));
    let params: Vec<Param<'_>> = bound.iter().map(param).collect();
    let mut last = None;
    conn.query_each(&sql, &params, &mut |mut r| {
        let id: i64 = r.get(0)?;
        last = Some(id);
        let attributes: String = r.take(16)?;
        let rec = tributary_core::export::ExportRecord {
            id,
            issue_id: r.get(1)?,
            product: r.take(2)?,
            kind: r.take(3)?,
            severity: Severity::from_ocsf_id(r.get(4)?),
            status: r.take(5)?,
            triage: r.take(6)?,
            assignee: r.take(7)?,
            title: r.take(8)?,
            cve: r.take(9)?,
            cvss_score: r.get(10)?,
            cvss_version: r.take(11)?,
            external_id: r.take(12)?,
            first_seen: r.get(13)?,
            last_seen: r.get(14)?,
            closed_at: r.get(15)?,
            attributes: tributary_core::export::export_attributes(&attributes),
            asset_name: r.take(17)?,
            asset_kind: r.take(18)?,
            repository: r.take(19)?,
        };
        f(rec)
    })?;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_core::model::{AssetKind, FindingKind, FindingStatus};
    use tributary_core::query::parse;

    #[test]
    fn catalog_enums_match_the_model() {
        assert_eq!(ASSET_KINDS, AssetKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().as_slice());
        assert_eq!(FINDING_KINDS, FindingKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().as_slice());
        assert_eq!(STATUSES, FindingStatus::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().as_slice());
    }

    fn sql(q: &str) -> Result<Compiled, QueryError> {
        compile(&parse(q).unwrap(), Dialect::Sqlite, &QueryContext { products: vec!["Cortex XDR".into()], ..Default::default() })
    }

    #[test]
    fn compiles_to_bound_parameters() {
        let c = sql("finding.vendorProductName:`cortex xdr`").unwrap();
        assert_eq!(c.entity, Entity::Finding);
        assert_eq!(c.condition, "f.status = 'open' AND f.product = ?");
        assert_eq!(c.params, vec![Value::Text("Cortex XDR".into())]);
        let c = sql("asset.inventory:(source:`Cortex XDR`)").unwrap();
        assert_eq!(c.entity, Entity::Asset);
        assert!(c.condition.starts_with("EXISTS (SELECT 1 FROM asset_sources s"), "{}", c.condition);
        let c = sql("finding.severity>=high finding.status:*").unwrap();
        assert_eq!(c.condition, "(f.severity >= ? AND 1 = 1)");
        let c = sql("asset.hostName:\"web-'; DROP TABLE assets;--\"").unwrap();
        assert!(!c.condition.contains("DROP"), "user text is never in SQL: {}", c.condition);
        // An exact match on an attribute uses its path twice: bound twice.
        let c = sql("asset.hostName:web-01").unwrap();
        assert_eq!(c.condition.matches('?').count(), c.params.len(), "{}", c.condition);
    }

    #[test]
    fn numbers_are_finite() {
        for q in ["finding.cvssScore>NaN", "finding.cvssScore>1e999", "finding.sourceRiskScore<inf"] {
            let e = sql(q).unwrap_err();
            assert!(e.message.contains("is not a number"), "{q}: {}", e.message);
        }
        assert!(sql("finding.cvssScore>7.5").is_ok());
    }

    #[test]
    fn errors_point_at_fields_and_values() {
        let e = sql("asset.colour:red").unwrap_err();
        assert_eq!(e.message, "unknown field 'asset.colour'");
        assert_eq!(sql("finding.severty:high").unwrap_err().message, "unknown field 'finding.severty' (did you mean 'finding.severity'?)");
        assert_eq!(sql("asset.hostname:web").unwrap_err().message, "unknown field 'asset.hostname' (did you mean 'asset.hostName'?)");
        assert_eq!(e.span, Span { start: 0, end: 12 });
        let e = sql("finding.kind:bug").unwrap_err();
        assert!(e.message.contains("vulnerability, code_weakness"), "{}", e.message);
        assert!(sql("finding.severity:spicy").is_err());
    }
}
