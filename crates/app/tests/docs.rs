//! docs/query.md's field table is the registry's: regenerate it with
//! `TRIBUTARY_BLESS=1 cargo test -p tributary-app --test docs`.

const START: &str = "<!-- fields:start (generated from the field registry; see crates/app/tests/docs.rs) -->\n";
const END: &str = "<!-- fields:end -->";

#[test]
fn the_query_docs_list_every_registry_field() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/query.md");
    let doc = std::fs::read_to_string(&path).expect("docs/query.md");
    let (Some(a), Some(b)) = (doc.find(START), doc.find(END)) else { panic!("docs/query.md lacks the field-table markers") };
    let table = tributary_app::query::fields_markdown();
    let current = &doc[a + START.len()..b];
    if current != table {
        if std::env::var("TRIBUTARY_BLESS").is_ok() {
            std::fs::write(&path, format!("{}{START}{table}{}", &doc[..a], &doc[b..])).expect("write docs/query.md");
            return;
        }
        panic!(
            "docs/query.md's field table is out of date; run TRIBUTARY_BLESS=1 cargo test -p tributary-app --test docs\n\nexpected:\n{table}"
        );
    }
    for f in tributary_app::query::fields() {
        assert!(doc.contains(f.name), "{} is documented", f.name);
    }
}
