//! End-to-end tests of the `tributary` binary.

mod common;

use common::{http_get, tributary};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tributary serve` on an ephemeral port; returns the process and its address.
fn serve(db: &tributary_store::testing::TestDb) -> (Server, String) {
    let mut child = tributary(db).args(["serve", "--listen", "127.0.0.1:0"]).stderr(Stdio::piped()).spawn().expect("spawn tributary serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited before listening").expect("read stderr");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Server(child), addr)
}

/// What `serve` says before it listens, then stops it.
fn first_words(db: &tributary_store::testing::TestDb, env: Option<(&str, &str)>) -> String {
    let mut cmd = tributary(db);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--no-scheduler"]).stderr(Stdio::piped());
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut said = String::new();
    for line in lines.map_while(Result::ok) {
        said.push_str(&line);
        said.push('\n');
        if line.contains("listening on http://") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    said
}

tributary_store::backend_tests! {
    fn the_first_start_creates_an_administrator_once(db) {
        let said = first_words(&db, None);
        let pw = said.lines().find_map(|l| l.split("one-time password ").nth(1)).unwrap_or_else(|| panic!("no one-time password: {said}"));
        assert!(pw.trim().len() >= 20, "{said}");
        let users = tributary(&db).args(["--format", "json", "user", "list"]).output().unwrap();
        let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
        assert_eq!((users[0]["name"].as_str(), users[0]["role"].as_str()), (Some("admin"), Some("admin")));
        // A second start creates nobody and says nothing of passwords.
        let again = first_words(&db, None);
        assert!(!again.contains("password"), "{again}");
    }

    fn the_first_administrator_password_can_come_from_the_environment(db) {
        let said = first_words(&db, Some(("TRIBUTARY_ADMIN_PASSWORD", "a long admin passphrase")));
        assert!(said.contains("with the password from TRIBUTARY_ADMIN_PASSWORD") && !said.contains("a long admin passphrase"), "{said}");
    }

    fn serve_answers_healthz(db) {
        let (_server, addr) = serve(&db);
        let (status, body) = http_get(&addr, "/healthz");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("healthz JSON");
        let want = match db.backend {
            tributary_store::testing::Backend::Sqlite => "sqlite",
            tributary_store::testing::Backend::Postgres => "postgres",
        };
        assert_eq!(v["db"], want);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["schema_version"], tributary_store::migrate::SCHEMA_VERSION);
    }

    fn demo_syncs_both_integrations_from_the_simulators(db) {
        let demo = || {
            let out = tributary(&db).args(["demo", "--no-serve", "--sim-listen", "127.0.0.1:0"]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        };
        let first = demo();
        for name in ["demo-xdr", "demo-semgrep"] {
            assert!(first.contains(&format!("{name}: full sync (run")) && first.contains("succeeded"), "{first}");
        }
        assert!(first.contains("query 'finding.severity>=high"), "the demo says what to try: {first}");
        assert!(first.contains("one-time password"), "the demo prints the administrator's login: {first}");
        let count = |q: &str| -> i64 {
            let out = tributary(&db).args(["query", q, "--count"]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        assert!(count("finding.vendorProductName:`Cortex XDR`") > 0);
        assert!(count("finding.vendorProductName:`Semgrep Code`") > 0);
        // Exports: to a file (appearing only once whole) and to standard output.
        let file = db.dir.path().join("out").join("findings.ocsf.jsonl");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let out = tributary(&db).args(["export", "--format", "ocsf", "--out"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let open = count("finding.status:open");
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count() as i64, open);
        assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("exported {open} findings as ocsf")));
        let out = tributary(&db).args(["export", "--format", "csv", "--query", "finding.severity:critical"]).output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count() as i64, count("finding.severity:critical") + 1, "a header and a row each");
        let out = tributary(&db).args(["export", "--format", "xlsx", "--out"]).arg(db.dir.path().join("out/x.xlsx")).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "a usage error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'xlsx' for '--format <FORMAT>'"), "{}", String::from_utf8_lossy(&out.stderr));
        let out = tributary(&db).args(["export", "--out"]).arg(db.dir.path().join("out/x.xlsx")).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("choose what to export as: --format sarif, ocsf or csv"));
        let out = tributary(&db).args(["--format", "ocsf", "issues"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("--format ocsf is for `tributary export`"));
        assert!(!db.dir.path().join("out/x.xlsx").exists(), "nothing written");
        // Webhooks: the secret is printed once, the URL never again.
        let out = tributary(&db).args(["webhook", "add", "ops", "--url", "http://127.0.0.1:9/hooks/T0K3N", "--kind", "slack"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("Signing secret (shown this once"), "{text}");
        let out = tributary(&db).args(["--format", "json", "webhook", "list"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("http://127.0.0.1:9/…") && !text.contains("T0K3N"), "{text}");
        let out = tributary(&db).args(["webhook", "add", "x", "--url", "http://h/", "--kind", "email"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("--kind: 'email' is not generic, slack or teams"));
        let out = tributary(&db).args(["webhook", "test", "ops"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "nothing listens on port 9");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not delivered"));
        // Again (a simulator on another port): the integrations are kept and follow it.
        let again = demo();
        assert!(again.contains("demo-xdr: delta sync") && again.contains("demo-semgrep: delta sync"), "{again}");
    }

    fn user_add_generates_or_reads_a_password(db) {
        let out = tributary(&db).args(["user", "add", "alice", "--role", "admin"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Created user alice with role admin."), "{text}");
        let pw = text.lines().find_map(|l| l.strip_prefix("Password (shown once, store it now): ")).expect("password line");
        assert_eq!(pw.len(), 20);

        let mut child = tributary(&db).args(["user", "add", "bob", "--role", "analyst", "--password-stdin"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Password"), "a given password is not echoed");

        let out = tributary(&db).args(["user", "add", "alice"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "error: user 'alice' already exists");

        let out = tributary(&db).args(["--format", "json", "user", "list"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v.as_array().map(|a| a.len()), Some(2));
    }

    fn db_status_names_the_key_in_use_even_when_it_is_wrong(db) {
        let ok = tributary(&db).args(["db", "status"]).output().unwrap();
        let text = String::from_utf8_lossy(&ok.stdout).to_string();
        assert!(ok.status.success() && text.contains("matches this database"), "{text}");
        let wrong = tributary(&db)
            .args(["db", "status"])
            .env("TRIBUTARY_MASTER_KEY", "00".repeat(32))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&wrong.stdout).to_string();
        let err = String::from_utf8_lossy(&wrong.stderr).to_string();
        assert!(!wrong.status.success(), "a wrong key is an error");
        assert!(out.contains("$TRIBUTARY_MASTER_KEY") && out.contains("FAILS"), "{out}");
        assert!(err.contains("does not match the key that sealed"), "{err}");
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `tributary query … | head` closes the pipe early: no panic, no backtrace.
    let dir = tributary_store::testing::TempDir::new("tributary_cli");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .current_dir(dir.path())
        .env_remove("TRIBUTARY_DB")
        .args(["query", "--fields"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.success() || out.status.signal() == Some(13), "{:?}: {err}", out.status);
    }
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = tributary_store::testing::TempDir::new("tributary_cli");
    let bin = env!("CARGO_BIN_EXE_tributary");
    let cases: [(&[&str], &str); 3] = [
        (&["--db", "mysql://h/db", "db", "migrate"], "error: invalid database URL 'mysql://h/db': unknown scheme 'mysql'"),
        (&["--db", "postgres://u@127.0.0.1:1/db", "db", "migrate"], "error: cannot connect to PostgreSQL at 127.0.0.1:1:"),
        (&["--data-dir", "/dev/null/x", "db", "migrate"], "error: data directory /dev/null/x is not usable:"),
    ];
    for (args, want) in cases {
        let out = std::process::Command::new(bin).current_dir(dir.path()).env_remove("TRIBUTARY_DB").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked"));
    }
}
