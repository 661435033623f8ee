//! `GET /api/v1/datasets/{id}/records`: filter, sort, select and page rows, as JSON or CSV.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use opendata_query::encode::csv::CsvOptions;
use opendata_query::params::{self, OutputFormat, RecordsQuery};
use opendata_query::plan;
use serde::Deserialize;
use utoipa::IntoParams;

use super::readable;
use crate::error::ApiError;
use crate::extract::{QueryPairs, encode_pairs};
use crate::state::AppState;
use crate::stream::{attachment, csv_body};

/// The reserved parameters of `/records`. Every other parameter is a field filter:
/// `{field}=value` (repeat the key for any of several values) or `{field}__{op}=value` with `op`
/// one of `eq ne gt gte lt lte contains icontains startswith in notin isnull`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; the handler reads them from the raw pairs
pub struct RecordsParams {
    /// Fields to sort by, comma-separated; a leading `-` sorts descending. Nulls sort last.
    #[param(example = "district_name,-ward_name")]
    sort: Option<String>,
    /// Fields to return, comma-separated, in this order (default: all).
    #[param(example = "ward_code,ward_name")]
    select: Option<String>,
    /// Page size. JSON: default 100, at most 10000. CSV: no default (every matching row) and no cap.
    limit: Option<usize>,
    /// Rows to skip (default 0).
    offset: Option<usize>,
    /// Full-text search: every word must appear in some text field; case and Vietnamese
    /// diacritics are ignored (`cau giay` finds `Cầu Giấy`).
    q: Option<String>,
    /// `json` (default) or `csv`; or send `Accept: text/csv`.
    format: Option<String>,
    /// Read this version instead of the latest.
    version: Option<i64>,
    /// CSV only: start with a UTF-8 byte-order mark, which Excel needs to show Vietnamese.
    bom: Option<bool>,
}

const FORMATS: [OutputFormat; 2] = [OutputFormat::Json, OutputFormat::Csv];

/// Query records
///
/// Rows of a dataset, filtered by any field (`district_name=Quận Cầu Giấy`,
/// `population__gte=10000`, `ward_name__icontains=phuc xa`, `ward_code__in=["00001","00004"]`),
/// searched with `q`, sorted, projected with `select`, and paged with `limit`/`offset`.
/// JSON answers in an envelope with the total and a `next` link pinned to the version read;
/// CSV streams every matching row.
#[utoipa::path(get, path = "/api/v1/datasets/{id}/records", tag = "datasets", operation_id = "list_records",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi"), RecordsParams),
    responses(
        (status = 200, description = "A page of records (JSON) or every matching record (CSV)",
            content(
                (crate::views::RecordsPage = "application/json", example = json!({
                    "dataset": "don-vi-hanh-chinh-ha-noi", "version": 1, "total": 8, "limit": 1, "offset": 0,
                    "fields": [{"name": "ward_code", "type": "string"}, {"name": "ward_name", "type": "string"}],
                    "items": [{"ward_code": "00166", "ward_name": "Phường Dịch Vọng"}],
                    "links": {"self": "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?district_name=Qu%E1%BA%ADn+C%E1%BA%A7u+Gi%E1%BA%A5y&limit=1",
                              "next": "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?district_name=Qu%E1%BA%ADn+C%E1%BA%A7u+Gi%E1%BA%A5y&limit=1&offset=1&version=1"}})),
                (String = "text/csv"))),
        (status = 400, description = "Unknown field, bad operator, a value that is not of the field's type, or a limit above the maximum", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset or version", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody)))]
pub async fn list_records(
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryPairs(pairs): QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let bom = take_bom(&pairs)?;
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "bom").collect();
    let pre = params::preamble(&pairs, accept, &FORMATS)?;
    let (_, version) = readable(&app, &id, pre.version).await?;
    let query = params::parse_records(&pairs, &version.schema, pre.format)?;
    let path = app.catalog.blob_path(&version);
    let fields = version.schema.clone();
    match pre.format {
        OutputFormat::Csv => {
            let names: Vec<String> = query.output_fields(&fields).iter().map(|f| f.name.clone()).collect();
            let batches = tokio::task::spawn_blocking(move || plan::Batches::new(&path, &query, &fields)).await??;
            let file = format!("{id}-v{}.csv", version.number);
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                    (header::CONTENT_DISPOSITION, header_value(&attachment(&file))),
                ],
                csv_body(batches, names, bom, CsvOptions::default()),
            )
                .into_response())
        }
        _ => {
            let q = query.clone();
            let page = tokio::task::spawn_blocking(move || plan::page(&path, &q, &fields)).await??;
            let body = envelope(&id, version.number, &version.schema, &query, &pairs, page)?;
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], Body::from(body))
                .into_response())
        }
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn take_bom(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == "bom").map(|(_, v)| v.as_str()) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => {
            Err(ApiError::new("invalid_parameter", format!("parameter `bom`: `{other}` is not true or false"))
                .with_details(serde_json::json!({ "parameter": "bom" })))
        }
    }
}

/// The JSON envelope, written straight into bytes: the rows are never `serde_json::Value`s.
fn envelope(
    id: &str,
    version: i64,
    schema: &[opendata_ingest::Field],
    query: &RecordsQuery,
    pairs: &[(String, String)],
    page: plan::Page,
) -> Result<Vec<u8>, ApiError> {
    let limit = query.limit.unwrap_or(params::DEFAULT_LIMIT);
    let base = format!("/api/v1/datasets/{id}/records");
    let link = |offset: Option<usize>, pin: bool| {
        let offset = offset.map(|o| o.to_string());
        let version = version.to_string();
        let mut kept: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(k, _)| !((offset.is_some() && k == "offset") || (pin && k == "version")))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(o) = &offset {
            kept.push(("offset", o));
        }
        if pin {
            kept.push(("version", &version));
        }
        if kept.is_empty() { base.clone() } else { format!("{base}?{}", encode_pairs(kept)) }
    };
    let next =
        (query.offset + page.frame.height() < page.total && limit > 0).then(|| link(Some(query.offset + limit), true));
    let fields: Vec<serde_json::Value> = query
        .output_fields(schema)
        .iter()
        .map(|f| serde_json::json!({ "name": f.name, "type": f.field_type }))
        .collect();
    let mut out = Vec::with_capacity(256 + page.frame.height() * 128);
    let head = serde_json::json!({
        "dataset": id, "version": version, "total": page.total, "limit": limit, "offset": query.offset, "fields": fields,
    });
    let mut head = serde_json::to_vec(&head).map_err(ApiError::internal)?;
    head.pop(); // the closing brace: the items and links follow
    out.extend_from_slice(&head);
    out.extend_from_slice(b",\"items\":[");
    opendata_query::encode::json::write_objects(&page.frame, &mut out, false)?;
    out.extend_from_slice(b"],\"links\":");
    let links = serde_json::json!({ "self": link(None, false), "next": next });
    serde_json::to_writer(&mut out, &links).map_err(ApiError::internal)?;
    out.push(b'}');
    Ok(out)
}
