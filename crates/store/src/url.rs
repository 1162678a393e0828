//! `--db` / `TRIBUTARY_DB` URLs: `sqlite:///path/file.db` or `postgres://user@host:port/db`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Result, StoreError};

#[derive(Clone)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(Box<postgres::Config>, String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl> {
        let invalid = |reason: &str| StoreError::InvalidUrl { url: redact(url), reason: reason.to_string() };
        let u = url.trim();
        if let Some(rest) = u.strip_prefix("sqlite://").or_else(|| u.strip_prefix("sqlite:")) {
            if rest.is_empty() || rest == "/" {
                return Err(invalid("no database file path after sqlite://"));
            }
            if rest.contains('?') {
                return Err(invalid("SQLite URLs take no options"));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(rest)));
        }
        if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            let mut config = postgres::Config::from_str(u).map_err(|e| invalid(&e.to_string()))?;
            if config.get_hosts().is_empty() {
                return Err(invalid("no host"));
            }
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(std::time::Duration::from_secs(5));
            }
            config.application_name("tributary");
            return Ok(DbUrl::Postgres(Box::new(config), redact(u)));
        }
        match u.split_once("://") {
            Some((scheme, _)) => Err(invalid(&format!("unknown scheme '{scheme}'"))),
            None => Err(invalid("missing scheme")),
        }
    }

    /// The default: `tributary.db` in the data directory.
    pub fn default_for(data_dir: &Path) -> DbUrl {
        DbUrl::Sqlite(data_dir.join("tributary.db"))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            DbUrl::Sqlite(_) => "sqlite",
            DbUrl::Postgres(..) => "postgres",
        }
    }

    /// `host:port` of a PostgreSQL URL, for error messages.
    pub fn pg_target(config: &postgres::Config) -> String {
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            DbUrl::Postgres(_, shown) => f.write_str(shown),
        }
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hides the password of a URL (`postgres://u:secret@h` → `postgres://u:***@h`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((auth, host)) = rest.split_once('@') else { return url.to_string() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert!(matches!(DbUrl::parse("sqlite:///tmp/x.db"), Ok(DbUrl::Sqlite(p)) if p == Path::new("/tmp/x.db")));
        assert!(matches!(DbUrl::parse("sqlite://rel/x.db"), Ok(DbUrl::Sqlite(p)) if p == Path::new("rel/x.db")));
        assert_eq!(DbUrl::parse("postgres://u:pw@127.0.0.1:5555/db").unwrap().to_string(), "postgres://u:***@127.0.0.1:5555/db");
        for bad in ["sqlite://", "mysql://x/y", "just-a-path.db", "postgres://u@h:notaport/db"] {
            let e = DbUrl::parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.starts_with("invalid database URL"), "{bad}: {e}");
        }
        let e = DbUrl::parse("postgres://u:hunter2@h:x/db").err().unwrap().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
