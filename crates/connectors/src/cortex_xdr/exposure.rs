//! Attack-surface exposure records (`get_assets_internet_exposure`, Xpanse/ASM on the same
//! tenant; vendor-apis.md §3.3): read after the endpoints, with page tokens, one record
//! per exposed asset. A record names the agent it belongs to (`agent_id`) and the cloud
//! instance (`cloud_id`), so the default map joins it to the endpoint's host and gives the
//! host its instance id — what links it to Cortex Cloud workloads. A tenant without
//! attack-surface management answers with an error: the run notes it and goes on.
//!
//! Cursor (inside the chain's): `{"token": "…"}` — the page token to send next.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::XdrClient;
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source};

pub const STREAM: &str = "exposure";

#[derive(Debug, Deserialize)]
pub(super) struct ExposureReply {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub assets_internet_exposure: Vec<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

pub struct ExposureSource {
    client: Arc<XdrClient>,
    notes: Vec<String>,
}

impl ExposureSource {
    pub fn new(client: Arc<XdrClient>) -> ExposureSource {
        ExposureSource { client, notes: Vec::new() }
    }
}

impl Source for ExposureSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(async move {
            let token = cursor.and_then(|c| c.get("token")).and_then(Value::as_str).map(str::to_string);
            let reply = match self.client.exposure(token.as_deref()).await {
                Ok(r) => r,
                // No attack-surface management on the tenant (or not for this key): the
                // endpoints still sync; the run says why hosts have no exposure.
                Err(e) if token.is_none() && e.is_connection() => {
                    self.notes.push(format!("no attack-surface exposure records ({e}); hosts keep unknown exposure"));
                    return Ok(RawPage::default());
                }
                Err(e) => return Err(e),
            };
            let mut records = Vec::with_capacity(reply.assets_internet_exposure.len());
            for row in reply.assets_internet_exposure {
                let text = row.get().to_string();
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let key = v["asm_ids"][0].as_str().or(v["agent_id"].as_str()).map(str::to_string);
                let Some(key) = key else { continue };
                records.push(RawRecord { stream: STREAM, key, body: Value::Null, tombstone: false, scope: None, raw_json: Some(text) });
            }
            Ok(RawPage {
                records,
                next: reply.next_page_token.filter(|t| !t.is_empty()).map(|t| json!({"token": t})),
                watermark: None,
                total: reply.total_count,
            })
        })
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}
