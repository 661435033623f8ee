//! `GET /api/v1/jobs/{job}`: an upload's progress and outcome.

use axum::Json;
use axum::extract::{Path, State};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{JobList, JobView};

/// Get a job
///
/// `queued`, `running` (with bytes and rows read so far), `succeeded` (with the version and the
/// ingest report: encoding, header rows, skipped rows, field types) or `failed` (with the error
/// as the upload would have answered it). For the dataset's publisher and the administrator.
#[utoipa::path(get, path = "/api/v1/jobs/{job}", tag = "publishing", operation_id = "get_job",
    params(("job" = String, Path, description = "Job id, from the upload's answer")),
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "A job of another publisher's dataset", body = crate::error::ErrorBody),
        (status = 404, description = "No such job", body = crate::error::ErrorBody)))]
pub async fn get_job(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    caller.acting_publisher()?;
    let job = app.catalog.job(&id).await?;
    let dataset = app.catalog.dataset(&job.dataset_id).await?;
    caller.require_publisher(&dataset.metadata.publisher.id)?;
    Ok(Json(JobView::from(&job)))
}

/// List a dataset's jobs
///
/// Its latest 100 uploads and what became of each, newest first. For the dataset's publisher
/// and the administrator (also once the dataset is withdrawn).
#[utoipa::path(get, path = "/api/v1/datasets/{id}/jobs", tag = "publishing", operation_id = "list_jobs",
    params(("id" = String, Path, description = "Dataset id")),
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 200, description = "The jobs", body = JobList),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Another publisher's dataset", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody)))]
pub async fn list_jobs(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<JobList>, ApiError> {
    caller.acting_publisher()?;
    let dataset = app.catalog.dataset(&id).await?;
    caller.require_publisher(&dataset.metadata.publisher.id)?;
    let items = app.catalog.jobs_of(&id, 100).await?.iter().map(JobView::from).collect();
    Ok(Json(JobList { dataset: id, items }))
}
