//! `PATCH /api/v1/datasets/{id}`: edit a dataset's metadata with a JSON merge patch.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use opendata_catalog::DatasetMetadata;
use serde_json::{Map, Value};

use super::get::dataset_view;
use super::writable;
use crate::auth::{AuditNote, Caller};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::views::DatasetView;

/// The metadata fields a patch may set. `id` and `publisher` are fixed for a dataset's life:
/// its URLs and its owner do not move.
const EDITABLE: &[&str] = &[
    "title",
    "description",
    "license",
    "themes",
    "keywords",
    "source",
    "update_frequency",
    "temporal_coverage",
    "spatial_coverage",
    "contact",
    "field_descriptions",
];

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Edit a dataset
///
/// A JSON merge patch (RFC 7396) of the metadata: give the fields to change, `null` to clear
/// one. Editable: title, description, license, themes, keywords, source, update_frequency,
/// temporal_coverage, spatial_coverage, contact, field_descriptions. Versions are not touched.
#[utoipa::path(patch, path = "/api/v1/datasets/{id}", tag = "publishing", operation_id = "edit_dataset",
    params(("id" = String, Path, description = "Dataset id")),
    request_body(content = Object, content_type = "application/merge-patch+json",
        example = json!({"description": "Cập nhật quý 3/2026", "keywords": ["wifi", "hạ tầng số"]})),
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 200, description = "The dataset as edited", body = DatasetView),
        (status = 400, description = "Not a JSON object, or a field that cannot be edited", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "The key belongs to another publisher", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody),
        (status = 422, description = "The result is not valid metadata", body = crate::error::ErrorBody)))]
pub async fn edit_dataset(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<Map<String, Value>>, ApiError>,
) -> Result<Response, ApiError> {
    let dataset = writable(&app, &caller, &id).await?;
    let ApiJson(patch) = body?;
    if let Some(bad) = patch.keys().find(|k| !EDITABLE.contains(&k.as_str())) {
        return Err(ApiError::new(
            "invalid_body",
            format!("field `{bad}` cannot be edited; editable fields: {}", EDITABLE.join(", ")),
        )
        .with_details(serde_json::json!({ "field": bad, "editable": EDITABLE })));
    }
    let mut document = serde_json::to_value(&dataset.metadata).map_err(ApiError::internal)?;
    merge(&mut document, &Value::Object(patch.clone()));
    let metadata: DatasetMetadata = serde_json::from_value(document)
        .map_err(|e| ApiError::new("invalid_metadata", format!("the patched metadata is not valid: {e}")))?;
    let edited = app.catalog.update_dataset(&metadata).await?;
    let view = dataset_view(&app, &edited).await?;
    let mut response = Json(view).into_response();
    let fields: Vec<&String> = patch.keys().collect();
    response
        .extensions_mut()
        .insert(AuditNote::new(&metadata.publisher.id, serde_json::json!({ "dataset": id, "fields": fields })));
    Ok(response)
}
