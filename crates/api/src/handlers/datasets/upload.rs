//! `POST /api/v1/datasets/{id}/versions`: upload a file as the next version.
//!
//! The body is received to a file in the data folder's `uploads/` (never held in memory),
//! hashed and counted on the way, and refused with 413 as soon as it passes the limit. Its
//! first bytes are checked against the formats ingest reads (415 otherwise). Then a job ingests
//! and publishes it in the background: the answer is 202 with the job, or, with `?wait=true`,
//! the job's outcome: 201 with the new version, 200 when the file is identical to the latest
//! version's, or the ingest error (422, with the job) when the file is refused. Whatever
//! happens, the previous version keeps serving until the new one is committed whole.

use std::path::{Path as FsPath, PathBuf};

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use opendata_catalog::{Job, JobOptions, JobState, NewJob, SourceFile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::writable;
use crate::auth::{AuditNote, Caller, Principal};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::views::{JobView, VersionView};

/// Bytes kept from the start of an upload to recognise its format.
const HEAD_BYTES: usize = 1 << 20;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, for a raw body (a multipart part carries its own). Its extension
    /// helps tell NDJSON from JSON; everything else is recognised from the bytes.
    #[param(example = "diem-wifi-2026-q3.csv")]
    pub filename: Option<String>,
    /// Workbooks: the sheet to read, by name or 1-based position (default: the one with a table).
    pub sheet: Option<String>,
    /// The 1-based row (sheet) or line (text) of the header, when detection gets it wrong.
    pub header_row: Option<usize>,
    /// Text encoding, e.g. `windows-1258`, `utf-16le`, `tcvn3` (default: detected).
    pub encoding: Option<String>,
    /// Wait for the job to end and answer with its outcome instead of 202.
    #[serde(default)]
    pub wait: bool,
}

/// A version created by an upload, and the job that created it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedVersion {
    #[serde(flatten)]
    pub version: VersionView,
    pub job: JobView,
}

/// An upload on disk.
struct Received {
    dir: PathBuf,
    path: PathBuf,
    name: Option<String>,
    bytes: u64,
    sha256: String,
    head: Vec<u8>,
}

/// Upload a version
///
/// Send the file as multipart field `file` (other parts: `sheet`, `header_row`, `encoding`),
/// or as the raw body with its `Content-Type` and `?filename=`. Formats: CSV/TSV/TXT in any of
/// the encodings agencies use, XLSX/XLS/ODS, JSON, NDJSON, GeoJSON, Parquet; at most
/// `OPENDATA_MAX_UPLOAD_BYTES` (1 GiB by default). An upload identical to the latest version's
/// file creates no version.
#[utoipa::path(post, path = "/api/v1/datasets/{id}/versions", tag = "publishing", operation_id = "upload_version",
    params(("id" = String, Path, description = "Dataset id"), UploadQuery),
    request_body(description = "The file: multipart field `file`, or the raw body",
        content(
            (Vec<u8> = "multipart/form-data"),
            (Vec<u8> = "text/csv"),
            (Vec<u8> = "application/octet-stream"),
        )),
    security(("publisher_key" = []), ("admin_token" = [])),
    responses(
        (status = 202, description = "Accepted: the job, to poll at `links.self`", body = JobView,
            headers(("Location" = String, description = "The job"))),
        (status = 201, description = "With `wait=true`: the new version and its job", body = UploadedVersion),
        (status = 200, description = "With `wait=true`: identical to the latest version; nothing created", body = UploadedVersion),
        (status = 400, description = "No `file` part, or a bad option", body = crate::error::ErrorBody),
        (status = 401, description = "No valid credentials", body = crate::error::ErrorBody),
        (status = 403, description = "The key belongs to another publisher", body = crate::error::ErrorBody),
        (status = 404, description = "No such dataset", body = crate::error::ErrorBody),
        (status = 410, description = "The dataset was withdrawn", body = crate::error::ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = crate::error::ErrorBody),
        (status = 415, description = "Not a table format (PDF, image, Word…)", body = crate::error::ErrorBody),
        (status = 422, description = "With `wait=true`: refused by ingest; `details.job` has the job", body = crate::error::ErrorBody)))]
