//! `DELETE /api/v1/datasets/{id}`: withdraw a dataset.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::writable;
use crate::auth::{AuditNote, Caller};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::views::WithdrawnView;

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct WithdrawQuery {
    /// Why the dataset is withdrawn: every read of it answers 410 with this text. Required
    /// (here or as `{"reason": "…"}` in a JSON body).
    #[param(example = "Dữ liệu đã được thay thế bởi bộ dữ liệu diem-wifi-cong-cong-2027")]
    pub reason: Option<String>,
}

/// Withdraw a dataset
///
/// Stop serving a dataset: its reads answer 410 `dataset_withdrawn` with the reason, it leaves
/// the catalog list, and its id stays taken. Its versions are kept.
#[utoipa::path(delete, path = "/api/v1/datasets/{id}", tag = "publishing", operation_id = "withdraw_dataset",
    params(("id" = String, Path, description = "Dataset id"), WithdrawQuery),
    request_body(content = Option<WithdrawQuery>, description = "`{\"reason\": \"…\"}`, or the `reason` parameter"),
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 200, description = "Withdrawn", body = WithdrawnView),
        (status = 400, description = "No reason given", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "The key belongs to another publisher", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody),
        (status = 410, description = "Already withdrawn", body = crate::error::ErrorBody)))]
pub async fn withdraw_dataset(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<WithdrawQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let dataset = writable(&app, &caller, &id).await?;
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: WithdrawQuery = crate::extract::json_body(&body)?;
        parsed.reason
    };
    let reason =
        query.reason.or(from_body).map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).ok_or_else(|| {
            ApiError::new(
                "invalid_parameter",
                "parameter `reason` is required: say why the dataset is withdrawn (readers are told it)",
            )
        })?;
    let by = if matches!(caller, crate::auth::Principal::Admin) { "admin" } else { "publisher" };
    let withdrawn = app.catalog.withdraw_dataset(&id, &reason, by).await?;
    let view = WithdrawnView {
        id: id.clone(),
        withdrawn_at: withdrawn.withdrawn_at,
        reason: withdrawn.withdrawn_reason,
        versions_kept: withdrawn.latest_version.unwrap_or(0),
    };
    let mut response = Json(view).into_response();
    response
        .extensions_mut()
        .insert(AuditNote::new(&dataset.metadata.publisher.id, serde_json::json!({ "dataset": id, "reason": reason })));
    Ok(response)
}
