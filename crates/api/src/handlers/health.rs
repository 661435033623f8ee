//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::Health;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "get_health",
    responses((status = 200, description = "The process is alive", body = Health, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the catalog database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve", body = Health, example = json!({"status": "ok"})),
        (status = 503, description = "The catalog database does not answer", body = crate::error::ErrorBody)))]
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Health>, ApiError> {
    if app.catalog.ping().await {
        Ok(Json(Health { status: "ok".into() }))
    } else {
        Err(ApiError::new("unavailable", "the catalog database does not answer"))
    }
}
