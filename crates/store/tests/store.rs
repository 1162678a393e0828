//! Store tests. Everything in `backend_tests!` runs on SQLite and on PostgreSQL.

use tributary_core::model::Role;
use tributary_core::secret::{MasterKey, Secret};
use tributary_store::repo::{integrations, users};
use tributary_store::testing::TempDir;
use tributary_store::{Batch, Column, Store, StoreError, StoreOptions, params};

fn new_integration<'a>(name: &'a str, secret: &'a Secret) -> integrations::NewIntegration<'a> {
    integrations::NewIntegration {
        name,
        kind: "cortex-xdr",
        base_url: "https://api-acme.xdr.example.com",
        config: serde_json::json!({"key_id": "42", "security": "standard"}),
        secret,
    }
}

tributary_store::backend_tests! {
    fn migration_is_idempotent(db) {
        let first = db.open();
        assert_eq!(first.migration().from, None);
        drop(first);
        let again = db.open();
        assert_eq!(again.migration().from, Some(tributary_store::migrate::SCHEMA_VERSION));
        let rules: i64 = again.read(|c| c.scalar("SELECT COUNT(*) FROM identification_rules", &[])).unwrap();
        assert_eq!(rules as usize, tributary_core::identify::default_rules().len());
    }

    fn refuses_a_newer_schema(db) {
        let store = db.open();
        store.write(|c| c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", &[])).unwrap();
        drop(store);
        let err = Store::open(&db.options()).unwrap_err().to_string();
        assert!(err.contains("schema is version 99") && err.contains(&format!("up to version {}", tributary_store::migrate::SCHEMA_VERSION)), "{err}");
    }

    fn upgrades_a_version_1_database(db) {
        // Version 1 had no raw-record dictionaries, no initial-run flag and no run notes:
        // build one, with a raw record in it.
        let store = db.open();
        store
            .write(|c| {
                c.batch_execute("DROP TABLE raw_dicts")?;
                c.batch_execute("ALTER TABLE raw_records DROP COLUMN dict_id")?;
                c.batch_execute("ALTER TABLE sync_runs DROP COLUMN initial")?;
                c.batch_execute("ALTER TABLE sync_runs DROP COLUMN notes")?;
                c.batch_execute("DROP INDEX findings_repo")?;
                for col in ["triage", "triage_reason", "triage_until", "assignee", "triaged_at"] {
                    c.batch_execute(&format!("ALTER TABLE findings DROP COLUMN {col}"))?;
                }
                c.batch_execute("ALTER TABLE api_tokens DROP COLUMN revoked_at")?;
                c.batch_execute("DROP TABLE finding_comments")?;
                c.batch_execute("DROP TABLE triage_rules")?;
                c.batch_execute("DROP TABLE finding_stats")?;
                c.batch_execute("DROP TABLE finding_stats_stale")?;
                c.batch_execute("DROP TABLE intel_epss")?;
                c.batch_execute("DROP TABLE intel_kev")?;
                for i in ["findings_status_severity", "findings_cve", "assets_name_lower", "findings_issue", "findings_updated", "audit_events_target"] {
                    c.batch_execute(&format!("DROP INDEX {i}"))?;
                }
                for col in ["cwe_top25", "reach", "fix", "vector"] {
                    c.batch_execute(&format!("ALTER TABLE findings DROP COLUMN {col}"))?;
                }
                c.batch_execute("ALTER TABLE assets DROP COLUMN criticality")?;
                for t in ["notified_issues", "webhook_deliveries", "webhooks", "repo_context", "policy_results", "policies", "metrics_daily", "host_context", "issue_links"] {
                    c.batch_execute(&format!("DROP TABLE {t}"))?;
                }
                c.execute(
                    "INSERT INTO raw_records (integration_id, stream, record_key, chash, body, fetched_at) VALUES (1, 's', 'k', 7, ?, 1)",
                    params![lz4_flex::compress_prepend_size(br#"{"old":true}"#).as_slice()],
                )?;
                c.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'", &[])
            })
            .unwrap();
        drop(store);
        let store = db.open();
        assert_eq!(store.migration().from, Some(1));
        assert_eq!(store.migration().to, tributary_store::migrate::SCHEMA_VERSION);
        let dicts: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM raw_dicts", &[])).unwrap();
        assert_eq!(dicts, 0);
        let notes: i64 = store.read(|c| c.scalar("SELECT COUNT(notes) FROM sync_runs", &[])).unwrap();
        assert_eq!(notes, 0, "run notes exist after the upgrade");
        let triaged: i64 = store.read(|c| c.scalar("SELECT COUNT(triage) FROM findings", &[])).unwrap();
        assert_eq!(triaged, 0, "triage columns exist after the upgrade");
        let rules: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM triage_rules", &[])).unwrap();
        assert_eq!(rules, 0, "standing triage rules exist after the upgrade");
        let issues: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM issues", &[])).unwrap();
        assert_eq!(issues, 0, "the issues table exists after the upgrade");
        let backfill = store.read(|c| tributary_store::repo::meta::get(c, tributary_store::repo::issues::BACKFILL_KEY)).unwrap();
        assert_eq!(backfill, None, "the issue backfill ran once, at open");
        // Records written before the upgrade still read back.
        let page = store.read(|c| tributary_store::repo::raw::page(c, 1, "s", 0, 10)).unwrap();
        assert_eq!(page[0].body, serde_json::json!({"old": true}));
    }

    fn secrets_are_sealed_and_need_the_right_key(db) {
        let key = MasterKey::generate();
        let opts = db.options().master_key(key.to_hex());
        let store = Store::open(&opts).unwrap();
        let plaintext = "xdr-API-KEY-plaintext-7f3a9c";
        let secret = Secret::new(plaintext);
        let created = store.write(|c| integrations::create(c, store.key(), new_integration("xdr-prod", &secret))).unwrap();
        // The sealed bytes never contain the plaintext, in the table or (SQLite) the files.
        let sealed: Vec<u8> = store.read(|c| c.scalar("SELECT secret FROM integrations WHERE id = ?", params![created.id])).unwrap();
        assert!(!sealed.windows(plaintext.len()).any(|w| w == plaintext.as_bytes()));
        if db.backend == tributary_store::testing::Backend::Sqlite {
            store.with_writer(|c| c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")).unwrap();
            for suffix in ["", "-wal"] {
                let path = db.dir.path().join(format!("test.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&path) {
                    assert!(!bytes.windows(plaintext.len()).any(|w| w == plaintext.as_bytes()), "plaintext in {}", path.display());
                }
            }
        }
        let opened = store.read(|c| integrations::open_secret(c, store.key(), created.id)).unwrap();
        assert_eq!(opened.expose(), plaintext);
        assert_eq!(format!("{opened:?}"), "Secret([redacted])");
        drop(store);

        let wrong = db.options().master_key(MasterKey::generate().to_hex());
        let err = Store::open(&wrong).unwrap_err().to_string();
        assert!(err.contains("does not match the key that sealed this database's secrets"), "{err}");
        assert!(err.contains("TRIBUTARY_MASTER_KEY"), "{err}");

        let store = Store::open(&opts).unwrap();
        let again = store.read(|c| integrations::open_secret(c, store.key(), created.id)).unwrap();
        assert_eq!(again.expose(), plaintext);
    }

    fn users_are_unique(db) {
        let store = db.open();
        let u = store.write(|c| users::create(c, "alice", Role::Admin, "$argon2id$x")).unwrap();
        assert_eq!((u.name.as_str(), u.role), ("alice", Role::Admin));
        let err = store.write(|c| users::create(c, "alice", Role::Viewer, "h")).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { what: "user", .. }), "{err}");
        assert!(store.write(|c| users::create(c, "bad name", Role::Viewer, "h")).is_err());
        assert_eq!(store.read(users::list).unwrap().len(), 1);
    }

    fn bulk_batches_behave_the_same(db) {
        let store = db.open();
        store.write(|c| {
            let ids = c.reserve_ids("audit_events", 3)?;
            assert_eq!(ids.len(), 3);
            let batch = Batch::new()
                .col("id", Column::Int(ids.iter().map(|i| Some(*i)).collect()))
                .col("at", Column::Int(vec![Some(1), Some(2), Some(3)]))
                .col("actor", Column::Text(vec![Some("a".into()), Some("b".into()), Some("c".into())]))
                .col("action", Column::Text(vec![Some("x".into()); 3]))
                .col("target", Column::Text(vec![Some("t".into()); 3]))
                .col("detail", Column::Text(vec![None, Some("{}".into()), None]));
            assert_eq!(c.insert_batch("audit_events", &batch)?, 3);
            let upd = Batch::new()
                .col("id", Column::Int(vec![Some(ids[0]), Some(ids[2])]))
                .col("actor", Column::Text(vec![Some("z".into()), Some("y".into())]))
                .col("detail", Column::Text(vec![Some("{\"k\":1}".into()), None]));
            assert_eq!(c.update_batch("audit_events", &upd)?, 2);
            let later = c.reserve_ids("audit_events", 1)?;
            assert!(later[0] > ids[2]);
            Ok(())
        })
        .unwrap();
        let rows: Vec<(String, Option<String>)> = store
            .read(|c| c.query("SELECT actor, detail FROM audit_events ORDER BY id", &[]))
            .unwrap()
            .into_iter()
            .map(|mut r| (r.take(0).unwrap(), r.take(1).unwrap()))
            .collect();
        assert_eq!(
            rows,
            vec![("z".into(), Some("{\"k\":1}".into())), ("b".into(), Some("{}".into())), ("y".into(), None)]
        );
    }

    fn constant_columns_do_not_leak_between_batches(db) {
        // SQLite binds a column that holds one value for the whole batch only once; the
        // next batch through the same cached statement must not inherit it.
        let store = db.open();
        let batch = |ids: &[i64], at: i64, action: Option<&str>| {
            let n = ids.len();
            Batch::new()
                .col("id", Column::Int(ids.iter().map(|i| Some(*i)).collect()))
                .col("at", Column::Int(vec![Some(at); n]))
                .col("actor", Column::Str(vec!["same"; n]))
                .col("action", Column::Text(vec![action.map(str::to_string); n]))
                .col("target", Column::Text(ids.iter().map(|i| Some(format!("t{i}"))).collect()))
                .col("detail", Column::Text(vec![None; n]))
        };
        store
            .write(|c| {
                let ids = c.reserve_ids("audit_events", 5)?;
                c.insert_batch("audit_events", &batch(&ids[..3], 7, Some("first")))?;
                c.insert_batch("audit_events", &batch(&ids[3..], 8, Some("second")))?;
                // An update whose set columns are all constant, keyed by varying ids.
                let upd = Batch::new()
                    .col("id", Column::Int(vec![Some(ids[1]), Some(ids[4])]))
                    .col("at", Column::Int(vec![Some(9); 2]))
                    .col("detail", Column::Text(vec![Some("{}".into()); 2]));
                assert_eq!(c.update_batch("audit_events", &upd)?, 2);
                Ok(())
            })
            .unwrap();
        let rows: Vec<(i64, String, String, Option<String>)> = store
            .read(|c| c.query("SELECT at, action, target, detail FROM audit_events ORDER BY id", &[]))
            .unwrap()
            .into_iter()
            .map(|mut r| (r.take(0).unwrap(), r.take(1).unwrap(), r.take(2).unwrap(), r.take(3).unwrap()))
            .collect();
        let targets: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        assert_eq!(targets.len(), 5);
        assert!(targets.windows(2).all(|w| w[0] != w[1]), "every row has its own target: {targets:?}");
        let rest: Vec<(i64, &str, Option<&str>)> = rows.iter().map(|r| (r.0, r.1.as_str(), r.3.as_deref())).collect();
        assert_eq!(
            rest,
            vec![(7, "first", None), (9, "first", Some("{}")), (7, "first", None), (8, "second", None), (9, "second", Some("{}"))]
        );
    }
}

#[test]
fn malformed_db_url_is_a_clear_error() {
    let dir = TempDir::new("tributary_url");
    let err = Store::open(&StoreOptions::new(dir.path()).db("mysql://x/y")).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid database URL 'mysql://x/y': unknown scheme 'mysql' (expected sqlite:///path/to/file.db or postgres://user@host:port/db)"
    );
}

#[test]
fn unreachable_postgres_names_host_and_port() {
    let dir = TempDir::new("tributary_unreach");
    let err = Store::open(&StoreOptions::new(dir.path()).db("postgres://u@127.0.0.1:1/db")).unwrap_err().to_string();
    assert!(err.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1:"), "{err}");
    assert!(err.contains("reachable"), "{err}");
}

#[test]
fn unusable_data_dir_is_a_clear_error() {
    let err = Store::open(&StoreOptions::new("/dev/null/tributary")).unwrap_err().to_string();
    assert!(err.starts_with("data directory /dev/null/tributary is not usable:"), "{err}");
}

#[test]
fn key_file_is_created_private_and_checked() {
    let dir = TempDir::new("tributary_key");
    let opts = StoreOptions::new(dir.path());
    drop(Store::open(&opts).unwrap());
    let key_path = dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    drop(Store::open(&opts).unwrap());

    std::fs::write(&key_path, "not-a-key\n").unwrap();
    let err = Store::open(&opts).unwrap_err().to_string();
    assert!(err.contains("is corrupted") && err.contains("TRIBUTARY_MASTER_KEY"), "{err}");

    std::fs::remove_file(&key_path).unwrap();
    let err = Store::open(&opts).unwrap_err().to_string();
    assert!(err.starts_with("no master key:"), "{err}");
    assert!(!key_path.exists(), "a replacement key must not be generated over existing secrets");
}

#[test]
fn the_database_and_key_file_are_private() {
    let db = tributary_store::testing::TestDb::sqlite();
    let _store = db.open();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = db.dir.path().join("test.db");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the database file is private");
        let key = db.dir.path().join("data").join("master.key");
        assert!(key.exists() || std::env::var("TRIBUTARY_MASTER_KEY").is_ok(), "a key file was created");
        if key.exists() {
            assert!(tributary_store::keyring::loose_permissions(&key).is_none());
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
            let w = tributary_store::keyring::loose_permissions(&key).unwrap();
            assert!(w.contains("mode 0644") && w.contains("chmod 600"), "{w}");
        }
    }
}
