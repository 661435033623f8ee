//! The typed table: a polars `DataFrame` plus its schema (name, original header, type and
//! per-field statistics), and its Parquet encoding.

use std::io::Write;

use opendata_collate::Collation;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::column::TextColumn;
use crate::error::{IngestError, Result};
use crate::infer::{FieldType, TypedColumn};

/// One field of a table's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Normalised name, used in URLs and query parameters.
    pub name: String,
    /// The header text as the agency wrote it.
    pub title: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub null_count: usize,
    pub distinct_count: usize,
    /// Smallest and largest value (strings compare by code point); null when the field is all null.
    pub min: Value,
    pub max: Value,
}

impl Field {
    /// A field known only by name and type (no statistics): for schemas built by hand.
    pub fn new(name: &str, field_type: FieldType) -> Self {
        Self {
            name: name.to_string(),
            title: name.to_string(),
            field_type,
            null_count: 0,
            distinct_count: 0,
            min: Value::Null,
            max: Value::Null,
        }
    }
}

/// A normalised, typed table ready to be written as Parquet.
#[derive(Debug, Clone)]
pub struct Table {
    pub frame: DataFrame,
    pub fields: Vec<Field>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    /// Build a table from typed columns with their names and header texts.
    pub fn from_columns(names: &[String], titles: &[String], columns: Vec<TypedColumn>) -> Result<Self> {
        let mut builder = TableBuilder::new(columns.first().map_or(0, TypedColumn::len));
        for ((name, title), column) in names.iter().zip(titles).zip(columns) {
            builder.push(name, title, column)?;
        }
        builder.finish()
    }

    /// Write the table as Parquet (zstd level 1, 64 Ki-row groups, statistics on) and return the
    /// byte count.
    ///
    /// Row groups are encoded and compressed on every core, a few at a time, and written in
    /// order. (polars' own writer encodes a row group's columns side by side, but its pages
    /// are compressed as they are written, on one thread, one row group after the other: on
    /// the 1M-row benchmark file that left one of two cores idle for most of the write.)
    pub fn write_parquet<W: Write + Send>(&self, writer: W) -> Result<u64> {
        use polars_parquet::write::{CompressionOptions, Version, WriteOptions};
        let failed = |e: PolarsError| IngestError::Write(e.to_string());
        let level = zstd_level();
        let compression = CompressionOptions::Zstd(level);
        let statistics = StatisticsOptions::full();
        let mut writer = ParquetWriter::new(writer)
            .with_compression(ParquetCompression::Zstd(level))
            .with_key_value_metadata(Some(plain_arrow_schema(&self.frame)))
            .with_statistics(statistics)
            .batched(self.frame.schema())
            .map_err(failed)?;
        // What the writer was given, as its pages need it.
        let options = WriteOptions { statistics, compression, version: Version::V1, data_page_size: None };
        let arrow_schema = self.frame.schema().to_arrow(CompatLevel::newest());
        let layout = Layout {
            types: polars_parquet::write::to_parquet_schema(&arrow_schema).map_err(failed)?.fields().to_vec(),
            encodings: polars::prelude::get_encodings(&arrow_schema).to_vec(),
            options,
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let starts: Vec<usize> = (0..self.frame.height()).step_by(ROW_GROUP).collect();
        for together in starts.chunks(workers) {
            let groups = std::thread::scope(|scope| {
                let layout = &layout;
                let encoding: Vec<_> = together
                    .iter()
                    .map(|&start| scope.spawn(move || layout.row_group(&self.frame.slice(start as i64, ROW_GROUP))))
                    .collect();
                encoding.into_iter().map(|h| h.join()).collect::<Vec<_>>()
            });
            for group in groups {
                let (rows, pages) = group
                    .map_err(|_| IngestError::Write("a thread encoding a row group failed".into()))?
                    .map_err(failed)?;
                writer.write_row_group(rows, &pages).map_err(failed)?;
            }
        }
        writer.finish().map_err(failed)
    }
}

/// How each column is written: its Parquet type, encodings and the write options.
struct Layout {
    types: Vec<polars_parquet::write::ParquetType>,
    encodings: Vec<Vec<polars_parquet::write::Encoding>>,
    options: polars_parquet::write::WriteOptions,
}

impl Layout {
    /// One row group's rows and pages, each column's encoded and compressed.
    fn row_group(&self, rows: &DataFrame) -> PolarsResult<(u64, Vec<Vec<polars_parquet::write::CompressedPage>>)> {
        use polars_parquet::write::{array_to_columns, compress};
        let mut rows = rows.clone();
        rows.rechunk_mut();
        let mut pages = Vec::new();
        // One batch: the rows are in one chunk.
        let batch = rows.iter_chunks(CompatLevel::newest(), false).next();
        for ((array, parquet_type), encoding) in
            batch.iter().flat_map(|b| b.columns()).zip(&self.types).zip(&self.encodings)
        {
            for column in array_to_columns(array, parquet_type.clone(), self.options, encoding)? {
                let compressed = column.map(|page| Ok(compress(page?, Vec::new(), self.options.compression)?));
                pages.push(compressed.collect::<PolarsResult<Vec<_>>>()?);
            }
        }
        Ok((rows.height() as u64, pages))
    }
}

/// Rows in a Parquet row group: the unit a reader can skip by its statistics.
const ROW_GROUP: usize = 64 * 1024;

/// zstd at level 1 rather than its default 3: on the 1M-row benchmark file the Parquet is 13%
/// larger (23.6 MB against 20.8 MB) and is written in about 55% of the time (0.46 s against
/// 0.84 s), and reading it back is as fast. Ingest runs on every upload; the file is written once.
fn zstd_level() -> Option<polars_parquet::write::ZstdLevel> {
    polars_parquet::write::ZstdLevel::try_new(1).ok()
}

/// The `ARROW:schema` metadata with text as plain `string` (`Utf8`). polars would store its own
/// `string_view`, which older Arrow readers (R, DuckDB, pyarrow < 14) cannot read, and which
/// pyarrow hands out as an unusual type: the contract says text is UTF-8 `string`.
fn plain_arrow_schema(frame: &DataFrame) -> KeyValueMetadata {
    use polars_arrow::datatypes::ArrowDataType;
    let mut schema = frame.schema().to_arrow(CompatLevel::newest());
    for field in schema.iter_values_mut() {
        if matches!(field.dtype, ArrowDataType::Utf8View | ArrowDataType::LargeUtf8) {
            field.dtype = ArrowDataType::Utf8;
        }
    }
    KeyValueMetadata::Static(vec![polars_parquet::write::schema_to_metadata_key(&schema)])
}

/// Builds a table one column at a time, so each column's source can be dropped as soon as it
/// is converted.
#[derive(Debug)]
pub struct TableBuilder {
    height: usize,
    columns: Vec<Column>,
    fields: Vec<Field>,
}

impl TableBuilder {
    pub fn new(height: usize) -> Self {
        Self { height, columns: Vec::new(), fields: Vec::new() }
    }

