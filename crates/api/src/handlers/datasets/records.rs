//! `GET /api/v1/datasets/{id}/records`: filter, search, aggregate, facet, sort, select and
//! page rows, in any output format.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opendata_query::cursor::{self, Cursor};
use opendata_query::encode::csv::CsvOptions;
use opendata_query::memory::Effort;
use opendata_query::params::{self, OutputFormat, RecordsQuery};
use opendata_query::plan;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::readable_version;
use std::sync::Arc;

use crate::answers::Build;
use crate::error::ApiError;
use crate::extract::{QueryPairs, encode_pairs};
use crate::output::{Output, check_xlsx_rows, rows_response, write_answer};
use crate::state::AppState;

/// The reserved parameters of `/records`. Every other parameter is a field filter:
/// `{field}=value` (repeat the key for any of several values) or `{field}__{op}=value` with `op`
/// one of `eq ne gt gte lt lte contains icontains startswith in notin isnull`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; the handler reads them from the raw pairs
pub struct RecordsParams {
    /// An expression over the fields: comparisons (`= != <> < <= > >=`), `and`, `or`, `not`,
    /// parentheses, `in (…)`, `between … and …`, `like`/`ilike` (`%` any run, `_` one
    /// character), `contains`/`icontains`, `is [not] null`; literals `'text'`, numbers,
    /// `true`, `false`, `null`, dates as `'2024-03-01'`. `ilike` and `icontains` ignore case and
    /// Vietnamese diacritics. Errors give the position.
    #[param(
        example = "le_phi_vnd >= 500000 and (quan_huyen = 'Quận Ba Đình' or quan_huyen in ('Quận Tây Hồ', 'Quận Hoàn Kiếm')) and ngay_tra_ket_qua is null"
    )]
    r#where: Option<String>,
    /// Full-text search: every word must start a word of some text field; case and Vietnamese
    /// diacritics are ignored (`cau giay` finds `Cầu Giấy`, `duong` finds `Đường`).
    q: Option<String>,
    /// Fields to return, comma-separated, in this order (default: all); or aggregates:
    /// `count(*)`, `count(f)`, `sum(f)`, `avg(f)`, `min(f)`, `max(f)`, `count_distinct(f)`, each
    /// optionally `as name`.
    #[param(example = "quan_huyen,count(*),sum(le_phi_vnd) as tong_phi")]
    select: Option<String>,
    /// Fields to group the aggregates by, comma-separated. Alone, it means
    /// `select=<the fields>,count(*)`.
    #[param(example = "quan_huyen")]
    group_by: Option<String>,
    /// Fields (or aggregate names) to sort by, comma-separated; a leading `-` sorts descending.
    /// Nulls sort last. Groups sort by the group fields by default.
    #[param(example = "-ngay_tiep_nhan,ma_ho_so")]
    sort: Option<String>,
    /// Top values of a field with their counts over the matching rows (repeatable or
    /// comma-separated; JSON only). Nulls count as a value.
    #[param(example = "quan_huyen")]
    facet: Option<String>,
    /// Values per facet, 1 to 1000 (default 10).
    facet_size: Option<usize>,
    /// Page size. `json`: default 100, at most 10000. `xlsx`: at most 1048575. `csv`,
    /// `ndjson`, `geojson`, `parquet`: no default (every matching row) and no cap.
    limit: Option<usize>,
    /// Rows to skip (default 0).
    offset: Option<usize>,
    /// The opaque token of `links.next`: the next page of the same query on the same version,
    /// even while new versions are published. Keep the other parameters as they were.
    cursor: Option<String>,
    /// `json` (default), `ndjson`, `csv`, `parquet`, `xlsx` or `geojson` (for tables with
    /// longitude/latitude or a geometry); or the `Accept` header.
    format: Option<String>,
    /// Read this version instead of the latest; its answers never change and may be cached.
    version: Option<i64>,
    /// CSV: start with a UTF-8 byte-order mark, which Excel needs to show Vietnamese.
    bom: Option<bool>,
    /// CSV: the delimiter, `,` (default), `;` (Excel in locales with decimal commas), `tab` or `|`.
    /// The plain CSV (`,`, tab, `|`) is the data byte for byte; the variants made for Excel
    /// (`bom=true`, `;`) neutralise text cells that start with `= + - @` with a leading `'`.
    delimiter: Option<String>,
    /// How text is ordered in `sort`, group order, facet ties, text `min`/`max` and text ranges
    /// (`__gt`, `between`, `where=ten >= 'H'`): `vi` (default), Vietnamese dictionary order
    /// (a ă â b c d đ e ê…, tones in their order); `codepoint`, the bytes of UTF-8.
    #[param(example = "vi")]
    collation: Option<String>,
}

