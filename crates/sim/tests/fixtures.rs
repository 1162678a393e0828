//! Samples reproduced from shared/reference/vendor-apis.md deserialize into the very
//! types the simulator serializes (which reject unknown fields).

use tributary_sim::types::{
    CortexError, EndpointsPage, FindingsResponse, ListDeploymentsResponse, ListProjectsResponse, Reply, RepositoriesPage,
    VulnerabilitiesPage,
};

fn load(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn vendor_samples_deserialize() {
    let d: ListDeploymentsResponse = serde_json::from_str(&load("semgrep_deployments.json")).unwrap();
    assert_eq!(d.deployments[0].slug, "acme-sec");
    let p: ListProjectsResponse = serde_json::from_str(&load("semgrep_projects.json")).unwrap();
    assert_eq!(p.projects[0].tags, ["tier-1", "pci"]);
    let s: FindingsResponse = serde_json::from_str(&load("semgrep_sast_findings.json")).unwrap();
    assert_eq!(s.findings[0].location.line, 118);
    let c: FindingsResponse = serde_json::from_str(&load("semgrep_sca_findings.json")).unwrap();
    let dep = c.findings[0].found_dependency.as_ref().unwrap();
    assert_eq!((&*dep.package, &*dep.transitivity), ("lodash", "TRANSITIVE"));
    assert_eq!(c.findings[0].reachability.as_deref(), Some("conditionally reachable"));
    let e: Reply<EndpointsPage> = serde_json::from_str(&load("xdr_get_endpoint.json")).unwrap();
    assert_eq!(e.reply.endpoints[0].tags.as_ref().unwrap().server_tags, ["pci"]);
    let v: Reply<VulnerabilitiesPage> = serde_json::from_str(&load("xdr_vulnerabilities.json")).unwrap();
    assert_eq!(v.reply.data[0].cve_id, "CVE-2024-6387");
    let errs: Vec<Reply<CortexError>> = serde_json::from_str(&load("xdr_errors.json")).unwrap();
    assert_eq!(errs.len(), 6);
    assert!(errs[4].reply.err_extra.is_array() && errs[5].reply.err_extra.is_object() && errs[3].reply.err_extra.is_null());
    let r: RepositoriesPage = serde_json::from_str(&load("cloud_repositories.json")).unwrap();
    assert_eq!(r.data[0].deployed_assets[0].internet_exposed, Some(true));
}

#[test]
fn served_pages_round_trip_through_the_types() {
    let w = tributary_sim::World::new(tributary_sim::SimConfig::new(3, tributary_sim::Scale::small()));
    for t in [tributary_sim::tenant::semgrep::IssueType::Sast, tributary_sim::tenant::semgrep::IssueType::Sca] {
        let f = w.finding(t, 5, 0);
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<tributary_sim::types::Finding>(&text).unwrap(), f);
    }
    let e = w.endpoint(&w.endpoint_state(3, 0));
    assert_eq!(serde_json::from_str::<tributary_sim::types::Endpoint>(&serde_json::to_string(&e).unwrap()).unwrap(), e);
}
