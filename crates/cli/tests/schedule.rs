//! `tributary serve` runs active profiles at their times and sends the webhook
//! notifications they bring (what the README promises).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::tributary;
use tributary_sim::{Scale, SimConfig};

/// A receiver on loopback that answers 200 and hands each request body over.
fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (url, rx)
}

tributary_store::backend_tests! {
    fn serve_runs_a_due_profile(db) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sim = rt.block_on(tributary_sim::start(SimConfig::new(61, Scale::small()), "127.0.0.1:0".parse().unwrap())).unwrap();
        common::add_xdr(&db, &sim.base_url("cortex-xdr"));
        // Hourly from now: due at once.
        let out = tributary(&db).args(["profile", "add", "hourly", "--integration", "xdr", "--every", "1h"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (url, bodies) = receiver();
        let out = tributary(&db).args(["webhook", "add", "ops", "--url", &url, "--events", "issues_new"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut server = tributary(&db)
            .args(["serve", "--listen", "127.0.0.1:0", "--scheduler-tick", "1s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
        // The first start also announces the first administrator before it listens.
        let ready = lines.by_ref().map_while(Result::ok).find(|l| l.contains("listening on http://"));
        assert!(ready.is_some(), "the server never said it was listening");
        std::thread::spawn(move || for _ in lines {});
        let store = db.open();
        let started = Instant::now();
        let succeeded = loop {
            let n: i64 = store.read(|c| c.scalar("SELECT COUNT(*) FROM sync_runs WHERE status = 'succeeded'", &[])).unwrap();
            if n > 0 || started.elapsed() > Duration::from_secs(30) {
                break n;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The run's new critical issues reach the webhook without anyone asking.
        let notified = bodies.recv_timeout(Duration::from_secs(30));
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(succeeded, 1, "the due profile ran once");
        let body = notified.expect("serve sent the notification");
        assert!(body.contains("\"event\":\"issues_new\""), "{body}");
        let next: i64 = store.read(|c| c.scalar("SELECT next_run_at FROM profiles WHERE name = 'hourly'", &[])).unwrap();
        assert!(next > tributary_core::time::now_ms() + 3_000_000, "next run an hour later");
        rt.block_on(sim.stop());
    }
}
