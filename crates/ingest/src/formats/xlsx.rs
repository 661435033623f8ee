//! Workbooks (XLSX, XLS, ODS) through calamine: choose the sheet, keep native cell types (with
//! what the styles say: a legacy font, a date format that shows a time), and carry merged
//! ranges (of every format) so two-row headers and cells merged down can be read.
//!
//! Nothing is given to calamine before the limits are checked (see `crate::limits`): the zip
//! parts' declared sizes, then what calamine reads when it opens the workbook (every sheet of
//! an ODS or XLS, an XLSX's shared strings), then, for an XLSX, each sheet before it is read.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, DataType, Dimensions, Reader, Sheets, open_workbook_auto_from_rs};
use chrono::{NaiveDate, NaiveTime};
use unicode_normalization::UnicodeNormalization;

use crate::cell::Cell;
use crate::error::{IngestError, Result};
use crate::formats::xlsx_styles::{self, CellStyle};
use crate::formats::xml_parts::{self, Archive};
use crate::formats::{ods, xls_styles, xlsx_limits};
use crate::layout::{Grid, GridRow, Merge};
use crate::limits::Limits;

/// The styles that say something of a sheet's cells, by 0-based (row, column).
type CellStyles = HashMap<(u32, u32), CellStyle>;

/// The grid of the chosen sheet and its name.
pub fn grid(bytes: &[u8], sheet: Option<&str>, limits: &Limits) -> Result<(Grid, String)> {
    let mut zip = xml_parts::open(bytes);
    match zip.as_mut() {
        Some(zip) => {
            xml_parts::check_archive(zip, limits)?;
            xlsx_limits::check_shared_strings(zip, limits)?;
            if zip.index_for_name("content.xml").is_some() {
                ods::check_limits(zip, limits)?;
            }
        }
        None => xls_styles::check_limits(bytes, limits)?,
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| IngestError::CorruptFile { reason: e.to_string() })?;
    let names = book.sheet_names();
    let candidates: Vec<String> = match sheet {
        Some(wanted) => {
            let found = names
                .iter()
                .find(|n| n.as_str() == wanted || n.trim().eq_ignore_ascii_case(wanted.trim()))
                .or_else(|| wanted.parse::<usize>().ok().and_then(|i| names.get(i.wrapping_sub(1))));
            match found {
                Some(n) => vec![n.clone()],
                None => {
                    return Err(IngestError::BadOption {
                        option: "sheet",
                        message: format!("no sheet named `{wanted}`; the workbook has: {}", names.join(", ")),
                    });
                }
            }
        }
        None => names.clone(),
    };
    for name in &candidates {
        if let (Sheets::Xlsx(_), Some(zip)) = (&book, zip.as_mut()) {
            xlsx_limits::check_sheet(zip, name, limits)?;
        }
        let range = book
            .worksheet_range(name)
            .map_err(|e| IngestError::CorruptFile { reason: format!("sheet `{name}`: {e}") })?;
        let Some((row0, col0)) = range.start() else { continue };
        let index = names.iter().position(|n| n == name).unwrap_or(usize::MAX);
        let (styles, merges) = styles_and_merges(&mut book, zip.as_mut(), bytes, name, index, limits)?;
        let rows: Vec<GridRow> = range
            .rows()
            .enumerate()
            .map(|(i, r)| {
                let cells = r
                    .iter()
                    .enumerate()
                    .map(|(j, data)| {
                        let style = styles.get(&(row0 + i as u32, col0 + j as u32)).copied().unwrap_or_default();
                        match (to_cell(data, style.shows_time), style.legacy_font) {
                            (Cell::Text(t), Some(font)) => Cell::Text(font.convert(&t)),
                            (cell, _) => cell,
                        }
                    })
                    .collect();
                GridRow { number: row0 as usize + i + 1, cells }
            })
            .collect();
        if sheet.is_none() && !holds_table(&rows) {
            continue;
        }
        let merges = merges
            .into_iter()
            .filter(|d| d.start.0 >= row0 && d.start.1 >= col0)
            .map(|d| Merge {
                first_row: (d.start.0 - row0) as usize,
                last_row: (d.end.0 - row0) as usize,
                first_col: (d.start.1 - col0) as usize,
                last_col: (d.end.1 - col0) as usize,
            })
            .collect();
        return Ok((Grid { rows, merges, row_unit: "row" }, name.clone()));
    }
    Err(IngestError::NoTable { sheets: names })
}

