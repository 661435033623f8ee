//! Keeping the data safe: a backup of a data folder taken beside a running server, its
//! restore into an empty folder, and a check of every version's Parquet file.
//!
//! A backup is a folder holding `catalog.sqlite` (a snapshot of the catalog made by SQLite's
//! `VACUUM INTO`, one read transaction, so a consistent state whatever the server is writing),
//! and the files every version of that snapshot refers to: its Parquet file under `blobs/`,
//! checked against the version's sha256 and size, and its downloads under `exports/`. These
//! files are immutable once their version's row exists (the catalog writes them under a
//! temporary name and renames them into place before inserting the row), so they are
//! hard-linked when the backup is on the same file system and copied otherwise. A version
//! published after the snapshot is not in it, and its files are not needed. A hard link is the
//! same file as the data folder's: nothing here changes a published file in place, and
//! [`Catalog::verify`] finds one that something else changed. A restore copies, so a restored
//! folder shares nothing with its backup.
//!
//! The snapshot is written as `catalog.sqlite.partial` and renamed `catalog.sqlite` once the
//! files are in place: a backup folder with a `catalog.sqlite` is a finished one.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Row};

use crate::error::{CatalogError, Result};
use crate::store::Catalog;

/// The catalog database's file name, in a data folder and in a backup.
pub const CATALOG_FILE: &str = "catalog.sqlite";
/// What a backup's snapshot is called until its files are in place.
const PARTIAL: &str = "catalog.sqlite.partial";
/// The folders a backup holds beside its catalog.
const BLOBS: &str = "blobs";
const EXPORTS: &str = "exports";
/// The lock file `serve`, `publish` and `restore` hold in a data folder (see the CLI).
pub const LOCK_FILE: &str = "opendata.lock";

/// What a version's row says of its Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub dataset: String,
    pub version: i64,
    /// Relative to the blob folder: `<dataset>/<file>`.
    pub blob: String,
    pub sha256: String,
    pub bytes: u64,
}

/// What was found where a version's Parquet file should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No file there.
    Missing,
    /// A file whose content is not the one published.
    Changed { sha256: String, bytes: u64 },
    /// A file that could not be read.
    Unreadable(String),
}

/// A version whose Parquet file is missing or not the one its row describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile {
    pub expected: StoredBlob,
    pub path: PathBuf,
    pub found: Found,
}

impl fmt::Display for BadFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.expected;
        let what = match self.found {
            Found::Missing => "missing",
            Found::Changed { .. } => "changed",
            Found::Unreadable(_) => "unreadable",
        };
        write!(
            f,
            "{what}: dataset {} version {}: {}: expected sha256 {}, {} bytes; found ",
            e.dataset,
            e.version,
            self.path.display(),
            e.sha256,
            e.bytes
        )?;
        match &self.found {
            Found::Missing => write!(f, "no file"),
            Found::Changed { sha256, bytes } => write!(f, "sha256 {sha256}, {bytes} bytes"),
            Found::Unreadable(e) => write!(f, "an unreadable file ({e})"),
        }
    }
}

/// What [`Catalog::verify`] found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Versions checked.
    pub versions: u64,
    /// Bytes of Parquet read.
    pub bytes: u64,
    /// Versions whose file is missing or changed, in dataset and version order.
    pub bad: Vec<BadFile>,
}

/// What [`Catalog::backup_to`] wrote.
#[derive(Debug, Clone, Default)]
pub struct BackupReport {
    /// Versions in the snapshot.
    pub versions: u64,
    /// Datasets in the snapshot (with a version or not).
    pub datasets: u64,
    /// Size of the snapshot (`catalog.sqlite`).
    pub catalog_bytes: u64,
    /// Parquet files and their bytes.
    pub blob_files: u64,
    pub blob_bytes: u64,
    /// Download files (`exports/`) and their bytes.
    pub export_files: u64,
    pub export_bytes: u64,
    /// Files hard-linked, and copied (another file system, or links refused).
    pub linked: u64,
    pub copied: u64,
    /// Versions whose file in the data folder is missing or changed: the backup holds what was
    /// found (or nothing), and is not a faithful one of them.
    pub bad: Vec<BadFile>,
}

