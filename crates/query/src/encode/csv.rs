//! CSV: UTF-8 (with a BOM on request, for Excel), RFC 4180 quoting, ISO dates, empty cells for
//! nulls. The plain CSV is the data, byte for byte: a researcher's pandas or R reads back
//! exactly what was published (`+84901234567` stays a phone number). Only the variants made for
//! spreadsheets ([`CsvOptions::for_spreadsheet`]: with a BOM, or `;`-delimited) neutralise
//! formulas: text cells that start with `=`, `+`, `-`, `@`, a tab or a CR get a leading `'`, so
//! Excel does not run them. Numbers in numeric fields are never touched.

use std::io::Write;

use polars::prelude::*;

use super::{CellValue, ColumnValues, columns, write_date, write_datetime};
use crate::error::Result;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    pub delimiter: u8,
    /// Prefix formula-looking text cells with `'` (the spreadsheet-targeted variants only).
    pub neutralise: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { delimiter: b',', neutralise: false }
    }
}

impl CsvOptions {
    /// The options of a CSV answer: `bom=true` and `delimiter=;` are what Excel opens (a BOM to
    /// show Vietnamese, `;` in decimal-comma locales), so those variants neutralise formulas;
    /// the others (`,`, tab, `|`) are for programs and carry the data unchanged.
    pub fn for_request(delimiter: u8, bom: bool) -> Self {
        Self { delimiter, neutralise: bom || delimiter == b';' }
    }
}

/// Append the header line (field names).
pub fn write_header(names: &[&str], out: &mut Vec<u8>, opts: CsvOptions) {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push(opts.delimiter);
        }
        write_text(out, n, opts, false);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append the rows of `frame`.
pub fn write_rows(frame: &DataFrame, out: &mut Vec<u8>, opts: CsvOptions) -> Result<()> {
    let (series, _) = columns(frame)?;
    let values: Vec<ColumnValues<'_>> = series.iter().map(ColumnValues::of).collect::<Result<_>>()?;
    for row in 0..frame.height() {
        for (i, column) in values.iter().enumerate() {
            if i > 0 {
                out.push(opts.delimiter);
            }
            match column.get(row) {
                CellValue::Null => {}
                CellValue::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                CellValue::Int(v) => {
                    let _ = write!(out, "{v}");
                }
                CellValue::Float(f) if f.is_finite() => {
                    let start = out.len();
                    let _ = write!(out, "{f}");
                    // With `;` the reader is Excel in a decimal-comma locale (Vietnamese among them).
                    if opts.delimiter == b';'
                        && let Some(dot) = out[start..].iter().position(|b| *b == b'.')
                    {
                        out[start + dot] = b',';
                    }
                }
                CellValue::Float(_) => {}
                CellValue::Date(d) => write_date(out, d),
                CellValue::Datetime(dt) => write_datetime(out, dt),
                CellValue::Str(s) => write_text(out, s, opts, opts.neutralise),
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

fn write_text(out: &mut Vec<u8>, s: &str, opts: CsvOptions, neutralise: bool) {
    let formula = neutralise && s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = formula
        || s.bytes().any(|b| b == opts.delimiter || b == b'"' || b == b'\n' || b == b'\r')
        || s.starts_with(' ')
        || s.ends_with(' ');
    if !needs_quotes {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    if formula {
        out.push(b'\'');
    }
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(opts: CsvOptions) -> String {
        let df = df!(
            "ten" => ["Hà Nội", "a,b", "say \"hi\"", "=SUM(A1)", "-5 độ", "+84901234567", "@x"],
            "so" => [1i64, -2, 3, 4, 5, 6, 7],
        )
        .unwrap();
        let mut out = Vec::new();
        write_header(&["ten", "so"], &mut out, opts);
        write_rows(&df, &mut out, opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_csv_is_the_data() {
        assert_eq!(
            written(CsvOptions::for_request(b',', false)),
            "ten,so\r\nHà Nội,1\r\n\"a,b\",-2\r\n\"say \"\"hi\"\"\",3\r\n=SUM(A1),4\r\n-5 độ,5\r\n+84901234567,6\r\n@x,7\r\n"
        );
        assert!(!written(CsvOptions::for_request(b'\t', false)).contains('\''));
        assert!(!written(CsvOptions::for_request(b'|', false)).contains('\''));
    }

    #[test]
    fn spreadsheet_variants_neutralise_formulas() {
        assert_eq!(
            written(CsvOptions::for_request(b',', true)),
            "ten,so\r\nHà Nội,1\r\n\"a,b\",-2\r\n\"say \"\"hi\"\"\",3\r\n\"'=SUM(A1)\",4\r\n\"'-5 độ\",5\r\n\"'+84901234567\",6\r\n\"'@x\",7\r\n"
        );
        assert!(written(CsvOptions::for_request(b';', false)).contains("\"'=SUM(A1)\";4"));
    }
}
