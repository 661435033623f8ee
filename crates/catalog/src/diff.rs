//! Rows added and removed between two versions, compared as multisets of rows over the fields
//! both versions have (by name), each value by its text form. A row changed in place counts as
//! one removed and one added, as in a line diff.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;

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

fn read(path: &Path, fields: &[String]) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| CatalogError::io(path, e))?;
    ParquetReader::new(file)
        .with_columns(Some(fields.to_vec()))
        .finish()
        .map_err(|e| CatalogError::Diff(format!("{}: {e}", path.display())))
}

/// (rows added, rows removed) from `previous` to `current`, over `common` fields.
pub(crate) fn row_diff(previous: &Path, current: &Path, common: &[String]) -> Result<(i64, i64)> {
    if common.is_empty() {
        let rows = |p: &Path| -> Result<i64> {
            let file = std::fs::File::open(p).map_err(|e| CatalogError::io(p, e))?;
            let mut reader = ParquetReader::new(file);
            Ok(reader.num_rows().map_err(|e| CatalogError::Diff(e.to_string()))? as i64)
        };
        return Ok((rows(current)?, rows(previous)?));
    }
    let mut counts: HashMap<u64, i64> = HashMap::new();
    for h in row_hashes(&read(previous, common)?, common)? {
        *counts.entry(h).or_default() += 1;
    }
    let mut added = 0;
    for h in row_hashes(&read(current, common)?, common)? {
        match counts.get_mut(&h) {
            Some(n) if *n > 0 => *n -= 1,
            _ => added += 1,
        }
    }
    let removed = counts.values().sum();
    Ok((added, removed))
}
