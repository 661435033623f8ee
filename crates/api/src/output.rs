//! Rows out in every format but the JSON envelope: streamed in bounded batches (a blocking
//! task encodes, a small channel hands chunks to the socket, so a slow client slows the reader
//! and memory stays bounded), or written whole to a file ([`write_answer`]) that is then
//! served with `Content-Length` and `Range`: a version's downloads, and the `/records` answers
//! in the formats researchers' tools read over HTTP (see `answers.rs`).

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use opendata_ingest::Field;
use opendata_query::Result as QueryResult;
use opendata_query::encode::csv::{self, CsvOptions};
use opendata_query::encode::geojson::{self, GeoSource};
use opendata_query::encode::{json, xlsx};
use opendata_query::params::{MAX_XLSX_ROWS, OutputFormat, RecordsQuery};
use opendata_query::plan::{self, Batches, Table};
use polars::prelude::*;

use crate::error::ApiError;

/// Batches in flight between the encoder and the socket.
const CHANNEL_DEPTH: usize = 4;

/// How to write the rows.
#[derive(Debug, Clone)]
pub struct Output {
    pub dataset: String,
    pub version: i64,
    pub format: OutputFormat,
    /// CSV: start with a UTF-8 byte-order mark (what Excel needs to show Vietnamese).
    pub bom: bool,
    pub csv: CsvOptions,
}

impl Output {
    /// `{dataset}-v{version}.{ext}`.
    pub fn file_name(&self) -> String {
        format!("{}-v{}.{}", self.dataset, self.version, self.format.name())
    }

    /// `Content-Disposition`: inline for JSON, an attachment otherwise, with the file name.
    pub fn disposition(&self) -> HeaderValue {
        let kind = if self.format == OutputFormat::Json { "inline" } else { "attachment" };
        HeaderValue::from_str(&format!("{kind}; filename=\"{}\"", self.file_name()))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    }
}

/// A streamed encoder's state.
enum Encoder {
    Csv {
        names: Vec<String>,
        bom: bool,
        opts: CsvOptions,
    },
    /// A JSON array of row objects (a whole-table download; `/records` answers an envelope).
    JsonArray {
        first: bool,
    },
    Ndjson,
    Geojson {
        source: GeoSource,
        first: bool,
    },
}

impl Encoder {
    fn head(&self) -> Vec<u8> {
        match self {
            Encoder::Csv { names, bom, opts } => {
                let mut out = Vec::new();
                if *bom {
                    out.extend_from_slice(csv::BOM);
                }
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                csv::write_header(&refs, &mut out, *opts);
                out
            }
            Encoder::JsonArray { .. } => b"[".to_vec(),
            Encoder::Ndjson => Vec::new(),
            Encoder::Geojson { .. } => geojson::HEAD.to_vec(),
        }
    }

    fn batch(&mut self, frame: &DataFrame) -> QueryResult<Vec<u8>> {
        let mut out = Vec::with_capacity(frame.height() * 96);
        match self {
            Encoder::Csv { opts, .. } => csv::write_rows(frame, &mut out, *opts)?,
            Encoder::JsonArray { first } => {
                json::write_objects(frame, &mut out, !*first)?;
                *first &= frame.height() == 0;
            }
            Encoder::Ndjson => json::write_ndjson(frame, &mut out)?,
            Encoder::Geojson { source, first } => geojson::write_features(frame, source, &mut out, first)?,
        }
        Ok(out)
    }

    fn tail(&self) -> Vec<u8> {
        match self {
            Encoder::Geojson { .. } => geojson::TAIL.to_vec(),
            Encoder::JsonArray { .. } => b"]\n".to_vec(),
            _ => Vec::new(),
        }
    }
}

/// The encoder of a streamed format (CSV, NDJSON, GeoJSON, a JSON array).
fn encoder(query: &RecordsQuery, fields: &[Field], out: &Output) -> Result<Encoder, ApiError> {
    let columns = query.output_columns(fields);
    Ok(match out.format {
        OutputFormat::Csv => {
            Encoder::Csv { names: columns.iter().map(|c| c.name.clone()).collect(), bom: out.bom, opts: out.csv }
        }
        OutputFormat::Ndjson => Encoder::Ndjson,
        OutputFormat::Geojson => {
            let typed: Vec<(String, opendata_ingest::FieldType)> =
                columns.iter().map(|c| (c.name.clone(), c.field_type)).collect();
            let source =
                GeoSource::find(&typed).ok_or_else(|| ApiError::new("invalid_format", GeoSource::missing_message()))?;
            Encoder::Geojson { source, first: true }
        }
        OutputFormat::Json => Encoder::JsonArray { first: true },
        OutputFormat::Parquet | OutputFormat::Xlsx => {
            return Err(ApiError::internal(format!("{} is not a streamed format", out.format.name())));
        }
    })
}

/// The version of the encoders' output, in the names and `ETag`s of kept files: a release that
/// writes values differently bumps it, so files and answers made by an older one are not
/// served again.
pub const ENCODING: u32 = 2;

