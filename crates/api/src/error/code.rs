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
    ("invalid_where", StatusCode::BAD_REQUEST),
    ("invalid_cursor", StatusCode::BAD_REQUEST),
    ("invalid_body", StatusCode::BAD_REQUEST),
    ("missing_file", StatusCode::BAD_REQUEST),
    ("bad_option", StatusCode::BAD_REQUEST),
    // 401: no valid credentials; 403: valid ones that do not allow this
    ("unauthorized", StatusCode::UNAUTHORIZED),
    ("invalid_credentials", StatusCode::UNAUTHORIZED),
    ("key_revoked", StatusCode::UNAUTHORIZED),
    ("forbidden", StatusCode::FORBIDDEN),
    // 404: no such thing
    ("not_found", StatusCode::NOT_FOUND),
    ("dataset_not_found", StatusCode::NOT_FOUND),
    ("version_not_found", StatusCode::NOT_FOUND),
    ("no_version", StatusCode::NOT_FOUND),
    ("publisher_not_found", StatusCode::NOT_FOUND),
    ("key_not_found", StatusCode::NOT_FOUND),
    ("job_not_found", StatusCode::NOT_FOUND),
    // 405: the route has no such method (`Allow` lists those it has)
    ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
    // 409: the id is taken
    ("dataset_exists", StatusCode::CONFLICT),
    ("publisher_exists", StatusCode::CONFLICT),
    // 410: withdrawn
    ("dataset_withdrawn", StatusCode::GONE),
    // 414: a query string past the limit
    ("uri_too_long", StatusCode::URI_TOO_LONG),
    // 416: a `Range` past the end of a file (`Content-Range` gives its length)
    ("range_not_satisfiable", StatusCode::RANGE_NOT_SATISFIABLE),
    // 413, 415: an upload too large, or not a table format
    ("too_large", StatusCode::PAYLOAD_TOO_LARGE),
    ("unsupported_format", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    // 422: a file or document the server understood but refuses
    ("invalid_metadata", StatusCode::UNPROCESSABLE_ENTITY),
    ("empty_file", StatusCode::UNPROCESSABLE_ENTITY),
    ("no_data_rows", StatusCode::UNPROCESSABLE_ENTITY),
    ("ragged_rows", StatusCode::UNPROCESSABLE_ENTITY),
    ("not_text", StatusCode::UNPROCESSABLE_ENTITY),
    ("corrupt_file", StatusCode::UNPROCESSABLE_ENTITY),
    ("no_table", StatusCode::UNPROCESSABLE_ENTITY),
    ("invalid_json", StatusCode::UNPROCESSABLE_ENTITY),
    // A job the server stopped in the middle of (see `GET /api/v1/jobs/{job}`).
    ("interrupted", StatusCode::SERVICE_UNAVAILABLE),
    // 429: a client past its rate limit (`Retry-After` says when to come back)
    ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
    // 5xx
    ("internal", StatusCode::INTERNAL_SERVER_ERROR),
    ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
];

/// The status of a code; unknown codes are internal errors.
pub fn status_of(code: &str) -> StatusCode {
    CODES.iter().find(|(c, _)| *c == code).map_or(StatusCode::INTERNAL_SERVER_ERROR, |(_, s)| *s)
}
