//! Reading: the query language over assets and findings (count, keyset pages, sort),
//! single items with their sources, and the field registry.

use serde::Serialize;
use tributary_core::model::Role;
use tributary_core::query::{MAX_QUERY_BYTES, QueryError};
use tributary_store::query::{self, Compiled, Cursor, Entity, QueryContext, Sort};
use tributary_store::repo::{findings, maps};
use tributary_store::value::Value;

pub use tributary_store::query::Entity as Listing;
pub use tributary_store::repo::findings::{AssetDetail, FindingDetail};

use crate::{App, AppError, Principal, Result};

/// Largest page.
pub const MAX_LIMIT: i64 = 1000;

/// A page of results and the cursor of the next one (none: this is the last).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Page {
    pub entity: &'static str,
    /// The keys of each item, in display order.
    #[serde(skip)]
    pub columns: &'static [&'static str],
    pub items: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// The query (empty: everything; findings: the open ones).
    pub q: String,
    /// `severity`, `-first_seen`, … (default: most severe first; assets by id).
    pub sort: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub limit: i64,
    /// Only these keys of each item (their API names; `id` is always kept).
    pub fields: Option<Vec<String>>,
}

/// One field of the registry, as docs and the API show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FieldInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    #[serde(rename = "type")]
    pub type_name: String,
    pub operators: &'static str,
    pub column: &'static str,
    pub api: &'static str,
    pub description: &'static str,
}

/// Every built-in query field (target-model attributes come on top: see docs/query.md).
pub fn fields() -> Vec<FieldInfo> {
    query::FIELDS
        .iter()
        .map(|f| FieldInfo {
            name: f.name,
            aliases: f.aliases,
            type_name: f.type_name(),
            operators: f.operators(),
            column: f.column(),
            api: f.api,
            description: f.description,
        })
        .collect()
}

/// A query error with its caret rendering, as the `q` field's reason.
pub fn query_error(q: &str, e: &QueryError) -> AppError {
    AppError::invalid("q", e.render(q))
}

fn entity_name(e: Entity) -> &'static str {
    match e {
        Entity::Asset => "asset",
        Entity::Finding => "finding",
    }
}

fn encode_cursor(c: &Cursor) -> String {
    let v = match &c.0 {
        Value::Int(i) => serde_json::json!(i),
        Value::Real(r) => serde_json::json!(r),
        Value::Text(t) => serde_json::json!(t),
        _ => serde_json::Value::Null,
    };
    hex::encode(serde_json::json!([v, c.1]).to_string())
}

fn decode_cursor(text: &str) -> Result<Cursor> {
    let bad = || AppError::invalid("cursor", "not a cursor from a previous page (pass next_cursor back as it is)");
    let bytes = hex::decode(text).map_err(|_| bad())?;
    let v: (serde_json::Value, i64) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let value = match v.0 {
        serde_json::Value::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap_or_default()),
        serde_json::Value::Number(n) => Value::Real(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Value::Text(s),
        _ => Value::Null,
    };
    Ok((value, v.1))
}

impl App {
    /// What compiling a query needs from the database, in one read.
    fn query_context(&self) -> Result<(QueryContext, tributary_store::Dialect)> {
        let (mut products, dialect, sla) =
            self.store().read(|c| Ok((maps::products(c)?, c.dialect(), tributary_store::repo::meta::get(c, crate::sla::SLA_KEY)?)))?;
        products.extend(tributary_connectors::CONNECTORS.iter().map(|k| k.product.to_string()));
        Ok((QueryContext { products, sla: crate::parse_setting(crate::sla::SLA_KEY, sla)? }, dialect))
    }

    /// Compiles a query (for `entity` when given); errors point at the position.
    pub(crate) fn compile(&self, q: &str, entity: Option<Entity>) -> Result<Compiled> {
        let (ctx, dialect) = self.query_context()?;
        if q.trim().is_empty() {
            return match entity {
                Some(e) => Ok(query::all(e, dialect)),
                None => Err(AppError::invalid("q", "the query is empty")),
            };
        }
        if q.len() > MAX_QUERY_BYTES {
            return Err(AppError::invalid("q", format!("the query is {} bytes; the limit is {MAX_QUERY_BYTES}", q.len())));
        }
        let expr = tributary_core::query::parse(q).map_err(|e| query_error(q, &e))?;
        query::compile_as(&expr, dialect, &ctx, entity).map_err(|e| query_error(q, &e))
    }

