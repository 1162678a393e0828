//! Exports, both backends: SARIF validates against the SARIF 2.1.0 schema and imports
//! again with the same count; every OCSF line validates against its class's schema (2002
//! or 2007); CSV has one row per finding with formulas quoted; a query narrows all three.

mod common;

use std::sync::Arc;

use serde_json::Value;
use tributary_app::export::{ExportFormat, parse_format};
use tributary_app::imports::{FileFormat, ImportFile};
use tributary_app::query::{ListRequest, Listing};
use tributary_app::{App, NoProgress, Principal};

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/../core/tests/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&doc).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn export(app: &App, format: ExportFormat, q: &str) -> (Vec<u8>, u64, u64) {
    let mut pages = 0;
    let (out, s) = app.export(&Principal::local(), format, q, Vec::new(), &mut |_| pages += 1).unwrap();
    (out, s.written, s.skipped)
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).take(5).collect()
}

tributary_store::backend_tests! {
    fn sarif_ocsf_and_csv_exports(db) {
        let app = App::open(&db.options()).unwrap();
        let who = Principal::local();
        common::synced(&app, 41, &["xdr", "sg"]);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let count = |q: &str| app.count(&who, q, None).unwrap() as u64;
        let (open, code, vulns) = (count("finding.status:open"), count("finding.status:open finding.kind:code_weakness"), count("finding.status:open finding.kind:vulnerability"));
        assert!(code > 0 && vulns > 0);
        // A formula where a spreadsheet would run it.
        let req = ListRequest { q: "finding.kind:code_weakness".into(), limit: 1, ..Default::default() };
        let first = app.list(&who, &req, Some(Listing::Finding)).unwrap().items[0]["id"].as_i64().unwrap();
        app.assign(&who, first, "=HYPERLINK(\"http://evil.example\")").unwrap();

        // SARIF: code weaknesses only; valid; imports again with the same count.
        assert_eq!(parse_format("SARIF").unwrap(), ExportFormat::Sarif);
        assert!(parse_format("xml").unwrap_err().to_string().contains("sarif, ocsf or csv"));
        let (sarif, written, skipped) = export(&app, ExportFormat::Sarif, "");
        assert_eq!((written, skipped), (code, vulns));
        let doc: Value = serde_json::from_slice(&sarif).unwrap();
        assert_eq!(errors(&schema("sarif-schema-2.1.0.json"), &doc), Vec::<String>::new());
        assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len() as u64, code);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.sarif");
        std::fs::write(&path, &sarif).unwrap();
        let outcome = rt
            .block_on(app.import_file(&who, ImportFile { format: FileFormat::Sarif, path, repo_url: "https://github.com/acme/reimported".into(), tool: None, allow_mass_close: false }, Arc::new(NoProgress)))
            .unwrap();
        let run = outcome.run.expect("an import run");
        assert_eq!(run.counts.created as u64, code, "every exported result comes back as one finding");
        assert_eq!(count(&format!("finding.vendorProductName:`{}`", outcome.product)), code);

        // OCSF: one valid event per open finding (the imported copies included now).
        let open = open + code;
        let (ocsf, written, skipped) = export(&app, ExportFormat::Ocsf, "");
        assert_eq!((written, skipped), (open, 0));
        let (v2002, v2007) = (schema("ocsf-1.8.0-vulnerability_finding.json"), schema("ocsf-1.8.0-application_security_posture_finding.json"));
        let mut by_class = std::collections::BTreeMap::new();
        for line in ocsf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let ev: Value = serde_json::from_slice(line).unwrap();
            let class = ev["class_uid"].as_i64().unwrap();
            let v = if class == 2002 { &v2002 } else { &v2007 };
            assert_eq!(errors(v, &ev), Vec::<String>::new(), "{ev}");
            *by_class.entry(class).or_insert(0u64) += 1;
        }
        assert_eq!(by_class.get(&2002).copied().unwrap_or(0), vulns);
        assert_eq!(by_class.get(&2007).copied().unwrap_or(0), code * 2);

        // CSV: a header and one row per finding; the formula is quoted.
        let (csv_bytes, written, _) = export(&app, ExportFormat::Csv, "");
        assert_eq!(written, open);
        let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, tributary_core::export::CSV_COLUMNS);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len() as u64, open);
        let assignee = header.iter().position(|h| h == "assignee").unwrap();
        let row = rows.iter().find(|r| r[0] == first.to_string()).unwrap();
        assert_eq!(&row[assignee], "'=HYPERLINK(\"http://evil.example\")");
        assert!(rows.iter().all(|r| !r.iter().any(|c| c.starts_with('=') || c.starts_with('@'))));

        // A query narrows every format; a bad one is refused before anything is written.
        let crit = count("finding.severity:critical");
        assert_eq!(export(&app, ExportFormat::Ocsf, "finding.severity:critical").1, crit);
        let err = app.export(&who, ExportFormat::Csv, "finding.severty:high", Vec::new(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("finding.severity"), "{err}");
    }
}
