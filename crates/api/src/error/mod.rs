//! Which error type goes where: `anyhow` only in the `cli` crate; each library has its own
//! thiserror enum (`IngestError`, `CatalogError`, `QueryError`) with a stable `code()`;
//! handlers return [`ApiError`], built from those with `?` or by a named constructor, and turned
//! into the one wire body here:
//!
//! ```json
//! {"error": {"code": "unknown_field", "message": "…", "details": {…}}}
//! ```
//!
//! An error without a public code becomes 500 `internal`; its text stays out of the body and
//! is logged once, here.

pub mod code;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opendata_catalog::CatalogError;
use opendata_ingest::IngestError;
use opendata_query::QueryError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The error envelope of every 4XX and 5XX answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `unknown_field`.
    #[schema(example = "unknown_field")]
    pub code: String,
    /// What went wrong, naming the parameter, field, row or line at fault.
    #[schema(
        example = "unknown field `no_such_field` in parameter `no_such_field`; valid fields: district_code, district_name"
    )]
    pub message: String,
    /// Structured facts about the error (valid fields, the parameter…), or null.
    pub details: Value,
}

/// An error a handler answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: code::status_of(code), code, message: message.into(), details: Value::Null }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn dataset_not_found(id: &str) -> Self {
        Self::new("dataset_not_found", format!("no dataset `{id}`; see /api/v1/datasets for the list"))
            .with_details(serde_json::json!({ "dataset": id }))
    }

    /// 410 for a withdrawn dataset: the message and `details` say when, by whom, and why.
    pub fn withdrawn(dataset: &opendata_catalog::Dataset) -> Self {
        let id = &dataset.metadata.id;
        let reason = dataset.withdrawn_reason.as_deref().unwrap_or("no reason given");
        let who = match dataset.withdrawn_by.as_deref() {
            Some("admin") => "the platform's administrator",
            Some("publisher") => "its publisher",
            _ => "its publisher or the administrator",
        };
        Self::new("dataset_withdrawn", format!("dataset `{id}` was withdrawn by {who}: {reason}")).with_details(
            serde_json::json!({
                "dataset": id,
                "reason": dataset.withdrawn_reason,
                "withdrawn_by": dataset.withdrawn_by,
                "withdrawn_at": dataset.withdrawn_at,
                "publisher": dataset.metadata.publisher.id,
            }),
        )
    }

    pub fn not_found(path: &str) -> Self {
        Self::new("not_found", format!("no route for `{path}`; the API lives under /api/v1, see /docs"))
    }

    /// A failure of ours: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new("internal", "internal server error")
    }
}

/// The code of an error answer, as a response extension (for the audit log).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// An error with a code from a catalog or a job record (e.g. a job's stored error): the
    /// code is looked up in the closed table, and unknown ones are internal.
    pub fn from_code(code: &str, message: impl Into<String>) -> Self {
        match code::CODES.iter().find(|(c, _)| *c == code) {
            Some((c, _)) => Self::new(c, message),
            None => Self::new("internal", message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code;
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.to_string(), message: self.message, details: self.details },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"opendata\""),
            );
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        if !e.is_client_error() {
            return Self::internal(e);
        }
        Self::new(e.code(), e.to_string()).with_details(e.details())
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match &e {
            CatalogError::DatasetNotFound(id) => Self::dataset_not_found(id),
            CatalogError::VersionNotFound { dataset, version, latest } => Self::new(e.code(), e.to_string())
                .with_details(serde_json::json!({ "dataset": dataset, "version": version, "latest": latest })),
            _ if e.code() == "internal" => Self::internal(e),
            _ => Self::new(e.code(), e.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        if !e.is_input_error() {
            return Self::internal(e);
        }
        Self::new(e.code(), e.to_string()).with_details(e.details())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_row() {
        let mut seen = std::collections::HashSet::new();
        for (code, _) in code::CODES {
            assert!(seen.insert(code), "duplicate code {code}");
        }
        assert_eq!(code::status_of("unknown_field"), StatusCode::BAD_REQUEST);
        assert_eq!(code::status_of("no_such_code"), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
