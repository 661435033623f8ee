//! `GET /api/v1/datasets`: the catalog.

use axum::Json;
use axum::extract::State;
use opendata_catalog::{DatasetQuery, DatasetSort};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{ApiQuery, encode_pairs};
use crate::state::AppState;
use crate::views::{DatasetList, DatasetSummary, PageLinks};

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;
/// Far past any catalog, and small enough that `offset + limit` cannot overflow.
const MAX_OFFSET: usize = 1 << 40;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDatasetsQuery {
    /// Words to find in the title, description, keywords, themes or publisher; case and
    /// Vietnamese diacritics are ignored (`ha noi` finds `Hà Nội`).
    #[param(example = "hanh chinh")]
    pub q: Option<String>,
    /// Only datasets of this publisher (its id).
    pub publisher: Option<String>,
    /// Only datasets with this theme.
    pub theme: Option<String>,
    /// Only datasets with this keyword.
    pub keyword: Option<String>,
    /// `relevance` (the default: best match first with `q`, else most recently updated
    /// first), `title` or `-title` (Vietnamese dictionary order), `modified` or `-modified`
    /// (newest first).
    #[param(example = "-modified")]
    pub sort: Option<String>,
    /// Page size, 1 to 1000 (default 20).
    pub limit: Option<usize>,
    /// Datasets to skip (default 0).
    pub offset: Option<usize>,
}

/// List datasets
///
/// The published datasets, best match first for `q` and otherwise most recently updated
/// first (or in the `sort` order), with their metadata and links.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", operation_id = "list_datasets",
    params(ListDatasetsQuery),
    responses(
        (status = 200, description = "A page of the catalog", body = DatasetList),
        (status = 400, description = "A parameter is invalid", body = crate::error::ErrorBody)))]
pub async fn list_datasets(
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<ListDatasetsQuery>,
) -> Result<Json<DatasetList>, ApiError> {
    let limit = crate::extract::page_limit(params.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = params.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::new("invalid_offset", format!("parameter `offset`: {offset} is above {MAX_OFFSET}"))
            .with_details(serde_json::json!({ "parameter": "offset", "max": MAX_OFFSET })));
    }
    let sort = match params.sort.as_deref() {
        None | Some("") => DatasetSort::Relevance,
        Some(s) => DatasetSort::parse(s).ok_or_else(|| {
            ApiError::new(
                "invalid_sort",
                format!("parameter `sort`: `{s}` is not a catalog order; use one of {}", DatasetSort::NAMES.join(", ")),
            )
            .with_details(serde_json::json!({ "parameter": "sort", "valid": DatasetSort::NAMES }))
        })?,
    };
    let query = DatasetQuery {
        q: params.q.clone(),
        publisher: params.publisher.clone(),
        theme: params.theme.clone(),
        keyword: params.keyword.clone(),
        sort,
        limit,
        offset,
    };
    let (total, datasets) = app.catalog.datasets(&query).await?;
    let mut items = Vec::with_capacity(datasets.len());
    for d in &datasets {
        let latest = match d.latest_version {
            Some(n) => Some(app.catalog.version(&d.metadata.id, Some(n)).await?),
            None => None,
        };
        items.push(DatasetSummary::new(d, latest.as_ref()));
    }
    let link = |offset: usize| {
        let offset = offset.to_string();
        let limit = limit.to_string();
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (k, v) in [
            ("q", &params.q),
            ("publisher", &params.publisher),
            ("theme", &params.theme),
            ("keyword", &params.keyword),
            ("sort", &params.sort),
        ] {
            if let Some(v) = v {
                pairs.push((k, v));
            }
        }
        pairs.push(("limit", &limit));
        pairs.push(("offset", &offset));
        format!("/api/v1/datasets?{}", encode_pairs(pairs))
    };
    let next = (offset + limit < total).then(|| link(offset + limit));
    Ok(Json(DatasetList { total, items, links: PageLinks { self_: link(offset), next } }))
}
