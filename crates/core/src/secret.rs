//! Vendor credentials at rest: AES-256-GCM under a master key.
//!
//! Every sealed value carries the id of the record it belongs to as associated data,
//! so a ciphertext copied onto another record does not open. A wrong master key
//! fails authentication; it never decrypts to garbage.
//!
//! [`Secret`] holds a plaintext credential in memory: no `Serialize`, and `Debug` /
//! `Display` print `[redacted]`, so a credential cannot reach a log or an API body by
//! accident.

use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// Format tag of a sealed value: the layout is `TAG ‖ nonce(12) ‖ ciphertext+tag(16)`.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// A plaintext credential in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The plaintext. Call sites are the only places a credential is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation is freed.
        // SAFETY: writing zero bytes keeps the buffer valid UTF-8.
        unsafe { self.0.as_bytes_mut().fill(0) };
    }
}

/// The 256-bit master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the master key must be 64 hexadecimal characters (32 bytes); {0}")]
    BadKeyText(String),
    #[error("sealed value is malformed (unknown format or too short)")]
    Malformed,
    #[error("sealed value does not open with this master key (wrong key, or the value belongs to another record)")]
    WrongKey,
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::fill(&mut k);
        MasterKey(k)
    }

    /// Parses 64 hex characters (surrounding whitespace allowed).
    pub fn from_hex(text: &str) -> Result<Self, SecretError> {
        let t = text.trim();
        // Said in characters throughout: that is what a user counts in the text.
        let chars = t.chars().count();
        if chars != 64 {
            return Err(SecretError::BadKeyText(format!("got {chars} characters")));
        }
        let bytes = hex::decode(t).map_err(|e| SecretError::BadKeyText(format!("got {chars} characters, not all hexadecimal ({e})")))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKeyText(format!("got {chars} characters")))?;
        Ok(MasterKey(arr))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        // A 32-byte slice is always a valid AES-256 key.
        Aes256Gcm::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("32-byte key"))
    }

    /// Encrypts `plaintext`, binding it to `aad` (e.g. `integration:42`).
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Nonce::generate();
        let ct = self
            .cipher()
            .encrypt(&nonce, Payload { msg: plaintext, aad: aad.as_bytes() })
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of an in-memory buffer cannot fail"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts a value sealed with [`seal`](Self::seal) under the same `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V1 {
            return Err(SecretError::Malformed);
        }
        let nonce = Nonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| SecretError::Malformed)?;
        self.cipher().decrypt(&nonce, Payload { msg: &sealed[1 + NONCE_LEN..], aad: aad.as_bytes() }).map_err(|_| SecretError::WrongKey)
    }

    pub fn seal_secret(&self, aad: &str, secret: &Secret) -> Vec<u8> {
        self.seal(aad, secret.expose().as_bytes())
    }

    pub fn open_secret(&self, aad: &str, sealed: &[u8]) -> Result<Secret, SecretError> {
        let bytes = self.open(aad, sealed)?;
        String::from_utf8(bytes).map(Secret).map_err(|_| SecretError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_errors_count_characters() {
        for (text, want) in
            [("abc", "got 3 characters"), (&"a".repeat(62)[..], "got 62 characters"), (&"a".repeat(66)[..], "got 66 characters")]
        {
            let e = MasterKey::from_hex(text).unwrap_err().to_string();
            assert!(e.contains("64 hexadecimal characters") && e.contains(want), "{e}");
            assert!(!e.contains(" bytes;") && !e.contains("got 31") && !e.contains("got 33"), "counted in characters: {e}");
        }
        let e = MasterKey::from_hex(&"z".repeat(64)).unwrap_err().to_string();
        assert!(e.contains("got 64 characters, not all hexadecimal"), "{e}");
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey::generate();
        let sealed = key.seal("integration:1", b"sgp_token");
        assert_eq!(key.open("integration:1", &sealed).unwrap(), b"sgp_token");
        assert_eq!(key.open("integration:2", &sealed), Err(SecretError::WrongKey));
        assert_eq!(MasterKey::generate().open("integration:1", &sealed), Err(SecretError::WrongKey));
        assert_eq!(key.open("integration:1", &sealed[..10]), Err(SecretError::Malformed));
        assert!(!sealed.windows(9).any(|w| w == b"sgp_token"));
    }

    #[test]
    fn redaction_and_hex() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
        let k = MasterKey::generate();
        assert_eq!(MasterKey::from_hex(&k.to_hex()).unwrap().to_hex(), k.to_hex());
        assert!(format!("{k:?}").contains("redacted"));
        assert!(MasterKey::from_hex("abc").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