/// What [`restore`] copied.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Where the catalog database went.
    pub catalog: PathBuf,
    /// Files copied from the backup's `blobs/` and `exports/`, and their bytes (the catalog's
    /// included).
    pub files: u64,
    pub bytes: u64,
}

/// How a file reached a backup.
enum Placed {
    Linked,
    Copied,
}

impl Catalog {
    /// Open an existing catalog to read it only: no migration, nothing created, no lock, so
    /// beside a running server (`backup`, `verify`). Fails when there is no catalog database.
    pub async fn open_read_only(data_dir: &Path, database_url: Option<&str>) -> Result<Self> {
        let options = match database_url {
            Some(url) => SqliteConnectOptions::from_str(url)?,
            None => SqliteConnectOptions::new().filename(data_dir.join(CATALOG_FILE)),
        }
        .create_if_missing(false)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await?;
        Ok(Self::with_pool(pool, data_dir))
    }

    /// Check every version's Parquet file against the sha256 and size in its row. Reads only;
    /// works beside a running server (a version committed while it runs may or may not be
    /// among those checked).
    pub async fn verify(&self) -> Result<VerifyReport> {
        let blobs = stored_blobs(&self.pool).await?;
        let dir = self.blob_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut report = VerifyReport::default();
            for blob in blobs {
                let path = dir.join(&blob.blob);
                report.versions += 1;
                match check(&path, &blob) {
                    Ok(bytes) => report.bytes += bytes,
                    Err(found) => report.bad.push(BadFile { expected: blob, path, found }),
                }
            }
            report
        })
        .await
        .map_err(|e| CatalogError::Join(e.to_string()))
    }

    /// Back up the catalog and every version's files into `dest`, which must be empty or not
    /// exist. Takes no lock and writes nothing here: a server may go on publishing meanwhile.
    /// A backup that fails leaves `dest` as it was found (absent, or empty).
    pub async fn backup_to(&self, dest: &Path) -> Result<BackupReport> {
        require_empty(dest, &[])?;
        let existed = dest.exists();
        std::fs::create_dir_all(dest).map_err(|e| CatalogError::io(dest, e))?;
        let result = self.backup_into(dest).await;
        if result.is_err() {
            if existed {
                for name in [PARTIAL, CATALOG_FILE] {
                    let _ = std::fs::remove_file(dest.join(name));
                }
                for name in [BLOBS, EXPORTS] {
                    let _ = std::fs::remove_dir_all(dest.join(name));
                }
            } else {
                let _ = std::fs::remove_dir_all(dest);
            }
        }
        result
    }

    async fn backup_into(&self, dest: &Path) -> Result<BackupReport> {
        let partial = dest.join(PARTIAL);
        let target = partial
            .to_str()
            .ok_or_else(|| CatalogError::Backup(format!("{} is not a UTF-8 path", partial.display())))?;
        // One read transaction: a consistent snapshot of everything, whatever commits meanwhile.
        sqlx::query("VACUUM INTO ?").bind(target).execute(&self.pool).await?;
        sync_file(&partial)?;
        let (blobs, datasets) = {
            let options = SqliteConnectOptions::new()
                .filename(&partial)
                .create_if_missing(false)
                .journal_mode(SqliteJournalMode::Delete);
            let mut snapshot = options.connect().await?;
            let blobs = stored_blobs(&mut snapshot).await?;
            let datasets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM datasets").fetch_one(&mut snapshot).await?;
            snapshot.close().await?;
            (blobs, datasets)
        };
        let (from_blobs, from_exports, dest_owned) = (self.blob_dir.clone(), self.export_dir(), dest.to_path_buf());
        let mut report =
            tokio::task::spawn_blocking(move || copy_versions(&blobs, &from_blobs, &from_exports, &dest_owned))
                .await
                .map_err(|e| CatalogError::Join(e.to_string()))??;
        report.datasets = datasets.max(0) as u64;
        let catalog = dest.join(CATALOG_FILE);
        std::fs::rename(&partial, &catalog).map_err(|e| CatalogError::io(&catalog, e))?;
        report.catalog_bytes = std::fs::metadata(&catalog).map_err(|e| CatalogError::io(&catalog, e))?.len();
        sync_dir(dest);
        Ok(report)
    }
}