    pub fn push(&mut self, name: &str, title: &str, column: TypedColumn) -> Result<()> {
        let (column, field) = convert(name, title, column)?;
        self.push_converted(column, field);
        Ok(())
    }

    /// Add a column made by [`convert`] (on another thread, say).
    pub fn push_converted(&mut self, column: Column, field: Field) {
        self.fields.push(field);
        self.columns.push(column);
    }

    pub fn finish(self) -> Result<Table> {
        let frame = DataFrame::new(self.height, self.columns).map_err(|e| IngestError::Write(e.to_string()))?;
        Ok(Table { frame, fields: self.fields })
    }
}

/// A typed column as a polars column and its schema field (with statistics).
pub fn convert(name: &str, title: &str, column: TypedColumn) -> Result<(Column, Field)> {
    let field = field_of(name, title, &column);
    Ok((to_column(name, column)?, field))
}

fn to_column(name: &str, column: TypedColumn) -> Result<Column> {
    let name: PlSmallStr = name.into();
    Ok(match column {
        TypedColumn::Boolean(v) => Series::new(name, v).into(),
        TypedColumn::Integer(v) => Series::new(name, v).into(),
        TypedColumn::Float(v) => Series::new(name, v).into(),
        TypedColumn::Date(v) => DateChunked::from_naive_date_options(name, v).into_series().into(),
        TypedColumn::Datetime(v) => {
            DatetimeChunked::from_naive_datetime_options(name, v, TimeUnit::Microseconds).into_series().into()
        }
        TypedColumn::String(v) => text_series(name, v)?.into(),
    })
}

/// A text column as a polars string series without copying its text: each segment's buffer
/// becomes an Arrow values buffer (one chunk per segment), which polars' string views then
/// point into.
fn text_series(name: PlSmallStr, column: TextColumn) -> Result<Series> {
    use polars_arrow::array::{Array, Utf8Array};
    use polars_arrow::bitmap::Bitmap;
    use polars_arrow::datatypes::ArrowDataType;
    use polars_arrow::offset::Offsets;
    let chunk = |segment: crate::column::Segment| -> PolarsResult<Box<dyn Array>> {
        let mut offsets = Vec::with_capacity(segment.ends.len() + 1);
        offsets.push(0i64);
        offsets.extend(segment.ends.iter().map(|e| i64::from(*e)));
        let validity = segment.valid.contains(&false).then(|| segment.valid.iter().copied().collect::<Bitmap>());
        let offsets = Offsets::try_from(offsets)?;
        let values = segment.text.into_bytes().into();
        Ok(Utf8Array::<i64>::try_new(ArrowDataType::LargeUtf8, offsets.into(), values, validity)?.boxed())
    };
    let segments = column.into_segments();
    let chunks = if segments.is_empty() {
        vec![Utf8Array::<i64>::new_empty(ArrowDataType::LargeUtf8).boxed()]
    } else {
        segments
            .into_iter()
            .map(chunk)
            .collect::<PolarsResult<Vec<_>>>()
            .map_err(|e| IngestError::Write(e.to_string()))?
    };
    Series::from_arrow_chunks(name, chunks).map_err(|e| IngestError::Write(e.to_string()))
}

/// Counts distinct keys. A hash set does it when values repeat; when the first values are
/// mostly distinct (codes, coordinates), the keys are sorted by hash instead: a set of a
/// million keys costs a cache miss per insert and a rehash of every key at each doubling,
/// which makes it several times slower than one sort.
struct Distinct<K> {
    set: PlHashSet<K>,
    /// Keys with their hash, once the set is given up.
    hashed: Vec<(u64, K)>,
    /// `None` for keys cheap to compare (numbers), sorted as they are.
    state: Option<PlRandomState>,
    seen: usize,
    total: usize,
}

impl<K: Ord + std::hash::Hash> Distinct<K> {
    const PROBE: usize = 4096;

