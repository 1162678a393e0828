//! Users, roles, API tokens and login.
//!
//! Passwords are Argon2id hashes; tokens are random (`trb_…`), shown once, stored as a
//! SHA-256 hash, expire, and can be revoked. Login is rate limited per user name: after
//! [`LOGIN_FAILURES`] failures within [`LOGIN_WINDOW`] further attempts are refused until
//! the window ends, whatever the password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tributary_core::model::{ApiToken, Role, User};
use tributary_core::password;
use tributary_core::time::{Millis, now_ms};
use tributary_store::repo::users;

use crate::{App, AppError, Principal, Result};

pub const MIN_PASSWORD: usize = 12;
pub const LOGIN_FAILURES: u32 = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// A token's lifetime when none is given, and the longest allowed.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
pub const MAX_TOKEN_DAYS: i64 = 366;
/// A login session's token lifetime.
pub const LOGIN_TOKEN_HOURS: i64 = 12;

/// Failed logins per user name.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    fn check(&self, name: &str) -> Result<()> {
        let Ok(map) = self.failures.lock() else { return Ok(()) };
        if let Some((n, since)) = map.get(name)
            && *n >= LOGIN_FAILURES
            && since.elapsed() < LOGIN_WINDOW
        {
            let wait = LOGIN_WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
            return Err(AppError::Unauthorized(format!("too many failed logins for '{name}'; try again in {wait}s")));
        }
        Ok(())
    }

    fn failed(&self, name: &str) {
        if let Ok(mut map) = self.failures.lock() {
            let e = map.entry(name.to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() >= LOGIN_WINDOW {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }

    fn succeeded(&self, name: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(name);
        }
    }
}

/// A token as created: the secret itself appears here and nowhere else, ever.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
    pub user: String,
}

/// The first administrator, created on first start.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub name: String,
    /// The generated one-time password (none when it came from the environment).
    pub generated_password: Option<String>,
}

fn check_password(pw: &str) -> Result<()> {
    if pw.chars().count() < MIN_PASSWORD {
        return Err(AppError::invalid("password", format!("must be at least {MIN_PASSWORD} characters")));
    }
    Ok(())
}

fn hash(pw: &str) -> Result<String> {
    password::hash_password(pw).map_err(|e| AppError::Internal(e.to_string()))
}

impl App {
    pub fn users(&self, who: &Principal) -> Result<Vec<User>> {
        who.require(Role::Admin, "listing users")?;
        Ok(self.store().read(users::list)?)
    }

    /// Adds a user; without a password one is generated and returned (shown once).
    pub fn add_user(&self, who: &Principal, name: &str, role: Role, password: Option<&str>) -> Result<(User, Option<String>)> {
        who.require(Role::Admin, "adding users")?;
        let (pw, generated) = match password {
            Some(p) => {
                check_password(p)?;
                (p.to_string(), false)
            }
            None => (password::generate(20), true),
        };
        let h = hash(&pw)?;
        let user = self.change(who, "user.add", name, |c| Ok((users::create(c, name, role, &h)?, json!({"role": role.as_str()}))))?;
        Ok((user, generated.then_some(pw)))
    }

    pub fn set_role(&self, who: &Principal, name: &str, role: Role) -> Result<User> {
        who.require(Role::Admin, "changing roles")?;
        self.change(who, "user.role", name, |c| Ok((users::set_role(c, name, role)?, json!({"role": role.as_str()}))))
    }

    /// Sets a password: one's own, or anyone's as an administrator.
    pub fn set_password(&self, who: &Principal, name: &str, password: &str) -> Result<()> {
        if who.name != name {
            who.require(Role::Admin, "changing another user's password")?;
        }
        check_password(password)?;
        let h = hash(password)?;
        self.change(who, "user.password", name, |c| Ok((users::set_password(c, name, &h)?, json!({}))))
    }