/// Every version's Parquet file as its row describes it, by dataset and version.
async fn stored_blobs<'e>(db: impl sqlx::SqliteExecutor<'e>) -> Result<Vec<StoredBlob>> {
    let rows = sqlx::query("SELECT dataset_id, number, blob, sha256, bytes FROM versions ORDER BY dataset_id, number")
        .fetch_all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredBlob {
            dataset: r.get("dataset_id"),
            version: r.get("number"),
            blob: r.get("blob"),
            sha256: r.get("sha256"),
            bytes: r.get::<i64, _>("bytes").max(0) as u64,
        })
        .collect())
}

/// Copy a backup (`catalog.sqlite`, `blobs/`, `exports/`) into `data_dir`, which must be empty
/// or not exist (but for the lock file of the caller holding it). The catalog goes to the file
/// of `database_url` when given (a SQLite URL), else to `data_dir/catalog.sqlite`, and last:
/// a folder with a catalog is a whole one. Files are copied, never linked, so that the restored
/// folder and the backup share nothing. Check the result with [`Catalog::verify`].
pub async fn restore(src: &Path, data_dir: &Path, database_url: Option<&str>) -> Result<RestoreReport> {
    let (src, data_dir) = (src.to_path_buf(), data_dir.to_path_buf());
    let catalog = match database_url {
        Some(url) => {
            let options = SqliteConnectOptions::from_str(url)?;
            let file = options.get_filename();
            if file.as_os_str().is_empty() || file == Path::new(":memory:") {
                return Err(CatalogError::Backup(format!("cannot restore into the database `{url}`: not a file")));
            }
            file.to_path_buf()
        }
        None => data_dir.join(CATALOG_FILE),
    };
    tokio::task::spawn_blocking(move || restore_files(&src, &data_dir, &catalog))
        .await
        .map_err(|e| CatalogError::Join(e.to_string()))?
}

fn restore_files(src: &Path, data_dir: &Path, catalog: &Path) -> Result<RestoreReport> {
    let snapshot = src.join(CATALOG_FILE);
    if !snapshot.is_file() {
        let hint = if src.join(PARTIAL).is_file() { " (it holds an unfinished one)" } else { "" };
        return Err(CatalogError::Backup(format!(
            "{} is not a finished backup: it has no {CATALOG_FILE}{hint}",
            src.display()
        )));
    }
    require_empty(data_dir, &[LOCK_FILE])?;
    for taken in [catalog.to_path_buf(), with_suffix(catalog, "-wal"), with_suffix(catalog, "-shm")] {
        if taken.exists() {
            return Err(CatalogError::Backup(format!(
                "{} exists already: restore into a new database",
                taken.display()
            )));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|e| CatalogError::io(data_dir, e))?;
    let mut report = RestoreReport { catalog: catalog.to_path_buf(), ..RestoreReport::default() };
    for folder in [BLOBS, EXPORTS] {
        copy_tree(&src.join(folder), &data_dir.join(folder), &mut report)?;
    }
    if let Some(parent) = catalog.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CatalogError::io(parent, e))?;
    }
    let partial = with_suffix(catalog, ".partial");
    report.bytes += std::fs::copy(&snapshot, &partial).map_err(|e| CatalogError::io(&partial, e))?;
    sync_file(&partial)?;
    std::fs::rename(&partial, catalog).map_err(|e| CatalogError::io(catalog, e))?;
    report.files += 1;
    if let Some(parent) = catalog.parent() {
        sync_dir(parent);
    }
    sync_dir(data_dir);
    Ok(report)
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Refuse a folder that holds anything but `allowed` names; a missing one is fine.
pub fn require_empty(dir: &Path, allowed: &[&str]) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(CatalogError::Backup(format!("{} is a file, not a folder", dir.display())));
        }
        Err(e) => return Err(CatalogError::io(dir, e)),
    };
    let mut found: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !allowed.contains(&n.as_str()))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    found.sort();
    let shown = found.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let more = if found.len() > 3 { format!(" and {} more", found.len() - 3) } else { String::new() };
    Err(CatalogError::Backup(format!(
        "{} is not empty (it holds {shown}{more}); name a new or empty folder",
        dir.display()
    )))
}

