//! User passwords (Argon2id, PHC strings) and API-token hashing.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Hashes a password with Argon2id and a random salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let hash: Result<PasswordHash, _> = Argon2::default().hash_password(password.as_bytes());
    hash.map(|h| h.to_string()).map_err(|e| PasswordError(e.to_string()))
}

/// Checks a password against a stored PHC string. A malformed hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A random password or token: `len` characters from an unambiguous alphabet.
pub fn generate(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..len).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// The prefix of every API token, so a leaked one is recognizable (and greppable).
pub const TOKEN_PREFIX: &str = "trb_";

/// A new API token: the prefix and 40 random characters (about 230 bits).
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", generate(40))
}

/// How a token is stored: SHA-256, hex. A token is random and long, so a fast hash is
/// enough (a slow one would cost every API request); a password is not, so it gets Argon2.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_eq!(generate(20).len(), 20);
    }
}
