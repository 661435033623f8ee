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
        return Err(ApiError::withdrawn(&dataset));
    }
    let version = app.catalog.version(id, version).await?;
    Ok((dataset, version))
}

/// Entries of `App::read_versions` at most: one per dataset and pinned version read lately.
const READ_VERSIONS: usize = 4096;

/// The version of a readable dataset that a read of its rows gets, as [`readable`] finds it,
/// kept while the catalog's generation stays the same (errors are not kept).
///
/// Shared, not copied: a version holds its schema and ingest report, dozens of allocations
/// that a copy per request made (1–2% of the server's time on `/records`).
pub(crate) async fn readable_version(
    app: &AppState,
    id: &str,
    version: Option<i64>,
) -> Result<std::sync::Arc<Version>, ApiError> {
    let key = (id.to_string(), version);
    let generation = app.catalog.generation();
    if let Ok(kept) = app.read_versions.lock()
        && let Some((g, v)) = kept.get(&key)
        && *g == generation
    {
        return Ok(v.clone());
    }
    let found = std::sync::Arc::new(readable(app, id, version).await?.1);
    if let Ok(mut kept) = app.read_versions.lock() {
        if kept.len() >= READ_VERSIONS {
            kept.clear();
        }
        kept.insert(key, (generation, found.clone()));
    }
    Ok(found)
}

/// A dataset the caller may write: 401 without valid credentials, 404 for an unknown dataset,
/// 403 for another publisher's key, 410 for a withdrawn one.
pub(crate) async fn writable(app: &AppState, caller: &Principal, id: &str) -> Result<Dataset, ApiError> {
    caller.acting_publisher()?;
    let dataset = app.catalog.dataset(id).await?;
    caller.require_publisher(&dataset.metadata.publisher.id)?;
    if dataset.withdrawn_at.is_some() {
        return Err(ApiError::withdrawn(&dataset));
    }
    Ok(dataset)
}
