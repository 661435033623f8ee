//! `GET /api/v1/audit`: the log of every write (administrator only).

use axum::Json;
use axum::extract::State;
use opendata_catalog::AuditQuery;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiQuery, encode_pairs};
use crate::state::AppState;
use crate::views::{AuditList, AuditView, PageLinks};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only writes by or about this publisher.
    pub publisher: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// Entries to skip (default 0).
    pub offset: Option<usize>,
}

/// Read the audit log
///
/// Every write, newest first: who (admin, a key, or a refused anonymous caller), which key,
/// what (method and route), on what, when, from which address, and the status answered.
/// Administrator only.
#[utoipa::path(get, path = "/api/v1/audit", tag = "publishing", operation_id = "list_audit",
    params(AuditParams),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A page of the log", body = AuditList),
        (status = 400, description = "A parameter is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "Not the administrator", body = crate::error::ErrorBody)))]
pub async fn list_audit(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    caller.require_admin()?;
    let limit = crate::extract::page_limit(params.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = params.offset.unwrap_or(0);
    let query = AuditQuery { publisher: params.publisher.clone(), limit, offset };
    let (total, entries) = app.catalog.audit(&query).await?;
    let link = |offset: usize| {
        let mut pairs = vec![("limit", limit.to_string()), ("offset", offset.to_string())];
        if let Some(p) = &params.publisher {
            pairs.insert(0, ("publisher", p.clone()));
        }
        format!("/api/v1/audit?{}", encode_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))))
    };
    let next = (offset + entries.len() < total as usize).then(|| link(offset + limit));
    Ok(Json(AuditList {
        total,
        items: entries.iter().map(AuditView::from).collect(),
        links: PageLinks { self_: link(offset), next },
    }))
}
