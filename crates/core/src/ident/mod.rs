//! Stable identifiers: the keys that make "the same thing" the same across sources.
//!
//! * [`repo`]: any clone URL spelling → `host/owner/name`.
//! * [`purl`]: vendor package coordinates → canonical Package URL (ECMA-427).
//! * [`host`]: host identifier hygiene (MAC filtering, FQDN, hostname+IP keys).

pub mod host;
pub mod purl;
pub mod repo;
