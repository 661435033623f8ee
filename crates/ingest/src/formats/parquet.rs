//! Parquet taken as it is: its columns keep their types (integers as int64, floats as
//! float64, booleans, dates, datetimes in microseconds), names are normalised like headers,
//! and anything else (nested lists, structs, binary) becomes text. An unsigned 64-bit column
//! with a value above i64::MAX becomes text too, each value its exact decimal digits: an int64
//! cannot hold it, and a float would round it.

use std::io::Cursor;

use polars::prelude::*;

use crate::column::TextColumn;
use crate::error::{IngestError, Result};
use crate::infer::TypedColumn;

/// The columns of a Parquet file as headers and typed columns.
pub fn read(bytes: &[u8]) -> Result<(Vec<String>, Vec<TypedColumn>)> {
    let corrupt = |e: PolarsError| IngestError::CorruptFile { reason: format!("Parquet: {e}") };
    let frame = ParquetReader::new(Cursor::new(bytes)).finish().map_err(corrupt)?;
    let mut headers = Vec::with_capacity(frame.width());
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let s = column.as_materialized_series();
        headers.push(s.name().to_string());
        columns.push(typed(s).map_err(corrupt)?);
    }
    Ok((headers, columns))
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
