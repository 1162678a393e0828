//! Users and API tokens.

use tributary_core::model::{ApiToken, Role, User};
use tributary_core::time::now_ms;

use super::{conflict, parse_enum};
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;
use crate::value::{Param, Row};

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

pub fn get(conn: &mut dyn Conn, name: &str) -> Result<User> {
    match conn.query_opt("SELECT id, name, role, created_at FROM users WHERE name = ?", params![name])? {
        Some(r) => user(r),
        None => Err(StoreError::NotFound { what: "user", name: name.to_string() }),
    }
}

pub fn count(conn: &mut dyn Conn) -> Result<i64> {
    conn.scalar("SELECT COUNT(*) FROM users", &[])
}

pub fn set_password(conn: &mut dyn Conn, name: &str, password_hash: &str) -> Result<()> {
    if conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", params![password_hash, name])? == 0 {
        return Err(StoreError::NotFound { what: "user", name: name.to_string() });
    }
    Ok(())
}

pub fn set_role(conn: &mut dyn Conn, name: &str, role: Role) -> Result<User> {
    if conn.execute("UPDATE users SET role = ? WHERE name = ?", params![role.as_str(), name])? == 0 {
        return Err(StoreError::NotFound { what: "user", name: name.to_string() });
    }
    get(conn, name)
}

/// Deletes a user and (by cascade) their tokens.
pub fn delete(conn: &mut dyn Conn, name: &str) -> Result<()> {
    let u = get(conn, name)?;
    conn.execute("DELETE FROM api_tokens WHERE user_id = ?", params![u.id])?;
    conn.execute("DELETE FROM users WHERE id = ?", params![u.id])?;
    Ok(())
}

fn token(mut r: Row) -> Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.take(2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        last_used_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const TOKEN_COLS: &str = "id, user_id, name, created_at, expires_at, last_used_at, revoked_at";

/// Stores a token by its hash (the token itself is never stored).
pub fn create_token(conn: &mut dyn Conn, user_id: i64, name: &str, token_hash: &str, expires_at: Option<i64>) -> Result<ApiToken> {
    let r = conn.query_one(
        &format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING {TOKEN_COLS}"
        ),
        &[
            Param::Int(user_id),
            Param::Text(name),
            Param::Text(token_hash),
            Param::Int(now_ms()),
            expires_at.map_or(Param::Null, Param::Int),
        ],
    )?;
    token(r)
}

pub fn tokens(conn: &mut dyn Conn, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
    match user_id {
        Some(u) => conn.query(&format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ? ORDER BY id"), params![u])?,
        None => conn.query(&format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY id"), &[])?,
    }
    .into_iter()
    .map(token)
    .collect()
}

/// Revokes a token (of `user_id` when given); idempotent.
pub fn revoke_token(conn: &mut dyn Conn, id: i64, user_id: Option<i64>) -> Result<ApiToken> {
    let n = match user_id {
        Some(u) => conn
            .execute("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?", params![now_ms(), id, u])?,
        None => conn.execute("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", params![now_ms(), id])?,
    };
    if n == 0 {
        return Err(StoreError::NotFound { what: "token", name: id.to_string() });
    }
    token(conn.query_one(&format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?"), params![id])?)
}

/// The user a token hash belongs to, when the token is live (not revoked, not expired,
/// user not disabled). Reads only: see [`touch_token`].
pub fn authenticate_token(conn: &mut dyn Conn, token_hash: &str, now: i64) -> Result<Option<(User, ApiToken)>> {
    let Some(r) = conn.query_opt(
        &format!(
            "SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
        ),
        params![token_hash, now],
    )?
    else {
        return Ok(None);
    };
    let t = token(r)?;
    let Some(r) = conn.query_opt("SELECT id, name, role, created_at FROM users WHERE id = ? AND disabled = 0", params![t.user_id])? else {
        return Ok(None);
    };
    Ok(Some((user(r)?, t)))
}

/// Records that a token was used.
pub fn touch_token(conn: &mut dyn Conn, id: i64, now: i64) -> Result<()> {
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", params![now, id])?;
    Ok(())
}
