//! `GET /api/v1/datasets/{id}/download`: the whole table, as Parquet (the stored file, with
//! `ETag`, `Range` and `Content-Length`) or as streamed CSV.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_query::encode::csv::CsvOptions;
use opendata_query::params::{OutputFormat, RecordsQuery};
use opendata_query::plan;
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::IntoParams;

use super::readable;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::stream::{attachment, csv_body};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// `csv` (default) or `parquet`.
    #[param(example = "parquet")]
    pub format: Option<String>,
    /// Download this version instead of the latest. A versioned URL never changes and may be
    /// cached forever.
    pub version: Option<i64>,
    /// CSV only: start with a UTF-8 byte-order mark, which Excel needs to show Vietnamese.
    pub bom: Option<bool>,
}

const FORMATS: [OutputFormat; 2] = [OutputFormat::Csv, OutputFormat::Parquet];

/// Download a dataset
///
/// The whole table of the latest version (or of `version`). Parquet is the stored file itself
/// (typed, compressed; read it with pandas, polars, DuckDB or R), with `ETag`, `Range` and
/// `Content-Length`. CSV is UTF-8, streamed.
#[utoipa::path(get, path = "/api/v1/datasets/{id}/download", tag = "datasets", operation_id = "download_dataset",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi"), DownloadParams),
    responses(
        (status = 200, description = "The whole table", content(
            (Vec<u8> = "application/vnd.apache.parquet"),
            (String = "text/csv"))),
        (status = 206, description = "A byte range of the Parquet file"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
        (status = 400, description = "Unknown format or bad version", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset or version", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody)))]
pub async fn download_dataset(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DownloadParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let format = match params.format.as_deref() {
        None => OutputFormat::Csv,
        Some(f) => OutputFormat::parse("format", f, &FORMATS)?,
    };
    if params.version.is_some_and(|v| v < 1) {
        return Err(ApiError::new("invalid_version", "parameter `version`: versions start at 1"));
    }
    let (_, version) = readable(&app, &id, params.version).await?;
    let path = app.catalog.blob_path(&version);
    let cache = if params.version.is_some() { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    let disposition = |ext: &str| attachment(&format!("{id}-v{}.{ext}", version.number));
    match format {
        OutputFormat::Parquet => {
            let etag = format!("\"{}\"", version.sha256);
            let matches = request
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            let mut response = if matches {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let served = ServeFile::new_with_mime(
                    &path,
                    &"application/vnd.apache.parquet".parse().map_err(ApiError::internal)?,
                )
                .oneshot(request)
                .await
                .map_err(ApiError::internal)?;
                served.map(Body::new)
            };
            let h = response.headers_mut();
            h.insert(header::ETAG, value(&etag));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            h.insert(header::CONTENT_DISPOSITION, value(&disposition("parquet")));
            Ok(response)
        }
        _ => {
            let query = RecordsQuery {
                filters: Vec::new(),
                search: Vec::new(),
                sort: Vec::new(),
                select: Vec::new(),
                limit: None,
                offset: 0,
                format: OutputFormat::Csv,
            };
            let fields = version.schema.clone();
            let names = fields.iter().map(|f| f.name.clone()).collect();
            let batches = tokio::task::spawn_blocking(move || plan::Batches::new(&path, &query, &fields)).await??;
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                    (header::CONTENT_DISPOSITION, value(&disposition("csv"))),
                    (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                ],
                csv_body(batches, names, params.bom.unwrap_or(false), CsvOptions::default()),
            )
                .into_response())
        }
    }
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
