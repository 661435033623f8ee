//! # opendata-catalog
//!
//! The metadata store (SQLite through sqlx) and the blob store (Parquet files in a local
//! folder): publishers, datasets, immutable versions, and the atomic publish of a new version.
//! It takes tables from `opendata-ingest` and knows nothing of HTTP or queries.
//!
//! Publishing writes the Parquet to a temporary name, fsyncs it, renames it into place, fsyncs
//! the folder, and only then inserts the version row in one transaction: a crash leaves either
//! the old version or the new one, never a row pointing at a missing or partial file. Uploads
//! become versions through jobs ([`jobs`]); every write is recorded in the audit log ([`audit`]).
//! A data folder is backed up, restored and checked by [`backup`].

pub mod audit;
pub mod backup;
mod diff;
pub mod error;
pub mod jobs;
pub mod keys;
pub mod model;
mod store;

pub use audit::{Actor, AuditEntry, AuditQuery, NewAuditEntry};
pub use backup::{BackupReport, BadFile, Found, RestoreReport, VerifyReport, restore};
pub use error::{CatalogError, Result};
pub use jobs::{Job, JobError, JobOptions, JobState, NewJob, Recovery};
pub use keys::{ApiKey, KEY_PREFIX, KeyCheck, NewKey};
pub use model::{
    Changes, Contact, Dataset, DatasetMetadata, DatasetQuery, DatasetSort, LICENSES, Published, Publisher,
    PublisherRef, Retyped, TemporalCoverage, Version,
};
pub use store::{Catalog, Exporter, SourceFile};
