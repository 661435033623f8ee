//! Running a [`RecordsQuery`] with polars, against a version's Parquet file or its
//! [`MemoryTable`]. Everything here is blocking: call it from `spawn_blocking`.
//!
//! - [`page`]: the total of matching rows and one page of them (the JSON envelope),
//! - [`Batches`]: the matching rows in bounded batches, for streamed formats. Without `sort`
//!   it reads the file a window of rows at a time, so memory stays bounded whatever the size;
//!   with `sort` it must see every matching row, and holds the sorted answer (a page of it when
//!   `limit` is given).

use std::path::Path;

use opendata_collate::Collation;
use opendata_ingest::Field;
use polars::prelude::*;

use crate::aggregate::SelectItem;
use crate::error::Result;
use crate::memory::{Decoder, Effort, MATCH_COLUMN, MemoryTable};

/// The rows where `mask` is true, from the `offset`-th on, at most `limit` of them.
pub(crate) fn first_matches(mask: &BooleanChunked, offset: usize, limit: usize) -> IdxCa {
    let wanted = offset.saturating_add(limit);
    let mut rows: Vec<IdxSize> = Vec::with_capacity(limit.min(1 << 16));
    let mut found = 0usize;
    let mut base = 0usize;
    // Word by word through the bitmap: runs of non-matching rows cost nothing. A null counts
    // as not matching.
    for array in mask.downcast_iter() {
        let values = match array.validity() {
            Some(valid) => array.values() & valid,
            None => array.values().clone(),
        };
        for i in values.true_idx_iter() {
            if found >= wanted {
                return IdxCa::from_vec(PlSmallStr::EMPTY, rows);
            }
            if found >= offset {
                rows.push((base + i) as IdxSize);
            }
            found += 1;
        }
        base += array.len();
    }
    IdxCa::from_vec(PlSmallStr::EMPTY, rows)
}
use crate::params::RecordsQuery;

/// Where the rows come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Scanned from the Parquet file for this request.
    File(&'a Path),
    /// The version's table held in memory.
    Memory(&'a MemoryTable),
}

impl Source<'_> {
    /// Every row (for a memory table: its frame with the match column, coded text fields as
    /// codes), how many, the predicate of `query` over them, and what decodes the codes
    /// (nothing for a file).
    fn coded_parts(&self, query: &RecordsQuery, fields: &[Field]) -> Result<(Rows, usize, Option<Expr>, Decoder)> {
        match self {
            Source::File(path) => {
                Ok((Rows::Scan(Box::new(scan(path)?)), row_count(path)?, query.predicate(fields), Decoder::default()))
            }
            Source::Memory(table) => {
                let frame = table.frame_for(query, fields)?;
                let rows = frame.height();
                Ok((Rows::Frame(frame), rows, MemoryTable::predicate(query), table.decoder().clone()))
            }
        }
    }
}

/// A version's rows: a scan of its file, or its memory table's frame (coded fields as codes).
#[derive(Clone)]
enum Rows {
    Scan(Box<LazyFrame>),
    Frame(DataFrame),
}

impl Rows {
    /// The rows `offset..offset + len`, lazily.
    fn slice(&self, offset: usize, len: usize) -> LazyFrame {
        match self {
            Rows::Scan(lf) => (**lf).clone().slice(offset as i64, len as IdxSize),
            Rows::Frame(frame) => frame.slice(offset as i64, len).lazy(),
        }
    }
}

/// The matching rows lazily, coded fields decoded: for answers polars computes over whole
/// fields. A memory table's rows are filtered before they are decoded.
fn matches(rows: Rows, predicate: Option<Expr>, decoder: &Decoder) -> Result<LazyFrame> {
    Ok(match rows {
        Rows::Scan(lf) => match predicate {
            Some(p) => lf.filter(p),
            None => *lf,
        },
        Rows::Frame(frame) => decoded_matches(&frame, decoder)?,
    })
}

/// A memory table's frame (see [`MemoryTable::frame_for`]) filtered by its match column, decoded.
fn decoded_matches(frame: &DataFrame, decoder: &Decoder) -> Result<LazyFrame> {
    let frame = match frame.column(MATCH_COLUMN) {
        Ok(mask) => frame.filter(mask.bool()?)?,
        Err(_) => frame.clone(),
    };
    Ok(decoder.decode(frame)?.lazy())
}

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
    sort_by(lf, by, desc, query.collation)
}

