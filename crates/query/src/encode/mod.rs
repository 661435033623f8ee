//! Output encoders: rows of a `DataFrame` written straight into a byte buffer, column by
//! column downcast once per batch (no `serde_json::Value` per row).

pub mod csv;
pub mod geojson;
pub mod json;
pub mod xlsx;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::prelude::*;

use crate::error::Result;

/// A column downcast to its physical values, for row-wise writing.
pub(crate) enum ColumnValues<'a> {
    Bool(&'a BooleanChunked),
    Int(Int64Chunked),
    Float(Float64Chunked),
    /// Days since 1970-01-01.
    Date(&'a Int32Chunked),
    /// Microseconds since 1970-01-01T00:00:00 (wall-clock, no zone).
    Datetime(&'a Int64Chunked),
    Str(&'a StringChunked),
}

/// One cell, typed.
pub(crate) enum CellValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
    Str(&'a str),
}

impl<'a> ColumnValues<'a> {
    pub(crate) fn of(series: &'a Series) -> Result<Self> {
        Ok(match series.dtype() {
            DataType::Boolean => Self::Bool(series.bool()?),
            DataType::Date => Self::Date(series.date()?.physical()),
            DataType::Datetime(unit, _) => {
                let us = series.datetime()?;
                match unit {
                    TimeUnit::Microseconds => Self::Datetime(us.physical()),
                    _ => {
                        return Err(crate::QueryError::Engine(format!(
                            "datetime column `{}` is not in microseconds",
                            series.name()
                        )));
                    }
                }
            }
            DataType::String => Self::Str(series.str()?),
            d if d.is_integer() => Self::Int(series.cast(&DataType::Int64)?.i64()?.clone()),
            d if d.is_float() => Self::Float(series.cast(&DataType::Float64)?.f64()?.clone()),
            _ => Self::Str(series.str()?),
        })
    }

    pub(crate) fn get(&self, i: usize) -> CellValue<'_> {
        let v = match self {
            Self::Bool(c) => c.get(i).map(CellValue::Bool),
            Self::Int(c) => c.get(i).map(CellValue::Int),
            Self::Float(c) => c.get(i).map(CellValue::Float),
            Self::Date(c) => c
                .get(i)
                .map(|d| CellValue::Date(DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(i64::from(d)))),
            Self::Datetime(c) => {
                c.get(i).and_then(DateTime::from_timestamp_micros).map(|t| CellValue::Datetime(t.naive_utc()))
            }
            Self::Str(c) => c.get(i).map(CellValue::Str),
        };
        v.unwrap_or(CellValue::Null)
    }
}

/// Rechunk and downcast every column of `frame`.
pub(crate) fn columns(frame: &DataFrame) -> Result<(Vec<Series>, Vec<String>)> {
    let series: Vec<Series> = frame.columns().iter().map(|c| c.as_materialized_series().rechunk()).collect();
    let names = series.iter().map(|s| s.name().to_string()).collect();
    Ok((series, names))
}

pub(crate) fn write_date(out: &mut Vec<u8>, d: NaiveDate) {
    use std::io::Write;
    let _ = write!(out, "{}", d.format("%Y-%m-%d"));
}

pub(crate) fn write_datetime(out: &mut Vec<u8>, dt: NaiveDateTime) {
    use std::io::Write;
    let _ = write!(out, "{}", dt.format("%Y-%m-%dT%H:%M:%S"));
}
