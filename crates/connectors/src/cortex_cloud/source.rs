//! Paging repositories: `offset`/`limit`, in `assetId` order as the API lists them,
//! until a short page. Each repository is one record (its asset's whole context), so a
//! full run retires repositories the tenant no longer lists. There is no "changed
//! since" on this API: every run reads the whole list (a few thousand rows at most).
//!
//! Cursor: `{"offset": n}` — the next row to ask for.

use serde_json::{Value, json};

use super::{CloudClient, STREAM};
use crate::{BoxFuture, ConnectorError, Cursor, RawPage, RawRecord, Source};

pub struct CloudSource {
    client: CloudClient,
    page_size: u64,
    /// Rows without an `assetId` (skipped), for the run's notes.
    keyless: u64,
}

impl CloudSource {
    pub fn new(client: CloudClient, page_size: u64) -> CloudSource {
        CloudSource { client, page_size, keyless: 0 }
    }
}

impl Source for CloudSource {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(async move {
            let offset = cursor.and_then(|c| c.get("offset")).and_then(Value::as_u64).unwrap_or(0);
            let page = self.client.repositories(offset, self.page_size).await?;
            let n = page.rows.len() as u64;
            let mut records = Vec::with_capacity(page.rows.len());
            for row in page.rows {
                let text = row.get().to_string();
                let key = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                    v.get("assetId").and_then(|k| k.as_str().map(str::to_string).or_else(|| k.as_i64().map(|n| n.to_string())))
                });
                let Some(key) = key else {
                    self.keyless += 1;
                    continue;
                };
                records.push(RawRecord { stream: STREAM, key, body: Value::Null, tombstone: false, scope: None, raw_json: Some(text) });
            }
            let next_offset = offset + n;
            let done = n < self.page_size || page.total.is_some_and(|t| next_offset >= t);
            Ok(RawPage { records, next: (!done).then(|| json!({"offset": next_offset})), watermark: None, total: page.total })
        })
    }

    fn notes(&self) -> Vec<String> {
        if self.keyless == 0 {
            return Vec::new();
        }
        vec![format!("{} repositories came without an assetId and were skipped", self.keyless)]
    }
}