    /// For at most `total` keys.
    fn new(total: usize) -> Self {
        Self {
            set: PlHashSet::with_capacity(total.min(Self::PROBE)),
            hashed: Vec::new(),
            state: Some(Default::default()),
            seen: 0,
            total,
        }
    }

    /// For at most `total` keys as cheap to compare as to hash.
    fn of_numbers(total: usize) -> Self {
        Self { state: None, ..Self::new(total) }
    }

    fn hash(&self, key: &K) -> u64 {
        use std::hash::BuildHasher;
        self.state.as_ref().map_or(0, |s| s.hash_one(key))
    }

    fn insert(&mut self, key: K) {
        self.seen += 1;
        if self.seen <= Self::PROBE || self.hashed.capacity() == 0 {
            self.set.insert(key);
            if self.seen == Self::PROBE && self.set.len() > Self::PROBE / 2 {
                let mut hashed = Vec::with_capacity(self.total.max(self.set.len()));
                let set = std::mem::take(&mut self.set);
                hashed.extend(set.into_iter().map(|k| (self.hash(&k), k)));
                self.hashed = hashed;
            }
        } else {
            self.hashed.push((self.hash(&key), key));
        }
    }

    /// The distinct keys, in no order.
    fn finish(mut self) -> Vec<K> {
        if self.hashed.capacity() == 0 {
            return self.set.into_iter().collect();
        }
        // By hash, then by key: equal keys end up side by side, and keys are compared only
        // when their hashes are equal.
        self.hashed.sort_unstable();
        self.hashed.dedup();
        self.hashed.into_iter().map(|(_, k)| k).collect()
    }
}

fn stats<T: Clone + PartialOrd, K: Ord + std::hash::Hash>(
    values: &[Option<T>],
    key: impl Fn(&T) -> K,
    json: impl Fn(&T) -> Value,
) -> (usize, usize, Value, Value) {
    let mut distinct = Distinct::of_numbers(values.len());
    let (mut nulls, mut min, mut max): (usize, Option<&T>, Option<&T>) = (0, None, None);
    for v in values {
        let Some(v) = v else {
            nulls += 1;
            continue;
        };
        distinct.insert(key(v));
        if min.is_none_or(|m| v < m) {
            min = Some(v);
        }
        if max.is_none_or(|m| v > m) {
            max = Some(v);
        }
    }
    (nulls, distinct.finish().len(), min.map_or(Value::Null, &json), max.map_or(Value::Null, &json))
}

fn text_stats(column: &TextColumn) -> (usize, usize, Value, Value) {
    let mut distinct = Distinct::new(column.len());
    let mut nulls = 0;
    for v in column.iter() {
        match v {
            Some(v) => distinct.insert(v),
            None => nulls += 1,
        }
    }
    // The smallest and largest of the distinct values: a handful, for most text fields, in
    // Vietnamese dictionary order, the order the API sorts and aggregates text in. When there
    // are many, the column is read again in its order instead, by code point: the distinct
    // values are in hash order, all over the text, and fetching them there costs a cache miss
    // each (on the benchmark file's million codes, 4% of the whole ingest), while comparing a
    // million values by collation would add a sixth of a second a column.
    let distinct = distinct.finish();
    let (min, max) = if distinct.len() <= 4096 {
        let order = |a: &&&str, b: &&&str| Collation::Vietnamese.compare(a, b);
        (distinct.iter().min_by(order).copied(), distinct.iter().max_by(order).copied())
    } else {
        let mut values = column.iter().flatten();
        let first = values.next();
        values.fold((first, first), |(min, max), v| {
            (
                if min.is_some_and(|m| v < m) { Some(v) } else { min },
                if max.is_some_and(|m| v > m) { Some(v) } else { max },
            )
        })
    };
    (nulls, distinct.len(), min.map_or(Value::Null, Value::from), max.map_or(Value::Null, Value::from))
}

fn field_of(name: &str, title: &str, column: &TypedColumn) -> Field {
    let (field_type, (null_count, distinct_count, min, max)) = match column {
        TypedColumn::Boolean(v) => (FieldType::Boolean, stats(v, |b| *b, |b| Value::Bool(*b))),
        TypedColumn::Integer(v) => (FieldType::Integer, stats(v, |i| *i, |i| Value::from(*i))),
        TypedColumn::Float(v) => (FieldType::Float, stats(v, |f| f.to_bits(), |f| Value::from(*f))),
        TypedColumn::Date(v) => (FieldType::Date, stats(v, |d| *d, |d| Value::from(d.format("%Y-%m-%d").to_string()))),
        TypedColumn::Datetime(v) => {
            (FieldType::Datetime, stats(v, |d| *d, |d| Value::from(d.format("%Y-%m-%dT%H:%M:%S").to_string())))
        }
        TypedColumn::String(v) => (FieldType::String, text_stats(v)),
    };
    Field { name: name.to_string(), title: title.to_string(), field_type, null_count, distinct_count, min, max }
}

/// The field type of a polars dtype, for tables read back from Parquet.
pub fn field_type_of(dtype: &DataType) -> FieldType {
    match dtype {
        DataType::Boolean => FieldType::Boolean,
        d if d.is_integer() => FieldType::Integer,
        d if d.is_float() => FieldType::Float,
        DataType::Date => FieldType::Date,
        DataType::Datetime(_, _) => FieldType::Datetime,
        _ => FieldType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_are_exact_both_ways() {
        let count = |keys: Vec<String>| {
            let mut distinct = Distinct::new(keys.len());
            keys.iter().for_each(|k| distinct.insert(k.as_str()));
            distinct.finish().len()
        };
        // Repeating values: counted in a set.
        assert_eq!(count((0..100_000).map(|i| (i % 7).to_string()).collect()), 7);
        // Mostly distinct: sorted by hash; repeats come after the first 4096 values too.
        assert_eq!(count((0..20_000).map(|i| format!("H26-{:06}", i % 15_000)).collect()), 15_000);
        assert_eq!(count((0..3_000).map(|i| i.to_string()).collect()), 3_000);
        let mut numbers = Distinct::of_numbers(30_000);
        (0..30_000u64).for_each(|i| numbers.insert(i % 20_000));
        assert_eq!(numbers.finish().len(), 20_000);
    }

    #[test]
    fn text_stats_with_few_and_many_values() {
        for n in [10, 10_000] {
            let values: Vec<Option<String>> =
                (0..n).map(|i| (i % 5 != 0).then(|| format!("k{:05}", (i * 7919) % n))).collect();
            let present: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
            let (nulls, distinct, min, max) = text_stats(&TextColumn::from_options(&values));
            assert_eq!((nulls, distinct), (n / 5, n - n / 5));
            assert_eq!(min, Value::from(*present.iter().min().unwrap()));
            assert_eq!(max, Value::from(*present.iter().max().unwrap()));
            assert_ne!(min, Value::from(present[0]));
        }
        // Few values: in Vietnamese dictionary order, as the API sorts them (by code point,
        // `Quận Đống Đa` would be the largest).
        let values: Vec<Option<String>> =
            ["Quận Đống Đa", "Hà Đông", "Quận Tây Hồ", "Hoàng Mai"].iter().map(|s| Some(s.to_string())).collect();
        let (_, _, min, max) = text_stats(&TextColumn::from_options(&values));
        assert_eq!((min, max), (Value::from("Hà Đông"), Value::from("Quận Tây Hồ")));
    }
}
