//! `POST /api/v1/publishers`: register an agency (administrator only).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_catalog::PublisherRef;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{AuditNote, Caller};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::views::PublisherView;

/// A new publisher.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPublisher {
    /// Identifier used in URLs: lower-case ASCII letters, digits and `-`.
    #[schema(example = "so-tai-nguyen-moi-truong-ha-noi")]
    pub id: String,
    #[schema(example = "Sở Tài nguyên và Môi trường thành phố Hà Nội")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: Option<String>,
}

/// Create a publisher
///
/// Register an agency. Its datasets are then created and uploaded with one of its API keys
/// (`POST /api/v1/publishers/{publisher}/keys`). Administrator only.
#[utoipa::path(post, path = "/api/v1/publishers", tag = "publishing", operation_id = "create_publisher",
    request_body = NewPublisher,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Created", body = PublisherView),
        (status = 400, description = "The body is not a valid publisher", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Not the administrator", body = crate::error::ErrorBody),
        (status = 409, description = "The id is taken", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid id or empty name", body = crate::error::ErrorBody)))]
pub async fn create_publisher(
    State(app): State<AppState>,
    Caller(caller): Caller,
    body: Result<ApiJson<NewPublisher>, ApiError>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let ApiJson(new) = body?;
    let publisher = app
        .catalog
        .create_publisher(&PublisherRef {
            id: new.id.clone(),
            name: new.name,
            description: new.description,
            homepage: new.homepage,
        })
        .await?;
    let location = format!("/api/v1/datasets?publisher={}", publisher.id);
    let mut response =
        (StatusCode::CREATED, [(header::LOCATION, location)], Json(PublisherView::from(publisher))).into_response();
    response.extensions_mut().insert(AuditNote::new(new.id, serde_json::Value::Null));
    Ok(response)
}
