//! Wire types of the publishing side: keys, jobs, withdrawals and the audit log.

use chrono::{DateTime, Utc};
use opendata_catalog::{ApiKey, AuditEntry, Job, JobState};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// The key's public id (shown in the audit log).
    #[schema(example = "3f9a0c1d2e4b5a69")]
    pub id: String,
    #[schema(example = "so-noi-vu-ha-noi")]
    pub publisher: String,
    /// What the key is for.
    #[schema(example = "nightly export")]
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// When it was revoked, or null while it is active.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            publisher: k.publisher_id.clone(),
            label: k.label.clone(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key with its secret: shown in this answer only, stored only as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyView {
    #[serde(flatten)]
    pub key: KeyView,
    /// The secret to send as `Authorization: Bearer <key>`. Keep it: it cannot be shown again.
    #[schema(example = "odk_Vx3k…")]
    pub key_secret: String,
}

/// A publisher's keys, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyView>,
}

/// A withdrawn dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawnView {
    #[schema(example = "ho-so-tthc-mau")]
    pub id: String,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Why: what readers are told with their 410.
    pub reason: Option<String>,
    /// Versions are kept (and stay in the audit trail), but no longer served.
    pub versions_kept: i64,
}

/// How far a running job has read its file.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobProgressView {
    pub bytes_read: u64,
    pub bytes_total: u64,
    /// Records read so far (while streaming delimited text; otherwise known at the end).
    pub rows_read: u64,
}

/// The uploaded file of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobSourceView {
    pub name: Option<String>,
    pub bytes: u64,
    /// sha256 of the uploaded bytes: an upload identical to the latest version's creates nothing.
    pub sha256: String,
}

/// Why a job failed, as the upload's error answer would say it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobErrorView {
    #[schema(example = "ragged_rows")]
    pub code: String,
    pub message: String,
    pub details: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub dataset: String,
    /// The version created (or, when `unchanged`, the latest), once the job has succeeded.
    pub version: Option<String>,
}

/// An upload being turned into a version.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[schema(example = "job_5d2c0e7a9b1f3a4c6e8d0b2a")]
    pub id: String,
    pub dataset: String,
    /// `queued` (waiting for a free ingest slot), `running`, `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub source: JobSourceView,
    /// The ingest options given with the upload.
    #[schema(value_type = Object)]
    pub options: Value,
    /// While running: bytes and rows read so far.
    pub progress: Option<JobProgressView>,
    /// Rows of the table, once read.
    pub rows: Option<i64>,
    /// The version created, or the latest when `unchanged`.
    pub version: Option<i64>,
    /// The file was identical to the latest version's: nothing new was published.
    pub unchanged: bool,
    /// What ingest understood (encoding, header rows, skipped rows, fields and their types).
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    pub error: Option<JobErrorView>,
    pub links: JobLinks,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        let dataset = format!("/api/v1/datasets/{}", j.dataset_id);
        Self {
            id: j.id.clone(),
            dataset: j.dataset_id.clone(),
            state: serde_json::to_value(j.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            source: JobSourceView {
                name: j.source_name.clone(),
                bytes: j.source_bytes,
                sha256: j.source_sha256.clone(),
            },
            options: serde_json::to_value(&j.options).unwrap_or_default(),
            progress: j.progress.map(|p| JobProgressView {
                bytes_read: p.bytes_read,
                bytes_total: p.bytes_total,
                rows_read: p.rows_read,
            }),
            rows: j.rows,
            version: j.version,
            unchanged: j.unchanged,
            report: j.report.as_ref().and_then(|r| serde_json::to_value(r).ok()),
            error: j.error.as_ref().map(|e| JobErrorView {
                code: e.code.clone(),
                message: e.message.clone(),
                details: e.details.clone(),
            }),
            links: JobLinks {
                self_: format!("/api/v1/jobs/{}", j.id),
                version: (j.state == JobState::Succeeded)
                    .then_some(j.version)
                    .flatten()
                    .map(|v| format!("{dataset}/records?version={v}")),
                dataset,
            },
        }
    }
}

/// A dataset's jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub dataset: String,
    pub items: Vec<JobView>,
}

/// One recorded write.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `admin`, `key`, `anonymous` (refused) or `cli`.
    #[schema(example = "key")]
    pub actor: String,
    /// The API key used, by its public id.
    pub key_id: Option<String>,
    /// The publisher acted on.
    pub publisher: Option<String>,
    /// The publisher of the key used (differs from `publisher` when a key was refused on
    /// another publisher's data).
    pub key_publisher: Option<String>,
    /// Method and route.
    #[schema(example = "POST /api/v1/datasets/{id}/versions")]
    pub action: String,
    /// The request path (or dataset, for the command line).
    pub target: String,
    /// The client's IP address.
    pub address: Option<String>,
    /// The HTTP status answered.
    #[schema(example = 201)]
    pub status: u16,
    /// The job, version, or error code of the outcome.
    pub detail: Value,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: serde_json::to_value(e.actor).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            key_id: e.key_id.clone(),
            publisher: e.publisher_id.clone(),
            key_publisher: e.key_publisher_id.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            address: e.address.clone(),
            status: e.status,
            detail: e.detail.clone(),
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub total: i64,
    pub items: Vec<AuditView>,
    pub links: super::PageLinks,
}
