//! Middleware, stacked in one place.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Whether an answer's body is JSON (by its `Content-Type`).
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// The longest query string accepted: a long `where=` expression with a hundred values in an
/// `in` list fits many times over.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// 414 for a query string past [`MAX_QUERY_BYTES`], before anything parses it.
async fn bounded(request: Request, next: Next) -> Response {
    let length = request.uri().query().map_or(0, str::len);
    if length > MAX_QUERY_BYTES {
        return ApiError::new(
            "uri_too_long",
            format!("the query string is {length} bytes, more than {MAX_QUERY_BYTES}; filter with fewer values"),
        )
        .with_details(serde_json::json!({ "max_bytes": MAX_QUERY_BYTES }))
        .into_response();
    }
    next.run(request).await
}

/// Answers axum and tower-http make without a body of ours, a 405 for a method a route does
/// not have and a 416 for a range past a file's end, put in the error envelope like every
/// other error (their headers, `Allow` and `Content-Range`, kept).
async fn envelope(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let error = match response.status() {
        _ if is_json(response.headers()) => return response,
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            ApiError::new("method_not_allowed", format!("`{method}` is not a method of `{path}`; allowed: {allowed}"))
                .with_details(serde_json::json!({ "method": method.as_str(), "allowed": allowed }))
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let range = response.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let length = range.strip_prefix("bytes */").and_then(|n| n.parse::<u64>().ok());
            ApiError::new(
                "range_not_satisfiable",
                format!(
                    "the `Range` asked for is past the end of the answer ({} bytes)",
                    length.map_or("?".to_string(), |n| n.to_string())
                ),
            )
            .with_details(serde_json::json!({ "length": length }))
        }
        _ => return response,
    };
    let (mut parts, _) = response.into_parts();
    let answer = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let (error_parts, body) = answer.into_parts();
    parts.extensions.extend(error_parts.extensions);
    Response::from_parts(parts, body)
}

/// Tracing of every request, and CORS open to any origin for reads (this is public data).
pub fn apply_middleware(router: Router) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            HeaderName::from_static("etag"),
            HeaderName::from_static("content-disposition"),
            HeaderName::from_static("x-request-id"),
        ]);
    let request_id = HeaderName::from_static("x-request-id");
    // Every log line of a request carries its id (the client's `X-Request-Id`, or a new UUID),
    // which the answer echoes, so an operator can find a user's request in the logs.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
        })
        // One line per answer, with its status and time, at `info`.
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO));
    router
        .layer(axum::middleware::from_fn(envelope))
        .layer(axum::middleware::from_fn(bounded))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
