//! `GET /api/v1/datasets/{id}/download`: the whole table as a file, with `ETag`, `Range` and
//! `Content-Length`: Parquet (the stored file), or CSV, NDJSON, JSON, GeoJSON and XLSX
//! (written when the version was published; other CSV delimiters built on request and kept a
//! while, see `answers.rs`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_query::encode::csv::CsvOptions;
use opendata_query::params::{MAX_XLSX_ROWS, OutputFormat, RecordsQuery};
use opendata_query::plan::Table;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::readable_version;
use super::records::{if_none_match, take_bom, take_delimiter};
use crate::answers::{Build, export_variant, serve_file};
use crate::error::ApiError;
use crate::extract::{ApiQuery, QueryPairs};
use crate::output::{ENCODING, Output, write_answer};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `bom` and `delimiter` are read from the raw pairs
pub struct DownloadParams {
    /// `csv` (default), `parquet`, `ndjson`, `json` (an array of rows), `xlsx`, or `geojson`
    /// (for tables with longitude/latitude or a geometry).
    #[param(example = "parquet")]
    pub format: Option<String>,
    /// Download this version instead of the latest. A versioned URL never changes and may be
    /// cached forever.
    pub version: Option<i64>,
    /// CSV only: start with a UTF-8 byte-order mark, which Excel needs to show Vietnamese.
    pub bom: Option<String>,
    /// CSV only: `,` (default), `;`, `tab` or `|`.
    pub delimiter: Option<String>,
}

const FORMATS: [OutputFormat; 6] = [
    OutputFormat::Csv,
    OutputFormat::Parquet,
    OutputFormat::Ndjson,
    OutputFormat::Json,
    OutputFormat::Xlsx,
    OutputFormat::Geojson,
];

/// Download a dataset
///
/// The whole table of the latest version (or of `version`), as a file: `Content-Length`,
/// `ETag`, `Accept-Ranges` and `Range` (resume with `If-Range`) in every format, from the
/// first request, so polars, pandas, DuckDB, R and `curl -C -` read it directly. Parquet is
/// the stored file itself (typed, compressed). CSV (plain, and with `bom=true` for Excel),
/// NDJSON, JSON, GeoJSON and XLSX (one sheet) are written when the version is published. The
/// plain CSV is the data byte for byte; `bom=true` and `delimiter=;` (made for Excel)
/// neutralise cells that start with `= + - @`. File name `{id}-v{version}.{format}`.
#[utoipa::path(get, path = "/api/v1/datasets/{id}/download", tag = "datasets", operation_id = "download_dataset",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi"), DownloadParams),
    responses(
        (status = 200, description = "The whole table", content(
            (Vec<u8> = "application/vnd.apache.parquet"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
            (String = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "application/geo+json"))),
        (status = 206, description = "A byte range of the Parquet file or of a kept download"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
        (status = 400, description = "Unknown format or bad version", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset or version", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody)))]
pub async fn download_dataset(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DownloadParams>,
    QueryPairs(pairs): QueryPairs,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = match params.format.as_deref() {
        None => OutputFormat::Csv,
        Some(f) => OutputFormat::parse("format", f, &FORMATS)?,
    };
    if params.version.is_some_and(|v| v < 1) {
        return Err(ApiError::new("invalid_version", "parameter `version`: versions start at 1"));
    }
    let (bom, delimiter) = (take_bom(&pairs)?, take_delimiter(&pairs)?);
    let version = readable_version(&app, &id, params.version).await?;
    let cache = if params.version.is_some() { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    let out = Output {
        dataset: id.clone(),
        version: version.number,
        format,
        bom,
        csv: CsvOptions::for_request(delimiter, bom),
    };
    let etag = if format == OutputFormat::Parquet {
        format!("\"{}\"", version.sha256)
    } else {
        let tag = Sha256::new()
            .chain_update(version.sha256.as_bytes())
            .chain_update(format!("{}:{bom}:{delimiter}:{ENCODING}", format.name()))
            .finalize();
        format!("\"{}\"", hex::encode(&tag[..16]))
    };
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match (format, export_variant(&out)) {
            (OutputFormat::Parquet, _) => {
                let path = app.catalog.blob_path(&version);
                serve_file(&method, &headers, &path, &out, &etag)
                    .await?
                    .ok_or_else(|| ApiError::internal(format!("{} is missing", path.display())))?
            }
            // Written when the version was published; a version published before that gets
            // it now, once.
            (_, Some(variant)) => {
                let path = app.catalog.export_path(&version, &variant);
                app.answers
                    .serve_download(&path, builder(&app, &version, &out)?, &etag, &method, &headers, &out)
                    .await?
            }
            (_, None) => {
                app.answers.serve(&etag, format.name(), builder(&app, &version, &out)?, &method, &headers, &out).await?
            }
        }
    };
    // Caching headers on answers only, never on errors (a 416).
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let h = response.headers_mut();
        h.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\"")));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    Ok(response)
}

/// What writes the whole table of `version` in `out`'s format to a path: read from its
/// Parquet file in batches (a whole-table write gains nothing from the table in memory).
fn builder(app: &AppState, version: &opendata_catalog::Version, out: &Output) -> Result<Build, ApiError> {
    if out.format == OutputFormat::Xlsx && version.rows as usize > MAX_XLSX_ROWS {
        return Err(ApiError::new(
            "invalid_format",
            format!(
                "{} rows are more than an Excel sheet holds ({MAX_XLSX_ROWS}); download format=csv, or query /records with a filter and format=xlsx",
                version.rows
            ),
        ));
    }
    let table = Table::File(app.catalog.blob_path(version));
    let query = RecordsQuery { format: out.format, ..RecordsQuery::default() };
    let (fields, out) = (version.schema.clone(), out.clone());
    Ok(std::sync::Arc::new(move |path: &std::path::Path| write_answer(&table, &query, &fields, &out, path)))
}
