//! Users and API tokens.

use tributary_core::model::{Role, User};
use tributary_core::time::now_ms;

use super::{conflict, parse_enum};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::Row;

fn user(mut r: Row) -> Result<User> {
    Ok(User { id: r.get(0)?, name: r.take(1)?, role: parse_enum(&r.take::<String>(2)?)?, created_at: r.get(3)? })
}

/// Creates a user with an Argon2id password hash.
pub fn create(conn: &mut dyn Conn, name: &str, role: Role, password_hash: &str) -> Result<User> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(StoreError::Invalid(format!("invalid user name '{name}': 1–64 characters, no spaces")));
    }
    let r = conn.query_one(
        "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id, name, role, created_at",
        params![name, role.as_str(), password_hash, now_ms()],
    );
    user(conflict(r, "user", name)?)
}

pub fn list(conn: &mut dyn Conn) -> Result<Vec<User>> {
    conn.query("SELECT id, name, role, created_at FROM users ORDER BY name", &[])?.into_iter().map(user).collect()
}

/// The user and their password hash, for login.
pub fn credentials(conn: &mut dyn Conn, name: &str) -> Result<Option<(User, String)>> {
    match conn.query_opt("SELECT id, name, role, created_at, password_hash FROM users WHERE name = ? AND disabled = 0", params![name])? {
        Some(mut r) => {
            let hash: String = r.take(4)?;
            Ok(Some((user(r)?, hash)))
        }
        None => Ok(None),
    }
}
