//! The layering invariant: front ends (CLI, HTTP server, web UI) reach data only through the
//! application layer. Their manifests may not depend on the store, the engine or the
//! connectors, and their sources may not name them.

use std::path::{Path, PathBuf};

const FRONT_ENDS: &[&str] = &["cli", "server", "web"];
const BELOW: &[&str] = &["tributary-store", "tributary-engine", "tributary-connectors"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crates/").to_path_buf()
}

/// The `[dependencies]` table of a manifest (not dev-dependencies: tests may set up a
/// database directly).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == "[dependencies]";
            continue;
        }
        if inside && let Some((name, _)) = t.split_once(['=', '.']) {
            out.push(name.trim().to_string());
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn front_ends_depend_on_the_application_layer_only() {
    for fe in FRONT_ENDS {
        let dir = crates_dir().join(fe);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        let deps = dependencies(&manifest);
        assert!(deps.iter().any(|d| d == "tributary-app"), "{fe} depends on tributary-app: {deps:?}");
        for below in BELOW {
            assert!(!deps.iter().any(|d| d == below), "{fe} must not depend on {below} (call tributary-app instead)");
        }
        let mut files = Vec::new();
        sources(&dir.join("src"), &mut files);
        assert!(!files.is_empty());
        for f in files {
            let text = std::fs::read_to_string(&f).expect("source");
            for below in BELOW {
                let path = below.replace('-', "_");
                assert!(!text.contains(&format!("{path}::")), "{} names {path}", f.display());
            }
        }
    }
}

#[test]
fn the_manifest_reader_sees_dependencies() {
    let deps = dependencies("[package]\nname = \"x\"\n[dependencies]\na.workspace = true\nb = \"1\"\n[dev-dependencies]\nc = \"1\"\n");
    assert_eq!(deps, vec!["a", "b"]);
}
