//! Stored raw vendor records: read back for transform-map previews and replays.

use crate::conn::Conn;
use crate::error::Result;
use crate::ingest::decompress;
use crate::params;

#[derive(Debug, Clone)]
pub struct StoredRaw {
    pub id: i64,
    pub key: String,
    pub scope: Option<String>,
    pub body: serde_json::Value,
}

fn decode(mut r: crate::value::Row) -> Result<StoredRaw> {
    let bytes: Vec<u8> = r.take(3)?;
    let body = serde_json::from_slice(&decompress(&bytes)?).map_err(|e| crate::StoreError::Decode(format!("raw record: {e}")))?;
    Ok(StoredRaw { id: r.get(0)?, key: r.take(1)?, scope: r.take(2)?, body })
}

/// Raw records of a stream in id order, after `after_id` (keyset paging for replays).
pub fn page(conn: &mut dyn Conn, integration_id: i64, stream: &str, after_id: i64, limit: i64) -> Result<Vec<StoredRaw>> {
    conn.query(
        "SELECT id, record_key, scope, body FROM raw_records WHERE integration_id = ? AND stream = ? AND id > ? ORDER BY id LIMIT ?",
        params![integration_id, stream, after_id, limit],
    )?
    .into_iter()
    .map(decode)
    .collect()
}

pub fn count(conn: &mut dyn Conn, integration_id: i64, stream: &str) -> Result<i64> {
    conn.scalar("SELECT COUNT(*) FROM raw_records WHERE integration_id = ? AND stream = ?", params![integration_id, stream])
}
