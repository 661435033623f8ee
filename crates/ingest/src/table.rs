//! The typed table: a polars `DataFrame` plus its schema (name, original header, type and
//! per-field statistics), and its Parquet encoding.

use std::io::Write;

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
            builder.push(name, title, column);
        }
        builder.finish()
    }

    /// Write the table as Parquet (zstd, 64 Ki-row groups, statistics on) and return the byte count.
    pub fn write_parquet<W: Write>(&self, writer: W) -> Result<u64> {
        let mut frame = self.frame.clone();
        ParquetWriter::new(writer)
            .with_row_group_size(Some(64 * 1024))
            .with_key_value_metadata(Some(plain_arrow_schema(&frame)))
            .with_statistics(StatisticsOptions::full())
            .finish(&mut frame)
            .map_err(|e| IngestError::Write(e.to_string()))
    }
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

    pub fn push(&mut self, name: &str, title: &str, column: TypedColumn) {
        let (column, field) = convert(name, title, column);
        self.push_converted(column, field);
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
pub fn convert(name: &str, title: &str, column: TypedColumn) -> (Column, Field) {
    let field = field_of(name, title, &column);
    (to_column(name, column), field)
}

fn to_column(name: &str, column: TypedColumn) -> Column {
    let name: PlSmallStr = name.into();
    match column {
        TypedColumn::Boolean(v) => Series::new(name, v).into(),
        TypedColumn::Integer(v) => Series::new(name, v).into(),
        TypedColumn::Float(v) => Series::new(name, v).into(),
        TypedColumn::Date(v) => DateChunked::from_naive_date_options(name, v).into_series().into(),
        TypedColumn::Datetime(v) => {
            DatetimeChunked::from_naive_datetime_options(name, v, TimeUnit::Microseconds).into_series().into()
        }
        TypedColumn::String(v) => StringChunked::from_iter_options(name, v.iter()).into_series().into(),
    }
}

fn stats<T: Clone + PartialOrd, K: Eq + std::hash::Hash>(
    values: &[Option<T>],
    key: impl Fn(&T) -> K,
    json: impl Fn(&T) -> Value,
) -> (usize, usize, Value, Value) {
    let present: Vec<&T> = values.iter().flatten().collect();
    let distinct = present.iter().map(|v| key(v)).collect::<PlHashSet<K>>().len();
    let pick = |better: fn(&T, &T) -> bool| {
        present.iter().copied().reduce(|a, b| if better(b, a) { b } else { a }).map_or(Value::Null, &json)
    };
    (values.len() - present.len(), distinct, pick(|b, a| b < a), pick(|b, a| b > a))
}

fn text_stats(column: &TextColumn) -> (usize, usize, Value, Value) {
    let mut distinct: PlHashSet<&str> = PlHashSet::new();
    let (mut nulls, mut min, mut max): (usize, Option<&str>, Option<&str>) = (0, None, None);
    for v in column.iter() {
        let Some(v) = v else {
            nulls += 1;
            continue;
        };
        distinct.insert(v);
        min = Some(min.map_or(v, |m| m.min(v)));
        max = Some(max.map_or(v, |m| m.max(v)));
    }
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
