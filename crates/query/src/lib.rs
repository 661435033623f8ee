//! # opendata-query
//!
//! The query language of `/records`: request parameters to a validated [`RecordsQuery`]
//! ([`params`], [`filter`]), run against a version's Parquet with polars ([`plan`]), and the
//! output encoders ([`encode`]). HTTP-free: the API crate extracts parameters and streams bytes.

pub mod aggregate;
pub mod collate;
pub mod cursor;
pub mod encode;
pub mod error;
pub mod expr;
pub mod filter;
pub mod fold;
pub mod memory;
pub mod params;
pub mod plan;
mod select;

pub use error::{QueryError, Result};
pub use opendata_collate::Collation;
pub use params::{OutputFormat, RecordsQuery};
