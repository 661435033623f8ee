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

/// Answers kept at most, whatever their size (an empty CSV is a few bytes, and a folder of
/// millions of files is a problem of its own).
const MAX_KEPT: usize = 10_000;

/// What a build is handed: the path to write; it returns the bytes written. Blocking.
pub type Build = Arc<dyn Fn(&Path) -> Result<u64, ApiError> + Send + Sync>;

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    budget: u64,
    lifetime: Duration,
    kept: Mutex<HashMap<String, Kept>>,
    /// Files being built, so each is built once: a second asker waits for the first.
    building: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// Builds running at once: one per core, apart from the query slots, so that downloads
    /// being written never hold up the pages people are reading.
    slots: Arc<tokio::sync::Semaphore>,
}

/// Answers built into files, kept by `ETag` within a disk budget, the oldest removed first.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct AnswerFiles(Arc<Inner>);

impl AnswerFiles {
    /// Answers in `dir`, at most `budget` bytes of them. [`AnswerFiles::clear`] empties the
    /// folder of what an earlier run left.
    pub fn new(dir: PathBuf, budget: u64) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self(Arc::new(Inner {
            dir,
            budget,
            lifetime: ANSWER_LIFETIME,
            kept: Mutex::default(),
            building: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(cores)),
        }))
    }

    /// Remove the answers an earlier run kept (they are not tracked). Only for the one server
    /// that owns the folder, at its start.
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(&self.0.dir);
    }

    /// Serve the answer tagged `etag` (built with `build` unless kept and fresh) as a file.
    #[allow(clippy::too_many_arguments)]
    pub async fn serve(
        &self,
        etag: &str,
        extension: &str,
        build: Build,
        method: &Method,
        headers: &HeaderMap,
        out: &Output,
    ) -> Result<Response, ApiError> {
        let name = format!("{}.{extension}", etag.trim_matches('"'));
        // A kept file may be evicted between the check and the open: then it is built again.
        for _ in 0..2 {
            let path = self.fresh(&name, build.clone()).await?;
            if let Some(response) = serve_file(method, headers, &path, out, etag).await? {
                return Ok(response);
            }
        }
        Err(ApiError::internal(format!("answer {name} vanished twice while being served")))
    }

    /// Serve the file at `path` (a version's download), building it first unless it exists.
    pub async fn serve_download(
        &self,
        path: &Path,
        build: Build,
        etag: &str,
        method: &Method,
        headers: &HeaderMap,
        out: &Output,
    ) -> Result<Response, ApiError> {
        if !path.is_file() {
            let path = path.to_path_buf();
            self.built_once(path, build, |_, _| {}).await?;
        }
        serve_file(method, headers, path, out, etag)
            .await?
            .ok_or_else(|| ApiError::internal(format!("{} vanished while being served", path.display())))
    }

    /// The path of the answer `name`, built unless kept and fresh.
    async fn fresh(&self, name: &str, build: Build) -> Result<PathBuf, ApiError> {
        let path = self.0.dir.join(name);
        if self.is_fresh(name)? {
            return Ok(path);
        }
        let inner = self.0.clone();
        let key = name.to_string();
        self.built_once(path.clone(), build, move |bytes, path| {
            let mut kept = inner.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            kept.insert(key.clone(), Kept { path: path.to_path_buf(), bytes, made: Instant::now() });
            let gone = evict(&inner, &mut kept, &key);
            drop(kept);
            for path in gone {
                let _ = std::fs::remove_file(path);
            }
        })
        .await?;
        Ok(path)
    }

    fn is_fresh(&self, name: &str) -> Result<bool, ApiError> {
        let kept = self.0.kept.lock().map_err(ApiError::internal)?;
        Ok(kept.get(name).is_some_and(|k| k.made.elapsed() < self.0.lifetime && k.path.is_file()))
    }

    /// Build the file at `path` once, however many ask at the same time, and then run `done`
    /// (on the blocking thread, with the bytes written). The build runs in a task of its own
    /// that holds the path's lock to the end: a client that hangs up does not cut it short,
    /// and a second build of the same path never runs beside it.
    async fn built_once(
        &self,
        path: PathBuf,
        build: Build,
        done: impl FnOnce(u64, &Path) + Send + 'static,
    ) -> Result<(), ApiError> {
        let inner = self.0.clone();
        let lock = {
            let mut building = inner.building.lock().map_err(ApiError::internal)?;
            building.entry(path.clone()).or_default().clone()
        };
        let this = self.clone();
        let task = tokio::spawn(async move {
            let _guard = lock.lock_owned().await;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let ready = if path.starts_with(&inner.dir) { this.is_fresh(&name)? } else { path.is_file() };
            let result = if ready {
                Ok(())
            } else {
                let _slot = inner.slots.clone().acquire_owned().await.map_err(ApiError::internal)?;
                let target = path.clone();
                tokio::task::spawn_blocking(move || {
                    let bytes = build(&target)?;
                    done(bytes, &target);
                    Ok::<_, ApiError>(())
                })
                .await?
            };
            if let Ok(mut building) = inner.building.lock() {
                building.remove(&path);
            }
            result
        });
        task.await?
    }

    /// Bytes of the answers kept now.
    pub fn bytes(&self) -> u64 {
        self.0.kept.lock().map(|k| k.values().map(|k| k.bytes).sum()).unwrap_or(0)
    }
}

