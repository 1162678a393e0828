//! Generated queries over one small tenant synced into SQLite and PostgreSQL: every query
//! either compiles to an error in words or runs without a database error, and both
//! databases count the same.

mod common;

use common::*;
use serde_json::json;
use tributary_store::testing::TestDb;

const FIELDS: &[(&str, &[&str])] = &[
    ("finding.severity", &["high", "critical", "low", "medium", "info", "spicy"]),
    ("finding.status", &["open", "fixed", "risk_accepted", "*"]),
    ("finding.kind", &["vulnerability", "code_weakness"]),
    ("finding.vendorProductName", &["`Cortex XDR`", "`Semgrep Code`", "`Semgrep Supply Chain`", "nope"]),
    ("finding.cve", &["CVE-2016-*", "CVE-*", "*", "\"CVE-2017-10003\""]),
    ("finding.title", &["*sql*", "*", "python*", "\"x y\""]),
    ("finding.cvssScore", &["7", "9.5", "0", "abc"]),
    ("finding.sourceRiskScore", &["5", "8.8"]),
    ("finding.lastSeen", &["30d", "2000-01-01T00:00:00Z", "2026-11-01", "yesterday"]),
    ("finding.findingType.vulnerability.cveId", &["CVE-*", "*"]),
    ("finding.findingType.codeWeakness.ruleId", &["*injection*", "*"]),
    ("finding.location.filePath", &["*.py", "app/*"]),
    ("asset.type", &["host", "repository", "package"]),
    ("asset.hostName", &["*-prod-*", "*", "web"]),
    ("asset.operatingSystem.name", &["Linux", "*Windows*", "macOS"]),
    ("asset.firstSeen", &["365d", "2026-01-01T00:00:00Z"]),
    ("asset.name", &["acme*", "*"]),
    ("asset.inventory", &["(source:`Cortex XDR`)", "(source:Semgrep)"]),
];
const OPS: &[&str] = &[":", "=", "!=", ">", ">=", "<", "<="];

/// The same decisions on both databases, so triage fields have something to match.
fn triage_some(e: &tributary_engine::Engine) {
    use tributary_core::model::TriageStatus;
    use tributary_store::repo::triage::{Decision, set_matching};
    let ctx = tributary_store::query::QueryContext {
        products: e.store.read(tributary_store::repo::maps::products).unwrap(),
        ..Default::default()
    };
    let dialect = e.store.read(|c| Ok(c.dialect())).unwrap();
    for (q, status, until) in [
        ("finding.severity:high", TriageStatus::RiskAccepted, Some(4_102_444_800_000)),
        ("finding.severity:low", TriageStatus::RiskAccepted, Some(1)),
        ("finding.kind:code_weakness finding.severity:medium", TriageStatus::InProgress, None),
    ] {
        let compiled = tributary_store::query::compile(&tributary_core::query::parse(q).unwrap(), dialect, &ctx).unwrap();
        let d = Decision { status, reason: Some("test".into()), until, assignee: Some("bob".into()) };
        e.store.write(|c| set_matching(c, &compiled, &d, false)).unwrap();
    }
}

