//! Middleware, stacked in one place.

use axum::Router;
use axum::http::{HeaderName, Method};
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

/// Tracing of every request, and CORS open to any origin for reads (this is public data).
pub fn apply_middleware(router: Router) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([HeaderName::from_static("etag"), HeaderName::from_static("content-disposition")]);
    router.layer(cors).layer(TraceLayer::new_for_http())
}
