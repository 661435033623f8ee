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

/// The licences a dataset may carry (open licences only: this is an open-data portal), with
/// their names. Ids are SPDX identifiers.
pub const LICENSES: &[(&str, &str)] = &[
    ("CC-BY-4.0", "Creative Commons Attribution 4.0 International"),
    ("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0 International"),
    ("CC0-1.0", "Creative Commons Zero v1.0 Universal (public domain dedication)"),
    ("ODC-By-1.0", "Open Data Commons Attribution License v1.0"),
    ("ODbL-1.0", "Open Data Commons Open Database License v1.0"),
    ("PDDL-1.0", "Open Data Commons Public Domain Dedication and License v1.0"),
];

/// Ids in URLs: 1-100 lower-case ASCII letters, digits or `-`, not starting with `-`.
pub(crate) fn check_slug(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(CatalogError::InvalidMetadata(format!(
            "{what} `{s}` must be 1-100 lower-case ASCII letters, digits or `-`, not starting with `-`"
        )))
    }
}

impl DatasetMetadata {
    pub fn validate(&self) -> Result<()> {
        check_slug("id", &self.id)?;
        check_slug("publisher.id", &self.publisher.id)?;
        if self.title.trim().is_empty() {
            return Err(CatalogError::InvalidMetadata("title is empty".into()));
        }
        if !LICENSES.iter().any(|(id, _)| *id == self.license) {
            let ids: Vec<&str> = LICENSES.iter().map(|(id, _)| *id).collect();
            return Err(CatalogError::InvalidMetadata(format!(
                "license `{}` is not one of {}",
                self.license,
                ids.join(", ")
            )));
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
    /// `publisher` or `admin`; `None` for datasets withdrawn before this was recorded.
    pub withdrawn_by: Option<String>,
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
    /// Bytes of the downloads written beside the Parquet file when it was published.
    pub exports_bytes: i64,
}

/// What changed against the previous version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Changes {
    pub previous: Option<i64>,
    /// Row count difference (new - previous).
    pub rows_delta: i64,
    /// Rows of this version not in the previous one, comparing whole rows over the fields both
    /// have (a row changed in place is one added and one removed). `None` for versions
    /// published before this was computed, or when the comparison failed.
    #[serde(default)]
    pub rows_added: Option<i64>,
    #[serde(default)]
    pub rows_removed: Option<i64>,
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
    /// Names of the fields both schemas have, in the new schema's order.
    pub fn common_fields(previous: &[Field], current: &[Field]) -> Vec<String> {
        current.iter().filter(|f| previous.iter().any(|p| p.name == f.name)).map(|f| f.name.clone()).collect()
    }

    pub fn between(previous: Option<&Version>, schema: &[Field], rows: i64) -> Self {
        let Some(prev) = previous else {
            return Self { rows_delta: rows, rows_added: Some(rows), rows_removed: Some(0), ..Self::default() };
        };
        let find = |fields: &[Field], name: &str| fields.iter().find(|f| f.name == name).map(|f| f.field_type);
        Self {
            previous: Some(prev.number),
            rows_delta: rows - prev.rows,
            rows_added: None,
            rows_removed: None,
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
    pub sort: DatasetSort,
    pub limit: usize,
    pub offset: usize,
}

/// The order of a catalog listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatasetSort {
    /// Best match first with `q` (the words in the title count most), else most recently
    /// modified first.
    #[default]
    Relevance,
    /// By title in Vietnamese dictionary order; `descending` reverses it.
    Title { descending: bool },
    /// By the last change to metadata or data; `descending` (the newest first) as `-modified`.
    Modified { descending: bool },
}

impl DatasetSort {
    pub const NAMES: [&'static str; 5] = ["relevance", "title", "-title", "modified", "-modified"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "relevance" => Self::Relevance,
            "title" => Self::Title { descending: false },
            "-title" => Self::Title { descending: true },
            "modified" => Self::Modified { descending: false },
            "-modified" => Self::Modified { descending: true },
            _ => return None,
        })
    }
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
