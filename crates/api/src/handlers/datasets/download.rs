//! `GET /api/v1/datasets/{id}/download`: the whole table, as Parquet (the stored file, with
//! `ETag`, `Range` and `Content-Length`), or streamed CSV, NDJSON, JSON or GeoJSON, or XLSX.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_ingest::Field;
use opendata_query::encode::csv::CsvOptions;
use opendata_query::params::{OutputFormat, RecordsQuery};
use opendata_query::plan::Table;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::IntoParams;

use super::readable_version;
use super::records::{if_none_match, take_bom, take_delimiter};
use crate::error::ApiError;
use crate::extract::{ApiQuery, QueryPairs};
use crate::output::{Output, rows_response, write_export};
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
/// The whole table of the latest version (or of `version`). Parquet is the stored file itself
/// (typed, compressed; read it with pandas, polars, DuckDB or R), with `ETag`, `Range` and
/// `Content-Length`. CSV, NDJSON, JSON and GeoJSON are streamed the first time a version is
/// downloaded in that format and kept as a file meanwhile; later downloads are that file, with
/// `Content-Length` and `Range` (resume with `If-Range`). CSV with `delimiter` other than `,`
/// is streamed every time. XLSX is one sheet. Every answer has an `ETag` and a file name
/// `{id}-v{version}.{format}`.
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
    request: Request,
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
    let path = app.catalog.blob_path(&version);
    let cache = if params.version.is_some() { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    let out = Output { dataset: id.clone(), version: version.number, format, bom, csv: CsvOptions { delimiter } };
    let etag = if format == OutputFormat::Parquet {
        format!("\"{}\"", version.sha256)
    } else {
        let tag = Sha256::new()
            .chain_update(version.sha256.as_bytes())
            .chain_update(format!("{}:{bom}:{delimiter}:{ENCODING}", format.name()))
            .finalize();
        format!("\"{}\"", hex::encode(&tag[..16]))
    };
    let mut response = if if_none_match(request.headers(), &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if format == OutputFormat::Parquet {
        serve_file(request, &path, &out, &etag).await?
    } else if let Some(variant) = export_variant(&out) {
        let export = app.catalog.export_path(&version, &variant);
        if export.is_file() {
            serve_file(request, &export, &out, &etag).await?
        } else {
            let table = app.tables.table(&version, path).await?;
            let query = RecordsQuery { format, ..RecordsQuery::default() };
            let streamed = rows_response(&app, table.clone(), query, version.schema.clone(), out.clone()).await?;
            // Only a GET that is being answered keeps a file: not a HEAD, not a refusal.
            if request.method() == axum::http::Method::GET {
                write_export_later(&app, table, version.schema.clone(), out, export);
            }
            streamed
        }
    } else {
        let query = RecordsQuery { format, ..RecordsQuery::default() };
        let table = app.tables.table(&version, path).await?;
        rows_response(&app, table, query, version.schema.clone(), out).await?
    };
    // Caching headers on answers only, never on errors (a 416, a vanished file).
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let h = response.headers_mut();
        h.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\"")));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    Ok(response)
}

/// A file with `Range`, `If-Range`, `Content-Length` and `Last-Modified`. A resumed download of
/// another version's bytes would be a corrupt file: a `Range` with an `If-Range` that is not
/// this version's `ETag` gets the whole file.
async fn serve_file(
    mut request: Request,
    path: &std::path::Path,
    out: &Output,
    etag: &str,
) -> Result<Response, ApiError> {
    let stale = request.headers().get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != etag);
    if stale {
        request.headers_mut().remove(header::RANGE);
    }
    let mime = out.format.content_type().parse().map_err(ApiError::internal)?;
    let served = ServeFile::new_with_mime(path, &mime).oneshot(request).await.map_err(ApiError::internal)?;
    let mut r = served.map(Body::new);
    r.headers_mut().insert(header::CONTENT_DISPOSITION, out.disposition());
    Ok(r)
}

/// The version of the encoders' output, in the names and `ETag`s of kept downloads: a release
/// that writes values differently bumps it, so files kept by an older one are not served
/// again (they stay in `exports/` until removed by hand).
const ENCODING: u32 = 1;

/// The name of a whole-table download kept as a file after it is first asked for: the
/// formats researchers download whole, in their default options and with a BOM for Excel.
/// Other delimiters are encoded on every request (they are rarer, and each kept variant is
/// as large as the table's text).
fn export_variant(out: &Output) -> Option<String> {
    let name = match out.format {
        OutputFormat::Csv if out.csv.delimiter == b',' => "csv",
        OutputFormat::Ndjson => "ndjson",
        OutputFormat::Json => "json",
        OutputFormat::Geojson => "geojson",
        _ => return None,
    };
    let bom = if out.bom && out.format == OutputFormat::Csv { "-bom" } else { "" };
    Some(format!("{name}{bom}-e{ENCODING}"))
}

/// Write a whole-table download to `path` in the background, once, after the answer that
/// streams it now: later downloads of this version are served from the file (a version
/// never changes), at disk speed and without encoding. One export is written at a time, on a
/// blocking thread of its own: it never takes a query slot from readers.
fn write_export_later(app: &AppState, table: Table, fields: Vec<Field>, out: Output, path: std::path::PathBuf) {
    {
        let Ok(mut writing) = app.exports.lock() else { return };
        if !writing.insert(path.clone()) {
            return;
        }
    }
    let app = app.clone();
    tokio::spawn(async move {
        let target = path.clone();
        let written = match app.export_slot.clone().acquire_owned().await {
            Ok(slot) => tokio::task::spawn_blocking(move || {
                let _slot = slot;
                write_export(&table, &fields, &out, &target)
            })
            .await
            .unwrap_or_else(|e| Err(ApiError::internal(e))),
            Err(e) => Err(ApiError::internal(e)),
        };
        match written {
            Ok(()) => tracing::info!(path = %path.display(), "kept a whole-table download"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e.message, "could not keep a whole-table download")
            }
        }
        if let Ok(mut writing) = app.exports.lock() {
            writing.remove(&path);
        }
    });
}
