//! Output encoders: rows of a `DataFrame` written straight into a byte buffer, column by
//! column downcast once per batch (no `serde_json::Value` per row).

pub(crate) mod cells;
pub mod csv;
pub mod geojson;
pub mod json;
pub mod xlsx;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use polars_arrow::array::{Array, BooleanArray, PrimitiveArray, Utf8ViewArray};

use crate::error::Result;

/// A column as one arrow array of its physical values, for row-wise writing: a cell is an
/// index into a buffer, not a chunk lookup.
pub(crate) enum ColumnValues<'a> {
    Bool(BooleanArray),
    Int(PrimitiveArray<i64>),
    Float(PrimitiveArray<f64>),
    /// Days since 1970-01-01.
    Date(PrimitiveArray<i32>),
    /// Microseconds since 1970-01-01T00:00:00 (wall-clock, no zone).
    Datetime(PrimitiveArray<i64>),
    Str(Utf8ViewArray, std::marker::PhantomData<&'a ()>),
}

/// One cell, typed.
#[derive(Clone, Copy)]
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
        let one = Self::chunks(&series.rechunk())?.into_iter().next();
        match one {
            Some(values) => Ok(values),
            None => Self::chunks(&series.clear().rechunk())?
                .into_iter()
                .next()
                .ok_or_else(|| crate::QueryError::Engine(format!("column `{}` has no chunk", series.name()))),
        }
    }

    /// One per chunk of `series`, sharing its buffers (cast first when its type is not one of
    /// the physical types written).
    pub(crate) fn chunks(series: &Series) -> Result<Vec<Self>> {
        fn each<T: PolarsDataType>(
            ca: &ChunkedArray<T>,
            f: impl Fn(T::Array) -> ColumnValues<'static>,
        ) -> Vec<ColumnValues<'static>>
        where
            T::Array: Clone,
        {
            ca.downcast_iter().cloned().map(f).collect()
        }
        Ok(match series.dtype() {
            DataType::Boolean => each(series.bool()?, ColumnValues::Bool),
            DataType::Date => each(series.date()?.physical(), ColumnValues::Date),
            DataType::Datetime(unit, _) => match unit {
                TimeUnit::Microseconds => each(series.datetime()?.physical(), ColumnValues::Datetime),
                _ => {
                    return Err(crate::QueryError::Engine(format!(
                        "datetime column `{}` is not in microseconds",
                        series.name()
                    )));
                }
            },
            DataType::String => each(series.str()?, |a| ColumnValues::Str(a, std::marker::PhantomData)),
            d if d.is_integer() => each(series.cast(&DataType::Int64)?.i64()?, ColumnValues::Int),
            d if d.is_float() => each(series.cast(&DataType::Float64)?.f64()?, ColumnValues::Float),
            _ => each(series.cast(&DataType::String)?.str()?, |a| ColumnValues::Str(a, std::marker::PhantomData)),
        })
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Bool(a) => a.len(),
            Self::Int(a) => a.len(),
            Self::Float(a) => a.len(),
            Self::Date(a) => a.len(),
            Self::Datetime(a) => a.len(),
            Self::Str(a, _) => a.len(),
        }
    }

    pub(crate) fn get(&self, i: usize) -> CellValue<'_> {
        fn valid<A: Array>(a: &A, i: usize) -> bool {
            i < a.len() && a.validity().is_none_or(|v| v.get_bit(i))
        }
        match self {
            Self::Bool(a) if valid(a, i) => CellValue::Bool(a.value(i)),
            Self::Int(a) if valid(a, i) => CellValue::Int(a.value(i)),
            Self::Float(a) if valid(a, i) => CellValue::Float(a.value(i)),
            Self::Date(a) if valid(a, i) => {
                CellValue::Date(DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(i64::from(a.value(i))))
            }
            Self::Datetime(a) if valid(a, i) => DateTime::from_timestamp_micros(a.value(i))
                .map(|t| CellValue::Datetime(t.naive_utc()))
                .unwrap_or(CellValue::Null),
            Self::Str(a, _) if valid(a, i) => CellValue::Str(a.value(i)),
            _ => CellValue::Null,
        }
    }
}

/// Rechunk and downcast every column of `frame`.
pub(crate) fn columns(frame: &DataFrame) -> Result<(Vec<Series>, Vec<String>)> {
    let series: Vec<Series> = frame.columns().iter().map(|c| c.as_materialized_series().rechunk()).collect();
    let names = series.iter().map(|s| s.name().to_string()).collect();
    Ok((series, names))
}

/// `n` as `width` digits at least (zero-padded), for dates and times.
fn write_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at = at.min(digits.len() - width);
    out.extend_from_slice(&digits[at..]);
}

/// `YYYY-MM-DD` (written by hand: a `strftime` per cell showed in profiles).
pub(crate) fn write_date(out: &mut Vec<u8>, d: NaiveDate) {
    use chrono::Datelike;
    if !(0..=9999).contains(&d.year()) {
        use std::io::Write;
        let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        return;
    }
    write_padded(out, d.year() as u32, 4);
    out.push(b'-');
    write_padded(out, d.month(), 2);
    out.push(b'-');
    write_padded(out, d.day(), 2);
}

/// `YYYY-MM-DDTHH:MM:SS`.
pub(crate) fn write_datetime(out: &mut Vec<u8>, dt: NaiveDateTime) {
    use chrono::Timelike;
    write_date(out, dt.date());
    out.push(b'T');
    write_padded(out, dt.hour(), 2);
    out.push(b':');
    write_padded(out, dt.minute(), 2);
    out.push(b':');
    write_padded(out, dt.second(), 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_iso() {
        let mut out = Vec::new();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        write_date(&mut out, d(2024, 3, 1));
        out.push(b' ');
        write_date(&mut out, d(987, 12, 31));
        out.push(b' ');
        write_date(&mut out, d(12345, 1, 9));
        out.push(b' ');
        write_datetime(&mut out, d(2023, 11, 5).and_hms_opt(7, 0, 59).unwrap());
        assert_eq!(String::from_utf8(out).unwrap(), "2024-03-01 0987-12-31 +12345-01-09 2023-11-05T07:00:59");
    }
}
