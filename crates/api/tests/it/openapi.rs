//! The committed `openapi/openapi.json` is the generated one, and every route is documented.

use super::helpers::workspace_root;

#[test]
fn committed_spec_is_current() {
    let generated = opendata_api::openapi_json();
    let path = workspace_root().join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == generated, "openapi/openapi.json is stale: run `make openapi` and commit the result");
}

#[test]
fn every_operation_has_a_summary_description_and_success_response() {
    let spec = serde_json::to_value(opendata_api::openapi()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: no operationId");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path}: no summary");
            assert!(
                op["responses"].as_object().unwrap().keys().any(|k| k.starts_with('2')),
                "{method} {path}: no 2xx response"
            );
        }
    }
}

/// Every operation that writes, or that needs credentials to read, names its security scheme,
/// documents its 401, and the schemes exist.
#[test]
fn protected_operations_declare_their_security_scheme() {
    let spec = serde_json::to_value(opendata_api::openapi()).unwrap();
    let schemes = spec["components"]["securitySchemes"].as_object().expect("security schemes");
    assert_eq!(schemes["publisher_key"]["scheme"], "bearer");
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    let protected_reads =
        ["/api/v1/jobs/{job}", "/api/v1/datasets/{id}/jobs", "/api/v1/audit", "/api/v1/publishers/{publisher}/keys"];
    let mut protected = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let needs = method != "get" || protected_reads.contains(&path.as_str());
            let security = op["security"].as_array().map(Vec::len).unwrap_or(0);
            if needs {
                protected += 1;
                assert!(security > 0, "{method} {path}: no security requirement");
                assert!(op["responses"].get("401").is_some(), "{method} {path}: no 401 response");
            } else {
                assert_eq!(security, 0, "{method} {path}: a public read with a security requirement");
            }
        }
    }
    assert_eq!(protected, 11, "the publishing operations");
}
