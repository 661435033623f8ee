//! `POST /api/v1/datasets`: create a dataset (its metadata; files come as versions).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_catalog::{Contact, DatasetMetadata, PublisherRef, TemporalCoverage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::get::dataset_view;
use crate::auth::{AuditNote, Caller};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::views::DatasetView;

/// The metadata of a new dataset. Unknown fields are refused (a misspelt `licence` is an
/// error, not a silently missing licence).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    /// Identifier used in URLs: lower-case ASCII letters, digits and `-`.
    #[schema(example = "diem-wifi-cong-cong")]
    pub id: String,
    #[schema(example = "Điểm truy cập Wi-Fi công cộng")]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The publisher's id. Taken from the API key; only the administrator must give it.
    #[serde(default)]
    pub publisher: Option<String>,
    /// One of `CC-BY-4.0`, `CC-BY-SA-4.0`, `CC0-1.0`, `ODC-By-1.0`, `ODbL-1.0`, `PDDL-1.0`.
    #[schema(example = "CC-BY-4.0")]
    pub license: String,
    #[serde(default)]
    pub themes: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Where the data comes from (a decision, a report, a system).
    #[serde(default)]
    pub source: Option<String>,
    /// How often it is updated, e.g. `Hằng quý`.
    #[serde(default)]
    pub update_frequency: Option<String>,
    /// `{"start": "2024-01-01", "end": "2024-12-31"}` (years or dates).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub temporal_coverage: Option<TemporalCoverage>,
    #[serde(default)]
    pub spatial_coverage: Option<String>,
    /// `{"name", "email", "phone"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub contact: Option<Contact>,
    /// Descriptions of fields, by normalised field name.
    #[serde(default)]
    pub field_descriptions: BTreeMap<String, String>,
}

/// Create a dataset
///
/// Register a dataset's metadata; upload its data with `POST /api/v1/datasets/{id}/versions`.
/// With a publisher's key the dataset belongs to that publisher (a different `publisher` in the
/// body answers 403); the administrator names the publisher.
#[utoipa::path(post, path = "/api/v1/datasets", tag = "publishing", operation_id = "create_dataset",
    request_body = NewDataset,
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 201, description = "Created", body = DatasetView),
        (status = 400, description = "The body is not valid metadata JSON", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "The key belongs to another publisher", body = crate::error::ErrorBody),
        (status = 404, description = "No such publisher", body = crate::error::ErrorBody),
        (status = 409, description = "The id is taken", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid id, empty title or unknown licence", body = crate::error::ErrorBody)))]
pub async fn create_dataset(
    State(app): State<AppState>,
    Caller(caller): Caller,
    body: Result<ApiJson<NewDataset>, ApiError>,
) -> Result<Response, ApiError> {
    let acting = caller.acting_publisher()?.map(str::to_string);
    let ApiJson(new) = body?;
    let publisher_id = match (acting, &new.publisher) {
        (Some(key_publisher), None) => key_publisher,
        (_, Some(named)) => {
            caller.require_publisher(named)?;
            named.clone()
        }
        (None, None) => {
            return Err(ApiError::new(
                "invalid_body",
                "field `publisher`: the administrator must name the publisher of a new dataset",
            ));
        }
    };
    let publisher = app.catalog.publisher(&publisher_id).await?;
    let metadata = DatasetMetadata {
        id: new.id,
        title: new.title.trim().to_string(),
        description: new.description,
        publisher: PublisherRef {
            id: publisher.id,
            name: publisher.name,
            description: publisher.description,
            homepage: publisher.homepage,
        },
        license: new.license,
        themes: new.themes,
        keywords: new.keywords,
        source: new.source,
        update_frequency: new.update_frequency,
        temporal_coverage: new.temporal_coverage,
        spatial_coverage: new.spatial_coverage,
        contact: new.contact,
        field_descriptions: new.field_descriptions,
    };
    let dataset = app.catalog.create_dataset(&metadata).await?;
    let view = dataset_view(&app, &dataset).await?;
    let location = format!("/api/v1/datasets/{}", metadata.id);
    let mut response = (StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response();
    response
        .extensions_mut()
        .insert(AuditNote::new(&metadata.publisher.id, serde_json::json!({ "dataset": metadata.id })));
    Ok(response)
}