/// Sample values for a registry field's type.
fn samples(type_name: &str) -> Vec<String> {
    if let Some(list) = type_name.strip_prefix("one of ") {
        let mut v: Vec<String> = list.split(", ").map(str::to_string).collect();
        v.push("*".into());
        return v;
    }
    let v: &[&str] = match type_name {
        "text" => &["web*", "*", "bob", "\"CVE-2017-10003\""],
        "text (a product name)" => &["`Cortex XDR`", "`semgrep code`", "*", "other"],
        "severity" => &["high", "info", "*"],
        "number" => &["5", "0", "9.8"],
        "whole number" => &["5", "1", "0"],
        "group (source:NAME)" => &["(source:`Cortex XDR`)", "(source:Semgrep*)"],
        t if t.starts_with("time") => &["30d", "2026-01-01", "2000-01-01T00:00:00Z"],
        other => panic!("no sample values for type '{other}': add them here"),
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// Counts on both databases; both refuse alike or both count the same.
fn agree(engines: &[tributary_engine::Engine], q: &str) -> Result<i64, String> {
    let expr = tributary_core::query::parse(q).map_err(|e| format!("parse: {}", e.message))?;
    let counts: Vec<Result<i64, String>> = engines
        .iter()
        .map(|e| {
            let ctx = tributary_store::query::QueryContext {
                products: e.store.read(tributary_store::repo::maps::products).unwrap(),
                ..Default::default()
            };
            let dialect = e.store.read(|c| Ok(c.dialect())).unwrap();
            let compiled = tributary_store::query::compile(&expr, dialect, &ctx).map_err(|e| format!("refused: {}", e.message))?;
            e.store.read(|c| tributary_store::query::count(c, &compiled)).map_err(|e| format!("database error: {e}"))
        })
        .collect();
    for c in &counts {
        if let Err(e) = c {
            assert!(e.starts_with("refused:"), "{q}: {e}");
        }
    }
    assert_eq!(counts[0], counts[1], "{q}: SQLite and PostgreSQL disagree");
    counts[0].clone()
}

/// A deterministic stream of small pseudo-random numbers.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn term(r: &mut Lcg) -> String {
    let (field, values) = FIELDS[r.below(FIELDS.len())];
    let op = if field == "asset.inventory" { ":" } else { OPS[r.below(OPS.len())] };
    format!("{field}{op}{}", values[r.below(values.len())])
}

fn query(r: &mut Lcg) -> String {
    let mut q = term(r);
    for _ in 0..r.below(3) {
        let joiner = [" ", " AND ", " OR "][r.below(3)];
        let neg = if r.below(4) == 0 { "NOT " } else { "" };
        q = format!("{q}{joiner}{neg}{}", term(r));
    }
    if r.below(5) == 0 { format!("NOT ({q})") } else { q }
}

#[test]
fn sqlite_and_postgres_count_the_same_for_generated_queries() {
    let rt = rt();
    let sqlite = TestDb::sqlite();
    let postgres = TestDb::postgres();
    let engines = rt.block_on(async {
        let sim = sim(small(71)).await;
        let mut out = Vec::new();
        for db in [&sqlite, &postgres] {
            let e = engine(db);
            e.add_integration(xdr("xdr", &sim, json!({})), "test").await.unwrap();
            e.add_integration(semgrep("sg", &sim, json!({"auto_map_future": true})), "test").await.unwrap();
            sync(&e, "xdr", false).await.unwrap();
            sync(&e, "sg", false).await.unwrap();
            sb(|| triage_some(&e));
            out.push(e);
        }
        sim.stop().await;
        out
    });
    let mut r = Lcg(42);
    let (mut ran, mut refused) = (0, 0);
    for _ in 0..300 {
        let q = query(&mut r);
        match agree(&engines, &q) {
            Ok(_) => ran += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(ran > 150, "most generated queries ran: {ran} ran, {refused} refused");
    // Every field of the registry with every operator it allows, on both databases.
    let mut matched_some = 0;
    for f in tributary_store::query::FIELDS {
        let mut ran_field = 0;
        for op in f.operators().split(' ') {
            for v in samples(&f.type_name()) {
                let q = format!("{}{op}{v}", f.name);
                match agree(&engines, &q) {
                    Ok(n) => {
                        ran_field += 1;
                        if n > 0 {
                            matched_some += 1;
                        }
                    }
                    Err(e) => assert!(v == "*" && op != ":" || e.contains("is not") || e.contains("compares with"), "{q}: {e}"),
                }
            }
        }
        assert!(ran_field > 0, "{}: no operator and value ran", f.name);
    }
    assert!(matched_some > 40, "registry queries match data: {matched_some}");
    assert!(agree(&engines, "finding.triage:risk_accepted").unwrap() > 0, "unexpired acceptances match");
    assert!(agree(&engines, "finding.severity:low finding.triage:none").unwrap() > 0, "an expired acceptance reads as none");
    assert_eq!(agree(&engines, "finding.severity:low finding.triage:risk_accepted").unwrap(), 0, "an expired acceptance is no acceptance");
    // The widest query accepted (256 terms, attribute terms included) and a long wildcard
    // run on both databases without a database error.
    let wide = (0..256).map(|i| format!("asset.hostName!=h{i}")).collect::<Vec<_>>().join(" AND ");
    let wildcard = format!("finding.title:{}", "*a".repeat(2_000));
    for q in [wide, wildcard] {
        let expr = tributary_core::query::parse(&q).unwrap();
        for e in &engines {
            let ctx = tributary_store::query::QueryContext { products: vec![], ..Default::default() };
            let dialect = e.store.read(|c| Ok(c.dialect())).unwrap();
            let compiled = tributary_store::query::compile(&expr, dialect, &ctx).unwrap();
            e.store.read(|c| tributary_store::query::count(c, &compiled)).unwrap_or_else(|err| panic!("{}: {err}", &q[..60]));
        }
    }
}