/// Size and sha256 of a file.
fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// The size of the file at `path` when it is the one `blob` describes.
fn check(path: &Path, blob: &StoredBlob) -> std::result::Result<u64, Found> {
    match hash_file(path) {
        Ok((sha256, bytes)) if sha256 == blob.sha256 && bytes == blob.bytes => Ok(bytes),
        Ok((sha256, bytes)) => Err(Found::Changed { sha256, bytes }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Found::Missing),
        Err(e) => Err(Found::Unreadable(e.to_string())),
    }
}

/// Hard-link `from` at `to`, or copy it where links cannot be made (another file system).
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<Placed> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(Placed::Linked),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            std::fs::copy(from, to)?;
            std::fs::File::open(to)?.sync_all()?;
            Ok(Placed::Copied)
        }
    }
}

/// The files of the data folder's `exports/<dataset>/` by the blob stem they belong to
/// (`v3-0123456789ab.csv-e2` belongs to `v3-0123456789ab`), leaving out files being written.
fn exports_by_stem(dir: &Path) -> HashMap<String, Vec<String>> {
    let mut by_stem: HashMap<String, Vec<String>> = HashMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue;
        }
        if let Some((stem, _)) = name.split_once('.') {
            by_stem.entry(stem.to_string()).or_default().push(name);
        }
    }
    for names in by_stem.values_mut() {
        names.sort();
    }
    by_stem
}

/// Place every version's Parquet file (checked against its row) and its downloads in `dest`.
fn copy_versions(blobs: &[StoredBlob], from_blobs: &Path, from_exports: &Path, dest: &Path) -> Result<BackupReport> {
    let mut report = BackupReport { versions: blobs.len() as u64, ..BackupReport::default() };
    let mut exports: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    let mut made: Vec<PathBuf> = Vec::new();
    let mut make_dir = |dir: &Path| -> Result<()> {
        if !made.iter().any(|d| d == dir) {
            std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
            made.push(dir.to_path_buf());
        }
        Ok(())
    };
    for blob in blobs {
        let relative = Path::new(&blob.blob);
        if relative.is_absolute() || relative.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(CatalogError::Backup(format!(
                "dataset {} version {}: blob path `{}` is not inside the blob folder",
                blob.dataset, blob.version, blob.blob
            )));
        }
        let (from, to) = (from_blobs.join(relative), dest.join(BLOBS).join(relative));
        if let Some(parent) = to.parent() {
            make_dir(parent)?;
        }
        match link_or_copy(&from, &to) {
            Ok(placed) => {
                count(&mut report, placed);
                match check(&to, blob) {
                    Ok(bytes) => {
                        report.blob_files += 1;
                        report.blob_bytes += bytes;
                    }
                    Err(found) => report.bad.push(BadFile { expected: blob.clone(), path: from.clone(), found }),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.bad.push(BadFile { expected: blob.clone(), path: from.clone(), found: Found::Missing });
            }
            Err(e) => return Err(CatalogError::io(&to, e)),
        }
        // Its downloads: `exports/<dataset>/<stem>.<variant>`.
        let Some(dataset_dir) = relative.parent() else { continue };
        let stem = relative.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let listed = exports
            .entry(dataset_dir.to_string_lossy().into_owned())
            .or_insert_with(|| exports_by_stem(&from_exports.join(dataset_dir)));
        for name in listed.get(&stem).into_iter().flatten() {
            let (from, to) =
                (from_exports.join(dataset_dir).join(name), dest.join(EXPORTS).join(dataset_dir).join(name));
            make_dir(to.parent().unwrap_or(dest))?;
            match link_or_copy(&from, &to) {
                Ok(placed) => {
                    count(&mut report, placed);
                    report.export_files += 1;
                    report.export_bytes += std::fs::metadata(&to).map_err(|e| CatalogError::io(&to, e))?.len();
                }
                // A download may be replaced while we look (a newer encoding written on request).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CatalogError::io(&to, e)),
            }
        }
    }
    for dir in &made {
        sync_dir(dir);
    }
    for dir in [dest.join(BLOBS), dest.join(EXPORTS)] {
        if dir.is_dir() {
            sync_dir(&dir);
        }
    }
    Ok(report)
}

