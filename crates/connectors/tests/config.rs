//! Connector settings: typed structs with the shared HTTP settings flattened in once; the
//! schema lists every key; unknown keys are refused by name.

use serde_json::json;
use tributary_connectors::{CONNECTORS, ConnectorError};

#[test]
fn settings_take_shared_http_keys_and_refuse_unknown_ones() {
    for kind in CONNECTORS {
        let schema = (kind.config_schema)();
        let props = schema["properties"].as_object().unwrap_or_else(|| panic!("{}: {schema}", kind.name));
        for k in ["rate_limit", "retry_attempts", "retry_base_ms", "timeout_secs"] {
            assert!(props.contains_key(k), "{}: the HTTP settings are flattened in: {schema}", kind.name);
        }
    }
    let xdr = tributary_connectors::kind("cortex-xdr").unwrap();
    let (_, cfg) = (xdr.validate)("http://127.0.0.1:9/cortex-xdr", &json!({"key_id": "7", "rate_limit": 5.0, "timeout_secs": 30})).unwrap();
    assert_eq!(cfg["rate_limit"], 5.0);
    assert_eq!(cfg["timeout_secs"], 30);
    match (xdr.validate)("http://127.0.0.1:9/cortex-xdr", &json!({"key_id": "7", "rate_limt": 5.0})) {
        Err(ConnectorError::Config(m)) => assert!(m.contains("unknown setting 'rate_limt'") && m.contains("rate_limit"), "{m}"),
        other => panic!("{other:?}"),
    }
    let sg = tributary_connectors::kind("semgrep").unwrap();
    assert!((sg.validate)("", &json!({"scan": ["sast"], "retry_attempts": 3})).is_ok());
    assert!(matches!((sg.validate)("", &json!({"scan": ["sast"], "colour": 1})), Err(ConnectorError::Config(_))));
    assert!(matches!((sg.validate)("", &json!(["not", "an", "object"])), Err(ConnectorError::Config(_))));
}
