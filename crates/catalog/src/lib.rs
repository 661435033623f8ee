//! # opendata-catalog
//!
//! The metadata store (SQLite through sqlx) and the blob store (Parquet files in a local
//! folder): publishers, datasets, immutable versions, and the atomic publish of a new version.
//! It takes tables from `opendata-ingest` and knows nothing of HTTP or queries.
//!
//! Publishing writes the Parquet to a temporary name, fsyncs it, renames it into place, fsyncs
//! the folder, and only then inserts the version row in one transaction: a crash leaves either
//! the old version or the new one, never a row pointing at a missing or partial file.

pub mod error;
pub mod model;
mod store;

pub use error::{CatalogError, Result};
pub use model::{
    Changes, Contact, Dataset, DatasetMetadata, DatasetQuery, Published, Publisher, PublisherRef, Retyped,
    TemporalCoverage, Version,
};
pub use store::{Catalog, SourceFile};
