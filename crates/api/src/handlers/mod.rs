//! Route handlers, one file per resource and action. Each extracts, calls the catalog or the
//! query crate (polars only inside `spawn_blocking`), and encodes.

pub mod audit;
pub mod datasets;
pub mod health;
pub mod jobs;
pub mod publishers;

use axum::http::Uri;

use crate::error::ApiError;

/// Any path no route matches.
pub async fn fallback(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}
