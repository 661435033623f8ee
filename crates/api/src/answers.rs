//! Answers served as files, so that every client reads them the way it reads a file on a web
//! server: with `Content-Length`, `ETag`, `Accept-Ranges` and `Range` from the first request.
//! polars' and fsspec's HTTP readers ask for the length (often with a `HEAD`) and then read
//! ranges; `curl -C -` resumes at a byte offset. A streamed answer has no length and cannot be
//! read by range, so these answers are built into a file first:
//!
//! - a version's downloads ([`VersionExports`], written by the publish job, before the
//!   version is visible, as files beside its Parquet file; a version published before that
//!   gets them at its first download);
//! - `/records` answers in CSV, Parquet and XLSX, and downloads in other CSV variants, kept in
//!   [`AnswerFiles`] under their `ETag` for a short while within a disk budget, so the ranged
//!   requests that follow a `HEAD` or a first `GET` read the same bytes.
//!
//! Each file is built once however many ask for it at the same time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use opendata_catalog::{Exporter, Version};
use opendata_query::encode::csv::CsvOptions;
use opendata_query::encode::geojson::GeoSource;
use opendata_query::params::{MAX_XLSX_ROWS, OutputFormat, RecordsQuery};
use opendata_query::plan::Table;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::ApiError;
use crate::output::{ENCODING, Output, write_answer};

/// Kept answers, unless configured otherwise: 1 GiB of disk.
pub const DEFAULT_ANSWER_BYTES: u64 = 1 << 30;

/// How long a kept answer is served before it is built again: long enough for a client's
/// `HEAD` and ranged reads, or a resumed download, to see the same bytes.
pub const ANSWER_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The name of a version's download kept as a file beside its Parquet file: every format in
/// its default options, and CSV with a BOM for Excel. Other CSV delimiters are answers.
pub fn export_variant(out: &Output) -> Option<String> {
    let name = match out.format {
        OutputFormat::Csv if out.csv.delimiter == b',' => "csv",
        OutputFormat::Csv | OutputFormat::Parquet => return None,
        OutputFormat::Ndjson => "ndjson",
        OutputFormat::Json => "json",
        OutputFormat::Geojson => "geojson",
        OutputFormat::Xlsx => "xlsx",
    };
    let bom = if out.bom && out.format == OutputFormat::Csv { "-bom" } else { "" };
    Some(format!("{name}{bom}-e{ENCODING}"))
}

/// The downloads a version is published with: CSV (plain and with a BOM), NDJSON, JSON,
/// GeoJSON for a table of points or geometries, XLSX when its rows fit in a sheet.
pub fn version_downloads(dataset: &str, version: &Version) -> Vec<Output> {
    let out = |format, bom| Output {
        dataset: dataset.to_string(),
        version: version.number,
        format,
        bom,
        csv: CsvOptions::for_request(b',', bom),
    };
    let mut list = vec![
        out(OutputFormat::Csv, false),
        out(OutputFormat::Csv, true),
        out(OutputFormat::Ndjson, false),
        out(OutputFormat::Json, false),
    ];
    let typed: Vec<(String, opendata_ingest::FieldType)> =
        version.schema.iter().map(|f| (f.name.clone(), f.field_type)).collect();
    if GeoSource::find(&typed).is_some() {
        list.push(out(OutputFormat::Geojson, false));
    }
    if version.rows as usize <= MAX_XLSX_ROWS {
        list.push(out(OutputFormat::Xlsx, false));
    }
    list
}

/// Writes a version's downloads when it is published (see [`Exporter`]).
#[derive(Debug, Default)]
pub struct VersionExports;

impl Exporter for VersionExports {
    fn export(&self, version: &Version, parquet: &Path, path_of: &dyn Fn(&str) -> PathBuf) -> Result<u64, String> {
        let table = Table::File(parquet.to_path_buf());
        let mut total = 0;
        for out in version_downloads(&version.dataset_id, version) {
            let Some(variant) = export_variant(&out) else { continue };
            let query = RecordsQuery { format: out.format, ..RecordsQuery::default() };
            total += write_answer(&table, &query, &version.schema, &out, &path_of(&variant)).map_err(|e| e.message)?;
        }
        Ok(total)
    }
}

/// One kept answer.
#[derive(Debug)]
struct Kept {
    path: PathBuf,
    bytes: u64,
    made: Instant,
}

