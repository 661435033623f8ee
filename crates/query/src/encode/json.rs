//! JSON rows: `{"field": value, …}` objects, dates `YYYY-MM-DD`, datetimes ISO 8601,
//! integers as numbers, non-finite floats as `null`.

use polars::prelude::*;

use super::{CellValue, ColumnValues, columns, write_date, write_datetime};
use crate::error::Result;

/// Append the rows of `frame` as comma-separated JSON objects (no surrounding brackets),
/// preceded by a comma when `leading_comma`.
pub fn write_objects(frame: &DataFrame, out: &mut Vec<u8>, mut leading_comma: bool) -> Result<()> {
    write_rows(frame, out, |out| {
        if leading_comma {
            out.push(b',');
        }
        leading_comma = true;
    })
}

/// Append the rows of `frame` as newline-delimited JSON.
pub fn write_ndjson(frame: &DataFrame, out: &mut Vec<u8>) -> Result<()> {
    let mut first = true;
    write_rows(frame, out, |out| {
        if !first {
            out.push(b'\n');
        }
        first = false;
    })?;
    if frame.height() > 0 {
        out.push(b'\n');
    }
    Ok(())
}

fn write_rows(frame: &DataFrame, out: &mut Vec<u8>, mut before_row: impl FnMut(&mut Vec<u8>)) -> Result<()> {
    let (series, names) = columns(frame)?;
    let values: Vec<ColumnValues<'_>> = series.iter().map(ColumnValues::of).collect::<Result<_>>()?;
    let keys: Vec<Vec<u8>> = names.iter().map(|n| member_key(n)).collect();
    for row in 0..frame.height() {
        before_row(out);
        out.push(b'{');
        for (i, (key, column)) in keys.iter().zip(&values).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write_value(out, column.get(row));
        }
        out.push(b'}');
    }
    Ok(())
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: CellValue<'_>) {
    match v {
        CellValue::Null => out.extend_from_slice(b"null"),
        CellValue::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        CellValue::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        // The shortest text that reads back as the same float, as serde_json writes it.
        CellValue::Float(f) if f.is_finite() => out.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes()),
        CellValue::Float(_) => out.extend_from_slice(b"null"),
        CellValue::Date(d) => {
            out.push(b'"');
            write_date(out, d);
            out.push(b'"');
        }
        CellValue::Datetime(dt) => {
            out.push(b'"');
            write_datetime(out, dt);
            out.push(b'"');
        }
        CellValue::Str(s) => write_str(out, s),
    }
}

/// `"name":`, the start of an object member.
pub(crate) fn member_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 3);
    write_str(&mut key, name);
    key.push(b':');
    key
}

/// A JSON string. Most values need no escape: one branch-free pass over the bytes finds that
/// out, and the value is copied whole (`serde_json`'s byte-by-byte writer was the first item
/// of the small-table profile).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let plain = bytes.iter().fold(true, |ok, b| ok & (*b >= 0x20 && *b != b'"' && *b != b'\\'));
    if plain {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_only_when_needed() {
        for s in ["Phường Dịch Vọng", "", "say \"hi\"", "a\\b", "tab\there", "line\nbreak", "\u{1}"] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
