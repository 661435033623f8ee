//! Running a [`RecordsQuery`] against a version's Parquet file with polars. Everything here is
//! blocking: call it from `spawn_blocking`.
//!
//! - [`page`]: the total of matching rows and one page of them (the JSON envelope),
//! - [`Batches`]: the matching rows in bounded batches, for streamed formats. Without `sort`
//!   it reads the file a window of rows at a time, so memory stays bounded whatever the size;
//!   with `sort` it must see every matching row, and holds the sorted answer (a page of it when
//!   `limit` is given).

use std::path::Path;

use opendata_ingest::Field;
use polars::prelude::*;

use crate::error::Result;
use crate::params::RecordsQuery;

/// Rows read from the file per streamed batch.
pub const BATCH_ROWS: usize = 16 * 1024;

/// A lazy scan of one Parquet file.
pub fn scan(path: &Path) -> Result<LazyFrame> {
    let path = PlRefPath::try_from_path(path)?;
    Ok(LazyFrame::scan_parquet(path, ScanArgsParquet::default())?)
}

/// The number of rows in a Parquet file (from its metadata).
pub fn row_count(path: &Path) -> Result<usize> {
    let df = scan(path)?.select([len()]).collect()?;
    let n = df.column("len")?.get(0)?.extract::<u64>().unwrap_or(0);
    Ok(n as usize)
}

fn projection(query: &RecordsQuery, fields: &[Field]) -> Vec<Expr> {
    query.output_fields(fields).iter().map(|f| col(f.name.as_str())).collect()
}

fn sorted(lf: LazyFrame, query: &RecordsQuery) -> LazyFrame {
    if query.sort.is_empty() {
        return lf;
    }
    let by: Vec<Expr> = query.sort.iter().map(|s| col(s.field.as_str())).collect();
    let desc: Vec<bool> = query.sort.iter().map(|s| s.descending).collect();
    lf.sort_by_exprs(
        by,
        SortMultipleOptions::default()
            .with_order_descending_multi(desc)
            .with_nulls_last(true)
            .with_maintain_order(true),
    )
}

/// One page of matching rows and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Page {
    pub total: usize,
    pub frame: DataFrame,
}

/// Count the matching rows and collect one page of them.
pub fn page(path: &Path, query: &RecordsQuery, fields: &[Field]) -> Result<Page> {
    let mut lf = scan(path)?;
    if let Some(p) = query.predicate(fields) {
        lf = lf.filter(p);
    }
    let total_df = lf.clone().select([len()]).collect()?;
    let total = total_df.column("len")?.get(0)?.extract::<u64>().unwrap_or(0) as usize;
    let limit = query.limit.unwrap_or(usize::MAX).min(u32::MAX as usize);
    let frame =
        sorted(lf, query).slice(query.offset as i64, limit as IdxSize).select(projection(query, fields)).collect()?;
    Ok(Page { total, frame })
}

/// Matching rows in batches of at most [`BATCH_ROWS`].
pub struct Batches {
    inner: BatchesInner,
}

enum BatchesInner {
    /// Windows of the file, filtered one at a time.
    Windows {
        scan: Box<LazyFrame>,
        predicate: Option<Expr>,
        projection: Vec<Expr>,
        next_row: usize,
        rows: usize,
        skip: usize,
        take: usize,
    },
    /// A sorted answer held whole, handed out in slices.
    Sorted { frame: DataFrame, next: usize },
}

impl Batches {
    pub fn new(path: &Path, query: &RecordsQuery, fields: &[Field]) -> Result<Self> {
        let scan = scan(path)?;
        let take = query.limit.unwrap_or(usize::MAX);
        let inner = if query.sort.is_empty() {
            BatchesInner::Windows {
                rows: row_count(path)?,
                scan: Box::new(scan),
                predicate: query.predicate(fields),
                projection: projection(query, fields),
                next_row: 0,
                skip: query.offset,
                take,
            }
        } else {
            let mut lf = scan;
            if let Some(p) = query.predicate(fields) {
                lf = lf.filter(p);
            }
            let frame = sorted(lf, query)
                .slice(query.offset as i64, take.min(u32::MAX as usize) as IdxSize)
                .select(projection(query, fields))
                .collect()?;
            BatchesInner::Sorted { frame, next: 0 }
        };
        Ok(Self { inner })
    }
}

impl Iterator for Batches {
    type Item = Result<DataFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            BatchesInner::Sorted { frame, next } => {
                if *next >= frame.height() {
                    return None;
                }
                let batch = frame.slice(*next as i64, BATCH_ROWS);
                *next += BATCH_ROWS;
                Some(Ok(batch))
            }
            BatchesInner::Windows { scan, predicate, projection, next_row, rows, skip, take } => loop {
                if *take == 0 || *next_row >= *rows {
                    return None;
                }
                let mut lf = scan.clone().slice(*next_row as i64, BATCH_ROWS as IdxSize);
                if let Some(p) = predicate {
                    lf = lf.filter(p.clone());
                }
                *next_row += BATCH_ROWS;
                let batch = match lf.select(projection.clone()).collect() {
                    Ok(b) => b,
                    Err(e) => return Some(Err(e.into())),
                };
                let h = batch.height();
                if *skip >= h {
                    *skip -= h;
                    continue;
                }
                let keep = (*take).min(h - *skip);
                let batch = batch.slice(*skip as i64, keep);
                *skip = 0;
                *take -= keep;
                if keep > 0 {
                    return Some(Ok(batch));
                }
            },
        }
    }
}