/// Take stale answers out of `kept`, then the oldest until the rest fit the budget and the
/// count; never `keep` (the answer about to be served). Returns the files to remove.
fn evict(inner: &Inner, kept: &mut HashMap<String, Kept>, keep: &str) -> Vec<PathBuf> {
    let mut gone = Vec::new();
    kept.retain(|n, k| {
        let stale = n != keep && k.made.elapsed() >= inner.lifetime;
        if stale {
            gone.push(k.path.clone());
        }
        !stale
    });
    let mut total: u64 = kept.values().map(|k| k.bytes).sum();
    if total <= inner.budget && kept.len() <= MAX_KEPT {
        return gone;
    }
    let mut by_age: Vec<(Instant, String)> =
        kept.iter().filter(|(n, _)| *n != keep).map(|(n, k)| (k.made, n.clone())).collect();
    by_age.sort();
    for (_, name) in by_age {
        if total <= inner.budget && kept.len() <= MAX_KEPT {
            break;
        }
        if let Some(k) = kept.remove(&name) {
            total -= k.bytes;
            gone.push(k.path);
        }
    }
    gone
}

/// Serve the file at `path` for a request with `method` and `headers`: `Range`, `If-Range`,
/// `Content-Length`, `Last-Modified`, `Accept-Ranges`; `None` when the file is not there. A
/// resumed download of other bytes would be a corrupt file: a `Range` with an `If-Range` that
/// is not `etag` gets the whole file. Date conditions are not passed on: a file's time is when
/// it was built, not when its content changed, which the `ETag` says.
pub(crate) async fn serve_file(
    method: &Method,
    headers: &HeaderMap,
    path: &Path,
    out: &Output,
    etag: &str,
) -> Result<Option<Response>, ApiError> {
    let mut request = Request::builder().method(method.clone()).body(Body::empty()).map_err(ApiError::internal)?;
    let stale = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != etag);
    if let Some(range) = headers.get(header::RANGE).filter(|_| !stale) {
        request.headers_mut().insert(header::RANGE, range.clone());
    }
    let mime = out.format.content_type().parse().map_err(ApiError::internal)?;
    let served = ServeFile::new_with_mime(path, &mime).oneshot(request).await.map_err(ApiError::internal)?;
    let mut r = served.map(Body::new);
    if r.status() == axum::http::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    r.headers_mut().insert(header::CONTENT_DISPOSITION, out.disposition());
    r.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(Some(r))
}
