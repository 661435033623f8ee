//! Wire types: what the API answers, kept apart from catalog rows and built from them with
//! `From`. Every field is documented for the OpenAPI spec.

use chrono::{DateTime, Utc};
use opendata_catalog::{Dataset, Publisher, Version};
use opendata_ingest::Field;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A publishing agency.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherView {
    /// Identifier used in URLs and filters.
    #[schema(example = "so-noi-vu-ha-noi")]
    pub id: String,
    #[schema(example = "Sở Nội vụ thành phố Hà Nội")]
    pub name: String,
    pub description: String,
    pub homepage: Option<String>,
    /// Published datasets (not withdrawn).
    #[schema(example = 1)]
    pub dataset_count: i64,
}

impl From<Publisher> for PublisherView {
    fn from(p: Publisher) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            homepage: p.homepage,
            dataset_count: p.dataset_count,
        }
    }
}

/// The publisher of a dataset, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherRefView {
    #[schema(example = "so-noi-vu-ha-noi")]
    pub id: String,
    #[schema(example = "Sở Nội vụ thành phố Hà Nội")]
    pub name: String,
}

/// One field of a dataset's schema, with statistics of the version it describes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    /// Normalised name, used in query parameters.
    #[schema(example = "ward_name")]
    pub name: String,
    /// The header text as the agency wrote it.
    #[schema(example = "ward_name")]
    pub title: String,
    /// `integer`, `float`, `boolean`, `date`, `datetime` or `string`.
    #[serde(rename = "type")]
    #[schema(example = "string")]
    pub field_type: String,
    /// What the field holds, from the publisher's metadata.
    pub description: Option<String>,
    #[schema(example = 0)]
    pub null_count: usize,
    #[schema(example = 526)]
    pub distinct_count: usize,
    /// Smallest value, or null.
    pub min: Value,
    /// Largest value, or null.
    pub max: Value,
}

impl FieldView {
    pub fn new(f: &Field, dataset: &Dataset) -> Self {
        Self {
            name: f.name.clone(),
            title: f.title.clone(),
            field_type: f.field_type.to_string(),
            description: dataset.metadata.field_descriptions.get(&f.name).cloned(),
            null_count: f.null_count,
            distinct_count: f.distinct_count,
            min: f.min.clone(),
            max: f.max.clone(),
        }
    }
}

/// What changed against the previous version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesView {
    /// The version compared with, or null for the first.
    pub previous: Option<i64>,
    /// Row count difference (this version minus the previous one).
    pub rows_delta: i64,
    /// Rows not in the previous version (whole rows compared over the fields both have; a row
    /// changed in place is one added and one removed). Null if not computed.
    pub rows_added: Option<i64>,
    /// Rows of the previous version no longer present. Null if not computed.
    pub rows_removed: Option<i64>,
    pub fields_added: Vec<String>,
    pub fields_removed: Vec<String>,
    /// Fields whose type changed: `{"name", "from", "to"}`.
    #[schema(value_type = Vec<Object>)]
    pub fields_retyped: Vec<Value>,
}

/// One immutable version of a dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    #[schema(example = 1)]
    pub version: i64,
    pub created_at: DateTime<Utc>,
    #[schema(example = 526)]
    pub rows: i64,
    /// Size of the Parquet file in bytes.
    pub bytes: i64,
    /// Disk taken by the version's downloads in the other formats (CSV, NDJSON, JSON, XLSX…),
    /// written when it was published, in bytes.
    pub exports_bytes: i64,
    /// sha256 of the Parquet file, hex: cite it with the version number.
    pub sha256: String,
    /// The file the agency published.
    pub source_name: Option<String>,
    pub changes: ChangesView,
    pub links: VersionLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionLinks {
    /// Records of exactly this version.
    pub records: String,
    /// CSV download of this version.
    pub csv: String,
    /// Parquet download of this version.
    pub parquet: String,
}

impl From<&Version> for VersionView {
    fn from(v: &Version) -> Self {
        let base = format!("/api/v1/datasets/{}", v.dataset_id);
        Self {
            version: v.number,
            created_at: v.created_at,
            rows: v.rows,
            bytes: v.bytes,
            exports_bytes: v.exports_bytes,
            sha256: v.sha256.clone(),
            source_name: v.source_name.clone(),
            changes: ChangesView {
                previous: v.changes.previous,
                rows_delta: v.changes.rows_delta,
                rows_added: v.changes.rows_added,
                rows_removed: v.changes.rows_removed,
                fields_added: v.changes.fields_added.clone(),
                fields_removed: v.changes.fields_removed.clone(),
                fields_retyped: v.changes.fields_retyped.iter().filter_map(|r| serde_json::to_value(r).ok()).collect(),
            },
            links: VersionLinks {
                records: format!("{base}/records?version={}", v.number),
                csv: format!("{base}/download?format=csv&version={}", v.number),
                parquet: format!("{base}/download?format=parquet&version={}", v.number),
            },
        }
    }
}

