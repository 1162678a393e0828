//! Applying a compiled map to one raw record: source paths are walked, values are
//! converted and coerced to the target field's type, and written into a target-model
//! object (asset, network interfaces, findings). Bad values become warnings on the
//! record, never panics.

use serde_json::{Map, Value};

use super::map::{CompiledRule, Convert, TransformMap};
use super::targets::{FieldType, Place};
use crate::model::{FindingStatus, Severity};
use crate::time;

/// A record in target-model shape, before typing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// Asset fields, nested by path; `networkInterfaces` is a list of objects.
    pub asset: Map<String, Value>,
    /// One object per `finding[]` element, in source order.
    pub findings: Vec<Map<String, Value>>,
    /// Per-rule problems with this record's values (the rest of the record still applies).
    pub warnings: Vec<String>,
}

impl TransformMap {
    pub fn apply(&self, record: &Value) -> Applied {
        let mut out = Applied::default();
        // Elements of the two list targets by source index (fan-out aligns them).
        let mut nics: Vec<Map<String, Value>> = Vec::new();
        let mut findings: Vec<Map<String, Value>> = Vec::new();
        let mut leaves: Vec<(Option<usize>, &Value)> = Vec::new();
        for rule in &self.rules {
            leaves.clear();
            rule.source.walk(record, &mut |i, v| leaves.push((i, v)));
            if leaves.is_empty() {
                continue;
            }
            let single = rule.slot.place == Place::Finding && self.single_finding;
            match rule.slot.place {
                Place::Asset | Place::Finding if rule.slot.place == Place::Asset || single => {
                    let combined = if rule.source.fan_outs() > 0 {
                        Value::Array(leaves.iter().map(|(_, v)| (*v).clone()).collect())
                    } else {
                        leaves[0].1.clone()
                    };
                    let into = if single { element(&mut findings, 0) } else { &mut out.asset };
                    write(rule, combined, into, &mut out.warnings);
                }
                place => {
                    let elements = if place == Place::Nic { &mut nics } else { &mut findings };
                    for &(index, value) in &leaves {
                        match (index, value) {
                            (Some(i), v) => write(rule, v.clone(), element(elements, i), &mut out.warnings),
                            // A whole array into a scalar field of a list of objects fans out implicitly.
                            (None, Value::Array(items)) if !matches!(rule.slot.ty, FieldType::StringList | FieldType::Any) => {
                                for (i, item) in items.iter().enumerate() {
                                    write(rule, item.clone(), element(elements, i), &mut out.warnings);
                                }
                            }
                            (None, v) => write(rule, v.clone(), element(elements, 0), &mut out.warnings),
                        }
                    }
                }
            }
        }
        if !nics.is_empty() {
            let list = nics.into_iter().filter(|m| !m.is_empty()).map(Value::Object).collect();
            out.asset.insert("networkInterfaces".into(), Value::Array(list));
        }
        findings.retain(|m| !m.is_empty());
        out.findings = findings;
        out
    }
}

/// Element `i` of a fanned-out list, created (with any gap before it) on first use.
fn element(elements: &mut Vec<Map<String, Value>>, i: usize) -> &mut Map<String, Value> {
    if elements.len() <= i {
        elements.resize_with(i + 1, Map::new);
    }
    &mut elements[i]
}

fn write(rule: &CompiledRule, value: Value, into: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    let converted = rule.converts.iter().try_fold(value, |v, c| convert(c, v));
    match converted.and_then(|v| coerce(v, rule.slot.ty)) {
        Ok(Some(v)) => set_path(into, &rule.slot.field, v),
        Ok(None) => {}
        Err(reason) => warnings.push(format!("rule {}: {}: {reason}", rule.number, rule.slot.field.join("."))),
    }
}

fn set_path(into: &mut Map<String, Value>, field: &[String], value: Value) {
    let Some((last, parents)) = field.split_last() else { return };
    let mut cur = into;
    for p in parents {
        // Look up before inserting: most records hit existing parents, and `entry` would
        // allocate a key string every time.
        if !cur.get(p.as_str()).is_some_and(Value::is_object) {
            cur.insert(p.clone(), Value::Object(Map::new()));
        }
        let Some(Value::Object(m)) = cur.get_mut(p.as_str()) else { return };
        cur = m;
    }
    // Several rules feeding one list field accumulate; scalars: the later rule wins.
    match (cur.get_mut(last), value) {
        (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
        (_, v) => {
            cur.insert(last.clone(), v);
        }
    }
}

fn map_strings(v: Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|i| map_strings(i, f)).collect()),
        other => other,
    }
}

