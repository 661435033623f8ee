//! The `Catalog`: one SQLite pool and one blob folder.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use opendata_ingest::{Field, Ingested, names};
use sha2::{Digest, Sha256};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlStr, SqlitePool};

use crate::error::{CatalogError, Result};
use crate::jobs::JobBoard;
use opendata_collate::Collation;

use crate::model::{
    Changes, Dataset, DatasetMetadata, DatasetQuery, DatasetSort, Published, Publisher, PublisherRef, Version,
    check_slug,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "publishing", include_str!("../migrations/0002_publishing.sql")),
    (3, "settings", include_str!("../migrations/0003_settings.sql")),
    (4, "withdrawn_by", include_str!("../migrations/0004_withdrawn_by.sql")),
    (5, "exports", include_str!("../migrations/0005_exports.sql")),
];

/// Writes a version's whole table in the download formats (CSV, JSON, XLSX…) as files beside
/// its Parquet file, as part of publishing it: the catalog calls it after the Parquet file is
/// written and before the version's row commits, so a version is never visible without its
/// downloads. The API crate implements it with the query crate's encoders; the catalog only
/// says where the files go.
pub trait Exporter: Send + Sync + std::fmt::Debug {
    /// Write every download of `version` (its Parquet file at `parquet`) to the path that
    /// `path_of` gives each variant's name. Returns the bytes written. Blocking.
    fn export(
        &self,
        version: &Version,
        parquet: &Path,
        path_of: &dyn Fn(&str) -> PathBuf,
    ) -> std::result::Result<u64, String>;
}

/// The file a version is published from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: Option<String>,
    /// sha256 of the uploaded bytes: an identical upload creates no new version.
    pub sha256: String,
    pub bytes: u64,
}

impl SourceFile {
    pub fn from_bytes(name: Option<&str>, bytes: &[u8]) -> Self {
        Self { name: name.map(str::to_string), sha256: hex::encode(Sha256::digest(bytes)), bytes: bytes.len() as u64 }
    }

    /// Hash a file on disk without holding it in memory.
    pub fn from_path(path: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let bytes = std::io::copy(&mut file, &mut hasher)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        Ok(Self { name, sha256: hex::encode(hasher.finalize()), bytes })
    }
}

/// Metadata store and blob store together. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    pub(crate) pool: SqlitePool,
    pub(crate) blob_dir: PathBuf,
    /// Uploads being received or waiting for their job; removed when the job ends.
    pub(crate) upload_dir: PathBuf,
    /// Serialises publishes per dataset within this process.
    publish_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    pub(crate) jobs: Arc<JobBoard>,
    /// Bumped after every committed change to datasets or versions, so readers may keep what
    /// they looked up while it stays the same (see [`Catalog::generation`]).
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// Writes each new version's downloads (see [`Exporter`]); none without it.
    exporter: Option<Arc<dyn Exporter>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("blob_dir", &self.blob_dir).finish_non_exhaustive()
    }
}

/// Now, to the second: catalog times are shown to people and cited.
pub(crate) fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(0)
}

pub(crate) fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