/// Answers built into files, kept by `ETag` within a disk budget, the oldest removed first.
#[derive(Debug)]
pub struct AnswerFiles {
    dir: PathBuf,
    budget: u64,
    lifetime: Duration,
    kept: Mutex<HashMap<String, Kept>>,
    /// Files being built, so each is built once: a second asker waits for the first.
    building: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl AnswerFiles {
    /// Answers in `dir` (emptied: what an earlier run kept is not tracked), at most `budget`
    /// bytes of them.
    pub fn new(dir: PathBuf, budget: u64) -> Self {
        let _ = std::fs::remove_dir_all(&dir);
        Self { dir, budget, lifetime: ANSWER_LIFETIME, kept: Mutex::default(), building: Mutex::default() }
    }

    /// The file of the answer tagged `etag`, built with `build` (on a blocking thread, given
    /// the path to write) unless kept and still fresh.
    pub async fn answer(
        &self,
        app: &crate::state::App,
        etag: &str,
        extension: &str,
        build: impl FnOnce(&Path) -> Result<u64, ApiError> + Send + 'static,
    ) -> Result<PathBuf, ApiError> {
        let name = format!("{}.{extension}", etag.trim_matches('"'));
        let path = self.dir.join(&name);
        let fresh = |kept: &HashMap<String, Kept>| -> bool {
            kept.get(&name).is_some_and(|k| k.made.elapsed() < self.lifetime && k.path.is_file())
        };
        if fresh(&*self.lock_kept()?) {
            return Ok(path);
        }
        let lock = self.building_lock(&path)?;
        let _guard = lock.lock().await;
        if fresh(&*self.lock_kept()?) {
            return Ok(path);
        }
        let target = path.clone();
        let bytes = app.blocking(move || build(&target)).await?;
        let mut kept = self.lock_kept()?;
        kept.insert(name.clone(), Kept { path: path.clone(), bytes, made: Instant::now() });
        self.evict(&mut kept, &name);
        drop(kept);
        self.building.lock().map_err(ApiError::internal)?.remove(&path);
        Ok(path)
    }

    /// Build the file at `path` (a version's download) unless it exists.
    pub async fn ensure(
        &self,
        app: &crate::state::App,
        path: &Path,
        build: impl FnOnce(&Path) -> Result<u64, ApiError> + Send + 'static,
    ) -> Result<(), ApiError> {
        if path.is_file() {
            return Ok(());
        }
        let lock = self.building_lock(path)?;
        let _guard = lock.lock().await;
        if !path.is_file() {
            let target = path.to_path_buf();
            app.blocking(move || build(&target)).await?;
        }
        self.building.lock().map_err(ApiError::internal)?.remove(path);
        Ok(())
    }

    fn lock_kept(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Kept>>, ApiError> {
        self.kept.lock().map_err(ApiError::internal)
    }

    fn building_lock(&self, path: &Path) -> Result<Arc<tokio::sync::Mutex<()>>, ApiError> {
        Ok(self.building.lock().map_err(ApiError::internal)?.entry(path.to_path_buf()).or_default().clone())
    }

    /// Remove stale answers, then the oldest until the rest fit the budget; never `keep` (the
    /// answer about to be served).
    fn evict(&self, kept: &mut HashMap<String, Kept>, keep: &str) {
        let stale: Vec<String> = kept
            .iter()
            .filter(|(n, k)| *n != keep && k.made.elapsed() >= self.lifetime)
            .map(|(n, _)| n.clone())
            .collect();
        for name in stale {
            if let Some(k) = kept.remove(&name) {
                let _ = std::fs::remove_file(k.path);
            }
        }
        let mut total: u64 = kept.values().map(|k| k.bytes).sum();
        while total > self.budget {
            let Some(oldest) =
                kept.iter().filter(|(n, _)| *n != keep).min_by_key(|(_, k)| k.made).map(|(n, _)| n.clone())
            else {
                break;
            };
            if let Some(k) = kept.remove(&oldest) {
                total -= k.bytes;
                let _ = std::fs::remove_file(k.path);
            }
        }
    }

    /// Bytes of the answers kept now.
    pub fn bytes(&self) -> u64 {
        self.kept.lock().map(|k| k.values().map(|k| k.bytes).sum()).unwrap_or(0)
    }
}

/// Serve the file at `path` for a request with `method` and `headers`: `Range`, `If-Range`,
/// `Content-Length`, `Last-Modified`, `Accept-Ranges`. A resumed download of other bytes would
/// be a corrupt file: a `Range` with an `If-Range` that is not `etag` gets the whole file.
pub async fn serve_file(
    method: &Method,
    headers: &HeaderMap,
    path: &Path,
    out: &Output,
    etag: &str,
) -> Result<Response, ApiError> {
    let mut request = Request::builder().method(method.clone()).body(Body::empty()).map_err(ApiError::internal)?;
    for name in [header::RANGE, header::IF_RANGE, header::IF_MODIFIED_SINCE, header::IF_UNMODIFIED_SINCE] {
        if let Some(v) = headers.get(&name) {
            request.headers_mut().insert(name, v.clone());
        }
    }
    let stale = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != etag);
    if stale {
        request.headers_mut().remove(header::RANGE);
    }
    request.headers_mut().remove(header::IF_RANGE);
    let mime = out.format.content_type().parse().map_err(ApiError::internal)?;
    let served = ServeFile::new_with_mime(path, &mime).oneshot(request).await.map_err(ApiError::internal)?;
    let mut r = served.map(Body::new);
    if r.status() == axum::http::StatusCode::NOT_FOUND {
        return Err(ApiError::internal(format!("{} vanished while being served", path.display())));
    }
    r.headers_mut().insert(header::CONTENT_DISPOSITION, out.disposition());
    r.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(r)
}
