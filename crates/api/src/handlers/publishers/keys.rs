//! `/api/v1/publishers/{publisher}/keys`: create, list and revoke a publisher's API keys
//! (administrator only). A key is shown once, when it is created.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{AuditNote, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{KeyList, KeyView, NewKeyView};

/// Options of a new key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// What the key is for (shown in key lists).
    #[serde(default)]
    #[schema(example = "nightly export")]
    pub label: String,
}

/// Create an API key
///
/// A new random key (256 bits) for the publisher. The answer's `key_secret` is the only time
/// the key is shown: the server keeps only its hash. Administrator only. The body is optional.
#[utoipa::path(post, path = "/api/v1/publishers/{publisher}/keys", tag = "publishing", operation_id = "create_key",
    params(("publisher" = String, Path, description = "Publisher id")),
    request_body(content = Option<NewKeyRequest>, description = "Optional label"),
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Created; the secret is in `key_secret`", body = NewKeyView),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Not the administrator", body = crate::error::ErrorBody),
        (status = 404, description = "No such publisher", body = crate::error::ErrorBody)))]
pub async fn create_key(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(publisher): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let request: NewKeyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        NewKeyRequest::default()
    } else {
        crate::extract::json_body(&body)?
    };
    let new = app.catalog.create_key(&publisher, &request.label).await?;
    let view = NewKeyView { key: KeyView::from(&new.key), key_secret: new.secret };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response.extensions_mut().insert(AuditNote::new(publisher, serde_json::json!({ "key": new.key.id })));
    Ok(response)
}

/// List API keys
///
/// A publisher's keys, newest first, active and revoked, without their secrets.
/// Administrator only.
#[utoipa::path(get, path = "/api/v1/publishers/{publisher}/keys", tag = "publishing", operation_id = "list_keys",
    params(("publisher" = String, Path, description = "Publisher id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Not the administrator", body = crate::error::ErrorBody),
        (status = 404, description = "No such publisher", body = crate::error::ErrorBody)))]
pub async fn list_keys(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(publisher): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    caller.require_admin()?;
    let items = app.catalog.keys(&publisher).await?.iter().map(KeyView::from).collect();
    Ok(Json(KeyList { items }))
}

/// Revoke an API key
///
/// From now on the key answers 401 `key_revoked`. Revoking twice keeps the first time.
/// Administrator only.
#[utoipa::path(delete, path = "/api/v1/publishers/{publisher}/keys/{key}", tag = "publishing",
    operation_id = "revoke_key",
    params(("publisher" = String, Path, description = "Publisher id"), ("key" = String, Path, description = "Key id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Revoked", body = KeyView),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Not the administrator", body = crate::error::ErrorBody),
        (status = 404, description = "No such publisher or key", body = crate::error::ErrorBody)))]
pub async fn revoke_key(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path((publisher, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let revoked = app.catalog.revoke_key(&publisher, &key).await?;
    let mut response = Json(KeyView::from(&revoked)).into_response();
    response.extensions_mut().insert(AuditNote::new(publisher, serde_json::json!({ "key": key })));
    Ok(response)
}
