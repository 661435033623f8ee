//! Rows added and removed between two versions, compared as multisets of rows over the fields
//! both versions have (by name), each value by its text form. A row changed in place counts as
//! one removed and one added, as in a line diff.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{CatalogError, Result};

/// Hash of every row of `df` over `fields`.
fn row_hashes(df: &DataFrame, fields: &[String]) -> Result<Vec<u64>> {
    let as_text = |e: PolarsError| CatalogError::Diff(e.to_string());
    let columns: Vec<Column> = fields
        .iter()
        .map(|name| df.column(name).and_then(|c| c.cast(&DataType::String)))
        .collect::<PolarsResult<_>>()
        .map_err(as_text)?;
    let texts: Vec<&StringChunked> = columns.iter().map(|c| c.str()).collect::<PolarsResult<_>>().map_err(as_text)?;
    let mut iters: Vec<_> = texts.iter().map(|t| t.iter()).collect();
    let mut hashes = Vec::with_capacity(df.height());
    for _ in 0..df.height() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for it in &mut iters {
            it.next().flatten().hash(&mut h);
        }
        hashes.push(h.finish());
    }
    Ok(hashes)
}

/// Rows read at a time: memory holds one slice of text, plus a hash per previous row.
const SLICE_ROWS: usize = 128 * 1024;

/// The hashes of the rows of a Parquet file with `rows` rows, slice by slice.
fn for_each_hash(path: &Path, rows: usize, fields: &[String], mut f: impl FnMut(u64)) -> Result<()> {
    let engine = |e: PolarsError| CatalogError::Diff(format!("{}: {e}", path.display()));
    let scan = LazyFrame::scan_parquet(PlRefPath::try_from_path(path).map_err(engine)?, ScanArgsParquet::default())
        .map_err(engine)?
        .select(fields.iter().map(|n| col(n.as_str())).collect::<Vec<_>>());
    let mut start = 0;
    while start < rows {
        let slice = scan.clone().slice(start as i64, SLICE_ROWS as IdxSize).collect().map_err(engine)?;
        if slice.height() == 0 {
            break;
        }
        start += slice.height();
        row_hashes(&slice, fields)?.into_iter().for_each(&mut f);
    }
    Ok(())
}

/// (rows added, rows removed) from `previous` to `current` (each a file and its row count),
/// over `common` fields.
pub(crate) fn row_diff(previous: (PathBuf, usize), current: (PathBuf, usize), common: &[String]) -> Result<(i64, i64)> {
    if common.is_empty() {
        return Ok((current.1 as i64, previous.1 as i64));
    }
    let mut counts: HashMap<u64, i64> = HashMap::with_capacity(previous.1);
    for_each_hash(&previous.0, previous.1, common, |h| *counts.entry(h).or_default() += 1)?;
    let mut added = 0;
    for_each_hash(&current.0, current.1, common, |h| match counts.get_mut(&h) {
        Some(n) if *n > 0 => *n -= 1,
        _ => added += 1,
    })?;
    let removed = counts.values().sum();
    Ok((added, removed))
}