/// Sort by `by` (text in `collation` order), nulls last, ties in their order.
fn sort_by(lf: LazyFrame, by: Vec<Expr>, desc: Vec<bool>, collation: Collation) -> LazyFrame {
    lf.sort_by_exprs(
        by.into_iter().map(|e| crate::collate::ordered(e, collation)).collect::<Vec<_>>(),
        SortMultipleOptions::default()
            .with_order_descending_multi(desc)
            .with_nulls_last(true)
            .with_maintain_order(true),
    )
}

/// The matching rows.
fn filtered(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<LazyFrame> {
    let (rows, _, predicate, decoder) = source.coded_parts(query, fields)?;
    matches(rows, predicate, &decoder)
}

/// The groups (or the one row) of an aggregating query, in the `select` order, sorted by
/// `sort` or else by the group fields.
fn aggregated(lf: LazyFrame, query: &RecordsQuery) -> LazyFrame {
    let aggs: Vec<Expr> = query
        .select
        .iter()
        .filter_map(|i| match i {
            SelectItem::Aggregate(a) => Some(a.expr(query.collation)),
            SelectItem::Field(_) => None,
        })
        .collect();
    let order: Vec<Expr> = query.select.iter().map(|i| col(i.name())).collect();
    if query.group_by.is_empty() {
        return lf.select(aggs).select(order);
    }
    let keys: Vec<Expr> = query.group_by.iter().map(|g| col(g.as_str())).collect();
    let grouped = lf.group_by(keys).agg(aggs).select(order);
    if query.sort.is_empty() {
        let by = query.group_by.iter().map(|g| col(g.as_str())).collect();
        sort_by(grouped, by, vec![false; query.group_by.len()], query.collation)
    } else {
        sorted(grouped, query)
    }
}

/// The answer before paging: sorted rows (projected later), or sorted groups.
fn shaped(lf: LazyFrame, query: &RecordsQuery) -> LazyFrame {
    if query.aggregating() { aggregated(lf, query) } else { sorted(lf, query) }
}

/// Groups in `sort` order, or else by the group fields.
pub(crate) fn sort_groups(groups: DataFrame, query: &RecordsQuery) -> Result<DataFrame> {
    Ok(if query.sort.is_empty() {
        let by = query.group_by.iter().map(|g| col(g.as_str())).collect();
        sort_by(groups.lazy(), by, vec![false; query.group_by.len()], query.collation).collect()?
    } else {
        sorted(groups.lazy(), query).collect()?
    })
}

/// One page of matching rows (or groups), how many there are in all, and the facets.
#[derive(Debug, Clone)]
pub struct Page {
    pub total: usize,
    pub frame: DataFrame,
    /// Per `facet` field: a frame of `value` and `count`, most frequent first.
    pub facets: Vec<(String, DataFrame)>,
}

/// A page already written as JSON: what the `/records` envelope is made of.
#[derive(Debug, Clone)]
pub struct JsonPage {
    /// Matching rows (or groups) in all.
    pub total: usize,
    /// Rows (or groups) on this page.
    pub rows: usize,
    /// The page's rows as comma-separated JSON objects (no brackets).
    pub items: Vec<u8>,
    /// Per `facet` field, its `{"value": …, "count": …}` objects, comma-separated.
    pub facets: Vec<(String, Vec<u8>)>,
}

/// [`page`], written as JSON. A memory table writes the page's rows straight from its arrays
/// and value codes when it finds them without a pass over the table (see
/// [`MemoryTable::page_rows`]); any other answer is a frame written by
/// [`crate::encode::json::write_objects`].
pub fn json_page(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<JsonPage> {
    if let Source::Memory(table) = source
        && let Some(page) = indexed_json_page(table, query, fields, Effort::Full)?
    {
        return Ok(page);
    }
    let page = page(source, query, fields)?;
    let mut items = Vec::with_capacity(page.frame.height() * page.frame.width() * 24);
    crate::encode::json::write_objects(&page.frame, &mut items, false)?;
    let facets = page
        .facets
        .iter()
        .map(|(name, frame)| {
            let mut out = Vec::new();
            crate::encode::json::write_objects(frame, &mut out, false)?;
            Ok((name.clone(), out))
        })
        .collect::<Result<_>>()?;
    Ok(JsonPage { total: page.total, rows: page.frame.height(), items, facets })
}

/// The JSON page of a query the memory table's indexes answer with `effort` (see
/// [`MemoryTable::page_rows`]); `None` for other queries. With [`Effort::Quick`] it does no
/// more than [`crate::memory::QUICK_STEPS`] steps and never calls polars, so the API runs it
/// on the async thread and hands only the other queries to a blocking thread.
pub fn indexed_json_page(
    table: &MemoryTable,
    query: &RecordsQuery,
    fields: &[Field],
    effort: Effort,
) -> Result<Option<JsonPage>> {
    let Some((total, rows)) = table.page_rows(query, fields, effort)? else { return Ok(None) };
    let mut items = Vec::new();
    table.write_json(query, fields, &rows, &mut items);
    Ok(Some(JsonPage { total, rows: rows.len(), items, facets: Vec::new() }))
}

fn count(lf: LazyFrame) -> Result<usize> {
    let df = lf.select([len()]).collect()?;
    Ok(df.column("len")?.get(0)?.extract::<u64>().unwrap_or(0) as usize)
}

/// Count the matching rows (or groups) and collect one page of them, and the facets.
pub fn page(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<Page> {
    let limit = query.limit.unwrap_or(usize::MAX).min(u32::MAX as usize);
    let offset = query.offset.min(i64::MAX as usize);
    if let Source::Memory(table) = source
        && let Some(page) = table.indexed_page(query, fields)?
    {
        return Ok(page);
    }
    let whole_table = query.filters.is_empty() && query.where_.is_none() && query.search.is_empty();
    // A memory table's rows with their match column, made once for this request.
    let memory = match source {
        Source::Memory(table) => Some((table, table.frame_for(query, fields)?)),
        Source::File(_) => None,
    };
    // The matching rows with text fields as text: only the answers polars computes over whole
    // fields (groups, sorts of the whole table) decode a memory table's codes.
    let lf = || -> Result<LazyFrame> {
        match &memory {
            Some((table, frame)) => decoded_matches(frame, table.decoder()),
            None => filtered(source, query, fields),
        }
    };
    let (total, frame) = match &memory {
        Some((table, _))
            if whole_table
                && !query.sort.is_empty()
                && !query.aggregating()
                && let Some(rows) = table.sorted_slice(&query.sort, query.collation, offset, limit)? =>
        {
            // A page of the whole table in a kept order: no sort per request.
            (table.height(), rows.lazy().select(projection(query, fields)).collect()?)
        }
        Some((table, frame)) if query.sort.is_empty() && !query.aggregating() => {
            // In file order: count the matches and take the page's rows; nothing else is copied.
            let (total, rows) = match frame.column(MATCH_COLUMN).ok().map(|c| c.bool().cloned()).transpose()? {
                Some(mask) => (mask.sum().unwrap_or(0) as usize, frame.take(&first_matches(&mask, offset, limit))?),
                None => (frame.height(), frame.slice(offset as i64, limit)),
            };
            (total, table.decoder().decode(rows)?.lazy().select(projection(query, fields)).collect()?)
        }
        Some((table, frame)) if !query.aggregating() && frame.column(MATCH_COLUMN).is_ok() => {
            // Sorted matches: sort only the sort fields of the matching rows, then take the
            // page's rows whole.
            let mask = frame.column(MATCH_COLUMN)?.bool()?;
            let matching = first_matches(mask, 0, usize::MAX);
            let by: Vec<PlSmallStr> = query.sort.iter().map(|s| PlSmallStr::from(s.field.as_str())).collect();
            let mut keys = table.decoder().decode(frame.select(by)?.take(&matching)?)?;
            keys.with_column(matching.clone().with_name("__opendata_row".into()).into_column())?;
            let top = sorted(keys.lazy(), query).slice(offset as i64, limit as IdxSize).collect()?;
            let rows = table.decoder().decode(frame.take(top.column("__opendata_row")?.idx()?)?)?;
            (matching.len(), rows.lazy().select(projection(query, fields)).collect()?)
        }
        Some((table, frame))
            if query.aggregating()
                && let Some(groups) = table.group_by_codes(
                    query,
                    fields,
                    frame
                        .column(MATCH_COLUMN)
                        .ok()
                        .map(|c| c.bool().map(|mask| first_matches(mask, 0, usize::MAX)))
                        .transpose()?
                        .as_ref()
                        .map(|rows| rows.cont_slice().unwrap_or_default()),
                )? =>
        {
            let groups = sort_groups(groups, query)?;
            (groups.height(), groups.slice(offset as i64, limit))
        }
        _ if query.aggregating() => {
            let groups = aggregated(lf()?, query).collect()?;
            (groups.height(), groups.slice(offset as i64, limit))
        }
        _ => {
            let lf = lf()?;
            let total = count(lf.clone())?;
            let frame =
                sorted(lf, query).slice(offset as i64, limit as IdxSize).select(projection(query, fields)).collect()?;
            (total, frame)
        }
    };
    // A memory table's facet decodes only its own field.
    let facet_rows = |name: &str| -> Result<LazyFrame> {
        match &memory {
            Some((table, frame)) => {
                let mut columns = vec![PlSmallStr::from(name)];
                if frame.column(MATCH_COLUMN).is_ok() {
                    columns.push(MATCH_COLUMN.into());
                }
                decoded_matches(&frame.select(columns)?, table.decoder())
            }
            None => lf(),
        }
    };
    let facets = query
        .facets
        .iter()
        .map(|f| Ok((f.clone(), facet(facet_rows(f)?, f, query.facet_size, query.collation)?)))
        .collect::<Result<_>>()?;
    Ok(Page { total, frame, facets })
}

/// How many rows (or groups) the query matches, before paging.
pub fn total(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<usize> {
    if let Source::Memory(table) = source
        && !query.aggregating()
    {
        // The match column's count: nothing decoded.
        let frame = table.frame_for(query, fields)?;
        return Ok(match frame.column(MATCH_COLUMN) {
            Ok(mask) => mask.bool()?.sum().unwrap_or(0) as usize,
            Err(_) => frame.height(),
        });
    }
    let lf = filtered(source, query, fields)?;
    if query.aggregating() { count(aggregated(lf, query)) } else { count(lf) }
}

/// A frame with the answer's columns and types and no rows.
pub fn empty_answer(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<DataFrame> {
    let lf = match source {
        // No row is needed, so none is decoded.
        Source::Memory(table) => table.decoder().decode(table.frame_for(query, fields)?.head(Some(0)))?.lazy(),
        Source::File(_) => filtered(source, query, fields)?,
    };
    let shaped = shaped(lf, query).limit(0);
    Ok(if query.aggregating() { shaped.collect()? } else { shaped.select(projection(query, fields)).collect()? })
}

/// The `size` most frequent values of `field` (nulls included) with their counts; ties by value
/// (text in `collation` order).
pub fn facet(lf: LazyFrame, field: &str, size: usize, collation: Collation) -> Result<DataFrame> {
    // An inner name for the count: the table may have a field called `count`.
    let counted = lf.group_by([col(field)]).agg([len().cast(DataType::Int64).alias("__opendata_count")]);
    Ok(sort_by(counted, vec![col("__opendata_count"), col(field)], vec![true, false], collation)
        .limit(size as IdxSize)
        .select([col(field).alias("value"), col("__opendata_count").alias("count")])
        .collect()?)
}

/// Matching rows in batches of at most [`BATCH_ROWS`].
pub struct Batches {
    inner: BatchesInner,
}

enum BatchesInner {
    /// Windows of the rows, filtered one at a time (and a memory table's codes decoded).
    Windows {
        rows_of: Rows,
        decoder: Decoder,
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
    pub fn new(source: Source<'_>, query: &RecordsQuery, fields: &[Field]) -> Result<Self> {
        let (rows_of, rows, predicate, decoder) = source.coded_parts(query, fields)?;
        let take = query.limit.unwrap_or(usize::MAX);
        let inner = if query.sort.is_empty() && !query.aggregating() {
            BatchesInner::Windows {
                rows,
                rows_of,
                decoder,
                predicate,
                projection: projection(query, fields),
                next_row: 0,
                skip: query.offset,
                take,
            }
        } else {
            let lf = matches(rows_of, predicate, &decoder)?;
            let shaped = shaped(lf, query).slice(query.offset as i64, take.min(u32::MAX as usize) as IdxSize);
            let frame = if query.aggregating() {
                shaped.collect()?
            } else {
                shaped.select(projection(query, fields)).collect()?
            };
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
            BatchesInner::Windows { rows_of, decoder, predicate, projection, next_row, rows, skip, take } => loop {
                if *take == 0 || *next_row >= *rows {
                    return None;
                }
                let mut lf = rows_of.slice(*next_row, BATCH_ROWS);
                if let Some(p) = predicate {
                    lf = lf.filter(p.clone());
                }
                *next_row += BATCH_ROWS;
                let batch = match lf.select(projection.clone()).collect() {
                    Ok(b) => decoder.decode(b),
                    Err(e) => Err(e.into()),
                };
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => return Some(Err(e)),
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

/// A version's rows, owned: its file, or its table in memory.
#[derive(Debug, Clone)]
pub enum Table {
    File(std::path::PathBuf),
    Memory(std::sync::Arc<MemoryTable>),
}

impl Table {
    pub fn source(&self) -> Source<'_> {
        match self {
            Table::File(path) => Source::File(path),
            Table::Memory(table) => Source::Memory(table),
        }
    }
}
