//! Parquet taken as it is: its columns keep their types (integers as int64, floats as
//! float64, booleans, dates, datetimes in microseconds), names are normalised like headers,
//! and anything else (nested lists, structs, binary) becomes text. An unsigned 64-bit column
//! with a value above i64::MAX becomes text too, each value its exact decimal digits: an int64
//! cannot hold it, and a float would round it.
//!
//! A Parquet file compresses without bound (a column of one repeated value is a few bytes for
//! any number of rows), so its metadata is read first: its rows, columns and cells, and the
//! uncompressed size of its data, are checked against the limits before any page is read; text
//! values are measured before they are copied.

use std::io::Cursor;

use polars::prelude::*;

use crate::column::TextColumn;
use crate::error::{IngestError, Result};
use crate::infer::TypedColumn;
use crate::limits::{self, Limits};

/// The columns of a Parquet file as headers and typed columns.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<(Vec<String>, Vec<TypedColumn>)> {
    let corrupt = |e: PolarsError| IngestError::CorruptFile { reason: format!("Parquet: {e}") };
    check_metadata(bytes, limits)?;
    let frame = ParquetReader::new(Cursor::new(bytes)).finish().map_err(corrupt)?;
    let mut headers = Vec::with_capacity(frame.width());
    let mut columns = Vec::with_capacity(frame.width());
    let mut text_bytes = 0u64;
    for column in frame.columns() {
        let s = column.as_materialized_series();
        if let Ok(text) = s.str() {
            text_bytes = text_bytes.saturating_add(text.iter().map(|v| v.map_or(0, str::len) as u64).sum());
            if text_bytes > limits.max_inflated_bytes {
                let (what, limit) = ("the text values of the Parquet file", limits.max_inflated_bytes);
                return Err(limits::exceeded(what, None, limit, "bytes", "max_inflated_bytes"));
            }
        }
        headers.push(s.name().to_string());
        columns.push(typed(s).map_err(corrupt)?);
    }
    Ok((headers, columns))
}

/// Refuse a file whose metadata gives more rows, columns (leaf columns: a nested column counts
/// each of its parts) or cells than the limits, or more uncompressed data than
/// `max_inflated_bytes` (its row groups' `total_byte_size`). The rows are the file's count and
/// its row groups' together, whichever is more. A file without readable metadata is left to
/// the reader, which says what is wrong with it.
fn check_metadata(bytes: &[u8], limits: &Limits) -> Result<()> {
    let Ok(meta) = polars_parquet::parquet::read::read_metadata(&mut Cursor::new(bytes)) else { return Ok(()) };
    let grouped: u64 = meta.row_groups.iter().map(|g| g.num_rows() as u64).sum();
    let rows = (meta.num_rows as u64).max(grouped);
    let columns = meta.schema_descr.columns().len() as u64;
    limits.table("the Parquet file", rows, columns)?;
    let data: u64 = meta.row_groups.iter().map(|g| g.total_byte_size() as u64).sum();
    let what = "the data of the Parquet file, uncompressed,";
    if data > limits.max_inflated_bytes {
        return Err(limits::exceeded(what, Some(data), limits.max_inflated_bytes, "bytes", "max_inflated_bytes"));
    }
    Ok(())
}

fn typed(s: &Series) -> PolarsResult<TypedColumn> {
    Ok(match s.dtype() {
        DataType::Boolean => TypedColumn::Boolean(s.bool()?.iter().collect()),
        DataType::UInt64 if s.u64()?.max().is_some_and(|m| i64::try_from(m).is_err()) => text(s)?,
        d if d.is_integer() => TypedColumn::Integer(s.cast(&DataType::Int64)?.i64()?.iter().collect()),
        d if d.is_float() => TypedColumn::Float(s.cast(&DataType::Float64)?.f64()?.iter().collect()),
        DataType::Date => TypedColumn::Date(s.date()?.as_date_iter().collect()),
        DataType::Datetime(_, zone) => {
            let us = s.cast(&DataType::Datetime(TimeUnit::Microseconds, zone.clone()))?;
            // A zoned instant becomes Hà Nội wall-clock time (UTC+7, no daylight saving);
            // a zoneless one already is.
            let shift = if zone.is_some() { chrono::Duration::hours(7) } else { chrono::Duration::zero() };
            let micros = us.datetime()?.physical().clone();
            TypedColumn::Datetime(
                micros
                    .iter()
                    .map(|v| v.and_then(chrono::DateTime::from_timestamp_micros).map(|t| t.naive_utc() + shift))
                    .collect(),
            )
        }
        _ => text(s)?,
    })
}

/// Each value as its text; an empty text is null.
fn text(s: &Series) -> PolarsResult<TypedColumn> {
    let text = s.cast(&DataType::String)?;
    let mut out = TextColumn::with_capacity(s.len(), 0);
    for v in text.str()?.iter() {
        out.push(v.filter(|v| !v.is_empty()));
    }
    Ok(TypedColumn::String(out))
}
