//! The unified model: what every vendor's data becomes.
//!
//! Names follow OCSF where they fit: findings are OCSF Vulnerability Finding (2002) or
//! Application Security Posture Finding (2007); severities follow `severity_id`;
//! statuses map onto `status_id`. Assets follow OCSF `device` / `resource_details`.

mod asset;
mod audit;
mod finding;
mod integration;
mod profile;
mod severity;
mod sync;
mod user;

pub use asset::{Asset, AssetKind, AssetSource};
pub use audit::AuditEvent;
pub use finding::{Finding, FindingKind, FindingStatus, TriageStatus};
pub use integration::{Integration, IntegrationStatus};
pub use profile::{Profile, Schedule, ScheduleError, parse_duration as profile_duration};
pub use severity::Severity;
pub use sync::{Completeness, RunCounts, SyncMode, SyncRun, SyncStatus};
pub use user::{ApiToken, Role, User};

/// The one rule for names of integrations, profiles and transform maps: 1 to 64 ASCII
/// letters, digits, `.`, `_` or `-`, starting with a letter or digit (names appear in
/// paths, URLs, log lines and shell commands). `what` names the thing in the message.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {what} name '{name}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    }
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn one_rule_for_names() {
        for good in ["xdr", "cortex-xdr-default", "import-sarif-code-ql-1a2b3c4d", "my_map.v2", "t"] {
            assert!(super::check_name("map", good).is_ok(), "{good}");
        }
        for bad in ["", "a b/c;DROP", "-x", "über", &"x".repeat(65)] {
            let e = super::check_name("map", bad).unwrap_err();
            assert!(e.starts_with("invalid map name"), "{e}");
        }
    }
}

/// Error for a string that names no variant of one of the model's enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}' (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Implements `as_str`, `FromStr`, `Display` and `ALL` for a fieldless enum whose
/// variants have one canonical lowercase spelling each.
macro_rules! string_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::model::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::model::ParseEnumError {
                        what: $what,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "enum": [$($text),+]})
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;
