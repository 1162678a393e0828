//! Stored raw vendor records: read back for transform-map previews and replays.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::ingest::{RawDict, decompress};
use crate::params;

#[derive(Debug, Clone)]
pub struct StoredRaw {
    pub id: i64,
    pub key: String,
    pub scope: Option<String>,
    pub body: serde_json::Value,
}

/// Raw records of a stream in id order, after `after_id` (keyset paging for replays).
pub fn page(conn: &mut dyn Conn, integration_id: i64, stream: &str, after_id: i64, limit: i64) -> Result<Vec<StoredRaw>> {
    let rows = conn.query(
        "SELECT id, record_key, scope, body, dict_id FROM raw_records WHERE integration_id = ? AND stream = ? AND id > ? ORDER BY id LIMIT ?",
        params![integration_id, stream, after_id, limit],
    )?;
    // A stream's records share one dictionary or a few: each is read once per page.
    let mut dicts: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let bytes: Vec<u8> = r.take(3)?;
        let dict_id: Option<i64> = r.get(4)?;
        let dict = match dict_id {
            Some(id) => {
                if let Entry::Vacant(slot) = dicts.entry(id) {
                    let d: Option<Vec<u8>> =
                        conn.query_opt("SELECT body FROM raw_dicts WHERE id = ?", params![id])?.map(|mut r| r.take(0)).transpose()?;
                    let d = d.ok_or_else(|| StoreError::Decode(format!("raw record: compression dictionary {id} is missing")))?;
                    slot.insert(d);
                }
                dicts.get(&id).map(Vec::as_slice)
            }
            None => None,
        };
        let body = serde_json::from_slice(&decompress(&bytes, dict)?).map_err(|e| StoreError::Decode(format!("raw record: {e}")))?;
        out.push(StoredRaw { id: r.get(0)?, key: r.take(1)?, scope: r.take(2)?, body });
    }
    Ok(out)
}

/// The newest dictionary of each of an integration's streams (a run keeps using it).
pub fn dicts(conn: &mut dyn Conn, integration_id: i64) -> Result<Vec<RawDict>> {
    let mut out: Vec<RawDict> = Vec::new();
    for mut r in
        conn.query("SELECT id, stream, body FROM raw_dicts WHERE integration_id = ? ORDER BY created_at, id", params![integration_id])?
    {
        let d = RawDict { id: r.get(0)?, stream: r.take(1)?, bytes: r.take::<Option<Vec<u8>>>(2)?.unwrap_or_default() };
        out.retain(|o| o.stream != d.stream);
        out.push(d);
    }
    Ok(out)
}

pub fn count(conn: &mut dyn Conn, integration_id: i64, stream: &str) -> Result<i64> {
    conn.scalar("SELECT COUNT(*) FROM raw_records WHERE integration_id = ? AND stream = ?", params![integration_id, stream])
}

/// One raw record by id, decoded, with its integration and stream.
pub fn get(conn: &mut dyn Conn, id: i64) -> Result<Option<(String, StoredRaw)>> {
    let Some(mut r) = conn.query_opt("SELECT integration_id, stream FROM raw_records WHERE id = ?", params![id])? else {
        return Ok(None);
    };
    let (integration_id, stream): (i64, String) = (r.get(0)?, r.take(1)?);
    let mut page = page(conn, integration_id, &stream, id - 1, 1)?;
    Ok(page.pop().filter(|p| p.id == id).map(|p| (stream, p)))
}
