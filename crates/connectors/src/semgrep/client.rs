//! The Semgrep Web API client: bearer-token calls, deployments, projects and finding
//! pages, and the API's errors turned into words. Semgrep answers a token without the
//! Web API scope with 404 (not 401/403), so a 404 on the deployments listing — a path
//! that always exists — is reported as a scope problem.

use std::sync::Arc;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tributary_core::secret::Secret;

use super::SemgrepConfig;
use crate::http::{ClientOptions, HttpClient};
use crate::{BoxFuture, Connector, ConnectorError, ScopeInfo, Source, SyncPlan, TestReport};

pub(super) const VENDOR: &str = "Semgrep";
/// Projects asked for per request. The maximum is undocumented and a server may return
/// fewer, so only an empty page ends the listing (Semgrep's own scripts stop so too).
const PROJECTS_PER_PAGE: u64 = 1_000;
const DEPLOYMENTS: &str = "/api/v1/deployments";

#[derive(Debug, Deserialize)]
pub(super) struct Deployment {
    pub id: i64,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Deserialize)]
struct DeploymentsReply {
    #[serde(default)]
    deployments: Vec<Deployment>,
}

#[derive(Debug, Deserialize)]
struct ProjectsReply {
    #[serde(default)]
    projects: Vec<Value>,
}

/// Findings kept as their JSON text: each is parsed once into a value for the map, and
/// its text is stored as the raw record as is (no second serialization).
#[derive(Debug, Deserialize)]
pub(super) struct FindingsReply {
    #[serde(default)]
    pub findings: Vec<Box<serde_json::value::RawValue>>,
}

/// `{"error": "…"}` (our simulator's shape; the real body is undocumented, so only the
/// status decides) → words.
fn classify(vendor: &'static str, status: StatusCode, body: &[u8]) -> ConnectorError {
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string());
    let msg = if msg.is_empty() { status.canonical_reason().unwrap_or("").to_string() } else { msg };
    match status.as_u16() {
        401 => ConnectorError::Unauthorized {
            vendor,
            reason: format!("{msg}; the token is wrong, expired or revoked: create a new API token under Settings → Tokens"),
        },
        403 => ConnectorError::Forbidden { vendor, reason: format!("{msg}; the token's user lacks access to this deployment") },
        404 => ConnectorError::NotFound { vendor, reason: msg },
        s => ConnectorError::Http { vendor, status: s, reason: msg },
    }
}

pub struct SemgrepClient {
    http: Arc<HttpClient>,
    pub(super) cfg: SemgrepConfig,
    token: Secret,
}

impl SemgrepClient {
    pub fn new(base: String, cfg: SemgrepConfig, token: Secret, opts: &ClientOptions) -> Result<SemgrepClient, ConnectorError> {
        Ok(SemgrepClient { http: Arc::new(HttpClient::new(VENDOR, base, opts, classify)?), cfg, token })
    }

    pub(super) async fn get<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ConnectorError> {
        let mut url = self.http.url(path);
        if !query.is_empty() {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            url = format!("{url}?{}", q.finish());
        }
        self.http.send_json(path, |c| c.get(&url).bearer_auth(self.token.expose())).await
    }

    async fn deployment(&self) -> Result<Deployment, ConnectorError> {
        let reply: DeploymentsReply = self.get(DEPLOYMENTS, &[]).await.map_err(|e| match e {
            ConnectorError::NotFound { vendor, .. } => ConnectorError::Forbidden {
                vendor,
                reason: "the token cannot call the Web API (Semgrep answers 404 to tokens without the Web API scope, \
                         e.g. Agent (CI) tokens); create an API token with the Web API scope under Settings → Tokens"
                    .into(),
            },
            other => other,
        })?;
        // One token reaches exactly one deployment.
        reply.deployments.into_iter().next().ok_or_else(|| ConnectorError::Forbidden {
            vendor: VENDOR,
            reason: "the token reaches no deployment; create it from within the deployment to sync".into(),
        })
    }

    /// Adds and removes tags of a project (`PUT` / `DELETE …/projects/{name}/tags`;
    /// vendor-apis.md §1.2.3: tags are added by body, removed by repeated query keys).
    async fn tag_project(&self, project: &str, add: &[String], remove: &[String]) -> Result<(), ConnectorError> {
        let slug = self.slug().await?;
        // Project names carry a slash (`org/repo`) and go in the path as they are.
        let path = format!("/api/v1/deployments/{slug}/projects/{project}/tags");
        let url = self.http.url(&path);
        if !add.is_empty() {
            let body = serde_json::json!({ "tags": add });
            let _: Value = self.http.send_json(&path, |c| c.put(&url).bearer_auth(self.token.expose()).json(&body)).await?;
        }
        if !remove.is_empty() {
            let query = {
                let mut q = form_urlencoded::Serializer::new(String::new());
                for t in remove {
                    q.append_pair("tags", t);
                }
                q.finish()
            };
            let url = format!("{url}?{query}");
            let _: Value = self.http.send_json(&path, |c| c.delete(&url).bearer_auth(self.token.expose())).await?;
        }
        Ok(())
    }

