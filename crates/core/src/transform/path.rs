//! Path syntax shared by source and target sides of a transform rule.
//!
//! A path is dot-separated segments; a segment ending in `[]` walks every element of
//! an array (fan-out). Keys that themselves contain dots (Cortex XDM keys such as
//! `xdm.asset.id`) are quoted with single quotes or backticks: `'xdm.asset.id'`.
//!
//! ```text
//! endpoint_id            tags.server_tags          cves[].name
//! mac_address[]          'xdm.asset.tags'[].key    finding[].findingType.vulnerability.cveId
//! ```

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub key: String,
    /// `[]` after the key: iterate the array found there.
    pub each: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed path '{path}': {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let err = |reason: String| PathError { path: text.to_string(), reason };
        let t = text.trim();
        if t.is_empty() {
            return Err(err("it is empty".into()));
        }
        let mut segments = Vec::new();
        let mut chars = t.char_indices().peekable();
        loop {
            // One segment: a quoted or bare key, then optional `[]`.
            let key = match chars.peek() {
                Some(&(_, q @ ('\'' | '`'))) => {
                    chars.next();
                    let mut k = String::new();
                    loop {
                        match chars.next() {
                            Some((_, c)) if c == q => break,
                            Some((_, c)) => k.push(c),
                            None => return Err(err(format!("unclosed quote {q}"))),
                        }
                    }
                    k
                }
                _ => {
                    let mut k = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        if c == ']' || c == '\'' || c == '`' || c.is_whitespace() {
                            return Err(err(format!("unexpected '{c}' in a key")));
                        }
                        k.push(c);
                        chars.next();
                    }
                    k
                }
            };
            if key.is_empty() {
                return Err(err("empty segment (two dots in a row, or a leading/trailing dot)".into()));
            }
            let mut each = false;
            if let Some(&(_, '[')) = chars.peek() {
                chars.next();
                match chars.next() {
                    Some((_, ']')) => each = true,
                    _ => return Err(err("'[' must be followed by ']' (indexes are not supported; use [] to fan out)".into())),
                }
            }
            segments.push(Segment { key, each });
            match chars.next() {
                None => break,
                Some((_, '.')) => {
                    if chars.peek().is_none() {
                        return Err(err("trailing dot".into()));
                    }
                }
                Some((_, c)) => return Err(err(format!("expected '.' or end after a segment, found '{c}'"))),
            }
        }
        Ok(Path { segments })
    }

    /// Number of `[]` segments.
    pub fn fan_outs(&self) -> usize {
        self.segments.iter().filter(|s| s.each).count()
    }

    /// Walks `value`, calling `f(first_fanout_index, leaf)` for every leaf the path
    /// reaches. `first_fanout_index` is the index in the outermost `[]` array (or
    /// `None` when the path has no `[]`). Missing keys and nulls yield nothing.
    pub fn walk<'v>(&self, value: &'v serde_json::Value, f: &mut dyn FnMut(Option<usize>, &'v serde_json::Value)) {
        fn go<'v>(
            segs: &[Segment],
            v: &'v serde_json::Value,
            outer: Option<usize>,
            f: &mut dyn FnMut(Option<usize>, &'v serde_json::Value),
        ) {
            let Some((seg, rest)) = segs.split_first() else {
                if !v.is_null() {
                    f(outer, v);
                }
                return;
            };
            let Some(next) = v.get(&seg.key) else { return };
            if seg.each {
                if let serde_json::Value::Array(items) = next {
                    for (i, item) in items.iter().enumerate() {
                        go(rest, item, outer.or(Some(i)), f);
                    }
                }
            } else {
                go(rest, next, outer, f);
            }
        }
        go(&self.segments, value, None, f);
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if s.key.contains(['.', '[', ']', ' ']) {
                write!(f, "'{}'", s.key)?;
            } else {
                f.write_str(&s.key)?;
            }
            if s.each {
                f.write_str("[]")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_prints() {
        for p in ["endpoint_id", "tags.server_tags", "cves[].name", "mac_address[]", "'xdm.asset.tags'[].key"] {
            assert_eq!(Path::parse(p).unwrap().to_string(), p);
        }
        assert_eq!(Path::parse("`xdm.asset.id`").unwrap().segments[0].key, "xdm.asset.id");
        for bad in ["", "a..b", ".a", "a.", "a[", "a[0]", "a]b", "'open"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn walks_with_fanout_indexes() {
        let v = json!({"cves": [{"name": "CVE-1"}, {"name": null}, {"name": "CVE-3"}], "tags": {"server_tags": ["a", "b"]}});
        let mut got = vec![];
        Path::parse("cves[].name").unwrap().walk(&v, &mut |i, leaf| got.push((i, leaf.clone())));
        assert_eq!(got, vec![(Some(0), json!("CVE-1")), (Some(2), json!("CVE-3"))]);
        let mut got = vec![];
        Path::parse("tags.server_tags").unwrap().walk(&v, &mut |i, leaf| got.push((i, leaf.clone())));
        assert_eq!(got, vec![(None, json!(["a", "b"]))]);
        let mut n = 0;
        Path::parse("missing.key[]").unwrap().walk(&v, &mut |_, _| n += 1);
        assert_eq!(n, 0);
    }
}
