//! Reading a record's JSON text into only the parts a map reads.
//!
//! A compiled map knows every source path it walks. [`SourceTree`] is those paths as a
//! tree, and [`TransformMap::read`] parses a record's text against it: values on a path
//! are kept, everything else is skipped without being built. The result walks exactly
//! like the whole record would (`apply` on it gives the same output), but a Semgrep
//! finding keeps about half its nodes, and building, walking and dropping the other half
//! was a fifth of a sync's CPU.
//!
//! Equivalence with the whole record, case by case: a kept object holds only the keys
//! some path continues through; an array on a `[]` segment keeps every element (pruned
//! elements become `null`) so fan-out indexes stay aligned; a value where a path expects
//! an object or array, but finds something else, reads as `null` — `walk` finds nothing
//! there either way, and `null` leaves yield nothing.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::map::TransformMap;
use super::path::Path;

/// The source paths of a map, merged into one tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceTree {
    /// A path ends here: the whole value is kept.
    whole: bool,
    /// Paths continue into these keys of an object.
    fields: Vec<(String, SourceTree)>,
    /// A path fans out here (`[]`): every element of an array, read with this tree.
    elements: Option<Box<SourceTree>>,
}

impl SourceTree {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a Path>) -> SourceTree {
        let mut root = SourceTree::default();
        for p in paths {
            let mut node = &mut root;
            for seg in &p.segments {
                let i = match node.fields.iter().position(|(k, _)| *k == seg.key) {
                    Some(i) => i,
                    None => {
                        node.fields.push((seg.key.clone(), SourceTree::default()));
                        node.fields.len() - 1
                    }
                };
                node = &mut node.fields[i].1;
                if seg.each {
                    node = node.elements.get_or_insert_with(Default::default);
                }
            }
            node.whole = true;
        }
        root
    }

    #[cfg(test)]
    fn field(&self, key: &str) -> Option<&SourceTree> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }
}

impl TransformMap {
    /// Parses a record's JSON text, keeping only what this map's rules read. Errors are
    /// the parser's (the text is not JSON).
    pub fn read(&self, text: &str) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Pruned(&self.sources).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

/// Deserializes one value as the tree says.
struct Pruned<'t>(&'t SourceTree);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.whole { serde::Deserialize::deserialize(d) } else { d.deserialize_any(self) }
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Some(el) = self.0.elements.as_deref() else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Pruned(el))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeyIn(self.0))? {
            match key {
                Some((name, sub)) => match map.next_value_seed(Pruned(sub))? {
                    // As in a whole parse, a repeated key's later value wins.
                    Value::Null => {
                        out.remove(name);
                    }
                    v => {
                        out.insert(name.to_string(), v);
                    }
                },
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads an object key without allocating and finds the subtree it leads to.
struct KeyIn<'t>(&'t SourceTree);

impl<'de, 't> DeserializeSeed<'de> for KeyIn<'t> {
    type Value = Option<(&'t str, &'t SourceTree)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 't> Visitor<'de> for KeyIn<'t> {
    type Value = Option<(&'t str, &'t SourceTree)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let tree = self.0;
        Ok(tree.fields.iter().find(|(k, _)| k == key).map(|(k, t)| (k.as_str(), t)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::transform::{RuleSpec, TargetModel, TransformMapSpec};

    fn map(rules: &[(&str, &str)]) -> TransformMap {
        let spec = TransformMapSpec {
            name: "t".into(),
            description: None,
            connector: "x".into(),
            source_model: "s".into(),
            target_model: TargetModel::HostVulnerability,
            product: None,
            rules: rules
                .iter()
                .map(|(s, t)| RuleSpec::new(s, t))
                .chain(rules.iter().all(|(_, t)| *t != "externalAssetId").then(|| RuleSpec::new("endpoint_id", "externalAssetId")))
                .collect(),
        };
        match TransformMap::compile(spec) {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn keeps_what_paths_reach_and_nothing_else() {
        let m = map(&[
            ("cves[].name", "finding[].externalFindingId"),
            ("cves[].score", "finding[].name"),
            ("host.name", "hostName"),
            ("tags", "temp_q_customAttributes.tags"),
        ]);
        let text = r#"{"cves":[{"name":"CVE-1","junk":[1,2]},{"x":1},{"name":"CVE-3","score":9.8}],
            "host":{"name":"h1","os":{"deep":[{"a":1}]}},"tags":{"a":[1,{"b":2}]},"other":"dropped"}"#;
        let got = m.read(text).unwrap();
        assert_eq!(got, json!({"cves":[{"name":"CVE-1"},{},{"name":"CVE-3","score":9.8}],"host":{"name":"h1"},"tags":{"a":[1,{"b":2}]}}));
        let whole: Value = serde_json::from_str(text).unwrap();
        assert_eq!(m.apply(&got), m.apply(&whole), "applying the pruned record is applying the record");
    }

    #[test]
    fn wrong_shapes_read_as_nothing_and_match_the_whole_record() {
        let m = map(&[("cves[].name", "finding[].externalFindingId"), ("host.name", "hostName")]);
        for text in [
            r#"{"cves":{"name":"CVE-1"},"host":["h"]}"#,
            r#"{"cves":"CVE-1","host":"h"}"#,
            r#"{"cves":[null,"x",["y"],{"name":null}],"host":{"name":{"first":"h"}}}"#,
            r#"{"host":{"name":"a"},"host":{"other":1}}"#,
            r#"[1,2]"#,
            r#""text""#,
            r#"{"k\u00e9y":1,"host":{"na\u006de":"escaped key"}}"#,
        ] {
            let whole: Value = serde_json::from_str(text).unwrap();
            let pruned = m.read(text).unwrap();
            assert_eq!(m.apply(&pruned), m.apply(&whole), "{text}");
        }
        assert!(m.read(r#"{"cves":[{"name":"CVE-1"}"#).is_err(), "truncated text is an error");
        assert!(m.read(r#"{"a":1} trailing"#).is_err());
    }

    #[test]
    fn tree_merges_paths() {
        let a = Path::parse("a.b").unwrap();
        let b = Path::parse("a[].c").unwrap();
        let c = Path::parse("a").unwrap();
        let t = SourceTree::new([&a, &b, &c]);
        let node = t.field("a").unwrap();
        assert!(node.whole && node.field("b").is_some_and(|n| n.whole));
        assert!(node.elements.as_ref().and_then(|e| e.field("c")).is_some_and(|n| n.whole));
    }
}
