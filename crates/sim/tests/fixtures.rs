//! Samples reproduced from shared/reference/vendor-apis.md and from the vendors' own
//! published examples deserialize into the very types the simulator serializes (which
//! reject unknown fields). Where each sample's shape comes from is in docs/vendors.md.

use tributary_sim::types::{
    CortexError, EndpointsPage, FindingsResponse, ListDeploymentsResponse, ListProjectsResponse, Reply, RepositoriesPage, VaCve,
    VaEndpoint, XqlQuota, XqlResults,
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
    assert_eq!((&*dep.package, &*dep.transitivity), ("lodash", "transitive"));
    assert_eq!(c.findings[0].reachability.as_deref(), Some("conditionally reachable"));
    let e: Reply<EndpointsPage> = serde_json::from_str(&load("xdr_get_endpoint.json")).unwrap();
    assert_eq!(e.reply.endpoints[0].tags.as_ref().unwrap().server_tags, ["pci"]);
    // The shape of the vendor's own fixture (CortexXDRIR test_data/get_endpoints.json): no total_count.
    let e: Reply<EndpointsPage> = serde_json::from_str(&load("xdr_get_endpoint_no_total.json")).unwrap();
    assert_eq!((e.reply.total_count, e.reply.endpoints[0].endpoint_id.as_ref()), (None, "1111"));
    // XQL replies as the vendor's XQL integration tests mock them.
    let x: Vec<Reply<XqlResults>> = serde_json::from_str(&load("xdr_xql_results.json")).unwrap();
    assert_eq!(x[0].reply.status, "PENDING");
    assert_eq!(x[1].reply.results.as_ref().unwrap().data.as_ref().unwrap().len(), 1);
    assert_eq!(x[2].reply.results.as_ref().unwrap().stream_id.as_deref(), Some("test_stream_id"));
    let q: Reply<XqlQuota> = serde_json::from_str(&load("xdr_xql_quota.json")).unwrap();
    assert_eq!(q.reply.license_quota, 1000.0);
    let va: serde_json::Value = serde_json::from_str(&load("xdr_va_rows.json")).unwrap();
    let ep: VaEndpoint = serde_json::from_value(va["va_endpoints"][0].clone()).unwrap();
    let cve: VaCve = serde_json::from_value(va["va_cves"][0].clone()).unwrap();
    assert_eq!(ep.cves[0], cve.name);
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
    let st = w.endpoint_state(3, 0);
    let e = w.endpoint(&st);
    assert_eq!(serde_json::from_str::<tributary_sim::types::Endpoint>(&serde_json::to_string(&e).unwrap()).unwrap(), e);
    let va = w.va_endpoint(&st).unwrap();
    assert_eq!(serde_json::from_str::<VaEndpoint>(&serde_json::to_string(&va).unwrap()).unwrap(), va);
    let cve = w.va_cve(0);
    assert_eq!(serde_json::from_str::<VaCve>(&serde_json::to_string(&cve).unwrap()).unwrap(), cve);
}
