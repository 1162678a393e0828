//! The route table: every API route is added through [`Api::route`] with its
//! documentation ([`Op`]), so the router and the OpenAPI document come from one list and
//! cannot drift. Each authenticated route gets the auth layer, which turns a bearer token
//! into a [`Principal`] (401 without a valid one) and refuses roles below the route's
//! minimum (403) before the body is read; the application layer checks again.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};
use tributary_app::{App, Principal, Role};

use crate::problem::{Problem, problem};

/// A schema of `T` (a `$ref` into the document's components).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
}

/// A documented parameter: name, place, JSON type, required, description.
pub type Param = (&'static str, In, &'static str, bool, &'static str);

/// One operation's documentation.
pub struct Op {
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// The least role that may call it; `None`: no sign-in needed.
    pub role: Option<Role>,
    pub params: &'static [Param],
    pub body: Option<SchemaFn>,
    /// Success status and body schema (`None`: no body).
    pub ok: (u16, Option<SchemaFn>),
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub op: Op,
}

/// Routes and their documentation, built together.
pub struct Api {
    app: App,
    router: Router<App>,
    pub routes: Vec<Route>,
}

impl Api {
    pub fn new(app: App) -> Api {
        Api { app, router: Router::new(), routes: Vec::new() }
    }

    /// Adds `handler` for `method path`, documented by `op`, behind the auth layer unless
    /// `op.role` is `None`.
    pub fn route(mut self, method: Method, path: &'static str, op: Op, handler: MethodRouter<App>) -> Api {
        let handler = match op.role {
            Some(role) => handler.route_layer(middleware::from_fn_with_state((self.app.clone(), role), authenticate)),
            None => handler,
        };
        self.router = self.router.route(path, handler);
        self.routes.push(Route { method, path, op });
        self
    }

    pub fn into_parts(self) -> (Router<App>, Vec<Route>) {
        (self.router, self.routes)
    }
}

/// The auth layer.
async fn authenticate(State((app, need)): State<(App, Role)>, mut req: Request, next: Next) -> Result<Response, Problem> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let Some(token) = token else {
        return Err(problem(StatusCode::UNAUTHORIZED, "sign in: send Authorization: Bearer TOKEN (POST /api/v1/auth/login issues one)"));
    };
    let who: Principal = app.blocking(move |app| app.authenticate(&token)).await?;
    who.require(need, &format!("{} {}", req.method(), req.uri().path()))?;
    req.extensions_mut().insert(who);
    Ok(next.run(req).await)
}

/// The OpenAPI 3.1 document of `routes`.
pub fn openapi(routes: &[Route]) -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let problem_schema = g.subschema_for::<Problem>();
    let mut paths = serde_json::Map::new();
    for r in routes {
        let op = &r.op;
        let params: Vec<Value> = op
            .params
            .iter()
            .map(|(name, place, ty, required, desc)| {
                json!({"name": name, "in": if *place == In::Path { "path" } else { "query" }, "required": *required || *place == In::Path,
                       "description": desc, "schema": {"type": ty}})
            })
            .collect();
        let mut responses = serde_json::Map::new();
        let ok = match op.ok.1 {
            Some(f) => json!({"description": "Success.", "content": {"application/json": {"schema": f(&mut g)}}}),
            None => json!({"description": "Success, no body."}),
        };
        responses.insert(op.ok.0.to_string(), ok);
        let problem_ref = json!({"application/problem+json": {"schema": problem_schema}});
        let mut errors = vec![("400", "Invalid input: the field and reason are in the problem.")];
        if op.role.is_some() {
            errors.push(("401", "Not signed in, or the token is invalid, expired or revoked."));
            errors.push(("403", "The caller's role may not do this."));
        }
        if r.path.contains('{') {
            errors.push(("404", "No such item."));
        }
        if op.body.is_some() {
            errors.push(("413", "The body is too large."));
        }
        for (code, desc) in errors {
            responses.insert(code.into(), json!({"description": desc, "content": problem_ref}));
        }
        let mut o = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
            "x-tributary-role": op.role.map(|r| r.as_str()),
        });
        if op.role.is_some() {
            o["security"] = json!([{"bearer": []}]);
        }
        if let Some(f) = op.body {
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": f(&mut g)}}});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tributary API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Exposure management: integrations, sync runs, transform maps, profiles, assets, findings, triage. \
                Authenticate with `Authorization: Bearer TOKEN` (POST /api/v1/auth/login, or `tributary token create`). \
                Lists page with `cursor` (keyset) and filter with `q` in the query language (GET /api/v1/fields). \
                Errors are RFC 9457 problem details."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": g.take_definitions(true),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}