/// Query records
///
/// Rows of a dataset, filtered by any field (`district_name=Quận Cầu Giấy`,
/// `population__gte=10000`, `ward_name__icontains=phuc xa`, `ward_code__in=["00001","00004"]`)
/// or by a `where` expression, searched with `q`, aggregated with `select` and `group_by`,
/// faceted, sorted (text in Vietnamese dictionary order), projected, and paged with `limit` and
/// `offset` or `cursor`. JSON answers in an envelope with the total and a `next` link whose
/// cursor pins the version read; NDJSON and GeoJSON stream every matching row; CSV, Parquet and
/// XLSX come as files with `Content-Length` and `Range` (kept a while, so a `HEAD` and the
/// ranged reads after it see the same bytes). Answers carry an `ETag` (304 on
/// `If-None-Match`).
#[utoipa::path(get, path = "/api/v1/datasets/{id}/records", tag = "datasets", operation_id = "list_records",
    params(("id" = String, Path, description = "Dataset id", example = "don-vi-hanh-chinh-ha-noi"), RecordsParams),
    responses(
        (status = 200, description = "A page of records (JSON) or every matching record (other formats)",
            headers(("ETag" = String, description = "Of this version and query"),
                    ("Cache-Control" = String, description = "Immutable for a pinned version; a minute otherwise")),
            content(
                (crate::views::RecordsPage = "application/json", example = json!({
                    "dataset": "don-vi-hanh-chinh-ha-noi", "version": 1, "total": 8, "limit": 1, "offset": 0,
                    "fields": [{"name": "ward_code", "type": "string"}, {"name": "ward_name", "type": "string"}],
                    "items": [{"ward_code": "00166", "ward_name": "Phường Dịch Vọng"}],
                    "links": {"self": "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?district_name=Qu%E1%BA%ADn+C%E1%BA%A7u+Gi%E1%BA%A5y&limit=1",
                              "next": "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?district_name=Qu%E1%BA%ADn+C%E1%BA%A7u+Gi%E1%BA%A5y&limit=1&cursor=MS4xLjQ0MmQ5ZjM4MjE0YzE2NGQ.Xv1n5uF1kGkqK0pW2f0cYw"}})),
                (String = "application/x-ndjson"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.apache.parquet"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "application/geo+json"))),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
        (status = 400, description = "Unknown field, bad operator or expression (with its position), a value that is not of the field's type, a bad cursor, or a limit above the maximum", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset or version", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody)))]
pub async fn list_records(
    State(app): State<AppState>,
    Path(id): Path<String>,
    QueryPairs(pairs): QueryPairs,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let bom = take_bom(&pairs)?;
    let delimiter = take_delimiter(&pairs)?;
    let pre = params::preamble(&pairs, accept, &OutputFormat::ALL)?;
    // A cursor belongs to one dataset and one query.
    let key = format!("{id}\u{1f}{}", cursor::query_key(&pairs));
    let cursor = pre.cursor.as_deref().map(|t| Cursor::decode(t, &key, &app.cursor_secret)).transpose()?;
    let wanted = match (cursor, pre.version) {
        (Some(c), Some(v)) if c.version != v => {
            return Err(ApiError::new(
                "invalid_cursor",
                format!("parameter `cursor`: it pages through version {}, not the `version={v}` given", c.version),
            ));
        }
        (Some(c), _) => Some(c.version),
        (None, v) => v,
    };
    let version = readable_version(&app, &id, wanted).await?;
    let etag = etag(&version.sha256, pre.format, &pairs);
    let cache = if wanted.is_some() { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    let caching = |mut response: Response| {
        let h = response.headers_mut();
        h.insert(header::ETAG, value(&etag));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
        response
    };
    if if_none_match(&headers, &etag) {
        return Ok(caching(StatusCode::NOT_MODIFIED.into_response()));
    }
    let query = params::parse_records(&pairs, &version.schema, pre.format, cursor.map(|c| c.offset))?;
    let table = app.tables.table(&version, app.catalog.blob_path(&version)).await?;
    let out = Output {
        dataset: id.clone(),
        version: version.number,
        format: pre.format,
        bom,
        csv: CsvOptions::for_request(delimiter, bom),
    };
    match pre.format {
        OutputFormat::Json => {}
        // What researchers' tools read over HTTP (polars, pandas, DuckDB, `curl -C -`): a file
        // with a length and ranges, kept a while under this `ETag` so that the ranged reads
        // after a `HEAD` get the same bytes.
        OutputFormat::Csv | OutputFormat::Parquet | OutputFormat::Xlsx => {
            check_xlsx_rows(&app, &table, &query, &version.schema).await?;
            let (fields, answer) = (version.schema.clone(), out.clone());
            let build: Build =
                Arc::new(move |path: &std::path::Path| write_answer(&table, &query, &fields, &answer, path));
            let response = app.answers.serve(&etag, pre.format.name(), build, &method, &headers, &out).await?;
            // Caching headers on answers only, never on a refusal (a 416).
            return Ok(if response.status().is_success() { caching(response) } else { response });
        }
        OutputFormat::Ndjson | OutputFormat::Geojson => {
            return Ok(caching(rows_response(&app, table, query, version.schema.clone(), out).await?));
        }
    }
    // A page the kept indexes answer in bounded work is made here; any other on a blocking
    // thread.
    let quick = match &table {
        plan::Table::Memory(t) => plan::indexed_json_page(t, &query, &version.schema, Effort::Quick)?,
        plan::Table::File(_) => None,
    };
    let page = match quick {
        Some(page) => page,
        None => {
            let (q, fields) = (query.clone(), version.schema.clone());
            app.query(move || plan::json_page(table.source(), &q, &fields)).await?
        }
    };
    let body = envelope(&id, version.number, &version.schema, &query, &pairs, page, &key, &app.cursor_secret)?;
    let response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CONTENT_DISPOSITION, out.disposition()),
        ],
        body,
    )
        .into_response();
    Ok(caching(response))
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The ETag of an answer: the version's file, the format, the encoders' version, and the
/// query as sent.
fn etag(version_sha: &str, format: OutputFormat, pairs: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    h.update(version_sha.as_bytes());
    h.update(format.name().as_bytes());
    h.update(crate::output::ENCODING.to_le_bytes());
    for (k, v) in pairs {
        h.update([0x1f]);
        h.update(k.as_bytes());
        h.update([0x1e]);
        h.update(v.as_bytes());
    }
    format!("\"{}\"", hex::encode(&h.finalize()[..16]))
}

pub(crate) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim().strip_prefix("W/") == Some(etag)))
}

pub(crate) fn take_bom(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == "bom").map(|(_, v)| v.as_str()) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => {
            Err(ApiError::new("invalid_parameter", format!("parameter `bom`: `{other}` is not true or false"))
                .with_details(serde_json::json!({ "parameter": "bom" })))
        }
    }
}

