//! Catalog rows and the metadata documents agencies write.

use chrono::{DateTime, Utc};
use opendata_ingest::{Field, FieldType, Report};
use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};

/// A publisher as named in a dataset's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublisherRef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TemporalCoverage {
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
}

/// The metadata document of a dataset (`metadata.json` in a dataset folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMetadata {
    /// URL slug: lower-case ASCII letters, digits and `-`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub publisher: PublisherRef,
    /// SPDX-style licence id, e.g. `CC-BY-4.0`.
    pub license: String,
    #[serde(default)]
    pub themes: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Where the data comes from (a decision, a report, a system).
    #[serde(default)]
    pub source: Option<String>,
    /// How often the agency updates it (`hằng năm`, `hằng quý`…).
    #[serde(default)]
    pub update_frequency: Option<String>,
    #[serde(default)]
    pub temporal_coverage: Option<TemporalCoverage>,
    #[serde(default)]
    pub spatial_coverage: Option<String>,
    #[serde(default)]
    pub contact: Option<Contact>,
    /// Descriptions of fields by normalised name.
    #[serde(default)]
    pub field_descriptions: std::collections::BTreeMap<String, String>,
}

impl DatasetMetadata {
    pub fn validate(&self) -> Result<()> {
        let slug_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 100
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.starts_with('-')
        };
        if !slug_ok(&self.id) {
            return Err(CatalogError::InvalidMetadata(format!(
                "id `{}` must be 1-100 lower-case ASCII letters, digits or `-`",
                self.id
            )));
        }
        if !slug_ok(&self.publisher.id) {
            return Err(CatalogError::InvalidMetadata(format!(
                "publisher.id `{}` must be lower-case ASCII letters, digits or `-`",
                self.publisher.id
            )));
        }
        if self.title.trim().is_empty() {
            return Err(CatalogError::InvalidMetadata("title is empty".into()));
        }
        Ok(())
    }
}

/// A dataset as stored, with its latest version number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    pub metadata: DatasetMetadata,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub latest_version: Option<i64>,
}

/// One immutable published version of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    pub dataset_id: String,
    pub number: i64,
    pub created_at: DateTime<Utc>,
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
    /// Path of the Parquet file relative to the blob folder.
    pub blob: String,
    pub source_name: Option<String>,
    pub source_sha256: String,
    pub schema: Vec<Field>,
    pub report: Report,
    pub changes: Changes,
}

/// What changed against the previous version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Changes {
    pub previous: Option<i64>,
    /// Row count difference (new - previous).
    pub rows_delta: i64,
    pub fields_added: Vec<String>,
    pub fields_removed: Vec<String>,
    pub fields_retyped: Vec<Retyped>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retyped {
    pub name: String,
    pub from: FieldType,
    pub to: FieldType,
}

impl Changes {
    pub fn between(previous: Option<&Version>, schema: &[Field], rows: i64) -> Self {
        let Some(prev) = previous else {
            return Self { rows_delta: rows, ..Self::default() };
        };
        let find = |fields: &[Field], name: &str| fields.iter().find(|f| f.name == name).map(|f| f.field_type);
        Self {
            previous: Some(prev.number),
            rows_delta: rows - prev.rows,
            fields_added: schema
                .iter()
                .filter(|f| find(&prev.schema, &f.name).is_none())
                .map(|f| f.name.clone())
                .collect(),
            fields_removed: prev
                .schema
                .iter()
                .filter(|f| find(schema, &f.name).is_none())
                .map(|f| f.name.clone())
                .collect(),
            fields_retyped: schema
                .iter()
                .filter_map(|f| {
                    let from = find(&prev.schema, &f.name)?;
                    (from != f.field_type).then(|| Retyped { name: f.name.clone(), from, to: f.field_type })
                })
                .collect(),
        }
    }
}

/// A publisher with how many datasets it has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Publisher {
    pub id: String,
    pub name: String,
    pub description: String,
    pub homepage: Option<String>,
    pub dataset_count: i64,
}

/// Filters of the dataset list.
#[derive(Debug, Clone, Default)]
pub struct DatasetQuery {
    /// Words that must all appear (case- and diacritic-insensitive) in the title, description,
    /// keywords, themes or publisher.
    pub q: Option<String>,
    pub publisher: Option<String>,
    pub theme: Option<String>,
    pub keyword: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// The result of publishing a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    Created(Version),
    /// The file is identical to the latest version's source: nothing new was created.
    Unchanged(Version),
}

impl Published {
    pub fn version(&self) -> &Version {
        match self {
            Self::Created(v) | Self::Unchanged(v) => v,
        }
    }
}
