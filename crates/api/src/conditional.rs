//! Conditional requests on metadata: a JSON answer without an `ETag` of its own (the catalog,
//! a dataset, its versions, publishers, jobs) gets one from a hash of its bytes, a
//! `Cache-Control`, and a 304 when `If-None-Match` names it. These answers are small; the
//! large ones (`/records`, `/download`) set their own tags from the version and the query,
//! and are passed through untouched.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::handlers::datasets::records::if_none_match;

/// Metadata answers above this size are passed through without a tag.
const MAX_TAGGED: usize = 8 << 20;

pub async fn layer(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let conditional = request.headers().get(header::IF_NONE_MATCH).cloned();
    let private = request.headers().contains_key(header::AUTHORIZATION);
    let response = next.run(request).await;
    let json = crate::middleware::is_json(response.headers());
    let small = http_body::Body::size_hint(response.body()).upper().is_some_and(|n| n <= MAX_TAGGED as u64);
    if response.status() != StatusCode::OK || !json || !small || response.headers().contains_key(header::ETAG) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let cache = if private { "private, no-cache" } else { "public, max-age=60" };
    let tag = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    parts.headers.insert(header::ETAG, tag.clone());
    parts.headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(cache));
    let mut headers = axum::http::HeaderMap::new();
    if let Some(v) = conditional {
        headers.insert(header::IF_NONE_MATCH, v);
    }
    if if_none_match(&headers, &etag) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, tag);
        if let Some(c) = parts.headers.get(header::CACHE_CONTROL) {
            not_modified.headers_mut().insert(header::CACHE_CONTROL, c.clone());
        }
        return not_modified;
    }
    Response::from_parts(parts, Body::from(bytes))
}
