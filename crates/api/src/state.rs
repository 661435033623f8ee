//! Shared application state.

use std::ops::Deref;
use std::sync::Arc;

use opendata_catalog::Catalog;

use crate::auth::AdminToken;
use crate::cache::TableCache;

/// Everything a handler may need, built once at start-up.
#[derive(Debug)]
pub struct App {
    /// Metadata store and blob store.
    pub catalog: Catalog,
    /// The administrator's token (`OPENDATA_ADMIN_TOKEN`); admin endpoints answer 403 without it.
    pub admin_token: Option<AdminToken>,
    /// Largest upload accepted (`OPENDATA_MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
    /// Signs page cursors. Every server of one catalog must share it: `opendata serve` reads it
    /// from the catalog ([`Catalog::secret`]).
    pub cursor_secret: Vec<u8>,
    /// Versions' tables kept in memory (`OPENDATA_CACHE_BYTES`).
    pub tables: TableCache,
    /// Queries run at once: one per core. More would only share the cores and multiply the
    /// memory of answers in flight; the rest wait their turn.
    pub query_slots: Arc<tokio::sync::Semaphore>,
    /// Rate limits and the bound on heavy queries (`serve` turns them on; off when `None`).
    pub throttle: Option<Arc<crate::throttle::Throttle>>,
    /// Answers built into files to be served with `Range` (`OPENDATA_ANSWER_CACHE_BYTES`).
    pub answers: crate::answers::AnswerFiles,
    /// The version each read of rows resolved to, by (dataset, version asked for), with the
    /// catalog generation it was looked up at: a read answers without the database while
    /// nothing was published, edited or withdrawn since.
    pub read_versions: std::sync::Mutex<ReadVersions>,
}

/// (dataset, version asked for) → (catalog generation, the version read).
pub type ReadVersions =
    std::collections::HashMap<(String, Option<i64>), (u64, std::sync::Arc<opendata_catalog::Version>)>;

/// Tables kept in memory, unless configured otherwise: 512 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 512 << 20;

/// Uploads up to 1 GiB unless configured otherwise.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

impl App {
    /// An app with a cursor secret of its own (cursors it signs are valid for it alone).
    pub fn new(catalog: Catalog) -> Self {
        let cursor_secret = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos().to_le_bytes().to_vec())
            .unwrap_or_default();
        Self {
            answers: crate::answers::AnswerFiles::new(catalog.answer_dir(), crate::answers::DEFAULT_ANSWER_BYTES),
            throttle: None,
            catalog,
            admin_token: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            cursor_secret,
            tables: TableCache::new(DEFAULT_CACHE_BYTES),
            query_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            read_versions: std::sync::Mutex::default(),
        }
    }
}

/// Cheap to clone handle on [`App`], the axum state of every route.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    pub fn new(app: App) -> Self {
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Run blocking query work (polars) on the blocking pool, one per free query slot.
    pub async fn query<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> opendata_query::Result<T> + Send + 'static,
    ) -> Result<T, crate::error::ApiError> {
        let _slot = self.query_slots.clone().acquire_owned().await.map_err(crate::error::ApiError::internal)?;
        Ok(tokio::task::spawn_blocking(work).await??)
    }

    /// Load the latest version of every dataset into memory (within the budget), so the
    /// first readers do not wait for it.
    pub async fn warm(&self) {
        let query = opendata_catalog::DatasetQuery { limit: usize::MAX, ..Default::default() };
        let Ok((_, datasets)) = self.catalog.datasets(&query).await else { return };
        for d in datasets {
            if let Ok(version) = self.catalog.version(&d.metadata.id, None).await {
                let path = self.catalog.blob_path(&version);
                if let Err(e) = self.tables.table(&version, path).await {
                    tracing::warn!(dataset = %d.metadata.id, error = %e.message, "could not load the table into memory");
                }
            }
        }
    }
}
