//! Transform maps: declarative `source path → target field` rules that turn one raw
//! vendor record into the unified model.
//!
//! Flow: [`TransformMapSpec`] (what users edit, JSON/YAML) → [`TransformMap::compile`]
//! (validation naming the rule number and the problem) → [`TransformMap::apply`] (one
//! record → [`Applied`] target-model objects; [`TransformMap::read`] parses a record's
//! text keeping only what the rules read) → [`stage`] (typed [`StagedRecord`] with
//! identifiers and content hashes).
//!
//! Semantics, in one place:
//! * `a.b` walks objects; `a[]` walks every array element (fan-out).
//! * `finding[]` and `networkInterfaces[]` on the target side are lists of objects;
//!   element *i* is fed by element *i* of the source's outermost `[]` (so
//!   `cves[].name` and `cves[].severity` land on the same finding). A source without
//!   `[]` whose value is an array fans out the same way; a scalar lands on element 0.
//! * A list into a scalar field keeps its first element; list fields keep all.
//! * Values are coerced to the field's type (dates, severities, statuses, numbers);
//!   a value that does not coerce is a warning on the record, and that field is left empty.

mod apply;
mod map;
mod path;
mod read;
mod staged;
pub mod targets;

pub use apply::Applied;
pub use map::{CompiledRule, Convert, MapError, RuleSpec, Slot, TargetModel, TransformMap, TransformMapSpec};
pub use path::{Path, PathError, Segment};
pub use read::SourceTree;
pub use staged::{Correlation, StagedAsset, StagedFinding, StagedRecord, seal_attributes, stage};
