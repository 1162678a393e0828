//! Helpers shared by the CLI's end-to-end tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use tributary_store::testing::TestDb;

/// The `tributary` binary pointed at the test's database and data directory.
pub fn tributary(db: &TestDb) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tributary"));
    c.env("TRIBUTARY_DATA_DIR", db.dir.path().join("data"))
        .env("TRIBUTARY_DB", &db.url)
        .env_remove("TRIBUTARY_MASTER_KEY")
        .env("TRIBUTARY_LOG", "warn");
    c
}

/// `tributary integration add cortex-xdr --name xdr` against a simulator, the key on stdin.
pub fn add_xdr(db: &TestDb, base_url: &str) {
    use std::process::Stdio;
    use tributary_sim::config::{DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
    let mut add = tributary(db)
        .args(["integration", "add", "cortex-xdr", "--name", "xdr", "--base-url", base_url, "--key-id", DEFAULT_XDR_KEY_ID, "--key-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tributary");
    add.stdin.take().expect("stdin").write_all(format!("{DEFAULT_XDR_KEY}\n").as_bytes()).expect("write the key");
    let out = add.wait_with_output().expect("integration add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A minimal HTTP/1.1 GET over loopback: `(status, body)`.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