    /// The deployment slug: recorded at add time, else asked for.
    pub(super) async fn slug(&self) -> Result<String, ConnectorError> {
        match &self.cfg.deployment {
            Some(s) => Ok(s.clone()),
            None => Ok(self.deployment().await?.slug),
        }
    }

    /// One page of findings, deduplicated across refs (`dedup=true`: without it the API
    /// lists a finding once per branch and pull-request ref), of the given projects (all
    /// when empty).
    pub(super) async fn findings(
        &self,
        slug: &str,
        issue_type: &str,
        page: u64,
        projects: &[i64],
    ) -> Result<FindingsReply, ConnectorError> {
        let mut q = vec![
            ("issue_type", issue_type.to_string()),
            ("dedup", "true".to_string()),
            ("page", page.to_string()),
            ("page_size", self.cfg.page_size().to_string()),
        ];
        q.extend(projects.iter().map(|id| ("repository_ids", id.to_string())));
        self.get(&format!("/api/v1/deployments/{slug}/findings"), &q).await
    }

    /// Every project of the deployment, paging until an empty page.
    pub(super) async fn projects(&self) -> Result<Vec<ProjectRow>, ConnectorError> {
        let slug = self.slug().await?;
        let path = format!("/api/v1/deployments/{slug}/projects");
        let mut out = Vec::new();
        for page in 0u64.. {
            let reply: ProjectsReply = self.get(&path, &[("page", page.to_string()), ("page_size", PROJECTS_PER_PAGE.to_string())]).await?;
            if reply.projects.is_empty() {
                break;
            }
            for p in reply.projects {
                let Some(name) = p.get("name").and_then(Value::as_str).map(str::to_string) else { continue };
                let Some(id) = p.get("id").and_then(Value::as_i64) else { continue };
                let latest_scan_at = p
                    .get("latest_scan_at")
                    .and_then(Value::as_str)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|d| d.timestamp_millis());
                out.push(ProjectRow { id, name, latest_scan_at, raw: p });
            }
        }
        Ok(out)
    }
}

/// A project as the listing gives it.
#[derive(Debug, Clone)]
pub(super) struct ProjectRow {
    pub id: i64,
    pub name: String,
    /// Epoch ms.
    pub latest_scan_at: Option<i64>,
    pub raw: Value,
}

impl Connector for SemgrepClient {
    fn test(&self) -> BoxFuture<'_, Result<TestReport, ConnectorError>> {
        Box::pin(async move {
            let d = self.deployment().await?;
            let mut learned = serde_json::Map::new();
            learned.insert("deployment".into(), Value::String(d.slug.clone()));
            learned.insert("deployment_name".into(), Value::String(d.name.clone()));
            Ok(TestReport {
                summary: format!("Connected to Semgrep at {}: deployment '{}' ({}, id {})", self.http.base(), d.name, d.slug, d.id),
                learned: Some(learned),
            })
        })
    }

    fn source(&self, plan: &SyncPlan) -> Box<dyn Source> {
        Box::new(super::source::SemgrepSource::new(self.clone_handle(), plan))
    }

    fn streams(&self) -> Option<Vec<&'static str>> {
        Some(self.cfg.streams())
    }

    fn write_back(&self) -> bool {
        self.cfg.write_back
    }

    fn set_scope_tags<'a>(&'a self, scope: &'a str, add: &'a [String], remove: &'a [String]) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(self.tag_project(scope, add, remove))
    }

    fn scopes(&self) -> BoxFuture<'_, Result<Option<Vec<ScopeInfo>>, ConnectorError>> {
        Box::pin(async move {
            let projects = self.projects().await?;
            Ok(Some(
                projects
                    .into_iter()
                    .map(|p| {
                        let url = p.raw.get("url").and_then(Value::as_str).filter(|u| !u.trim().is_empty()).map(str::to_string);
                        ScopeInfo { key: p.name.clone(), name: p.name, url, attributes: p.raw }
                    })
                    .collect(),
            ))
        })
    }
}

impl SemgrepClient {
    fn clone_handle(&self) -> SemgrepClient {
        SemgrepClient { http: self.http.clone(), cfg: self.cfg.clone(), token: self.token.clone() }
    }
}