/// Links of a dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub records: String,
    pub versions: String,
    /// Whole-table downloads of the latest version, by format.
    pub download: DownloadLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLinks {
    pub csv: String,
    pub parquet: String,
}

impl DatasetLinks {
    fn new(id: &str) -> Self {
        let base = format!("/api/v1/datasets/{id}");
        Self {
            self_: base.clone(),
            records: format!("{base}/records"),
            versions: format!("{base}/versions"),
            download: DownloadLinks {
                csv: format!("{base}/download?format=csv"),
                parquet: format!("{base}/download?format=parquet"),
            },
        }
    }
}

/// Period the data covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemporalView {
    /// First date covered (YYYY or YYYY-MM-DD).
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Who to ask about a dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A dataset's metadata as listed in the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetSummary {
    #[schema(example = "don-vi-hanh-chinh-ha-noi")]
    pub id: String,
    #[schema(example = "Đơn vị hành chính thành phố Hà Nội")]
    pub title: String,
    pub description: String,
    pub publisher: PublisherRefView,
    /// Licence identifier, e.g. `CC-BY-4.0`.
    #[schema(example = "CC-BY-4.0")]
    pub license: String,
    pub themes: Vec<String>,
    pub keywords: Vec<String>,
    /// Where the data comes from.
    pub source: Option<String>,
    /// How often the publisher updates it.
    pub update_frequency: Option<String>,
    pub temporal_coverage: Option<TemporalView>,
    pub spatial_coverage: Option<String>,
    pub contact: Option<ContactView>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// Latest version number, or null before the first publish.
    pub version: Option<i64>,
    /// Rows in the latest version.
    pub rows: Option<i64>,
    pub links: DatasetLinks,
}

impl DatasetSummary {
    pub fn new(d: &Dataset, latest: Option<&Version>) -> Self {
        let m = &d.metadata;
        Self {
            id: m.id.clone(),
            title: m.title.clone(),
            description: m.description.clone(),
            publisher: PublisherRefView { id: m.publisher.id.clone(), name: m.publisher.name.clone() },
            license: m.license.clone(),
            themes: m.themes.clone(),
            keywords: m.keywords.clone(),
            source: m.source.clone(),
            update_frequency: m.update_frequency.clone(),
            temporal_coverage: m
                .temporal_coverage
                .as_ref()
                .map(|t| TemporalView { start: t.start.clone(), end: t.end.clone() }),
            spatial_coverage: m.spatial_coverage.clone(),
            contact: m.contact.as_ref().map(|c| ContactView {
                name: c.name.clone(),
                email: c.email.clone(),
                phone: c.phone.clone(),
            }),
            created_at: d.created_at,
            modified_at: d.modified_at,
            version: latest.map(|v| v.number),
            rows: latest.map(|v| v.rows),
            links: DatasetLinks::new(&m.id),
        }
    }
}

/// A dataset with its schema and versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    #[serde(flatten)]
    pub summary: DatasetSummary,
    /// The fields of the latest version.
    pub fields: Vec<FieldView>,
    /// Every version, newest first.
    pub versions: Vec<VersionView>,
}

/// Pagination links.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLinks {
    #[serde(rename = "self")]
    pub self_: String,
    /// The next page, or null on the last.
    pub next: Option<String>,
}

/// A page of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetList {
    /// Datasets matching the filters, before paging.
    #[schema(example = 3)]
    pub total: usize,
    pub items: Vec<DatasetSummary>,
    pub links: PageLinks,
}

/// Every version of a dataset.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub dataset: String,
    pub items: Vec<VersionView>,
}

/// The publishers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublisherList {
    pub items: Vec<PublisherView>,
}

/// A field name and type, as listed in a records page.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordField {
    #[schema(example = "ward_name")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "string")]
    pub field_type: String,
}

/// A page of records (the JSON envelope of `/records`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsPage {
    #[schema(example = "don-vi-hanh-chinh-ha-noi")]
    pub dataset: String,
    /// The version read.
    #[schema(example = 1)]
    pub version: i64,
    /// Rows matching the filters, before paging.
    #[schema(example = 8)]
    pub total: usize,
    #[schema(example = 100)]
    pub limit: usize,
    #[schema(example = 0)]
    pub offset: usize,
    pub fields: Vec<RecordField>,
    /// The rows, one object each, keyed by field name. Dates `YYYY-MM-DD`, datetimes ISO 8601.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub links: PageLinks,
}

/// Liveness or readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

mod publishing;
pub use publishing::*;
