//! The master key: where it comes from, and the check that it is the right one.
//!
//! Order: `TRIBUTARY_MASTER_KEY` (64 hex characters), else `master.key` in the data
//! directory, else — only for a database that has never sealed anything — a new key
//! written to `master.key` with mode 0600. The database keeps a *key check* (a known
//! text sealed under the key), so a wrong or missing key is caught at start-up with
//! instructions, instead of failing later on the first secret.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tributary_core::secret::MasterKey;

use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;

pub const KEY_FILE: &str = "master.key";
pub const KEY_ENV: &str = "TRIBUTARY_MASTER_KEY";
const CHECK_AAD: &str = "tributary:key-check";
const CHECK_TEXT: &[u8] = b"tributary master key check v1";

/// Where the key in use came from (for `tributary db status` and messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Env,
    File(PathBuf),
    Created(PathBuf),
    /// No key was found (reported by `db status`; a store in use always has one).
    Missing(PathBuf),
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Env => write!(f, "${KEY_ENV}"),
            KeyOrigin::File(p) => write!(f, "{}", p.display()),
            KeyOrigin::Created(p) => write!(f, "{} (created)", p.display()),
            KeyOrigin::Missing(p) => write!(f, "none (neither ${KEY_ENV} nor {})", p.display()),
        }
    }
}

fn key_error(msg: String) -> StoreError {
    StoreError::Key(msg)
}

fn stored_check(conn: &mut dyn Conn) -> Result<Option<Vec<u8>>> {
    let v: Option<String> = conn.query_opt("SELECT value FROM meta WHERE key = 'key_check'", &[])?.map(|mut r| r.take(0)).transpose()?;
    v.map(|h| hex::decode(h).map_err(|_| StoreError::Decode("meta.key_check is not hex".into()))).transpose()
}

/// Loads (or on first start creates) the master key and checks it against the database's
/// key check. A key that does not match (or none at all) comes back with the problem as
/// the third value: the caller refuses to open ([`crate::Store::open`]) or reports it
/// (`db status`).
pub fn load(data_dir: &Path, env_key: Option<&str>, conn: &mut dyn Conn) -> Result<(MasterKey, KeyOrigin, Option<String>)> {
    let path = data_dir.join(KEY_FILE);
    let check = stored_check(conn)?;
    let (key, origin) = if let Some(text) = env_key.filter(|t| !t.trim().is_empty()) {
        let k = MasterKey::from_hex(text).map_err(|e| key_error(format!("{KEY_ENV} is not a valid master key: {e}")))?;
        (k, KeyOrigin::Env)
    } else if path.exists() {
        if let Some(w) = loose_permissions(&path) {
            tracing::warn!(message = "The master key file is readable by other users.", warning = %w);
            eprintln!("warning: {w}");
        }
        let text = fs::read_to_string(&path).map_err(|e| key_error(format!("cannot read key file {}: {e}", path.display())))?;
        let k = MasterKey::from_hex(&text).map_err(|e| {
            key_error(format!(
                "key file {} is corrupted ({e}); restore it from a backup or set {KEY_ENV} to the original key",
                path.display()
            ))
        })?;
        (k, KeyOrigin::File(path.clone()))
    } else if check.is_some() {
        let msg = format!(
            "no master key: this database holds secrets sealed with a master key, but neither {KEY_ENV} nor {} exists; \
             set {KEY_ENV} to the original key or restore the key file",
            path.display()
        );
        return Ok((MasterKey::generate(), KeyOrigin::Missing(path.clone()), Some(msg)));
    } else {
        let k = MasterKey::generate();
        write_key_file(&path, &k)?;
        (k, KeyOrigin::Created(path.clone()))
    };
    match check {
        Some(sealed) => {
            if key.open(CHECK_AAD, &sealed).ok().as_deref() != Some(CHECK_TEXT) {
                let msg = format!(
                    "the master key from {origin} does not match the key that sealed this database's secrets; \
                     set {KEY_ENV} to the original key or restore {}",
                    path.display()
                );
                return Ok((key, origin, Some(msg)));
            }
        }
        None => {
            let sealed = hex::encode(key.seal(CHECK_AAD, CHECK_TEXT));
            conn.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?) ON CONFLICT (key) DO NOTHING", params![sealed.as_str()])?;
        }
    }
    Ok((key, origin, None))
}

/// Why a key file's permissions are too open (group or others may read it), if they are.
pub fn loose_permissions(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "key file {} has mode {mode:04o}: other users may read the master key; run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<()> {
    let err = |e: std::io::Error| key_error(format!("cannot create key file {}: {e}", path.display()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(format!("{}\n", key.to_hex()).as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(())
}
