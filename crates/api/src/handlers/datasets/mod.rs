//! `/api/v1/datasets` and everything under it.

pub mod create;
pub mod download;
pub mod edit;
pub mod get;
pub mod list;
pub mod records;
pub mod upload;
pub mod versions;
pub mod withdraw;

use opendata_catalog::{Dataset, Version};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// A readable dataset and the version asked for (latest when `None`): 404 for an unknown
/// dataset or version, 410 for a withdrawn one.
pub(crate) async fn readable(app: &AppState, id: &str, version: Option<i64>) -> Result<(Dataset, Version), ApiError> {
    let dataset = app.catalog.dataset(id).await?;
    if dataset.withdrawn_at.is_some() {
        return Err(ApiError::withdrawn(id, dataset.withdrawn_reason.as_deref()));
    }
    let version = app.catalog.version(id, version).await?;
    Ok((dataset, version))
}

/// A dataset the caller may write: 401 without valid credentials, 404 for an unknown dataset,
/// 403 for another publisher's key, 410 for a withdrawn one.
pub(crate) async fn writable(app: &AppState, caller: &Principal, id: &str) -> Result<Dataset, ApiError> {
    caller.acting_publisher()?;
    let dataset = app.catalog.dataset(id).await?;
    caller.require_publisher(&dataset.metadata.publisher.id)?;
    if dataset.withdrawn_at.is_some() {
        return Err(ApiError::withdrawn(id, dataset.withdrawn_reason.as_deref()));
    }
    Ok(dataset)
}
