//! `Chain`: one source after another in a single run (a connector with a second record
//! stream read by a different API, such as Cortex XDR's attack-surface records after
//! its endpoints). The cursor says which part is running: `{"part": n, "inner": …}`; a
//! cursor without `part` (a run started before the connector had a second part) is the
//! first part's.

use serde_json::{Value, json};

use crate::{BoxFuture, ConnectorError, Cursor, RawPage, Source};

pub struct Chain {
    parts: Vec<Box<dyn Source>>,
}

impl Chain {
    pub fn new(parts: Vec<Box<dyn Source>>) -> Chain {
        Chain { parts }
    }
}

fn split(cursor: Option<&Cursor>) -> (usize, Option<Cursor>) {
    match cursor {
        None => (0, None),
        Some(c) => match c.get("part").and_then(Value::as_u64) {
            Some(n) => (n as usize, c.get("inner").filter(|i| !i.is_null()).cloned()),
            None => (0, Some(c.clone())),
        },
    }
}

impl Source for Chain {
    fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
        Box::pin(async move {
            let (part, inner) = split(cursor);
            let Some(source) = self.parts.get_mut(part) else {
                return Ok(RawPage::default());
            };
            let mut page = source.next_page(inner.as_ref()).await?;
            page.next = match page.next.take() {
                Some(next) => Some(json!({"part": part, "inner": next})),
                None if part + 1 < self.parts.len() => Some(json!({"part": part + 1, "inner": null})),
                None => None,
            };
            Ok(page)
        })
    }

    fn notes(&self) -> Vec<String> {
        self.parts.iter().flat_map(|p| p.notes()).collect()
    }

    fn reconciled_scopes(&self) -> Option<Vec<String>> {
        self.parts.first().and_then(|p| p.reconciled_scopes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawRecord;

    struct Pages(&'static str, u64);

    impl Source for Pages {
        fn next_page<'a>(&'a mut self, cursor: Option<&'a Cursor>) -> BoxFuture<'a, Result<RawPage, ConnectorError>> {
            Box::pin(async move {
                let at = cursor.and_then(Value::as_u64).unwrap_or(0);
                let rec = RawRecord {
                    stream: self.0,
                    key: format!("{}{at}", self.0),
                    body: json!({}),
                    tombstone: false,
                    scope: None,
                    raw_json: None,
                };
                Ok(RawPage { records: vec![rec], next: (at + 1 < self.1).then(|| json!(at + 1)), ..RawPage::default() })
            })
        }
    }

    #[test]
    fn parts_run_in_order_and_resume_from_their_cursor() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut c = Chain::new(vec![Box::new(Pages("a", 2)), Box::new(Pages("b", 2))]);
        let mut cursor: Option<Cursor> = None;
        let mut keys = Vec::new();
        loop {
            let p = rt.block_on(c.next_page(cursor.as_ref())).unwrap();
            keys.extend(p.records.iter().map(|r| r.key.clone()));
            match p.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(keys, ["a0", "a1", "b0", "b1"]);
        // A cursor from before the chain is the first part's.
        let p = rt.block_on(c.next_page(Some(&json!(1)))).unwrap();
        assert_eq!(p.records[0].key, "a1");
        assert_eq!(p.next, Some(json!({"part": 1, "inner": null})));
    }
}
