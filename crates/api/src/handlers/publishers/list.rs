//! `GET /api/v1/publishers`: the agencies.

use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{PublisherList, PublisherView};

/// List publishers
///
/// Every agency that publishes in this catalog, with how many datasets it has.
#[utoipa::path(get, path = "/api/v1/publishers", tag = "publishers", operation_id = "list_publishers",
    responses((status = 200, description = "The publishers, by name", body = PublisherList,
        example = json!({"items": [{"id": "so-noi-vu-ha-noi", "name": "Sở Nội vụ thành phố Hà Nội", "description": "", "homepage": null, "dataset_count": 1}]}))))]
pub async fn list_publishers(State(app): State<AppState>) -> Result<Json<PublisherList>, ApiError> {
    let items = app.catalog.publishers().await?.into_iter().map(PublisherView::from).collect();
    Ok(Json(PublisherList { items }))
}