/// A row of at least two non-empty cells with at least one non-empty row under it.
fn holds_table(rows: &[GridRow]) -> bool {
    let filled = |r: &GridRow| r.cells.iter().filter(|c| !c.is_blank()).count();
    rows.iter().position(|r| filled(r) >= 2).is_some_and(|i| rows[i + 1..].iter().any(|r| filled(r) > 0))
}

/// What calamine does not give of the sheet `name` (the `index`th of the workbook): the styles
/// of its cells that say something (see `CellStyle`; the legacy fonts of XLSX, the formats
/// showing a time of XLSX, XLS and ODS), and its merged ranges, which calamine reads for XLSX
/// and XLS and an ODS sheet's `content.xml` gives.
fn styles_and_merges(
    book: &mut Sheets<Cursor<&[u8]>>,
    zip: Option<&mut Archive<'_>>,
    bytes: &[u8],
    name: &str,
    index: usize,
    limits: &Limits,
) -> Result<(CellStyles, Vec<Dimensions>)> {
    Ok(match book {
        Sheets::Xlsx(x) => {
            (xlsx_styles::cell_styles(bytes, name, limits)?, x.merge_cells_by_sheet_name(name).unwrap_or_default())
        }
        Sheets::Xls(x) => {
            (xls_styles::cell_styles(bytes, index), x.merge_cells_by_sheet_name(name).unwrap_or_default())
        }
        Sheets::Ods(_) => {
            let extras = ods::sheet_extras(zip, name, limits)?;
            (extras.styles, extras.merges)
        }
        Sheets::Xlsb(_) => (CellStyles::new(), Vec::new()),
    })
}

/// A cell of its native type. A date at 00:00 is a date, unless its number format shows a
/// time (`shows_time`, known for XLSX, XLS and ODS): then it is a datetime that happens to be at
/// midnight. An ODS date cell at 00:00 holds the date alone (`2024-01-02`, as LibreOffice
/// writes it whatever the cell's format), which calamine does not read as a datetime.
fn to_cell(data: &Data, shows_time: bool) -> Cell {
    match data {
        Data::Empty | Data::Error(_) => Cell::Empty,
        Data::String(s) => Cell::Text(s.nfc().collect()),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(_) | Data::DateTimeIso(_) => {
            let iso_date = || data.get_datetime_iso()?.parse::<NaiveDate>().ok().map(|d| d.and_time(NaiveTime::MIN));
            match data.as_datetime().or_else(iso_date) {
                Some(dt) if dt.time() == NaiveTime::MIN && !shows_time => Cell::Date(dt.date()),
                Some(dt) => Cell::DateTime(dt),
                None => Cell::Text(data.to_string()),
            }
        }
        Data::DurationIso(s) => Cell::Text(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_at_midnight_is_a_datetime_when_its_format_shows_a_time() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let midnight = day.and_time(NaiveTime::MIN);
        for data in [Data::DateTimeIso("2024-01-02T00:00:00".into()), Data::DateTimeIso("2024-01-02".into())] {
            assert_eq!(to_cell(&data, false), Cell::Date(day), "{data:?}");
            assert_eq!(to_cell(&data, true), Cell::DateTime(midnight), "{data:?}");
        }
        let afternoon = Data::DateTimeIso("2024-01-02T14:30:00".into());
        assert_eq!(to_cell(&afternoon, false), Cell::DateTime(day.and_hms_opt(14, 30, 0).unwrap()));
        assert_eq!(to_cell(&Data::DateTimeIso("02/01/2024".into()), true), Cell::Text("02/01/2024".into()));
    }
}
