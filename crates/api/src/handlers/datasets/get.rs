//! `GET /api/v1/datasets/{id}`: metadata, schema and versions.

use axum::Json;
use axum::extract::{Path, State};
use opendata_catalog::Dataset;

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{DatasetSummary, DatasetView, FieldView, VersionView};

/// Get a dataset
///
/// Its metadata, the schema of the latest version (type, null and distinct counts, min and
/// max of each field), every version, and download links.
#[utoipa::path(get, path = "/api/v1/datasets/{id}", tag = "datasets", operation_id = "get_dataset",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi")),
    responses(
        (status = 200, description = "The dataset", body = DatasetView),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody)))]
pub async fn get_dataset(State(app): State<AppState>, Path(id): Path<String>) -> Result<Json<DatasetView>, ApiError> {
    let dataset = app.catalog.dataset(&id).await?;
    if dataset.withdrawn_at.is_some() {
        return Err(ApiError::withdrawn(&dataset));
    }
    Ok(Json(dataset_view(&app, &dataset).await?))
}

/// A dataset with the schema of its latest version and its versions.
pub(crate) async fn dataset_view(app: &AppState, dataset: &Dataset) -> Result<DatasetView, ApiError> {
    let versions = app.catalog.versions(&dataset.metadata.id).await?;
    let latest = versions.first();
    Ok(DatasetView {
        summary: DatasetSummary::new(dataset, latest),
        fields: latest.map(|v| v.schema.iter().map(|f| FieldView::new(f, dataset)).collect()).unwrap_or_default(),
        versions: versions.iter().map(VersionView::from).collect(),
    })
}