pub async fn upload_version(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let dataset = writable(&app, &caller, &id).await?;
    let publisher = dataset.metadata.publisher.id.clone();
    let limit = app.max_upload_bytes;
    if let Some(length) = content_length(request.headers())
        && length > limit
    {
        return Err(too_large(length, limit));
    }
    let dir = app.catalog.new_upload_dir()?;
    let mut options =
        JobOptions { sheet: query.sheet.clone(), header_row: query.header_row, encoding: query.encoding.clone() };
    let received = receive(request, &dir, query.filename.as_deref(), &mut options, limit).await;
    let received = match received.and_then(|r| check_options(&options).map(|()| r)).and_then(check_format) {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
    };
    let key_id = match &caller {
        Principal::Publisher(k) => Some(k.id.clone()),
        _ => None,
    };
    let new = NewJob {
        dataset_id: id.clone(),
        actor: if key_id.is_some() { opendata_catalog::Actor::Key } else { opendata_catalog::Actor::Admin },
        key_id,
        source: SourceFile { name: received.name.clone(), sha256: received.sha256.clone(), bytes: received.bytes },
        options,
    };
    let job = match app.catalog.create_job(new).await {
        Ok(job) => job,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&received.dir).await;
            return Err(e.into());
        }
    };
    let note = |job: &Job| {
        AuditNote::new(
            &publisher,
            serde_json::json!({
                "dataset": id, "job": job.id, "file": job.source_name, "bytes": job.source_bytes,
                "sha256": job.source_sha256, "version": job.version,
            }),
        )
    };
    let running = {
        let app = app.clone();
        let (job_id, path, dir) = (job.id.clone(), received.path.clone(), received.dir.clone());
        let (caller, publisher) = (caller.clone(), publisher.clone());
        // Runs to its end even when the client goes away, and leaves its outcome in the audit log.
        tokio::spawn(async move {
            let job = app.catalog.run_job(&job_id, &path, true).await;
            let _ = tokio::fs::remove_dir(&dir).await;
            if let Ok(job) = &job {
                let status = match &job.error {
                    Some(e) => crate::error::code::status_of(&e.code).as_u16(),
                    None if job.unchanged => 200,
                    None => 201,
                };
                let detail = serde_json::json!({
                    "dataset": job.dataset_id, "job": job.id, "version": job.version,
                    "error": job.error.as_ref().map(|e| e.code.clone()),
                });
                let entry = caller.audit_entry(
                    Some(publisher),
                    "job finished".into(),
                    format!("/api/v1/jobs/{}", job.id),
                    None,
                    status,
                    detail,
                );
                crate::auth::record(&app, &entry).await;
            }
            job
        })
    };
    if !query.wait {
        let location = format!("/api/v1/jobs/{}", job.id);
        let mut response =
            (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(JobView::from(&job))).into_response();
        response.extensions_mut().insert(note(&job));
        return Ok(response);
    }
    let job = running.await??;
    // A refusal is logged with its job too.
    let mut response = finished(&app, &job).await.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(note(&job));
    Ok(response)
}

