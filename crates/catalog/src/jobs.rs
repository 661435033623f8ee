//! Upload jobs: a file becoming a version. A job is created `queued`, becomes `running` when
//! an ingest slot is free, and ends `succeeded` (with its version, or `unchanged`) or `failed`
//! (with the ingest error). The version row and the job's success are committed in one
//! transaction, so a crash never leaves a version without its job or the reverse.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use opendata_ingest::{IngestOptions, Progress, Report};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tokio::sync::Semaphore;

use crate::audit::Actor;
use crate::error::{CatalogError, Result};
use crate::keys::random_bytes;
use crate::model::Published;
use crate::store::{Catalog, SourceFile, now, parse_time};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            _ => Self::Failed,
        }
    }
}

/// The ingest options an upload may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobOptions {
    pub sheet: Option<String>,
    pub header_row: Option<usize>,
    pub encoding: Option<String>,
}

impl JobOptions {
    pub fn to_ingest(&self) -> IngestOptions {
        IngestOptions {
            sheet: self.sheet.clone(),
            header_row: self.header_row,
            encoding: self.encoding.clone(),
            ..IngestOptions::default()
        }
    }
}

/// Why a job failed: the ingest error (or the catalog's), as the API would answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
    pub details: Value,
}

impl From<&opendata_ingest::IngestError> for JobError {
    fn from(e: &opendata_ingest::IngestError) -> Self {
        Self { code: e.code().to_string(), message: e.to_string(), details: e.details() }
    }
}

impl From<&CatalogError> for JobError {
    fn from(e: &CatalogError) -> Self {
        let message = if e.code() == "internal" { "internal error while publishing".into() } else { e.to_string() };
        Self { code: e.code().to_string(), message, details: Value::Null }
    }
}

/// A job as stored, with its live progress while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    pub dataset_id: String,
    pub state: JobState,
    pub actor: Actor,
    pub key_id: Option<String>,
    pub source_name: Option<String>,
    pub source_bytes: u64,
    pub source_sha256: String,
    pub options: JobOptions,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Rows of the table (when ingest succeeded).
    pub rows: Option<i64>,
    /// The version created, or the latest one when the file was `unchanged`.
    pub version: Option<i64>,
    /// The file was identical to the latest version's source: no version was created.
    pub unchanged: bool,
    pub report: Option<Report>,
    pub error: Option<JobError>,
    /// How far the read has got, while `running`.
    pub progress: Option<Progress>,
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub dataset_id: String,
    pub actor: Actor,
    pub key_id: Option<String>,
    pub source: SourceFile,
    pub options: JobOptions,
}

/// Live state of the jobs of this process: progress of running ones, the ingest slots, and
/// how many jobs are under way (for a shutdown to wait on).
#[derive(Debug)]
pub(crate) struct JobBoard {
    progress: Mutex<HashMap<String, Progress>>,
    /// Ingest is CPU-bound: one job per core at a time, the others wait `queued`.
    slots: Semaphore,
    active: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Default for JobBoard {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            progress: Mutex::default(),
            slots: Semaphore::new(cores),
            active: std::sync::atomic::AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
        }
    }
}

/// Counts a job as under way while it lives.
struct Active<'a>(&'a JobBoard);

impl<'a> Active<'a> {
    fn new(board: &'a JobBoard) -> Self {
        board.active.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(board)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl JobBoard {
    fn set(&self, id: &str, p: Option<Progress>) {
        let mut map = self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match p {
            Some(p) => map.insert(id.to_string(), p),
            None => map.remove(id),
        };
    }

    fn get(&self, id: &str) -> Option<Progress> {
        self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).copied()
    }
}

fn job_from_row(row: &SqliteRow) -> Result<Job> {
    let json = |col: &str| -> Result<Option<String>> { Ok(row.get::<Option<String>, _>(col)) };
    Ok(Job {
        id: row.get("id"),
        dataset_id: row.get("dataset_id"),
        state: JobState::parse(row.get("state")),
        actor: Actor::parse(row.get("actor")),
        key_id: row.get("key_id"),
        source_name: row.get("source_name"),
        source_bytes: row.get::<i64, _>("source_bytes") as u64,
        source_sha256: row.get("source_sha256"),
        options: serde_json::from_str(row.get("options"))?,
        created_at: parse_time(row.get("created_at")),
        started_at: row.get::<Option<String>, _>("started_at").as_deref().map(parse_time),
        finished_at: row.get::<Option<String>, _>("finished_at").as_deref().map(parse_time),
        rows: row.get("rows"),
        version: row.get("version"),
        unchanged: row.get::<i64, _>("unchanged") != 0,
        report: json("report")?.as_deref().map(serde_json::from_str).transpose()?,
        error: json("error")?.as_deref().map(serde_json::from_str).transpose()?,
        progress: None,
    })
}

impl Catalog {
    /// A new empty folder under `uploads/` to receive one upload into.
    pub fn new_upload_dir(&self) -> Result<std::path::PathBuf> {
        let dir = self.upload_dir.join(hex::encode(random_bytes::<12>()?));
        std::fs::create_dir_all(&dir).map_err(|e| CatalogError::io(&dir, e))?;
        Ok(dir)
    }

