//! The API's contract: the OpenAPI document lists every route and every documented route
//! exists; and every route × role (unauthenticated included) is allowed or refused as
//! documented, on both backends.

mod common;

use common::{rt, server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A documented path with its parameters filled in (with things that do not exist).
fn concrete(path: &str) -> String {
    path.replace("{id}", "987654").replace("{name}", "nothing-here").replace("{project}", "nothing-here").replace("{kind}", "host")
}

fn operations(doc: &Value) -> Vec<(Method, String, Option<String>)> {
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (m, op) in ops.as_object().expect("ops") {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).expect("method");
            out.push((method, path.clone(), op["x-tributary-role"].as_str().map(str::to_string)));
        }
    }
    out
}

fn rank(role: &str) -> u8 {
    match role {
        "viewer" => 0,
        "analyst" => 1,
        _ => 2,
    }
}

tributary_store::backend_tests! {
    fn every_route_is_documented_and_every_documented_route_exists(db) {
        rt().block_on(async {
            let s = server(&db).await;
            let (status, ctype, doc) = s.call(Method::GET, "/api/openapi.json", None, None).await;
            assert_eq!(status, StatusCode::OK);
            assert!(ctype.starts_with("application/json"), "{ctype}");
            assert_eq!(doc["openapi"], "3.1.0");
            // The document is built from the same table the router is: compare both.
            let (_, routes) = tributary_server::routes::api(s.app.clone()).into_parts();
            let documented = operations(&doc);
            assert_eq!(documented.len(), routes.len(), "one operation per route");
            for r in &routes {
                assert!(documented.iter().any(|(m, p, _)| *m == r.method && p == r.path), "{} {} is not documented", r.method, r.path);
                assert!(!r.op.summary.is_empty() && !r.op.id.is_empty(), "{} {} has no summary", r.method, r.path);
            }
            // Every documented operation is routed: never the fallback's "no route", never 405.
            for (method, path, _) in &documented {
                let (status, _, body) = s.call(method.clone(), &concrete(path), Some(&s.admin), Some(json!({}))).await;
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                let detail = body["detail"].as_str().unwrap_or("");
                assert!(!detail.starts_with("no route"), "{method} {path} is documented but not routed: {body}");
            }
            // And an undocumented route is the fallback's problem, not a page.
            let (status, ctype, body) = s.call(Method::GET, "/api/v1/nope", Some(&s.admin), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(ctype, "application/problem+json");
            assert!(body["detail"].as_str().unwrap_or("").starts_with("no route"), "{body}");
            // Every operation names its schemas, and every $ref resolves.
            let text = doc.to_string();
            for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
                let name = part.split('"').next().unwrap_or("");
                assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
            }
            // The docs page is embedded and reads the document.
            let page = s.http.get(format!("{}/api/docs", s.base)).send().await.unwrap().text().await.unwrap();
            assert!(page.contains("/api/openapi.json") && !page.contains("https://"), "the docs page loads nothing from elsewhere");
        });
    }

    fn every_route_refuses_whom_it_should(db) {
        rt().block_on(async {
            let s = server(&db).await;
            let doc = s.call(Method::GET, "/api/openapi.json", None, None).await.2;
            let callers: [(&str, Option<&str>); 4] =
                [("anonymous", None), ("viewer", Some(&s.viewer)), ("analyst", Some(&s.analyst)), ("admin", Some(&s.admin))];
            let mut checked = 0;
            for (method, path, role) in operations(&doc) {
                for (who, token) in &callers {
                    let (status, ctype, body) = s.call(method.clone(), &concrete(&path), *token, Some(json!({}))).await;
                    let expect = match (&role, token) {
                        (None, _) => "allowed",
                        (Some(_), None) => "401",
                        (Some(need), Some(_)) if rank(who) < rank(need) => "403",
                        _ => "allowed",
                    };
                    match expect {
                        "401" => assert_eq!(status, StatusCode::UNAUTHORIZED, "{who} {method} {path}: {body}"),
                        "403" => assert_eq!(status, StatusCode::FORBIDDEN, "{who} {method} {path}: {body}"),
                        _ => assert!(
                            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && status != StatusCode::INTERNAL_SERVER_ERROR,
                            "{who} {method} {path}: {status} {body}"
                        ),
                    }
                    if !status.is_success() {
                        assert_eq!(ctype, "application/problem+json", "{who} {method} {path}: errors are problem details");
                        assert_eq!(body["status"], status.as_u16(), "{who} {method} {path}: {body}");
                    }
                    checked += 1;
                }
            }
            assert!(checked >= 4 * 45, "walked {checked} route × caller pairs");
        });
    }
}