/// The answer to `?wait=true`: the version, or the job's error.
async fn finished(app: &AppState, job: &Job) -> Result<Response, ApiError> {
    match (job.state, &job.error, job.version) {
        (JobState::Succeeded, _, Some(number)) => {
            let version = app.catalog.version(&job.dataset_id, Some(number)).await?;
            let status = if job.unchanged { StatusCode::OK } else { StatusCode::CREATED };
            let location = format!("/api/v1/datasets/{}/records?version={number}", job.dataset_id);
            let body = UploadedVersion { version: VersionView::from(&version), job: JobView::from(job) };
            Ok((status, [(header::LOCATION, location)], Json(body)).into_response())
        }
        (_, Some(e), _) => {
            let mut details = serde_json::json!({ "job": JobView::from(job) });
            if !e.details.is_null() {
                details["ingest"] = e.details.clone();
            }
            Err(ApiError::from_code(&e.code, e.message.clone()).with_details(details))
        }
        _ => Err(ApiError::internal(format!("job {} ended {:?} without a version or an error", job.id, job.state))),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn too_large(size: u64, limit: u64) -> ApiError {
    ApiError::new(
        "too_large",
        format!(
            "the upload is {size} bytes or more; this server accepts at most {limit} bytes (OPENDATA_MAX_UPLOAD_BYTES)"
        ),
    )
    .with_details(serde_json::json!({ "size": size, "limit": limit }))
}

/// The name the agency gave, as it is recorded: its last path component, without control
/// characters, at most 200 characters.
fn safe_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// The name an upload is stored under: `upload.<ext>` with the extension of the given name
/// (ingest uses it to tell NDJSON from JSON), whatever the name's length or characters.
fn stored_name(name: Option<&str>) -> String {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    match ext {
        Some(e) => format!("upload.{e}"),
        None => "upload".into(),
    }
}

/// Options that can be checked before any work: an unknown encoding is a 400 now, not a
/// failed job later.
fn check_options(options: &JobOptions) -> Result<(), ApiError> {
    if let Some(label) = &options.encoding {
        opendata_ingest::text::encoding_for_label(label)?;
    }
    if options.header_row == Some(0) {
        return Err(ApiError::new("bad_option", "option `header_row`: rows are numbered from 1"));
    }
    Ok(())
}

/// Receive the body (multipart or raw) into `dir`.
async fn receive(
    request: Request,
    dir: &FsPath,
    filename: Option<&str>,
    options: &mut JobOptions,
    limit: u64,
) -> Result<Received, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let name = filename.and_then(safe_name);
        let stream = request.into_body().into_data_stream();
        return write_stream(stream, dir, name, limit).await;
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::new("invalid_body", format!("the multipart body: {}", e.body_text())))?;
    let mut received = None;
    while let Some(field) =
        form.next_field().await.map_err(|e| ApiError::new("invalid_body", format!("the multipart body: {e}")))?
    {
        let part = field.name().unwrap_or_default().to_string();
        match part.as_str() {
            "file" => {
                if received.is_some() {
                    return Err(ApiError::new(
                        "invalid_body",
                        "send one file per upload (multipart part `file` repeated)",
                    ));
                }
                let name = field.file_name().or(filename).and_then(safe_name);
                let stream = field.map(|chunk| chunk.map_err(std::io::Error::other));
                received = Some(write_stream(stream, dir, name, limit).await?);
            }
            "sheet" => options.sheet = Some(text_part(&part, field).await?),
            "encoding" => options.encoding = Some(text_part(&part, field).await?),
            "header_row" => {
                let text = text_part(&part, field).await?;
                options.header_row = Some(text.trim().parse().map_err(|_| {
                    ApiError::new(
                        "invalid_parameter",
                        format!("multipart part `header_row`: `{text}` is not a row number"),
                    )
                })?);
            }
            other => {
                return Err(ApiError::new(
                    "invalid_body",
                    format!("unknown multipart part `{other}`; parts: file, sheet, header_row, encoding"),
                ));
            }
        }
    }
    received.ok_or_else(missing_file)
}

/// The longest text part (`sheet`, `encoding`, `header_row`): a sheet name is at most 31
/// characters in Excel, 4 bytes each in UTF-8, and the others are shorter.
const MAX_TEXT_PART: usize = 1024;

/// A text part, read chunk by chunk and refused past [`MAX_TEXT_PART`] bytes before more of it
/// is held (an 800 MB `sheet` part was once read whole and stored in the job's row).
async fn text_part(part: &str, mut field: axum::extract::multipart::Field<'_>) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) =
        field.chunk().await.map_err(|e| ApiError::new("invalid_body", format!("multipart part `{part}`: {e}")))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_PART {
            return Err(ApiError::new(
                "invalid_parameter",
                format!("multipart part `{part}` is longer than {MAX_TEXT_PART} bytes"),
            )
            .with_details(serde_json::json!({ "parameter": part, "max_bytes": MAX_TEXT_PART })));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::new("invalid_parameter", format!("multipart part `{part}` is not UTF-8 text")))
}

fn missing_file() -> ApiError {
    ApiError::new(
        "missing_file",
        "no file: send it as multipart part `file`, or as the request body with its Content-Type and `?filename=`",
    )
}

/// Write a stream of chunks to `dir/name`, hashing and counting. An empty body is an empty
/// file: ingest refuses it with `empty_file`, as it would any empty file.
async fn write_stream<S, E>(mut stream: S, dir: &FsPath, name: Option<String>, limit: u64) -> Result<Received, ApiError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let path = dir.join(stored_name(name.as_deref()));
    let file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new("invalid_body", format!("the upload was cut off: {e}")))?;
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(too_large(bytes, limit));
        }
        if head.len() < HEAD_BYTES {
            head.extend_from_slice(&chunk[..chunk.len().min(HEAD_BYTES - head.len())]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    crate::metrics::ingest_bytes(bytes);
    Ok(Received { dir: dir.to_path_buf(), path, name, bytes, sha256: hex::encode(hasher.finalize()), head })
}

/// 415 for what is not a table format at all (the rest is ingest's to judge).
fn check_format(received: Received) -> Result<Received, ApiError> {
    opendata_ingest::formats::detect(&received.head, received.name.as_deref())?;
    Ok(received)
}
