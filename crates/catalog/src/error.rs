//! The catalog's one error type.

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no dataset `{0}`")]
    DatasetNotFound(String),
    #[error("dataset `{dataset}` has no version {version}; latest is {latest}")]
    VersionNotFound { dataset: String, version: i64, latest: i64 },
    #[error("dataset `{0}` has no published version yet")]
    NoVersion(String),
    #[error("no publisher `{0}`")]
    PublisherNotFound(String),
    #[error("a dataset with id `{0}` exists already (withdrawn datasets keep their id)")]
    DatasetExists(String),
    #[error("dataset `{0}` is withdrawn")]
    DatasetWithdrawn(String),
    #[error("a publisher with id `{0}` exists already")]
    PublisherExists(String),
    #[error("publisher `{publisher}` has no key `{key}`")]
    KeyNotFound { publisher: String, key: String },
    #[error("no job `{0}`")]
    JobNotFound(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("invalid metadata: {0}")]
    InvalidMetadata(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("blob store error at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("could not write the table: {0}")]
    Write(#[from] opendata_ingest::IngestError),
    #[error("stored JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("could not compare with the previous version: {0}")]
    Diff(String),
    #[error("background task failed: {0}")]
    Join(String),
    #[error("could not write the version's downloads: {0}")]
    Export(String),
    /// A backup or restore refused (a folder not empty, not a backup…).
    #[error("{0}")]
    Backup(String),
}

impl CatalogError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::DatasetNotFound(_) => "dataset_not_found",
            Self::VersionNotFound { .. } => "version_not_found",
            Self::NoVersion(_) => "no_version",
            Self::PublisherNotFound(_) => "publisher_not_found",
            Self::InvalidMetadata(_) => "invalid_metadata",
            Self::DatasetExists(_) => "dataset_exists",
            Self::DatasetWithdrawn(_) => "dataset_withdrawn",
            Self::PublisherExists(_) => "publisher_exists",
            Self::KeyNotFound { .. } => "key_not_found",
            Self::JobNotFound(_) => "job_not_found",
            _ => "internal",
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