fn count(report: &mut BackupReport, placed: Placed) {
    match placed {
        Placed::Linked => report.linked += 1,
        Placed::Copied => report.copied += 1,
    }
}

/// Copy every regular file under `from` to the same place under `to` (nothing when `from` is
/// missing), leaving out files being written (`.tmp`).
fn copy_tree(from: &Path, to: &Path, report: &mut RestoreReport) -> Result<()> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CatalogError::io(from, e)),
    };
    std::fs::create_dir_all(to).map_err(|e| CatalogError::io(to, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CatalogError::io(from, e))?;
        let kind = entry.file_type().map_err(|e| CatalogError::io(&entry.path(), e))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, report)?;
        } else if kind.is_file() && !entry.file_name().to_string_lossy().ends_with(".tmp") {
            report.bytes += std::fs::copy(entry.path(), &target).map_err(|e| CatalogError::io(&target, e))?;
            sync_file(&target)?;
            report.files += 1;
        }
    }
    sync_dir(to);
    Ok(())
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| CatalogError::io(path, e))
}

/// Make a folder's entries durable (best effort: not every platform opens folders).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DatasetMetadata, Published};
    use crate::store::SourceFile;

    fn csv(marker: usize) -> Vec<u8> {
        let mut s = String::from("lan,ma,ten\n");
        for i in 0..20 {
            s.push_str(&format!("{marker},{i},Hồ sơ {i}\n"));
        }
        s.into_bytes()
    }

    /// A catalog in `dir` with one dataset of two versions, and a download of the first.
    async fn catalog_with_versions(dir: &Path) -> Catalog {
        let catalog = Catalog::open(dir, None).await.unwrap();
        let meta: DatasetMetadata = serde_json::from_value(serde_json::json!({
            "id": "ho-so", "title": "Hồ sơ", "license": "CC-BY-4.0",
            "publisher": {"id": "so-thu-nghiem", "name": "Sở Thử nghiệm"}
        }))
        .unwrap();
        catalog.upsert_dataset(&meta).await.unwrap();
        for marker in 1..=2 {
            let bytes = csv(marker);
            let ingested =
                opendata_ingest::ingest(&bytes, Some("a.csv"), &opendata_ingest::IngestOptions::default()).unwrap();
            let published =
                catalog.publish("ho-so", ingested, SourceFile::from_bytes(Some("a.csv"), &bytes)).await.unwrap();
            assert!(matches!(published, Published::Created(_)));
        }
        let first = catalog.version("ho-so", Some(1)).await.unwrap();
        let export = catalog.export_path(&first, "csv-e2");
        std::fs::create_dir_all(export.parent().unwrap()).unwrap();
        std::fs::write(&export, "lan,ma,ten\n").unwrap();
        std::fs::write(export.with_extension("csv-e2.123-0.tmp"), "half").unwrap();
        catalog
    }

    #[tokio::test]
    async fn backup_restore_and_verify_round_trip() {
        let data = tempfile::tempdir().unwrap();
        let live = catalog_with_versions(data.path()).await;
        let reader = Catalog::open_read_only(data.path(), None).await.unwrap();
        let clean = reader.verify().await.unwrap();
        assert_eq!((clean.versions, clean.bad.len()), (2, 0));

        let dest = tempfile::tempdir().unwrap();
        let backup = dest.path().join("backup");
        let report = reader.backup_to(&backup).await.unwrap();
        assert_eq!((report.versions, report.datasets, report.blob_files), (2, 1, 2));
        assert_eq!((report.export_files, report.linked + report.copied), (1, 3));
        assert!(report.bad.is_empty());
        assert_eq!(report.blob_bytes, clean.bytes);
        let mut names: Vec<String> = std::fs::read_dir(&backup)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["blobs", "catalog.sqlite", "exports"]);
        assert_eq!(std::fs::read_dir(backup.join("exports/ho-so")).unwrap().count(), 1);

        // Not into a folder that holds anything.
        let again = reader.backup_to(&backup).await.unwrap_err();
        assert!(again.to_string().contains("is not empty"), "{again}");

        // A version published after the backup is not in it.
        let bytes = csv(3);
        let ingested =
            opendata_ingest::ingest(&bytes, Some("a.csv"), &opendata_ingest::IngestOptions::default()).unwrap();
        live.publish("ho-so", ingested, SourceFile::from_bytes(Some("a.csv"), &bytes)).await.unwrap();

        let restored = dest.path().join("restored");
        let copied = restore(&backup, &restored, None).await.unwrap();
        assert_eq!(copied.files, 4);
        let catalog = Catalog::open_read_only(&restored, None).await.unwrap();
        let checked = catalog.verify().await.unwrap();
        assert_eq!((checked.versions, checked.bytes, checked.bad.len()), (2, clean.bytes, 0));
        assert!(restore(&backup, &restored, None).await.unwrap_err().to_string().contains("is not empty"));

        // A changed byte, then a missing file, are named with their dataset and version.
        let second = catalog.version("ho-so", Some(2)).await.unwrap();
        let path = catalog.blob_path(&second);
        let mut content = std::fs::read(&path).unwrap();
        content[10] ^= 0xff;
        std::fs::write(&path, &content).unwrap();
        let bad = catalog.verify().await.unwrap().bad;
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].expected.dataset.as_str(), bad[0].expected.version), ("ho-so", 2));
        assert!(matches!(bad[0].found, Found::Changed { .. }));
        assert!(bad[0].to_string().starts_with("changed: dataset ho-so version 2: "), "{}", bad[0]);
        std::fs::remove_file(&path).unwrap();
        let bad = catalog.verify().await.unwrap().bad;
        assert!(matches!(bad[0].found, Found::Missing));

        // The restored files are copies: the data folder and the backup are untouched.
        assert!(reader.verify().await.unwrap().bad.is_empty());
        let in_backup = Catalog::open_read_only(&backup, None).await.unwrap();
        assert!(in_backup.verify().await.unwrap().bad.is_empty());
    }

    #[tokio::test]
    async fn a_failed_backup_leaves_nothing_and_a_restore_may_put_the_catalog_elsewhere() {
        let data = tempfile::tempdir().unwrap();
        let live = catalog_with_versions(data.path()).await;
        let dest = tempfile::tempdir().unwrap();
        let backup = dest.path().join("backup");
        live.backup_to(&backup).await.unwrap();
        let elsewhere = dest.path().join("db/catalog-restored.sqlite");
        let url = format!("sqlite://{}", elsewhere.display());
        let restored = dest.path().join("restored");
        let report = restore(&backup, &restored, Some(&url)).await.unwrap();
        assert_eq!(report.catalog, elsewhere);
        assert!(elsewhere.is_file() && !restored.join(CATALOG_FILE).exists());
        let checked = Catalog::open_read_only(&restored, Some(&url)).await.unwrap().verify().await.unwrap();
        assert_eq!((checked.versions, checked.bad.len()), (2, 0));

        // A Parquet file that cannot be read as one (a folder in its place) fails the backup,
        // which removes what it wrote.
        let first = live.version("ho-so", Some(1)).await.unwrap();
        let blob = live.blob_path(&first);
        std::fs::remove_file(&blob).unwrap();
        std::fs::create_dir(&blob).unwrap();
        let failed = dest.path().join("failed");
        assert!(live.backup_to(&failed).await.is_err());
        assert!(!failed.exists());
        std::fs::create_dir(&failed).unwrap();
        assert!(live.backup_to(&failed).await.is_err());
        assert_eq!(std::fs::read_dir(&failed).unwrap().count(), 0);
        // A missing one is reported, by dataset and version, and the rest is backed up.
        std::fs::remove_dir(&blob).unwrap();
        let report = live.backup_to(&dest.path().join("partial")).await.unwrap();
        assert_eq!((report.blob_files, report.bad.len()), (1, 1));
        assert_eq!((report.bad[0].expected.version, &report.bad[0].found), (1, &Found::Missing));
    }

    #[tokio::test]
    async fn restore_refuses_what_is_not_a_backup_and_verify_needs_a_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let error = restore(dir.path(), &dir.path().join("data"), None).await.unwrap_err();
        assert!(error.to_string().contains("is not a finished backup"), "{error}");
        assert!(Catalog::open_read_only(&dir.path().join("nothing"), None).await.is_err());
        assert!(!dir.path().join("nothing").exists());
    }
}
