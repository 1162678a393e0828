//! The Cortex XDR API client: authentication (standard and advanced keys), the calls the
//! connector makes, and the vendor's error bodies turned into words.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tributary_core::secret::Secret;

use super::XdrConfig;
use crate::http::{ClientOptions, HttpClient};
use crate::{BoxFuture, Connector, ConnectorError, Source, SyncPlan, TestReport};

pub(super) const VENDOR: &str = "Cortex XDR";

#[derive(Debug, Deserialize)]
struct Reply<T> {
    reply: T,
}

/// A `get_endpoint` page. Real replies often carry only `result_count` and `endpoints`
/// (the vendor's own fixture `get_endpoints.json` has no `total_count`): the total is a
/// hint, and a short page ends the listing.
#[derive(Debug, Deserialize)]
pub(super) struct EndpointsReply {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub endpoints: Vec<Value>,
}

/// What `get_tenant_info` says about vulnerability data (the vendor's fixture
/// `get_tenant_info.json`: `purchased_host_insights`, `enabled_host_insights`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantInfo {
    #[serde(default)]
    pub purchased_host_insights: Option<Value>,
    #[serde(default)]
    pub enabled_host_insights: Option<Value>,
}

impl TenantInfo {
    /// `Ok(endpoints)` when Host Insights is licensed and enabled; else why CVEs cannot be read.
    pub fn host_insights(&self) -> Result<i64, String> {
        let n = |v: &Option<Value>| v.as_ref().and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
        match (n(&self.purchased_host_insights), n(&self.enabled_host_insights)) {
            (_, Some(e)) if e > 0 => Ok(e),
            (Some(p), _) if p > 0 => Err(format!(
                "Host Insights is licensed ({p} endpoints) but enabled on none; enable it (Endpoints → Policy) for vulnerability assessment"
            )),
            _ => Err("the tenant has no Host Insights licence (get_tenant_info: purchased_host_insights = 0), and vulnerability assessment data comes only with it".into()),
        }
    }
}

pub struct XdrClient {
    http: Arc<HttpClient>,
    cfg: XdrConfig,
    key: Secret,
}

impl XdrClient {
    pub fn new(base: String, cfg: XdrConfig, key: Secret, opts: &ClientOptions) -> Result<XdrClient, ConnectorError> {
        Ok(XdrClient { http: Arc::new(HttpClient::new(VENDOR, base, opts, crate::cortex::classify)?), cfg, key })
    }

    /// POSTs `{"request_data": …}` and decodes the `reply`.
    pub(super) async fn call<T: serde::de::DeserializeOwned>(&self, path: &str, request_data: Value) -> Result<T, ConnectorError> {
        let url = self.http.url(path);
        let body = json!({ "request_data": request_data });
        let r: Reply<T> = self.http.send_json(path, |c| self.sign(c.post(&url).json(&body))).await?;
        Ok(r.reply)
    }

    fn sign(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        crate::cortex::sign(rb, &self.cfg.key_id, self.cfg.security, &self.key)
    }

    /// One page of endpoints, sorted by `endpoint_id` so offsets do not drift while the
    /// fleet changes and pages can be joined with XQL rows sorted the same way.
    pub(super) async fn endpoints(&self, filters: Value, from: u64, to: u64) -> Result<EndpointsReply, ConnectorError> {
        self.call(
            "/public_api/v1/endpoints/get_endpoint/",
            json!({"filters": filters, "search_from": from, "search_to": to, "sort": {"field": "endpoint_id", "keyword": "asc"}}),
        )
        .await
    }

    /// One page of attack-surface exposure records (page tokens; vendor-apis.md §3.3).
    pub(super) async fn exposure(&self, token: Option<&str>) -> Result<super::exposure::ExposureReply, ConnectorError> {
        let mut data = json!({"filters": [], "search_from": 0, "search_to": 100, "use_page_token": true});
        if let Some(t) = token {
            data["next_page_token"] = Value::from(t);
        }
        self.call("/public_api/v1/assets/get_assets_internet_exposure/", data).await
    }

    pub(super) async fn tenant_info(&self) -> Result<TenantInfo, ConnectorError> {
        self.call("/public_api/v1/system/get_tenant_info/", json!({})).await
    }

    /// The bytes of an XQL result stream (gzip-compressed as asked).
    pub(super) async fn xql_stream(&self, stream_id: &str) -> Result<Vec<u8>, ConnectorError> {
        let path = "/public_api/v1/xql/get_query_results_stream/";
        let body = json!({"request_data": {"stream_id": stream_id, "is_gzip_compressed": true}});
        let url = self.http.url(path);
        self.http.send(path, |c| self.sign(c.post(&url).json(&body)), |b| Ok(b.to_vec())).await
    }

    pub(super) fn vulnerabilities_wanted(&self) -> bool {
        self.cfg.vulnerabilities()
    }
}

impl Connector for XdrClient {
    fn test(&self) -> BoxFuture<'_, Result<TestReport, ConnectorError>> {
        Box::pin(async move {
            // Tenant info proves the key and says whether CVEs can be read; one endpoint
            // proves the role can view endpoints.
            let info = self.tenant_info().await?;
            let page = self.endpoints(json!([]), 0, 1).await?;
            let visible = match page.total_count {
                Some(n) => format!("{n} endpoints visible"),
                None if page.endpoints.is_empty() => "no endpoints visible yet".to_string(),
                None => "endpoints visible".to_string(),
            };
            let cves = match (self.cfg.vulnerabilities(), info.host_insights()) {
                (false, _) => "CVEs not requested (host assets only)".to_string(),
                (true, Ok(n)) => format!("Host Insights enabled on {n} endpoints: CVEs are read through XQL"),
                (true, Err(why)) => format!("CVEs cannot be read: {why}; host assets still sync"),
            };
            Ok(TestReport { summary: format!("Connected to Cortex XDR at {}: {visible}; {cves}", self.http.base()), learned: None })
        })
    }

    fn source(&self, plan: &SyncPlan) -> Box<dyn Source> {
        let endpoints = Box::new(super::source::XdrSource::new(self.clone_handle(), plan));
        if !self.cfg.exposure() {
            return endpoints;
        }
        let exposure = Box::new(super::exposure::ExposureSource::new(Arc::new(self.clone_handle())));
        Box::new(crate::chain::Chain::new(vec![endpoints, exposure]))
    }
}

impl XdrClient {
    fn clone_handle(&self) -> XdrClient {
        XdrClient { http: self.http.clone(), cfg: self.cfg.clone(), key: self.key.clone() }
    }
}
