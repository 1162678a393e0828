//! Tributary core: the unified model and the pure logic around it.
//!
//! Everything here is plain data and plain functions. Nothing in this crate does I/O
//! (no files, no network, no database); that is what keeps the pipeline's middle
//! (transform → identification → correlation → scoring) testable without fixtures.
//!
//! Where to look:
//! * [`model`]: assets, findings, issues, integrations, profiles, sync runs, users, audit.
//! * [`ident`]: stable identifiers (normalized repository URLs, purls, host keys).
//! * [`transform`]: the transform-map language (source path → target field rules).
//! * [`identify`]: identification rules (which existing asset a staged asset is).
//! * [`query`]: the query language's lexer, parser and AST.
//! * [`secret`]: AES-256-GCM sealing of vendor credentials; [`password`]: user passwords.
//! * [`vuln`]: CVSS parsing and scoring, CWE Top 25.

pub mod export;
pub mod hash;
pub mod ident;
pub mod identify;
pub mod model;
pub mod notify;
pub mod password;
pub mod query;
pub mod risk;
pub mod secret;
pub mod sla;
pub mod time;
pub mod transform;
pub mod vuln;