    pub fn delete_user(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Admin, "deleting users")?;
        if who.name == name {
            return Err(AppError::Conflict("you cannot delete yourself".into()));
        }
        self.change(who, "user.delete", name, |c| Ok((users::delete(c, name)?, json!({}))))
    }

    /// On a database without users, creates `admin` with `password` (e.g. from
    /// `TRIBUTARY_ADMIN_PASSWORD`) or a generated one-time password. `None` when users exist.
    pub fn ensure_admin(&self, password: Option<&str>) -> Result<Option<FirstAdmin>> {
        if self.store().read(users::count)? > 0 {
            return Ok(None);
        }
        let system = Principal { name: "system".into(), role: Role::Admin, user_id: None };
        match self.add_user(&system, "admin", Role::Admin, password) {
            Ok((u, generated_password)) => Ok(Some(FirstAdmin { name: u.name, generated_password })),
            // Another node created it first.
            Err(AppError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks a password and issues a session token ([`LOGIN_TOKEN_HOURS`]).
    pub fn login(&self, name: &str, password: &str) -> Result<IssuedToken> {
        self.login.check(name)?;
        let creds = self.store().read(|c| users::credentials(c, name))?;
        let user = match creds {
            Some((u, h)) if password::verify_password(password, &h) => u,
            _ => {
                self.login.failed(name);
                return Err(AppError::Unauthorized("wrong user name or password".into()));
            }
        };
        self.login.succeeded(name);
        let who = Principal { name: user.name.clone(), role: user.role, user_id: Some(user.id) };
        self.issue_token(&who, &user, "login", now_ms() + LOGIN_TOKEN_HOURS * 3_600_000, "user.login")
    }

    fn issue_token(&self, who: &Principal, user: &User, name: &str, expires_at: Millis, action: &str) -> Result<IssuedToken> {
        let token = password::new_token();
        let h = password::token_hash(&token);
        let info = self.change(who, action, &user.name, |c| {
            let t = users::create_token(c, user.id, name, &h, Some(expires_at))?;
            let detail = json!({"token_id": t.id, "name": name, "expires_at": expires_at});
            Ok((t, detail))
        })?;
        Ok(IssuedToken { token, info, user: user.name.clone() })
    }

    /// The principal a bearer token stands for; expired, revoked and unknown tokens are
    /// all `Unauthorized` (which one is not said).
    pub fn authenticate(&self, token: &str) -> Result<Principal> {
        let denied = || AppError::Unauthorized("invalid, expired or revoked token".into());
        if !token.starts_with(password::TOKEN_PREFIX) {
            return Err(denied());
        }
        let h = password::token_hash(token);
        let now = now_ms();
        let (user, t) = self.store().read(|c| users::authenticate_token(c, &h, now))?.ok_or_else(denied)?;
        // Use is recorded at most once a minute, so reads stay reads.
        if t.last_used_at.is_none_or(|l| now - l > 60_000) {
            self.store().write(|c| users::touch_token(c, t.id, now))?;
        }
        Ok(Principal { name: user.name, role: user.role, user_id: Some(user.id) })
    }

    /// Ends a session: its token stops working (an unknown or expired one is already
    /// signed out).
    pub fn logout(&self, token: &str) -> Result<()> {
        let h = password::token_hash(token);
        let Some((user, t)) = self.store().read(|c| users::authenticate_token(c, &h, now_ms()))? else { return Ok(()) };
        let who = Principal { name: user.name.clone(), role: user.role, user_id: Some(user.id) };
        self.change(&who, "user.logout", &user.name, |c| Ok((users::revoke_token(c, t.id, Some(user.id))?, json!({"token_id": t.id}))))?;
        Ok(())
    }

    /// Creates an API token for oneself (or, as an administrator, for `for_user`).
    pub fn create_token(&self, who: &Principal, name: &str, days: Option<i64>, for_user: Option<&str>) -> Result<IssuedToken> {
        let target = for_user.unwrap_or(&who.name);
        if target != who.name {
            who.require(Role::Admin, "creating tokens for another user")?;
        }
        tributary_core::model::check_name("token", name).map_err(|e| AppError::invalid("name", e))?;
        let days = days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(AppError::invalid("expires_in_days", format!("between 1 and {MAX_TOKEN_DAYS} days")));
        }
        let user = self.store().read(|c| users::get(c, target)).map_err(|e| match e {
            tributary_store::StoreError::NotFound { .. } if who.user_id.is_none() && for_user.is_none() => {
                AppError::invalid("user", format!("{} is not a Tributary user; name one with --user (tokens belong to users)", who.name))
            }
            e => e.into(),
        })?;
        self.issue_token(who, &user, name, now_ms() + days * 86_400_000, "token.create")
    }

    /// One's own tokens (an administrator sees everyone's).
    pub fn tokens(&self, who: &Principal) -> Result<Vec<ApiToken>> {
        let only = if who.role == Role::Admin { None } else { Some(who.user_id.unwrap_or(-1)) };
        Ok(self.store().read(|c| users::tokens(c, only))?)
    }

    pub fn revoke_token(&self, who: &Principal, id: i64) -> Result<ApiToken> {
        let only = if who.role == Role::Admin { None } else { Some(who.user_id.unwrap_or(-1)) };
        self.change(who, "token.revoke", &id.to_string(), |c| Ok((users::revoke_token(c, id, only)?, json!({}))))
    }
}
