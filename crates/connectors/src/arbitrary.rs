//! Test-only: arbitrary JSON for the decoders' property tests, biased towards the keys
//! the vendors' replies and report formats use, so the generated documents reach deep
//! into the decoders instead of failing at their first field.

use proptest::collection::{hash_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "reply",
    "endpoints",
    "endpoint_id",
    "endpoint_name",
    "endpoint_status",
    "ip",
    "ipv6",
    "os_type",
    "operating_system",
    "last_seen",
    "users",
    "cves",
    "name",
    "cve_id",
    "total_count",
    "result_count",
    "id",
    "relevant_since",
    "repository",
    "findings",
    "version",
    "runs",
    "tool",
    "driver",
    "rules",
    "results",
    "ruleId",
    "ruleIndex",
    "rule",
    "locations",
    "physicalLocation",
    "artifactLocation",
    "uri",
    "region",
    "startLine",
    "snippet",
    "text",
    "fingerprints",
    "partialFingerprints",
    "kind",
    "suppressions",
    "status",
    "check_id",
    "path",
    "start",
    "end",
    "line",
    "col",
    "extra",
    "fingerprint",
    "lines",
    "is_ignored",
    "message",
    "level",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-zA-Z0-9 :/._-]{0,24}".prop_map(Value::String),
        Just(Value::String("2.1.0".into())),
        Just(Value::String("requires login".into())),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(KEYS).prop_map(str::to_string), 1 => "[a-z_]{1,8}"]
}

/// Any JSON value, up to a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            hash_map(key(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}
