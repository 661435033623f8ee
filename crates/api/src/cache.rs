//! The versions' tables kept in memory, within a byte budget (`OPENDATA_CACHE_BYTES`). A table
//! is loaded once per version, by the first request that needs it (the others wait for that
//! load), and the least recently used tables leave when the budget is passed. A version is
//! immutable, so a cached table is never stale; a table too large for the budget is read from
//! its file per request instead. Nothing here is needed for correctness: it is a cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opendata_catalog::Version;
use opendata_query::memory::MemoryTable;
use opendata_query::plan::Table;

use crate::error::ApiError;

/// Memory is several times the compressed Parquet size; a file this many times over the
/// budget is not even tried.
const EXPANSION: u64 = 12;

type Cell = Arc<tokio::sync::OnceCell<Arc<MemoryTable>>>;

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<(String, i64), (Cell, u64)>,
    clock: u64,
}

#[derive(Debug)]
pub struct TableCache {
    budget: usize,
    inner: Mutex<Inner>,
    /// Reads that found their table loaded, and those that loaded it (for `/metrics`).
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl TableCache {
    pub fn new(budget: usize) -> Self {
        Self { budget, inner: Mutex::default(), hits: Default::default(), misses: Default::default() }
    }

    /// Bytes of the tables loaded now.
    pub fn bytes(&self) -> usize {
        self.lock().entries.values().filter_map(|(cell, _)| cell.get().map(|t| t.bytes())).sum()
    }

    /// (hits, misses) so far.
    pub fn hits(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rows of `version` (whose file is `path`): from memory when it fits the budget.
    pub async fn table(&self, version: &Version, path: PathBuf) -> Result<Table, ApiError> {
        if (version.bytes.max(0) as u64).saturating_mul(EXPANSION) > self.budget as u64 {
            return Ok(Table::File(path));
        }
        let key = (version.dataset_id.clone(), version.number);
        let cell = {
            let mut inner = self.lock();
            inner.clock += 1;
            let now = inner.clock;
            let entry = inner.entries.entry(key.clone()).or_insert_with(|| (Cell::default(), now));
            entry.1 = now;
            entry.0.clone()
        };
        let counter = if cell.initialized() { &self.hits } else { &self.misses };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fields = version.schema.clone();
        let table = cell
            .get_or_try_init(|| async move {
                let started = std::time::Instant::now();
                let load = path.clone();
                let table = tokio::task::spawn_blocking(move || MemoryTable::load(&load, &fields)).await??;
                tracing::info!(dataset = %key.0, version = key.1, rows = table.height(), mb = table.bytes() >> 20,
                    ms = started.elapsed().as_millis() as u64, "table loaded into memory");
                Ok::<_, ApiError>(Arc::new(table))
            })
            .await?
            .clone();
        self.evict();
        Ok(Table::Memory(table))
    }

    /// Drop least recently used tables until the loaded ones fit the budget.
    fn evict(&self) {
        let mut inner = self.lock();
        loop {
            let loaded: Vec<((String, i64), u64, usize)> = inner
                .entries
                .iter()
                .filter_map(|(k, (cell, used))| cell.get().map(|t| (k.clone(), *used, t.bytes())))
                .collect();
            let total: usize = loaded.iter().map(|(_, _, b)| b).sum();
            if total <= self.budget || loaded.len() <= 1 {
                return;
            }
            if let Some((oldest, _, _)) = loaded.into_iter().min_by_key(|(_, used, _)| *used) {
                tracing::info!(dataset = %oldest.0, version = oldest.1, "table leaves the memory cache");
                inner.entries.remove(&oldest);
            }
        }
    }
}