impl Catalog {
    /// Open (and create or migrate) the catalog. `database_url` defaults to
    /// `sqlite://<data_dir>/catalog.sqlite`; blobs live in `<data_dir>/blobs`, uploads in
    /// `<data_dir>/uploads`. A server calls [`Catalog::recover`] next.
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| CatalogError::io(data_dir, e))?;
        let blob_dir = data_dir.join("blobs");
        std::fs::create_dir_all(&blob_dir).map_err(|e| CatalogError::io(&blob_dir, e))?;
        let upload_dir = data_dir.join("uploads");
        std::fs::create_dir_all(&upload_dir).map_err(|e| CatalogError::io(&upload_dir, e))?;
        let options = match database_url {
            Some(url) => SqliteConnectOptions::from_str(url)?,
            None => SqliteConnectOptions::new().filename(data_dir.join("catalog.sqlite")),
        }
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(*v, Cow::Borrowed(*d), MigrationType::Simple, SqlStr::from_static(sql), false)
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        Ok(Self::with_pool(pool, data_dir))
    }

    /// A catalog on `pool` with its files in `data_dir` (creating nothing).
    pub(crate) fn with_pool(pool: SqlitePool, data_dir: &Path) -> Self {
        Self {
            pool,
            blob_dir: data_dir.join("blobs"),
            upload_dir: data_dir.join("uploads"),
            publish_locks: Arc::default(),
            jobs: Arc::default(),
            generation: Arc::default(),
            exporter: None,
        }
    }

    /// This catalog, writing every version it publishes from now on in the download formats.
    pub fn with_exporter(mut self, exporter: Arc<dyn Exporter>) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// A number that changes after every committed change this process makes to datasets and
    /// versions. Only one process writes a data folder while a server runs (`serve` and
    /// `publish` lock it), so a lookup made at one generation holds while it is current.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Where a version's Parquet file is.
    pub fn blob_path(&self, version: &Version) -> PathBuf {
        self.blob_dir.join(&version.blob)
    }

    /// Where a version's whole table in another format is kept once written (`variant` names
    /// the format and its options, e.g. `csv`, `csv-bom`): `exports/` beside `blobs/`, with the
    /// blob's name. Written when the version is published (see [`Exporter`]), or by the API on
    /// the first download of a version published before; removed with nothing else referring
    /// to them by [`Catalog::recover`] when their blob is gone.
    pub fn export_path(&self, version: &Version, variant: &str) -> PathBuf {
        let blob = std::path::Path::new(&version.blob);
        self.export_dir().join(blob.with_extension(variant))
    }

    /// Where the API keeps answers built into files for a while (see its `answers` module).
    pub fn answer_dir(&self) -> PathBuf {
        self.blob_dir.with_file_name("answers")
    }

    pub(crate) fn export_dir(&self) -> PathBuf {
        self.blob_dir.with_file_name("exports")
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// A secret shared by every server on this catalog (created on first use): 32 random
    /// bytes, e.g. to sign page cursors.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>> {
        let key = format!("secret:{name}");
        let fresh = hex::encode(crate::keys::random_bytes::<32>()?);
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(&key)
            .bind(&fresh)
            .execute(&self.pool)
            .await?;
        let value: String =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(&key).fetch_one(&self.pool).await?;
        hex::decode(value).map_err(|e| CatalogError::InvalidMetadata(format!("setting {key}: {e}")))
    }

    /// The folder uploads are received into (on the same file system as the blobs).
    pub fn upload_dir(&self) -> &Path {
        &self.upload_dir
    }

    /// A publisher by id.
    pub async fn publisher(&self, id: &str) -> Result<Publisher> {
        self.publishers()
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| CatalogError::PublisherNotFound(id.to_string()))
    }

    /// Create a publisher; 409 when the id is taken.
    pub async fn create_publisher(&self, publisher: &PublisherRef) -> Result<Publisher> {
        check_slug("id", &publisher.id)?;
        if publisher.name.trim().is_empty() {
            return Err(CatalogError::InvalidMetadata("name is empty".into()));
        }
        let inserted = sqlx::query(
            "INSERT INTO publishers (id, name, description, homepage, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&publisher.id)
        .bind(publisher.name.trim())
        .bind(&publisher.description)
        .bind(&publisher.homepage)
        .bind(now().to_rfc3339())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(CatalogError::PublisherExists(publisher.id.clone()));
        }
        self.publisher(&publisher.id).await
    }

    /// Create a dataset of an existing publisher; 409 when the id is taken (withdrawn or not).
    pub async fn create_dataset(&self, meta: &DatasetMetadata) -> Result<Dataset> {
        meta.validate()?;
        self.publisher(&meta.publisher.id).await?;
        let now = now().to_rfc3339();
        let inserted = sqlx::query(
            "INSERT INTO datasets (id, publisher_id, title, metadata, search_text, created_at, modified_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&meta.id)
        .bind(&meta.publisher.id)
        .bind(&meta.title)
        .bind(serde_json::to_string(meta)?)
        .bind(search_text(meta))
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.changed();
        if inserted == 0 {
            return Err(CatalogError::DatasetExists(meta.id.clone()));
        }
        self.dataset(&meta.id).await
    }

    /// Replace the metadata of an existing dataset (same id and publisher).
    pub async fn update_dataset(&self, meta: &DatasetMetadata) -> Result<Dataset> {
        meta.validate()?;
        let updated = sqlx::query(
            "UPDATE datasets SET title = ?, metadata = ?, search_text = ?, modified_at = ?
             WHERE id = ? AND publisher_id = ?",
        )
        .bind(&meta.title)
        .bind(serde_json::to_string(meta)?)
        .bind(search_text(meta))
        .bind(now().to_rfc3339())
        .bind(&meta.id)
        .bind(&meta.publisher.id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.changed();
        if updated == 0 {
            return Err(CatalogError::DatasetNotFound(meta.id.clone()));
        }
        self.dataset(&meta.id).await
    }

    /// Withdraw a dataset: reads answer 410 with `reason` and who withdrew it (`by`:
    /// `publisher` or `admin`); its versions and files are kept.
    pub async fn withdraw_dataset(&self, id: &str, reason: &str, by: &str) -> Result<Dataset> {
        let updated = sqlx::query(
            "UPDATE datasets SET withdrawn_at = ?, withdrawn_reason = ?, withdrawn_by = ?
             WHERE id = ? AND withdrawn_at IS NULL",
        )
        .bind(now().to_rfc3339())
        .bind(reason)
        .bind(by)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        self.changed();
        let dataset = self.dataset(id).await?;
        if updated == 0 {
            return Err(CatalogError::DatasetWithdrawn(id.to_string()));
        }
        Ok(dataset)
    }

    /// Create or update a dataset's metadata (and its publisher). Returns true when anything changed.
    pub async fn upsert_dataset(&self, meta: &DatasetMetadata) -> Result<bool> {
        meta.validate()?;
        let now = now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO publishers (id, name, description, homepage, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
               homepage = excluded.homepage",
        )
        .bind(&meta.publisher.id)
        .bind(&meta.publisher.name)
        .bind(&meta.publisher.description)
        .bind(&meta.publisher.homepage)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let json = serde_json::to_string(meta)?;
        let owner: Option<String> = sqlx::query_scalar("SELECT publisher_id FROM datasets WHERE id = ?")
            .bind(&meta.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(owner) = owner.filter(|o| o != &meta.publisher.id) {
            return Err(CatalogError::InvalidMetadata(format!(
                "dataset `{}` belongs to publisher `{owner}`, not `{}`: a dataset does not change hands",
                meta.id, meta.publisher.id
            )));
        }
        let existing: Option<String> = sqlx::query_scalar("SELECT metadata FROM datasets WHERE id = ?")
            .bind(&meta.id)
            .fetch_optional(&mut *tx)
            .await?;
        let changed = existing.as_deref() != Some(json.as_str());
        if changed {
            sqlx::query(
                "INSERT INTO datasets (id, publisher_id, title, metadata, search_text, created_at, modified_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET publisher_id = excluded.publisher_id, title = excluded.title,
                   metadata = excluded.metadata, search_text = excluded.search_text, modified_at = excluded.modified_at",
            )
            .bind(&meta.id)
            .bind(&meta.publisher.id)
            .bind(&meta.title)
            .bind(&json)
            .bind(search_text(meta))
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(changed)
    }

    fn dataset_from_row(row: &SqliteRow) -> Result<Dataset> {
        Ok(Dataset {
            metadata: serde_json::from_str(row.get("metadata"))?,
            created_at: parse_time(row.get("created_at")),
            modified_at: parse_time(row.get("modified_at")),
            withdrawn_at: row.get::<Option<String>, _>("withdrawn_at").as_deref().map(parse_time),
            withdrawn_reason: row.get("withdrawn_reason"),
            withdrawn_by: row.get("withdrawn_by"),
            latest_version: row.get("latest_version"),
        })
    }

    pub async fn dataset(&self, id: &str) -> Result<Dataset> {
        let row = sqlx::query(DATASET_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::DatasetNotFound(id.to_string()))?;
        Self::dataset_from_row(&row)
    }

    /// Datasets matching `query`, most recently modified first, and the total before paging.
    pub async fn datasets(&self, query: &DatasetQuery) -> Result<(usize, Vec<Dataset>)> {
        let rows = sqlx::query(DATASETS).fetch_all(&self.pool).await?;
        let words: Vec<String> = query.q.as_deref().map(search_words).unwrap_or_default();
        let folded_eq = |a: &str, b: &str| names::fold(a) == names::fold(b);
        let mut matched = Vec::new();
        let mut scores = HashMap::new();
        for row in &rows {
            let text: String = row.get("search_text");
            let tokens: Vec<&str> = search_words_of(&text);
            if !words.iter().all(|w| tokens.iter().any(|t| t.starts_with(w.as_str()))) {
                continue;
            }
            let id: String = row.get("id");
            let title: String = row.get("title");
            scores.insert(id, relevance(&words, &tokens, &names::fold(&title)));
            let d = Self::dataset_from_row(row)?;
            if d.withdrawn_at.is_some()
                || query.publisher.as_ref().is_some_and(|p| &d.metadata.publisher.id != p)
                || query.theme.as_ref().is_some_and(|t| !d.metadata.themes.iter().any(|x| folded_eq(x, t)))
                || query.keyword.as_ref().is_some_and(|k| !d.metadata.keywords.iter().any(|x| folded_eq(x, k)))
            {
                continue;
            }
            matched.push(d);
        }
        let newest_first = |a: &Dataset, b: &Dataset| b.modified_at.cmp(&a.modified_at);
        let by_id = |a: &Dataset, b: &Dataset| a.metadata.id.cmp(&b.metadata.id);
        match query.sort {
            DatasetSort::Relevance => matched.sort_by(|a, b| {
                let score = |d: &Dataset| scores.get(&d.metadata.id).copied().unwrap_or(0);
                score(b).cmp(&score(a)).then_with(|| newest_first(a, b)).then_with(|| by_id(a, b))
            }),
            DatasetSort::Modified { descending } => matched.sort_by(|a, b| {
                let order = if descending { newest_first(a, b) } else { newest_first(b, a) };
                order.then_with(|| by_id(a, b))
            }),
            DatasetSort::Title { descending } => {
                matched.sort_by(|a, b| by_id(a, b));
                Collation::Vietnamese.sort_by_key(&mut matched, |d| d.metadata.title.as_str());
                if descending {
                    matched.reverse();
                }
            }
        }
        let total = matched.len();
        let page = matched.into_iter().skip(query.offset).take(query.limit).collect();
        Ok((total, page))
    }

    /// Every publisher, by name in Vietnamese dictionary order.
    pub async fn publishers(&self) -> Result<Vec<Publisher>> {
        let rows = sqlx::query(
            "SELECT p.*, (SELECT COUNT(*) FROM datasets d WHERE d.publisher_id = p.id AND d.withdrawn_at IS NULL) AS n
             FROM publishers p ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut publishers: Vec<Publisher> = rows
            .iter()
            .map(|r| Publisher {
                id: r.get("id"),
                name: r.get("name"),
                description: r.get("description"),
                homepage: r.get("homepage"),
                dataset_count: r.get("n"),
            })
            .collect();
        Collation::Vietnamese.sort_by_key(&mut publishers, |p| p.name.as_str());
        Ok(publishers)
    }

    fn version_from_row(row: &SqliteRow) -> Result<Version> {
        Ok(Version {
            dataset_id: row.get("dataset_id"),
            number: row.get("number"),
            created_at: parse_time(row.get("created_at")),
            rows: row.get("rows"),
            bytes: row.get("bytes"),
            sha256: row.get("sha256"),
            blob: row.get("blob"),
            source_name: row.get("source_name"),
            source_sha256: row.get("source_sha256"),
            schema: serde_json::from_str(row.get("schema"))?,
            report: serde_json::from_str(row.get("report"))?,
            changes: serde_json::from_str(row.get("changes"))?,
            exports_bytes: row.get("exports_bytes"),
        })
    }

    /// All versions of a dataset, newest first.
    pub async fn versions(&self, dataset_id: &str) -> Result<Vec<Version>> {
        let rows = sqlx::query("SELECT * FROM versions WHERE dataset_id = ? ORDER BY number DESC")
            .bind(dataset_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::version_from_row).collect()
    }

    /// Version `number` of a dataset, or its latest when `None`.
    pub async fn version(&self, dataset_id: &str, number: Option<i64>) -> Result<Version> {
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(number) FROM versions WHERE dataset_id = ?")
            .bind(dataset_id)
            .fetch_one(&self.pool)
            .await?;
        let Some(latest) = latest else {
            return Err(CatalogError::NoVersion(dataset_id.to_string()));
        };
        let wanted = number.unwrap_or(latest);
        let row = sqlx::query("SELECT * FROM versions WHERE dataset_id = ? AND number = ?")
            .bind(dataset_id)
            .bind(wanted)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::VersionNotFound {
                dataset: dataset_id.to_string(),
                version: wanted,
                latest,
            })?;
        Self::version_from_row(&row)
    }

    pub(crate) fn publish_lock(&self, dataset_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.publish_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(dataset_id.to_string()).or_default().clone()
    }

    /// Publish an ingested table as the next version of `dataset_id`, unless `source` is
    /// identical to the latest version's source.
    pub async fn publish(&self, dataset_id: &str, ingested: Ingested, source: SourceFile) -> Result<Published> {
        self.publish_job(dataset_id, ingested, source, None).await
    }

    /// [`Catalog::publish`], marking `job` succeeded in the transaction that adds the version.
    pub(crate) async fn publish_job(
        &self,
        dataset_id: &str,
        ingested: Ingested,
        source: SourceFile,
        job: Option<&str>,
    ) -> Result<Published> {
        let lock = self.publish_lock(dataset_id);
        let _guard = lock.lock().await;
        self.publish_locked(dataset_id, ingested, source, job).await
    }

    /// [`Catalog::publish_job`] by a caller that holds the dataset's lock.
    pub(crate) async fn publish_locked(
        &self,
        dataset_id: &str,
        ingested: Ingested,
        source: SourceFile,
        job: Option<&str>,
    ) -> Result<Published> {
        self.dataset(dataset_id).await?;
        let previous = match self.version(dataset_id, None).await {
            Ok(v) => Some(v),
            Err(CatalogError::NoVersion(_)) => None,
            Err(e) => return Err(e),
        };
        if let Some(prev) = previous.as_ref().filter(|p| p.source_sha256 == source.sha256) {
            return Ok(Published::Unchanged(prev.clone()));
        }
        let number = previous.as_ref().map_or(1, |p| p.number + 1);
        let dir = self.blob_dir.join(dataset_id);
        let Ingested { table, report } = ingested;
        let schema: Vec<Field> = table.fields.clone();
        let rows = table.rows() as i64;
        let (blob_name, bytes, sha256) = {
            let dir = dir.clone();
            let stem = format!("v{number}-{}", &source.sha256[..12]);
            tokio::task::spawn_blocking(move || write_blob(&dir, &stem, &table))
                .await
                .map_err(|e| CatalogError::Join(e.to_string()))??
        };
        let blob = format!("{dataset_id}/{blob_name}");
        let mut changes = Changes::between(previous.as_ref(), &schema, rows);
        if let Some(prev) = &previous {
            let common = Changes::common_fields(&prev.schema, &schema);
            let (old, new) = ((self.blob_path(prev), prev.rows as usize), (dir.join(&blob_name), rows as usize));
            match tokio::task::spawn_blocking(move || crate::diff::row_diff(old, new, &common)).await {
                Ok(Ok((added, removed))) => (changes.rows_added, changes.rows_removed) = (Some(added), Some(removed)),
                Ok(Err(e)) => tracing::warn!(dataset = dataset_id, error = %e, "rows added and removed not computed"),
                Err(e) => tracing::warn!(dataset = dataset_id, error = %e, "rows added and removed not computed"),
            }
        }
        let mut version = Version {
            dataset_id: dataset_id.to_string(),
            number,
            created_at: now(),
            rows,
            bytes: bytes as i64,
            sha256,
            blob,
            source_name: source.name,
            source_sha256: source.sha256,
            changes,
            schema,
            report,
            exports_bytes: 0,
        };
        if let Some(exporter) = self.exporter.clone() {
            let (catalog, written) = (self.clone(), version.clone());
            let exported = tokio::task::spawn_blocking(move || {
                exporter
                    .export(&written, &catalog.blob_path(&written), &|variant| catalog.export_path(&written, variant))
            })
            .await
            .map_err(|e| CatalogError::Join(e.to_string()))?;
            match exported {
                Ok(n) => version.exports_bytes = n as i64,
                Err(e) => {
                    self.remove_version_files(&version);
                    return Err(CatalogError::Export(e));
                }
            }
        }
        if let Err(e) = self.insert_version(&version, job).await {
            self.remove_version_files(&version);
            return Err(e);
        }
        Ok(Published::Created(version))
    }

    /// Remove a version's Parquet file and its downloads (of a version whose row did not commit).
    fn remove_version_files(&self, version: &Version) {
        let _ = std::fs::remove_file(self.blob_path(version));
        let stem = Path::new(&version.blob).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = self.export_dir().join(&version.dataset_id);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&format!("{stem}.")) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    async fn insert_version(&self, v: &Version, job: Option<&str>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO versions (dataset_id, number, created_at, rows, bytes, sha256, blob, source_name,
               source_sha256, schema, report, changes, exports_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&v.dataset_id)
        .bind(v.number)
        .bind(v.created_at.to_rfc3339())
        .bind(v.rows)
        .bind(v.bytes)
        .bind(&v.sha256)
        .bind(&v.blob)
        .bind(&v.source_name)
        .bind(&v.source_sha256)
        .bind(serde_json::to_string(&v.schema)?)
        .bind(serde_json::to_string(&v.report)?)
        .bind(serde_json::to_string(&v.changes)?)
        .bind(v.exports_bytes)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE datasets SET modified_at = ? WHERE id = ?")
            .bind(v.created_at.to_rfc3339())
            .bind(&v.dataset_id)
            .execute(&mut *tx)
            .await?;
        if let Some(job) = job {
            sqlx::query(
                "UPDATE jobs SET state = 'succeeded', finished_at = ?, rows = ?, version = ?, report = ? WHERE id = ?",
            )
            .bind(now().to_rfc3339())
            .bind(v.rows)
            .bind(v.number)
            .bind(serde_json::to_string(&v.report)?)
            .bind(job)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }
}

const DATASETS: &str =
    "SELECT d.*, (SELECT MAX(number) FROM versions v WHERE v.dataset_id = d.id) AS latest_version FROM datasets d";
const DATASET_BY_ID: &str = "SELECT d.*, (SELECT MAX(number) FROM versions v WHERE v.dataset_id = d.id) AS latest_version FROM datasets d WHERE d.id = ?";

/// The folded words of a search: `Hà Nội` → `ha`, `noi`.
fn search_words(q: &str) -> Vec<String> {
    search_words_of(&names::fold(q)).into_iter().map(str::to_string).collect()
}

/// Words of folded text: runs of letters and digits. A search word matches a word it starts,
/// so `ha noi` finds `Hà Nội` and `hanh` finds `hành` but not `thành`.
fn search_words_of(folded: &str) -> Vec<&str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

/// How well a dataset that has every search word matches: a word that starts a word of the
/// title counts 3 (4 when it is that whole word), one found only elsewhere counts 1.
fn relevance(words: &[String], tokens: &[&str], folded_title: &str) -> u32 {
    let title = search_words_of(folded_title);
    words
        .iter()
        .map(|w| {
            if title.iter().any(|t| t == w) {
                4
            } else if title.iter().any(|t| t.starts_with(w.as_str())) {
                3
            } else {
                u32::from(tokens.iter().any(|t| t.starts_with(w.as_str())))
            }
        })
        .sum()
}

fn search_text(meta: &DatasetMetadata) -> String {
    let mut parts =
        vec![meta.id.as_str(), meta.title.as_str(), meta.description.as_str(), meta.publisher.name.as_str()];
    parts.extend(meta.keywords.iter().map(String::as_str));
    parts.extend(meta.themes.iter().map(String::as_str));
    names::fold(&parts.join(" \u{1f} "))
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write `table` as `<dir>/<stem>.parquet` through a temporary file, fsynced and renamed.
/// Returns the file name, its size and its sha256.
fn write_blob(dir: &Path, stem: &str, table: &opendata_ingest::Table) -> Result<(String, u64, String)> {
    std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
    let name = format!("{stem}.parquet");
    let final_path = dir.join(&name);
    let tmp_path = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp_path).map_err(|e| CatalogError::io(&tmp_path, e))?;
    let mut writer = HashingWriter { inner: BufWriter::new(file), hasher: Sha256::new(), bytes: 0 };
    let result = table.write_parquet(&mut writer).map_err(CatalogError::from).and_then(|_| {
        writer.flush().map_err(|e| CatalogError::io(&tmp_path, e))?;
        let file = writer.inner.get_ref();
        file.sync_all().map_err(|e| CatalogError::io(&tmp_path, e))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(e);
    }
    let sha = hex::encode(writer.hasher.finalize());
    std::fs::rename(&tmp_path, &final_path).map_err(|e| CatalogError::io(&final_path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((name, writer.bytes, sha))
}
