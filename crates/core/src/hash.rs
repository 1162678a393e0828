//! Content and identity hashes.
//!
//! Two jobs: a 64-bit *content hash* that tells the store whether a record changed
//! since it was last written (so unchanged rows are never rewritten), and a 128-bit
//! *identity key* for findings, stored as 16 bytes (wide enough that collisions are
//! not a practical concern at billions of rows).

use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

/// 64-bit content hash of a byte string, as a signed integer so it fits SQL `BIGINT`.
pub fn content_hash(bytes: &[u8]) -> i64 {
    xxh3_64(bytes) as i64
}

/// Builder for identity keys: feed parts, get 16 bytes.
///
/// Parts are length-prefixed so `("ab", "c")` and `("a", "bc")` differ. Parts are
/// collected into a small buffer and hashed once (cheaper than a streaming state for
/// the short keys this hashes millions of times).
#[derive(Default)]
pub struct KeyHasher(Vec<u8>);

impl KeyHasher {
    pub fn new() -> Self {
        Self(Vec::with_capacity(96))
    }
    pub fn part(mut self, part: &str) -> Self {
        self.0.extend_from_slice(&(part.len() as u64).to_le_bytes());
        self.0.extend_from_slice(part.as_bytes());
        self
    }
    pub fn int(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn finish(self) -> [u8; 16] {
        xxh3_128(&self.0).to_be_bytes()
    }
    /// A 64-bit key (as a signed integer for SQL `BIGINT`).
    pub fn finish64(self) -> i64 {
        xxh3_64(&self.0) as i64
    }
}

/// Hash of a JSON value's canonical bytes (serde_json writes object keys in insertion
/// order; our staged objects are built deterministically, so this is stable).
pub fn json_hash(value: &serde_json::Value) -> i64 {
    let mut h = Xxh3::new();
    // Writing into the hasher avoids building the whole string first.
    let _ = serde_json::to_writer(HashWriter(&mut h), value);
    h.digest() as i64
}

struct HashWriter<'a>(&'a mut Xxh3);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_length_prefixed() {
        let a = KeyHasher::new().part("ab").part("c").finish();
        let b = KeyHasher::new().part("a").part("bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, KeyHasher::new().part("ab").part("c").finish());
    }

    #[test]
    fn json_hash_tracks_content() {
        let a = serde_json::json!({"a": 1, "b": [1, 2]});
        let b = serde_json::json!({"a": 1, "b": [1, 3]});
        assert_ne!(json_hash(&a), json_hash(&b));
        assert_eq!(json_hash(&a), json_hash(&a.clone()));
    }
}
