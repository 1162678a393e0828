//! Key–value settings and facts in the `meta` table (loaded feed versions, team settings
//! such as risk weights and SLA days).

use crate::conn::Conn;
use crate::error::Result;
use crate::params;

pub fn get(conn: &mut dyn Conn, key: &str) -> Result<Option<String>> {
    conn.query_opt("SELECT value FROM meta WHERE key = ?", params![key])?.map(|mut r| r.take(0)).transpose()
}

pub fn set(conn: &mut dyn Conn, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}
