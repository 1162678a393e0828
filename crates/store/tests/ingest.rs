//! The bulk write path on both backends.

use serde_json::json;
use tributary_core::identify;
use tributary_core::model::{Severity, SyncMode};
use tributary_core::secret::Secret;
use tributary_core::transform::{RuleSpec, TargetModel, TransformMap, TransformMapSpec, stage};
use tributary_store::ingest::{self, Completeness, PageIn, RawBody, RawDict, RecordIn, RunContext};
use tributary_store::repo::{integrations, raw, runs};
use tributary_store::{Store, params};

fn map() -> TransformMap {
    let rules = [
        ("endpoint_id", "externalAssetId"),
        ("endpoint_name", "hostName"),
        ("endpoint_status", "status"),
        ("mac_address[]", "networkInterfaces[].macAddress"),
        ("cves[].name", "finding[].externalFindingId"),
        ("cves[].name", "finding[].findingType.vulnerability.cveId"),
        ("cves[].severity", "finding[].severity"),
    ];
    TransformMap::compile(TransformMapSpec {
        name: "test".into(),
        description: None,
        connector: "cortex-xdr".into(),
        source_model: "endpoint".into(),
        target_model: TargetModel::HostVulnerability,
        product: None,
        rules: rules.iter().map(|(s, t)| RuleSpec::new(s, t)).collect(),
    })
    .unwrap()
}

fn endpoint(id: &str, mac: &str, cves: &[(&str, &str)], status: &str) -> RecordIn {
    let raw = json!({
        "endpoint_id": id, "endpoint_name": format!("host-{id}"), "endpoint_status": status, "mac_address": [mac],
        "cves": cves.iter().map(|(n, s)| json!({"name": n, "severity": s})).collect::<Vec<_>>(),
    });
    let staged = stage(map().apply(&raw), TargetModel::HostVulnerability, "cortex-xdr", "Cortex XDR");
    assert!(staged.warnings.is_empty(), "{:?}", staged.warnings);
    RecordIn {
        stream: "endpoint".into(),
        key: id.into(),
        raw: Some(RawBody::from_json(raw.to_string().as_bytes())),
        asset: staged.asset,
        findings: staged.findings,
        ..RecordIn::default()
    }
}