    /// Rebuilds the maintained counts of integrations that changed since they were last
    /// read (see `store::repo::stats`): the first count after a sync pays for it.
    pub(crate) fn fresh_counts(&self) -> Result<()> {
        if self.store().read(tributary_store::repo::stats::any_stale)? {
            self.store().write(tributary_store::repo::stats::refresh)?;
        }
        Ok(())
    }

    /// How many assets or findings a query matches.
    pub fn count(&self, who: &Principal, q: &str, entity: Option<Entity>) -> Result<i64> {
        who.require(Role::Viewer, "querying")?;
        let c = self.compile(q, entity)?;
        self.fresh_counts()?;
        Ok(self.store().read(|conn| query::count(conn, &c))?)
    }

    /// A page of what a query matches (of `entity` when given, else what the query is about).
    pub fn list(&self, who: &Principal, req: &ListRequest, entity: Option<Entity>) -> Result<Page> {
        who.require(Role::Viewer, "querying")?;
        if !(1..=MAX_LIMIT).contains(&req.limit) {
            return Err(AppError::invalid("limit", format!("between 1 and {MAX_LIMIT}, got {}", req.limit)));
        }
        let c = self.compile(&req.q, entity)?;
        let sort = match &req.sort {
            Some(s) => Sort::parse(c.entity, s).map_err(|e| AppError::invalid("sort", e))?,
            None => Sort::default_for(c.entity),
        };
        let cursor = req.cursor.as_deref().map(decode_cursor).transpose()?;
        let keep = match &req.fields {
            Some(wanted) => {
                let known = query::columns(c.entity);
                for f in wanted {
                    if !known.contains(&f.as_str()) {
                        let hint = tributary_core::transform::targets::nearest(f, known.iter().copied())
                            .map(|n| format!(" (did you mean '{n}'?)"))
                            .unwrap_or_default();
                        return Err(AppError::invalid("fields", format!("no field '{f}'{hint}; items have {}", known.join(", "))));
                    }
                }
                Some(wanted.clone())
            }
            None => None,
        };
        let (mut items, next) = self.store().read(|conn| query::page(conn, &c, sort, cursor.as_ref(), req.limit))?;
        if let Some(keep) = keep {
            for item in &mut items {
                if let serde_json::Value::Object(m) = item {
                    m.retain(|k, _| k == "id" || keep.iter().any(|f| f == k));
                }
            }
        }
        Ok(Page { entity: entity_name(c.entity), columns: query::columns(c.entity), items, next_cursor: next.as_ref().map(encode_cursor) })
    }

    pub fn finding(&self, who: &Principal, id: i64) -> Result<FindingDetail> {
        who.require(Role::Viewer, "reading a finding")?;
        Ok(self.store().read(|c| findings::finding(c, id))?)
    }

    pub fn asset(&self, who: &Principal, id: i64) -> Result<AssetDetail> {
        who.require(Role::Viewer, "reading an asset")?;
        Ok(self.store().read(|c| findings::asset(c, id))?)
    }
}

pub use tributary_store::repo::stats::{Bucket, Summary};

impl App {
    /// Open findings by severity, source and kind, and all by status: from the maintained
    /// counts, not a scan.
    pub fn summary(&self, who: &Principal) -> Result<Summary> {
        who.require(Role::Viewer, "reading the summary")?;
        self.fresh_counts()?;
        Ok(self.store().read(tributary_store::repo::stats::summary)?)
    }
}

/// The field table of docs/query.md (Markdown), from the registry.
pub fn fields_markdown() -> String {
    let mut out = String::from("| field | type | operators | meaning |\n|---|---|---|---|\n");
    for f in fields() {
        let mut name = format!("`{}`", f.name);
        for a in f.aliases {
            name.push_str(&format!(" (`{a}`)"));
        }
        out.push_str(&format!("| {name} | {} | `{}` | {} |\n", f.type_name, f.operators, f.description.replace('|', "\\|")));
    }
    out
}
