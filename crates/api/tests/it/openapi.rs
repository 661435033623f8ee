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
