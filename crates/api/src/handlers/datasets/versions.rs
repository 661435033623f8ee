//! `GET /api/v1/datasets/{id}/versions`.

use axum::Json;
use axum::extract::{Path, State};

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{VersionList, VersionView};

/// List versions
///
/// Every published version, newest first: rows, bytes, the sha256 of its Parquet file, and what
/// changed since the version before.
#[utoipa::path(get, path = "/api/v1/datasets/{id}/versions", tag = "datasets", operation_id = "list_versions",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi")),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody)))]
pub async fn list_versions(State(app): State<AppState>, Path(id): Path<String>) -> Result<Json<VersionList>, ApiError> {
    let dataset = app.catalog.dataset(&id).await?;
    if dataset.withdrawn_at.is_some() {
        return Err(ApiError::withdrawn(&dataset));
    }
    let items = app.catalog.versions(&id).await?.iter().map(VersionView::from).collect();
    Ok(Json(VersionList { dataset: id, items }))
}