fn convert(c: &Convert, v: Value) -> Result<Value, String> {
    Ok(match c {
        Convert::Lower => map_strings(v, &|s| s.to_lowercase()),
        Convert::Upper => map_strings(v, &|s| s.to_uppercase()),
        Convert::Trim => map_strings(v, &|s| s.trim().to_string()),
        Convert::Date => match coerce(v, FieldType::DateTime)? {
            Some(ms) => ms,
            None => Value::Null,
        },
        Convert::Severity => coerce(v, FieldType::Severity)?.unwrap_or(Value::Null),
        Convert::Number => coerce(v, FieldType::Number)?.unwrap_or(Value::Null),
        Convert::Split(sep) => match v {
            Value::String(s) => {
                Value::Array(s.split(sep.as_str()).map(str::trim).filter(|p| !p.is_empty()).map(|p| Value::String(p.into())).collect())
            }
            other => other,
        },
        Convert::Join(sep) => match v {
            Value::Array(items) => Value::String(items.iter().filter_map(scalar_text).collect::<Vec<_>>().join(sep)),
            other => other,
        },
        Convert::First => match v {
            Value::Array(items) => items.into_iter().next().unwrap_or(Value::Null),
            other => other,
        },
        Convert::Regex(p) => {
            let pick = |s: &str| -> Option<Value> {
                let caps = p.0.captures(s)?;
                let m = caps.get(1).or_else(|| caps.get(0))?;
                Some(Value::String(m.as_str().to_string()))
            };
            match v {
                Value::String(s) => pick(&s).unwrap_or(Value::Null),
                Value::Array(items) => Value::Array(items.iter().filter_map(|i| i.as_str().and_then(pick)).collect()),
                other => match scalar_text(&other) {
                    Some(s) => pick(&s).unwrap_or(Value::Null),
                    None => Value::Null,
                },
            }
        }
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 { format!("{}…", &s[..s.floor_char_boundary(60)]) } else { s }
}

/// Coerces a converted value to the field type. `Ok(None)` = absent (null, empty).
fn coerce(v: Value, ty: FieldType) -> Result<Option<Value>, String> {
    if v.is_null() {
        return Ok(None);
    }
    if let Value::String(s) = &v
        && s.trim().is_empty()
        && ty != FieldType::Any
    {
        return Ok(None);
    }
    // A list into a scalar field: its first element (the "primary IP" convention).
    if let Value::Array(items) = &v
        && !matches!(ty, FieldType::StringList | FieldType::Any)
    {
        return match items.first() {
            Some(first) => coerce(first.clone(), ty),
            None => Ok(None),
        };
    }
    let bad = |what: &str| format!("cannot read {} as {what}", describe(&v));
    Ok(Some(match ty {
        FieldType::Any => v,
        FieldType::String => match v {
            Value::String(_) => v,
            Value::Object(_) => return Err(bad("text")),
            other => Value::String(scalar_text(&other).unwrap_or_default()),
        },
        FieldType::Number => match &v {
            Value::Number(_) => v,
            Value::String(s) => {
                s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or_else(|| bad("a number"))?
            }
            _ => return Err(bad("a number")),
        },
        FieldType::Integer => {
            let n = match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            Value::from(n.filter(|f| f.is_finite()).ok_or_else(|| bad("an integer"))?.round() as i64)
        }
        FieldType::Boolean => match &v {
            Value::Bool(_) => v,
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "y" => Value::Bool(true),
                "false" | "no" | "0" | "n" => Value::Bool(false),
                _ => return Err(bad("a boolean")),
            },
            Value::Number(n) => Value::Bool(n.as_f64() != Some(0.0)),
            _ => return Err(bad("a boolean")),
        },
        FieldType::DateTime => {
            let ms = match &v {
                Value::Number(n) => n.as_f64().and_then(time::from_number),
                Value::String(s) => time::parse_loose(s),
                _ => None,
            };
            Value::from(ms.ok_or_else(|| bad("a date"))?)
        }
        FieldType::Severity => {
            let sev = match &v {
                Value::String(s) => Severity::parse_loose(s),
                other => scalar_text(other).as_deref().and_then(Severity::parse_loose),
            };
            Value::String(sev.ok_or_else(|| bad("a severity"))?.as_str().into())
        }
        FieldType::Status => {
            let st = match &v {
                Value::String(s) => FindingStatus::parse_loose(s),
                other => scalar_text(other).as_deref().and_then(FindingStatus::parse_loose),
            };
            Value::String(st.ok_or_else(|| bad("a finding status"))?.as_str().into())
        }
        FieldType::StringList => {
            let items = match v {
                Value::Array(items) => items,
                other => vec![other],
            };
            let list: Vec<Value> = items.iter().filter_map(scalar_text).filter(|s| !s.trim().is_empty()).map(Value::String).collect();
            if list.is_empty() {
                return Ok(None);
            }
            Value::Array(list)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::super::map::{RuleSpec, TargetModel, TransformMapSpec};
    use super::*;
    use serde_json::json;

    fn map(rules: &[(&str, &str)]) -> TransformMap {
        TransformMap::compile(TransformMapSpec {
            name: "t".into(),
            description: None,
            connector: "x".into(),
            source_model: "x".into(),
            target_model: TargetModel::HostVulnerability,
            product: None,
            rules: rules
                .iter()
                .map(|(s, t)| RuleSpec::new(s, t))
                .chain(rules.iter().all(|(_, t)| *t != "externalAssetId").then(|| RuleSpec::new("endpoint_id", "externalAssetId")))
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn fans_out_and_aligns_by_index() {
        let m = map(&[
            ("endpoint_name", "hostName"),
            ("os_version", "operatingSystem.version"),
            ("ip", "networkInterfaces[].ipv4Address"),
            ("mac_address[]", "networkInterfaces[].macAddress"),
            ("cves[].name", "finding[].externalFindingId"),
            ("cves[].name", "finding[].name"),
            ("cves[].severity", "finding[].severity"),
            ("cves[].severity", "finding[].sourceSeverity"),
            ("cves[].publication_date", "finding[].firstFoundOn"),
            ("tags.server_tags", "temp_q_customAttributes.serverTags"),
        ]);
        let rec = json!({
            "endpoint_name": "web-01", "os_version": "22.04", "ip": ["10.0.0.1", "10.0.0.2"],
            "mac_address": ["00:1a:2b:3c:4d:5e"], "tags": {"server_tags": ["pci"]},
            "cves": [
                {"name": "CVE-2024-1", "severity": "HIGH", "publication_date": 1700000000000i64},
                {"name": "CVE-2024-2", "severity": "bogus", "publication_date": "2024-01-02"}
            ]
        });
        let a = m.apply(&rec);
        assert_eq!(a.asset["hostName"], "web-01");
        assert_eq!(a.asset["operatingSystem"]["version"], "22.04");
        assert_eq!(a.asset["temp_q_customAttributes"]["serverTags"], json!(["pci"]));
        assert_eq!(
            a.asset["networkInterfaces"],
            json!([{"ipv4Address": "10.0.0.1", "macAddress": "00:1a:2b:3c:4d:5e"}, {"ipv4Address": "10.0.0.2"}])
        );
        assert_eq!(a.findings.len(), 2);
        assert_eq!(a.findings[0]["severity"], "high");
        assert_eq!(a.findings[0]["sourceSeverity"], "HIGH");
        assert_eq!(a.findings[0]["firstFoundOn"], 1_700_000_000_000i64);
        assert_eq!(a.findings[1]["firstFoundOn"], 1_704_153_600_000i64);
        assert!(a.findings[1].get("severity").is_none());
        assert_eq!(a.warnings, vec!["rule 7: severity: cannot read \"bogus\" as a severity"]);
    }

    #[test]
    fn conversions_apply_in_order() {
        let m = TransformMap::compile(TransformMapSpec {
            rules: vec![
                RuleSpec::new("id", "finding[].externalFindingId"),
                RuleSpec { source: "tags".into(), target: "tags".into(), convert: vec!["split:;".into(), "lower".into()] },
                RuleSpec { source: "os".into(), target: "operatingSystem.name".into(), convert: vec!["upper".into()] },
                RuleSpec::new("endpoint_id", "externalAssetId"),
            ],
            ..map(&[("id", "finding[].externalFindingId")]).spec
        })
        .unwrap();
        let a = m.apply(&json!({"id": 7, "tags": "PCI; Prod;", "os": "linux"}));
        assert_eq!(a.asset["tags"], json!(["pci", "prod"]));
        assert_eq!(a.asset["operatingSystem"]["name"], "LINUX");
        assert_eq!(a.findings[0]["externalFindingId"], "7");
    }
}
