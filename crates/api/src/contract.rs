//! One behaviour for every endpoint: the query parameters an operation accepts are the ones
//! the OpenAPI document gives it, read from the spec at start-up, so the docs and the checks
//! cannot disagree. A request with any other parameter is a 400 naming it, as `/records`
//! answers an unknown field. `/records` itself is left to its own parser, whose parameters
//! include the table's field names.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::ApiError;

/// Routes whose parameters are checked by their handler (field names are parameters there).
const OWN_PARSER: &[&str] = &["/api/v1/datasets/{id}/records"];

/// Per (method, route), the documented query parameters.
#[derive(Debug, Default)]
pub struct Documented(HashMap<(Method, String), Vec<String>>);

impl Documented {
    pub fn from_spec(spec: &OpenApi) -> Self {
        let mut map = HashMap::new();
        for (path, item) in &spec.paths.paths {
            let ops: [(Method, &Option<Operation>); 5] = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let names: Vec<String> = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => Some(p.name.clone()),
                        _ => None,
                    })
                    .collect();
                if method == Method::GET {
                    map.insert((Method::HEAD, path.clone()), names.clone());
                }
                map.insert((method, path.clone()), names);
            }
        }
        Self(map)
    }

    /// The first parameter of `query` that `method` on `route` does not document.
    fn unknown<'a>(&'a self, method: &Method, route: &str, query: &str) -> Option<(String, &'a [String])> {
        if OWN_PARSER.contains(&route) {
            return None;
        }
        let known = self.0.get(&(method.clone(), route.to_string()))?;
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, _)| k.into_owned())
            .find(|k| !known.contains(k))
            .map(|k| (k, known.as_slice()))
    }
}

/// Refuse undocumented query parameters with 400 `invalid_parameter`.
pub async fn layer(State(documented): State<Arc<Documented>>, request: Request, next: Next) -> Response {
    if let (Some(route), Some(query)) = (request.extensions().get::<MatchedPath>(), request.uri().query())
        && let Some((name, known)) = documented.unknown(request.method(), route.as_str(), query)
    {
        let valid = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return ApiError::new("invalid_parameter", format!("unknown parameter `{name}`; valid parameters: {valid}"))
            .with_details(serde_json::json!({ "parameter": name, "valid_parameters": known }))
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_is_known() {
        let documented = Documented::from_spec(&crate::openapi());
        let list = documented.0.get(&(Method::GET, "/api/v1/datasets".to_string())).unwrap();
        assert!(
            ["q", "publisher", "theme", "keyword", "sort", "limit", "offset"]
                .iter()
                .all(|p| list.contains(&p.to_string()))
        );
        assert_eq!(
            documented.unknown(&Method::GET, "/api/v1/datasets", "q=ha+noi&foo=bar").map(|(k, _)| k),
            Some("foo".to_string())
        );
        assert_eq!(documented.unknown(&Method::HEAD, "/api/v1/publishers", "x=1").map(|(k, _)| k), Some("x".into()));
        assert!(documented.unknown(&Method::GET, "/api/v1/datasets/{id}/records", "ten=1").is_none());
    }
}