/// Write the answer to `query` in `out.format` (any format; JSON as a plain array of rows) to
/// `path`, through `path.tmp` renamed when complete, so a reader never sees half a file.
/// Returns its size. Blocking.
pub fn write_answer(
    table: &Table,
    query: &RecordsQuery,
    fields: &[Field],
    out: &Output,
    path: &std::path::Path,
) -> Result<u64, ApiError> {
    use std::io::Write;
    // A name of its own for each write: two writers of one path never share a file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("answer");
    let tmp = path.with_extension(format!("{extension}.{}-{n}.tmp", std::process::id()));
    let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", tmp.display()));
    let write = || -> Result<u64, ApiError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).map_err(io)?);
        match out.format {
            OutputFormat::Parquet | OutputFormat::Xlsx => {
                let names: Vec<String> = query.output_columns(fields).iter().map(|c| c.name.clone()).collect();
                write_file_format(table, query, fields, &names, out, &mut file)?;
            }
            _ => {
                let mut encoder = encoder(query, fields, out)?;
                file.write_all(&encoder.head()).map_err(io)?;
                for batch in Batches::new(table.source(), query, fields)? {
                    file.write_all(&encoder.batch(&batch?)?).map_err(io)?;
                }
                file.write_all(&encoder.tail()).map_err(io)?;
            }
        }
        let file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(bytes)
    };
    let written = write();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Parquet or XLSX of every matching row, written to `file`.
fn write_file_format<W: std::io::Write + std::io::Seek + Send>(
    table: &Table,
    query: &RecordsQuery,
    fields: &[Field],
    names: &[String],
    out: &Output,
    file: W,
) -> QueryResult<()> {
    let batches = Batches::new(table.source(), query, fields)?;
    match out.format {
        OutputFormat::Xlsx => {
            let mut writer = xlsx::XlsxWriter::new(file, &out.dataset, names)?;
            for batch in batches {
                writer.write(&batch?)?;
            }
            writer.finish()?;
        }
        _ => {
            let empty = plan::empty_answer(table.source(), query, fields)?;
            let mut writer =
                ParquetWriter::new(file).with_compression(ParquetCompression::Zstd(None)).batched(empty.schema())?;
            for batch in batches {
                writer.write_batch(&batch?)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}

/// A body streamed from a blocking encoder through a bounded channel.
fn streamed(batches: Batches, mut encoder: Encoder) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        if tx.blocking_send(Ok(Bytes::from(encoder.head()))).is_err() {
            return;
        }
        for batch in batches {
            let item = batch.and_then(|frame| encoder.batch(&frame)).map(Bytes::from).map_err(|e| {
                tracing::error!(error = %e, "a streamed answer failed mid-way");
                std::io::Error::other(e.to_string())
            });
            let failed = item.is_err();
            // The client hung up: stop reading.
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
        let _ = tx.blocking_send(Ok(Bytes::from(encoder.tail())));
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Body::from_stream(stream)
}

/// 400 when an XLSX answer without `limit` has more rows than a sheet holds.
pub async fn check_xlsx_rows(
    app: &crate::state::App,
    table: &Table,
    query: &RecordsQuery,
    fields: &[Field],
) -> Result<(), ApiError> {
    if query.format != OutputFormat::Xlsx || query.limit.is_some_and(|l| l <= MAX_XLSX_ROWS) {
        return Ok(());
    }
    let (t, q, f) = (table.clone(), query.clone(), fields.to_vec());
    let rows = app.query(move || plan::total(t.source(), &q, &f)).await?;
    if rows.saturating_sub(query.offset) > MAX_XLSX_ROWS && query.limit.is_none() {
        return Err(ApiError::new(
            "invalid_limit",
            format!(
                "{rows} rows are more than an Excel sheet holds ({MAX_XLSX_ROWS}); give `limit`, filter, or use format=csv"
            ),
        ));
    }
    Ok(())
}

/// A streamed answer to `query` in `out.format` (CSV, NDJSON, GeoJSON, or JSON as a plain
/// array of rows; the `/records` envelope is built elsewhere).
pub async fn rows_response(
    app: &crate::state::App,
    table: Table,
    query: RecordsQuery,
    fields: Vec<Field>,
    out: Output,
) -> Result<Response, ApiError> {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(out.format.content_type())),
        (header::CONTENT_DISPOSITION, out.disposition()),
    ];
    let encoder = match out.format {
        OutputFormat::Csv | OutputFormat::Ndjson | OutputFormat::Geojson | OutputFormat::Json => {
            encoder(&query, &fields, &out)?
        }
        OutputFormat::Parquet | OutputFormat::Xlsx => {
            return Err(ApiError::internal(format!("{} answers are files (see `answers`)", out.format.name())));
        }
    };
    let batches = app.query(move || Batches::new(table.source(), &query, &fields)).await?;
    Ok((headers, streamed(batches, encoder)).into_response())
}
