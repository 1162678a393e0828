//! Rendering results as a table, JSON or CSV (`--format`).

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

use crate::args::Format;

/// A tabular result: headers, rows of cells, and the JSON form of the same rows.
pub struct Tabular {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub json: Vec<Value>,
}

impl Tabular {
    pub fn new(headers: &[&'static str]) -> Self {
        Tabular { headers: headers.to_vec(), rows: Vec::new(), json: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>, json: Value) {
        self.rows.push(cells);
        self.json.push(json);
    }

    pub fn print(&self, format: Format) {
        match format {
            // (sarif and ocsf are refused for lists before a command runs.)
            Format::Json | Format::Sarif | Format::Ocsf => println!("{}", serde_json::to_string_pretty(&self.json).unwrap_or_default()),
            Format::Csv => {
                println!("{}", self.headers.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","));
                for r in &self.rows {
                    println!("{}", r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
                }
            }
            Format::Table => {
                let mut t = Table::new();
                t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(&self.headers);
                for r in &self.rows {
                    t.add_row(r);
                }
                println!("{t}");
            }
        }
    }
}

/// RFC 4180 quoting; cells starting with a formula character are prefixed with `'`
/// so a spreadsheet does not execute vendor-supplied text.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_formula_guard() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("-1.5"), "-1.5");
    }
}