pub(crate) fn take_delimiter(pairs: &[(String, String)]) -> Result<u8, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == "delimiter").map(|(_, v)| v.as_str()) {
        None | Some(",") => Ok(b','),
        Some(";") => Ok(b';'),
        Some("|") => Ok(b'|'),
        Some("tab") | Some("\t") => Ok(b'\t'),
        Some(other) => Err(ApiError::new(
            "invalid_parameter",
            format!("parameter `delimiter`: `{other}` is not one of `,` `;` `|` `tab`"),
        )
        .with_details(serde_json::json!({ "parameter": "delimiter" }))),
    }
}

/// The JSON envelope, written straight into bytes: the rows are never `serde_json::Value`s.
/// The page's rows are sent as they came from the query, between the head and the tail (one
/// `writev`), not copied into one buffer.
#[allow(clippy::too_many_arguments)]
fn envelope(
    id: &str,
    version: i64,
    schema: &[opendata_ingest::Field],
    query: &RecordsQuery,
    pairs: &[(String, String)],
    page: plan::JsonPage,
    query_key: &str,
    secret: &[u8],
) -> Result<Body, ApiError> {
    let limit = query.limit.unwrap_or(params::DEFAULT_LIMIT);
    let base = format!("/api/v1/datasets/{id}/records");
    let with = |extra: Option<(&str, String)>| {
        let mut kept: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(k, _)| extra.is_none() || !matches!(k.as_str(), "offset" | "version" | "cursor"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some((k, v)) = &extra {
            kept.push((k, v.as_str()));
        }
        if kept.is_empty() { base.clone() } else { format!("{base}?{}", encode_pairs(kept)) }
    };
    let next = (query.offset.saturating_add(page.rows) < page.total && limit > 0).then(|| {
        let token = cursor::Cursor { version, offset: query.offset.saturating_add(limit) }.encode(query_key, secret);
        with(Some(("cursor", token)))
    });
    // Written by hand rather than built as `serde_json::Value`s: their map inserts and
    // serialising showed as about 1.5% of the server's time on a 100-row page (Q1).
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"{\"dataset\":");
    json(&mut head, id)?;
    head.extend_from_slice(
        format!(
            ",\"version\":{version},\"total\":{},\"limit\":{limit},\"offset\":{},\"fields\":[",
            page.total, query.offset
        )
        .as_bytes(),
    );
    for (i, c) in query.output_columns(schema).iter().enumerate() {
        head.extend_from_slice(if i == 0 { b"{\"name\":" } else { b",{\"name\":" });
        json(&mut head, &c.name)?;
        head.extend_from_slice(b",\"type\":");
        json(&mut head, &c.field_type)?;
        head.push(b'}');
    }
    head.extend_from_slice(b"],\"items\":[");
    let mut out = Vec::with_capacity(1024 + page.facets.iter().map(|(_, f)| f.len() + 64).sum::<usize>());
    out.push(b']');
    if !page.facets.is_empty() {
        out.extend_from_slice(b",\"facets\":{");
        for (i, (name, frame)) in page.facets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, name).map_err(ApiError::internal)?;
            out.extend_from_slice(b":[");
            out.extend_from_slice(frame);
            out.push(b']');
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"links\":{\"self\":");
    json(&mut out, &with(None))?;
    out.extend_from_slice(b",\"next\":");
    json(&mut out, &next)?;
    out.extend_from_slice(b"}}");
    Ok(Body::new(Parts::new(vec![head, page.items, out])))
}

/// `value` as JSON at the end of `out`.
fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), ApiError> {
    serde_json::to_writer(out, value).map_err(ApiError::internal)
}

/// A body of a few buffers sent one after the other, with its length known (so the answer has
/// a `Content-Length`, as a single buffer would).
struct Parts {
    parts: std::collections::VecDeque<bytes::Bytes>,
    len: u64,
}

impl Parts {
    fn new(parts: Vec<Vec<u8>>) -> Self {
        let parts: std::collections::VecDeque<bytes::Bytes> =
            parts.into_iter().filter(|p| !p.is_empty()).map(bytes::Bytes::from).collect();
        let len = parts.iter().map(|p| p.len() as u64).sum();
        Self { parts, len }
    }
}

impl http_body::Body for Parts {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let next = self.parts.pop_front();
        if let Some(part) = &next {
            self.len -= part.len() as u64;
        }
        std::task::Poll::Ready(next.map(|p| Ok(http_body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}
