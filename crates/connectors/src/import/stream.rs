//! Streaming a JSON document whose bulk is one or more arrays: elements are handed to a
//! callback one at a time, so a 100 MB report never exists as one value in memory.
//!
//! The document is described by [`Shape`]: at each object level, which keys hold the
//! arrays to stream, which hold small values to keep, and which nest further; all other
//! keys are skipped without building anything.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// What the reader meets, in document order.
pub enum Event<'a> {
    /// A kept small value at `path` (e.g. `["version"]`, `["runs", "tool"]`).
    Value { path: &'a [&'static str], index: &'a [usize], value: Value },
    /// A streamed array begins (it may turn out empty).
    Start { path: &'a [&'static str], index: &'a [usize] },
    /// One element of a streamed array, as its JSON text (`None` when skimming).
    Element { path: &'a [&'static str], index: &'a [usize], raw: Option<Box<RawValue>> },
}

/// The shape of the part of a document we read.
#[derive(Clone, Copy)]
pub enum Shape {
    /// An object: `(key, shape of its value)`; unlisted keys are skipped.
    Object(&'static [(&'static str, Shape)]),
    /// An array whose elements are objects of this shape (e.g. SARIF `runs`).
    ArrayOf(&'static Shape),
    /// An array whose elements are streamed as values.
    Stream,
    /// A value kept whole.
    Keep,
}

/// Reads `de` according to `shape`, calling `f` for each event; `f` returning an error
/// stops the read. The first error (syntax or callback) is returned. With `skim`,
/// streamed elements are checked but not kept (their events carry no text).
pub fn read<'de, D: Deserializer<'de>>(
    de: D,
    shape: Shape,
    skim: bool,
    f: &mut dyn FnMut(Event<'_>) -> Result<(), String>,
) -> Result<(), D::Error> {
    let mut path = Vec::new();
    let mut index = Vec::new();
    Node { shape, skim, path: &mut path, index: &mut index, f }.deserialize(de)
}

struct Node<'p, 'f> {
    shape: Shape,
    skim: bool,
    path: &'p mut Vec<&'static str>,
    index: &'p mut Vec<usize>,
    f: &'f mut dyn FnMut(Event<'_>) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        match self.shape {
            Shape::Object(_) => de.deserialize_map(self),
            Shape::ArrayOf(_) | Shape::Stream => de.deserialize_seq(self),
            Shape::Keep => {
                let value = Value::deserialize(de)?;
                (self.f)(Event::Value { path: self.path, index: self.index, value }).map_err(D::Error::custom)
            }
        }
    }
}

use serde::Deserialize;

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shape {
            Shape::Object(_) => write!(f, "an object"),
            _ => write!(f, "an array"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Shape::Object(fields) = self.shape else { return Err(A::Error::custom("expected an array")) };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match fields.iter().find(|(k, _)| *k == key.as_ref()) {
                Some((k, shape)) => {
                    self.path.push(k);
                    let r = map.next_value_seed(Node { shape: *shape, skim: self.skim, path: self.path, index: self.index, f: self.f });
                    self.path.pop();
                    r?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        match self.shape {
            Shape::ArrayOf(inner) => loop {
                self.index.push(i);
                let r = seq.next_element_seed(Node { shape: *inner, skim: self.skim, path: self.path, index: self.index, f: self.f });
                self.index.pop();
                if r?.is_none() {
                    return Ok(());
                }
                i += 1;
            },
            Shape::Stream => {
                (self.f)(Event::Start { path: self.path, index: self.index }).map_err(A::Error::custom)?;
                loop {
                    let raw = if self.skim {
                        match seq.next_element::<IgnoredAny>()? {
                            Some(_) => None,
                            None => break,
                        }
                    } else {
                        match seq.next_element::<Box<RawValue>>()? {
                            Some(v) => Some(v),
                            None => break,
                        }
                    };
                    self.index.push(i);
                    let r = (self.f)(Event::Element { path: self.path, index: self.index, raw });
                    self.index.pop();
                    r.map_err(A::Error::custom)?;
                    i += 1;
                }
                Ok(())
            }
            _ => Err(A::Error::custom("expected an object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SARIF: Shape = Shape::Object(&[
        ("version", Shape::Keep),
        ("runs", Shape::ArrayOf(&Shape::Object(&[("tool", Shape::Keep), ("results", Shape::Stream)]))),
    ]);

    #[test]
    fn streams_nested_arrays_in_order() {
        let doc = r#"{"$schema": "x", "runs": [{"results": [{"a": 1}, {"a": 2}], "tool": {"n": "t1"}}, {"tool": {"n": "t2"}, "results": [{"a": 3}]}], "version": "2.1.0"}"#;
        let mut seen = Vec::new();
        read(&mut serde_json::Deserializer::from_str(doc), SARIF, false, &mut |e| {
            seen.push(match e {
                Event::Value { path, index, value } => format!("{}{index:?}={value}", path.join(".")),
                Event::Element { path, index, raw } => {
                    format!("{}{index:?}<{}", path.join("."), raw.map(|r| r.get().to_string()).unwrap_or_default())
                }
                Event::Start { path, index } => format!("{}{index:?}[", path.join(".")),
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                r#"runs.results[0]["#,
                r#"runs.results[0, 0]<{"a": 1}"#,
                r#"runs.results[0, 1]<{"a": 2}"#,
                r#"runs.tool[0]={"n":"t1"}"#,
                r#"runs.tool[1]={"n":"t2"}"#,
                r#"runs.results[1]["#,
                r#"runs.results[1, 0]<{"a": 3}"#,
                r#"version[]="2.1.0""#
            ]
        );
    }

    #[test]
    fn syntax_errors_carry_a_position_and_callbacks_can_stop() {
        let doc = "{\"runs\": [{\"results\": [{\"a\": 1}, {\"a\": ";
        let err = read(&mut serde_json::Deserializer::from_str(doc), SARIF, false, &mut |_| Ok(())).unwrap_err();
        assert_eq!((err.line(), err.is_eof()), (1, true));
        let doc = r#"{"runs": [{"results": [1, 2, 3]}]}"#;
        let mut n = 0;
        let err = read(&mut serde_json::Deserializer::from_str(doc), SARIF, false, &mut |_| {
            n += 1;
            if n == 2 { Err("stop".into()) } else { Ok(()) }
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("stop"), "{err}");
        let err = read(&mut serde_json::Deserializer::from_str(r#"{"runs": {"a": 1}}"#), SARIF, false, &mut |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("expected an array"), "{err}");
    }
}
