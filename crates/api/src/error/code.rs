//! The closed table of error codes: one row each with its HTTP status. A code never changes
//! meaning once published; clients match on it.

use axum::http::StatusCode;

/// Every code the API answers with, and its status.
pub const CODES: &[(&str, StatusCode)] = &[
    // 400: a parameter is wrong
    ("unknown_field", StatusCode::BAD_REQUEST),
    ("invalid_value", StatusCode::BAD_REQUEST),
    ("unknown_operator", StatusCode::BAD_REQUEST),
    ("invalid_operator", StatusCode::BAD_REQUEST),
    ("invalid_limit", StatusCode::BAD_REQUEST),
    ("invalid_offset", StatusCode::BAD_REQUEST),
    ("invalid_sort", StatusCode::BAD_REQUEST),
    ("invalid_select", StatusCode::BAD_REQUEST),
    ("invalid_format", StatusCode::BAD_REQUEST),
    ("invalid_version", StatusCode::BAD_REQUEST),
    ("invalid_parameter", StatusCode::BAD_REQUEST),
    // 404: no such thing
    ("not_found", StatusCode::NOT_FOUND),
    ("dataset_not_found", StatusCode::NOT_FOUND),
    ("version_not_found", StatusCode::NOT_FOUND),
    ("no_version", StatusCode::NOT_FOUND),
    ("publisher_not_found", StatusCode::NOT_FOUND),
    // 410: withdrawn
    ("dataset_withdrawn", StatusCode::GONE),
    // 422: a file or document the server understood but refuses
    ("invalid_metadata", StatusCode::UNPROCESSABLE_ENTITY),
    // 5xx
    ("internal", StatusCode::INTERNAL_SERVER_ERROR),
    ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
];

/// The status of a code; unknown codes are internal errors.
pub fn status_of(code: &str) -> StatusCode {
    CODES.iter().find(|(c, _)| *c == code).map_or(StatusCode::INTERNAL_SERVER_ERROR, |(_, s)| *s)
}