fn setup(store: &Store, full: bool) -> RunContext {
    let secret = Secret::new("k");
    let integration_id = store
        .write(|c| match integrations::get(c, "xdr") {
            Ok(i) => Ok(i.id),
            Err(_) => integrations::create(
                c,
                store.key(),
                integrations::NewIntegration { name: "xdr", kind: "cortex-xdr", base_url: "http://x", config: json!({}), secret: &secret },
            )
            .map(|i| i.id),
        })
        .unwrap();
    let mode = if full { SyncMode::Full } else { SyncMode::Delta };
    let run = store.write(|c| runs::start(c, integration_id, None, mode, "test")).unwrap();
    RunContext {
        run_id: run.id,
        integration_id,
        source: "Cortex XDR".into(),
        full,
        completeness: Completeness::PerAsset,
        rules: identify::default_rules(),
        scope: None,
        seen_in_memory: None,
        scope_is_new: false,
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.read(|c| c.scalar(sql, &[])).unwrap()
}

const MAC_A: &str = "00:1a:2b:3c:4d:5e";
const MAC_B: &str = "00:1a:2b:3c:4d:5f";

tributary_store::backend_tests! {
    fn maintained_counts_rebuilt_by_two_readers_at_once(db) {
        // A page and the dashboard's background pass may both find the counts stale:
        // both refresh, neither fails, and the counts equal counting.
        let store = db.open();
        let ctx = setup(&store, false);
        let page = PageIn {
            records: vec![endpoint("a", MAC_A, &[("CVE-2024-0001", "HIGH"), ("CVE-2024-0002", "LOW")], "CONNECTED")],
            fetched: 1,
            ..PageIn::default()
        };
        store.write(|c| ingest::write_page(c, &ctx, page)).unwrap();
        for _ in 0..20 {
            store.write(tributary_store::repo::stats::mark_stale).unwrap();
            let results = std::thread::scope(|s| {
                let a = s.spawn(|| store.write(tributary_store::repo::stats::refresh));
                let b = s.spawn(|| store.write(tributary_store::repo::stats::refresh));
                [a.join().unwrap(), b.join().unwrap()]
            });
            let rebuilt: Vec<bool> = results.into_iter().map(|r| r.expect("a refresh beside another")).collect();
            assert_eq!(rebuilt.iter().filter(|r| **r).count(), 1, "exactly one rebuilt: {rebuilt:?}");
            assert_eq!(count(&store, "SELECT CAST(SUM(n) AS BIGINT) FROM finding_stats"), count(&store, "SELECT COUNT(*) FROM findings"));
        }
    }

    fn pages_upsert_identify_and_close(db) {
        let store = db.open();
        let ctx = setup(&store, false);
        let page = || PageIn {
            records: vec![
                endpoint("a", MAC_A, &[("CVE-2024-0001", "HIGH"), ("CVE-2024-0002", "LOW"), ("CVE-2024-0003", "MEDIUM")], "CONNECTED"),
                endpoint("b", MAC_B, &[("CVE-2024-0001", "HIGH"), ("CVE-2024-0004", "CRITICAL")], "CONNECTED"),
            ],
            fetched: 2,
            cursor: Some(json!({"search_from": 2})),
            ..PageIn::default()
        };
        let c1 = store.write(|c| ingest::write_page(c, &ctx, page())).unwrap();
        assert_eq!((c1.created, c1.assets_created, c1.unchanged), (5, 2, 0));
        let c2 = store.write(|c| ingest::write_page(c, &ctx, page())).unwrap();
        assert_eq!((c2.created, c2.updated, c2.unchanged, c2.assets_created, c2.assets_updated), (0, 0, 5, 0, 0));

        // Host "b" again: one CVE gone (closed), one severity changed (updated), one new.
        let p3 = PageIn { records: vec![endpoint("b", MAC_B, &[("CVE-2024-0001", "CRITICAL"), ("CVE-2024-0005", "LOW")], "CONNECTED")], ..PageIn::default() };
        let c3 = store.write(|c| ingest::write_page(c, &ctx, p3)).unwrap();
        assert_eq!((c3.created, c3.updated, c3.closed), (1, 1, 1));

        // The same MAC under a new agent id is the same host (matched by the MAC rule).
        let p4 = PageIn { records: vec![endpoint("a2", MAC_A, &[("CVE-2024-0009", "HIGH")], "CONNECTED")], ..PageIn::default() };
        let c4 = store.write(|c| ingest::write_page(c, &ctx, p4)).unwrap();
        assert_eq!((c4.assets_created, c4.assets_updated, c4.created), (0, 1, 1));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM assets"), 2);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM asset_sources"), 3);

        // An uninstalled agent retires the attribution and closes its findings.
        let p5 = PageIn { records: vec![endpoint("b", MAC_B, &[("CVE-2024-0001", "CRITICAL")], "UNINSTALLED")], ..PageIn::default() };
        let c5 = store.write(|c| ingest::write_page(c, &ctx, p5)).unwrap();
        assert_eq!((c5.assets_retired, c5.closed), (1, 2));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM asset_sources WHERE active = 1"), 2);

        let sev: i64 = store.read(|c| c.scalar("SELECT severity FROM findings WHERE cve = 'CVE-2024-0004'", &[])).unwrap();
        assert_eq!(sev, Severity::Critical.ocsf_id());
        let cursor = store.read(|c| runs::get(c, ctx.run_id)).unwrap().cursor;
        assert_eq!(cursor, Some(json!({"search_from": 2})));
        // Raw records are stored once per endpoint, compressed, and decompress to the input.
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_records"), 3);
        let body: Vec<u8> = store.read(|c| c.scalar("SELECT body FROM raw_records WHERE record_key = 'a'", &[])).unwrap();
        let raw: serde_json::Value = serde_json::from_slice(&ingest::decompress(&body, None).unwrap()).unwrap();
        assert_eq!(raw["endpoint_name"], "host-a");
    }

    fn raw_records_compress_against_their_stream_dictionary(db) {
        let store = db.open();
        let ctx = setup(&store, false);
        let text = |i: usize| json!({"endpoint_id": format!("e{i}"), "endpoint_name": format!("host-{i}"), "cves": [{"name": "CVE-2024-0001"}]}).to_string();
        let dict = RawDict::sample(ctx.integration_id, "endpoint", text(0).as_bytes());
        let with = |i: usize, dict: Option<&RawDict>| RecordIn {
            stream: "endpoint".into(),
            key: format!("e{i}"),
            raw: Some(match dict {
                Some(d) => RawBody::with_dict(text(i).as_bytes(), d),
                None => RawBody::from_json(text(i).as_bytes()),
            }),
            ..RecordIn::default()
        };
        let plain = with(9, None);
        let packed = with(1, Some(&dict));
        assert!(packed.raw.as_ref().unwrap().bytes.len() < plain.raw.as_ref().unwrap().bytes.len() / 2, "the dictionary pays");
        let page = PageIn { records: vec![with(0, Some(&dict)), packed, plain], dicts: vec![dict.clone()], ..PageIn::default() };
        store.write(|c| ingest::write_page(c, &ctx, page)).unwrap();
        // The same dictionary again (a later page, a resumed run) is not a second row.
        let again = PageIn { records: vec![with(2, Some(&dict))], dicts: vec![dict.clone()], ..PageIn::default() };
        store.write(|c| ingest::write_page(c, &ctx, again)).unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_dicts"), 1);
        assert_eq!(store.read(|c| raw::dicts(c, ctx.integration_id)).unwrap(), vec![dict.clone()]);
        let back = store.read(|c| raw::page(c, ctx.integration_id, "endpoint", 0, 10)).unwrap();
        let mut got: Vec<(String, String)> = back.iter().map(|r| (r.key.clone(), r.body.to_string())).collect();
        got.sort();
        let mut want: Vec<(String, String)> = [0, 1, 2, 9].iter().map(|&i| (format!("e{i}"), text(i))).collect();
        want.sort();
        assert_eq!(got, want, "records with and without a dictionary read back as sent");

        // A dictionary that went missing is an error naming it, not a panic or garbage.
        store.write(|c| c.execute("DELETE FROM raw_dicts", &[])).unwrap();
        let err = store.read(|c| raw::page(c, ctx.integration_id, "endpoint", 0, 10)).unwrap_err().to_string();
        assert!(err.contains(&format!("dictionary {} is missing", dict.id)), "{err}");
        // Deleting the integration removes its dictionaries too.
        let page = PageIn { records: vec![], dicts: vec![dict], ..PageIn::default() };
        store.write(|c| ingest::write_page(c, &ctx, page)).unwrap();
        store.write(|c| integrations::delete(c, ctx.integration_id)).unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_dicts"), 0);
    }

    fn full_sync_sweeps_what_was_not_seen(db) {
        let store = db.open();
        let first = setup(&store, true);
        let records = vec![
            endpoint("a", MAC_A, &[("CVE-2024-0001", "HIGH")], "CONNECTED"),
            endpoint("b", MAC_B, &[("CVE-2024-0002", "HIGH"), ("CVE-2024-0003", "LOW")], "CONNECTED"),
        ];
        store.write(|c| ingest::write_page(c, &first, PageIn { records, ..PageIn::default() })).unwrap();
        let swept = store.write(|c| ingest::finish_full(c, &first, &[("Cortex XDR".into(), Completeness::PerAsset)], &["endpoint".into()])).unwrap();
        assert_eq!((swept.closed, swept.assets_retired), (0, 0));

        // Second full sync sees only "a": "b" is retired, its two findings closed, its raw record dropped.
        let second = setup(&store, true);
        let records = vec![endpoint("a", MAC_A, &[("CVE-2024-0001", "HIGH")], "CONNECTED")];
        let c = store.write(|c| ingest::write_page(c, &second, PageIn { records, ..PageIn::default() })).unwrap();
        assert_eq!(c.unchanged, 1);
        let swept = store.write(|c| ingest::finish_full(c, &second, &[("Cortex XDR".into(), Completeness::PerAsset)], &["endpoint".into()])).unwrap();
        assert_eq!((swept.closed, swept.assets_retired), (2, 1));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM findings WHERE status = 'open'"), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM raw_records"), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM sync_seen"), 0);
        let closed_at: Option<i64> = store.read(|c| c.scalar("SELECT closed_at FROM findings WHERE cve = ?", params!["CVE-2024-0003"])).unwrap();
        assert!(closed_at.is_some());
    }
}