    /// Record a new `queued` job.
    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        let id = format!("job_{}", hex::encode(random_bytes::<12>()?));
        sqlx::query(
            "INSERT INTO jobs (id, dataset_id, state, actor, key_id, source_name, source_bytes, source_sha256,
               options, created_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&new.dataset_id)
        .bind(new.actor.as_str())
        .bind(&new.key_id)
        .bind(&new.source.name)
        .bind(new.source.bytes as i64)
        .bind(&new.source.sha256)
        .bind(serde_json::to_string(&new.options)?)
        .bind(now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        self.job(&id).await
    }

    pub async fn job(&self, id: &str) -> Result<Job> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::JobNotFound(id.to_string()))?;
        let mut job = job_from_row(&row)?;
        if job.state == JobState::Running {
            job.progress = self.jobs.get(id);
        }
        Ok(job)
    }

    /// Per job state: how many jobs, and the seconds the finished ones ran in all (for
    /// `/metrics`).
    pub async fn job_stats(&self) -> Result<Vec<(String, i64, f64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n,
               COALESCE(SUM(CASE WHEN started_at IS NOT NULL AND finished_at IS NOT NULL
                 THEN (julianday(finished_at) - julianday(started_at)) * 86400.0 ELSE 0 END), 0.0) AS seconds
             FROM jobs GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get("state"), r.get("n"), r.get("seconds"))).collect())
    }

    /// The latest `limit` jobs of a dataset, newest first.
    pub async fn jobs_of(&self, dataset_id: &str, limit: usize) -> Result<Vec<Job>> {
        let rows = sqlx::query("SELECT * FROM jobs WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?")
            .bind(dataset_id)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let mut job = job_from_row(r)?;
                if job.state == JobState::Running {
                    job.progress = self.jobs.get(&job.id);
                }
                Ok(job)
            })
            .collect()
    }

    /// Run a queued job on `input` to its end: ingest, then publish. The outcome is in the
    /// returned job; `Err` is only for a catalog that cannot record it. `remove_input` deletes
    /// the file afterwards (an upload), whatever the outcome.
    pub async fn run_job(&self, id: &str, input: &Path, remove_input: bool) -> Result<Job> {
        let _active = Active::new(&self.jobs);
        let outcome = self.run_job_inner(id, input).await;
        if remove_input {
            let _ = std::fs::remove_file(input);
        }
        self.jobs.set(id, None);
        if let Err(error) = outcome {
            sqlx::query("UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?")
                .bind(now().to_rfc3339())
                .bind(serde_json::to_string(&error)?)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        self.job(id).await
    }

    /// Wait until no job is under way, or `timeout` has passed; true when none is.
    pub async fn drain_jobs(&self, timeout: std::time::Duration) -> bool {
        let idle = async {
            loop {
                let notified = self.jobs.idle.notified();
                if self.jobs.active.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, idle).await.is_ok()
    }

    /// Keep with a refused job what could be told of its file (format, encoding, delimiter).
    async fn record_preflight(&self, id: &str, input: &Path, job: &Job) {
        let head = {
            use std::io::Read;
            let mut head = Vec::new();
            if let Ok(file) = std::fs::File::open(input) {
                let _ = file.take(1 << 20).read_to_end(&mut head);
            }
            head
        };
        let report = opendata_ingest::preflight(
            &head,
            job.source_name.as_deref(),
            job.source_bytes as usize,
            &job.options.to_ingest(),
        );
        if let Some(json) = report.and_then(|r| serde_json::to_string(&r).ok()) {
            let _ =
                sqlx::query("UPDATE jobs SET report = ? WHERE id = ?").bind(json).bind(id).execute(&self.pool).await;
        }
    }

    /// Mark a job that ran (it now holds the dataset's lock) as succeeded without a new
    /// version: its file is the latest version's.
    async fn finish_unchanged(&self, id: &str, latest: &crate::model::Version, report: Option<&Report>) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'succeeded', finished_at = ?, rows = ?, version = ?, unchanged = 1, report = ?
             WHERE id = ?",
        )
        .bind(now().to_rfc3339())
        .bind(latest.rows)
        .bind(latest.number)
        .bind(serde_json::to_string(report.unwrap_or(&latest.report))?)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `Ok` when the job succeeded (and is recorded so); `Err` with why it failed.
    ///
    /// Jobs of one dataset run one after the other, in the order they started waiting (the
    /// dataset's lock is fair), so the last upload sent is the last version published. A job
    /// waiting for its dataset holds no ingest slot.
    async fn run_job_inner(&self, id: &str, input: &Path) -> Result<(), JobError> {
        let internal = |e: CatalogError| JobError::from(&e);
        let job = self.job(id).await.map_err(internal)?;
        let lock = self.publish_lock(&job.dataset_id);
        let _dataset_turn = lock.lock().await;
        let dataset = self.dataset(&job.dataset_id).await.map_err(internal)?;
        if dataset.withdrawn_at.is_some() {
            return Err(internal(CatalogError::DatasetWithdrawn(job.dataset_id.clone())));
        }
        // The same file as the latest version: nothing to read.
        if let Ok(latest) = self.version(&job.dataset_id, None).await
            && latest.source_sha256 == job.source_sha256
        {
            return self.finish_unchanged(id, &latest, None).await.map_err(internal);
        }
        let _slot = self.jobs.slots.acquire().await.map_err(|e| internal(CatalogError::Join(e.to_string())))?;
        sqlx::query("UPDATE jobs SET state = ?, started_at = ? WHERE id = ?")
            .bind(JobState::Running.as_str())
            .bind(now().to_rfc3339())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| internal(e.into()))?;
        self.jobs.set(id, Some(Progress { bytes_total: job.source_bytes, ..Progress::default() }));
        let read = {
            let board = self.jobs.clone();
            let (id, path, options) = (id.to_string(), input.to_path_buf(), job.options.to_ingest());
            tokio::task::spawn_blocking(move || {
                opendata_ingest::ingest_path(&path, &options, &mut |p| board.set(&id, Some(p)))
            })
            .await
            .map_err(|e| internal(CatalogError::Join(e.to_string())))?
        };
        let mut ingested = match read {
            Ok(i) => i,
            Err(e) => {
                self.record_preflight(id, input, &job).await;
                return Err(JobError::from(&e));
            }
        };
        // The report names the file as the agency sent it, not as it was stored.
        ingested.report.source = job.source_name.clone().or(ingested.report.source);
        let source =
            SourceFile { name: job.source_name.clone(), sha256: job.source_sha256.clone(), bytes: job.source_bytes };
        let report = ingested.report.clone();
        match self.publish_locked(&job.dataset_id, ingested, source, Some(id)).await.map_err(internal)? {
            // Recorded as succeeded in the version's own transaction.
            Published::Created(_) => Ok(()),
            Published::Unchanged(v) => self.finish_unchanged(id, &v, Some(&report)).await.map_err(internal),
        }
    }

    /// After a crash or a kill: jobs left `queued` or `running` are marked failed, and files
    /// nothing refers to (uploads, temporary Parquet files, Parquet files whose version row
    /// was never committed) are removed. Run by `opendata serve` before it listens; not by
    /// other commands, which may share the data folder with a running server.
    pub async fn recover(&self) -> Result<Recovery> {
        let error = JobError {
            code: "interrupted".into(),
            message:
                "the server stopped before this job finished; nothing was published from it. Upload the file again."
                    .into(),
            details: Value::Null,
        };
        let failed = sqlx::query(
            "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE state IN ('queued', 'running')",
        )
        .bind(now().to_rfc3339())
        .bind(serde_json::to_string(&error)?)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let referenced: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT blob FROM versions").fetch_all(&self.pool).await?.into_iter().collect();
        let mut removed = Vec::new();
        let mut upload_dirs = Vec::new();
        if let Ok(uploads) = std::fs::read_dir(&self.upload_dir) {
            for entry in uploads.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    upload_dirs.push(entry.path());
                } else {
                    removed.push(entry.path());
                }
            }
        }
        for dir in std::fs::read_dir(&self.blob_dir).map_err(|e| CatalogError::io(&self.blob_dir, e))?.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
            let dataset = dir.file_name().to_string_lossy().into_owned();
            for file in files.flatten() {
                let blob = format!("{dataset}/{}", file.file_name().to_string_lossy());
                if !referenced.contains(&blob) {
                    removed.push(file.path());
                }
            }
        }
        // Exports being written when the server stopped, or of versions that are gone.
        for dir in std::fs::read_dir(self.export_dir()).into_iter().flatten().flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else { continue };
            let dataset = dir.file_name().to_string_lossy().into_owned();
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let stem = name.split('.').next().unwrap_or_default();
                if name.ends_with(".tmp") || !referenced.contains(&format!("{dataset}/{stem}.parquet")) {
                    removed.push(file.path());
                }
            }
        }
        for path in &removed {
            tracing::warn!(path = %path.display(), "removing a file left by an interrupted upload or publish");
            std::fs::remove_file(path).map_err(|e| CatalogError::io(path, e))?;
        }
        for dir in &upload_dirs {
            tracing::warn!(path = %dir.display(), "removing an upload left by an interrupted job");
            std::fs::remove_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
        }
        if failed > 0 {
            tracing::warn!(jobs = failed, "marked jobs interrupted by a stop as failed");
        }
        Ok(Recovery { jobs_failed: failed, files_removed: (removed.len() + upload_dirs.len()) as u64 })
    }
}

/// What [`Catalog::recover`] cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub jobs_failed: u64,
    pub files_removed: u64,
}
