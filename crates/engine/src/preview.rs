//! A map applied to a few raw records, input beside output — stored records when there
//! are some, else one page fetched live (nothing is written).

use serde_json::{Value, json};
use tributary_connectors::SyncPlan;
use tributary_core::model::SyncMode;
use tributary_core::transform::{StagedRecord, TransformMap, TransformMapSpec, stage};
use tributary_store::repo::{integrations, raw};

use crate::integrations::kind_of;
use crate::{Engine, EngineError, Result};

/// The output side of a preview, as JSON.
pub fn staged_json(s: &StagedRecord) -> Value {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
    json!({
        "asset": s.asset.as_ref().map(|a| json!({
            "kind": a.kind, "name": a.name,
            "identifiers": a.identifiers.iter().map(|i| format!("{}:{}", i.kind, i.value)).collect::<Vec<_>>(),
            "attributes": parse(&a.attributes),
        })),
        "findings": s.findings.iter().map(|f| json!({
            "kind": f.kind, "product": f.product, "external_id": f.external_id, "title": f.title,
            "severity": f.severity, "status": f.status, "cve": f.cve, "attributes": parse(&f.attributes),
        })).collect::<Vec<_>>(),
        "warnings": s.warnings,
    })
}

impl Engine {
    /// `(input, output)` pairs for up to `n` records.
    pub async fn preview(&self, spec: TransformMapSpec, integration_name: &str, n: usize) -> Result<Vec<(Value, Value)>> {
        let map = TransformMap::compile(spec)
            .map_err(|e| EngineError::Invalid(e.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; ")))?;
        let i = integration_name.to_string();
        let integration = self.blocking(move |s| Ok(s.read(|c| integrations::get(c, &i))?)).await?;
        if integration.kind != map.spec.connector {
            return Err(EngineError::Invalid(format!(
                "map reads {} records but '{}' is a {} integration",
                map.spec.connector, integration.name, integration.kind
            )));
        }
        let kind = kind_of(&integration.kind)?;
        let stream = map.spec.source_model.clone();
        let (id, st) = (integration.id, stream.clone());
        let limit = n as i64;
        let mut inputs: Vec<Value> =
            self.blocking(move |s| Ok(s.read(|c| raw::page(c, id, &st, 0, limit))?)).await?.into_iter().map(|r| r.body).collect();
        if inputs.is_empty() {
            let connector = self.connector(&integration).await?;
            let mut source = connector.source(&SyncPlan { mode: SyncMode::Full, watermark: None });
            let page = source.next_page(None).await?;
            inputs = page
                .records
                .iter()
                .filter(|r| r.stream == stream)
                .take(n)
                .map(|r| r.parsed().map(|b| b.into_owned()))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| EngineError::Invalid(format!("the connector sent a record that is not JSON: {e}")))?;
        }
        let product = map.spec.product.clone().unwrap_or_else(|| kind.product.to_string());
        Ok(inputs
            .into_iter()
            .take(n)
            .map(|input| {
                let out = staged_json(&stage(map.apply(&input), map.spec.target_model, kind.name, &product));
                (input, out)
            })
            .collect())
    }
}
