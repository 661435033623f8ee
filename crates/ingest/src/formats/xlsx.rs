//! Workbooks (XLSX, XLS, ODS) through calamine: choose the sheet, keep native cell types, and
//! carry merged ranges (of every format) so two-row headers and cells merged down can be read.

use std::io::Cursor;

use calamine::{Data, DataType, Reader, Sheets, open_workbook_auto_from_rs};
use chrono::NaiveTime;
use unicode_normalization::UnicodeNormalization;

use crate::cell::Cell;
use crate::error::{IngestError, Result};
use crate::formats::{ods_merges, xlsx_styles};
use crate::layout::{Grid, GridRow, Merge};

/// The grid of the chosen sheet and its name.
pub fn grid(bytes: &[u8], sheet: Option<&str>) -> Result<(Grid, String)> {
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
        let range = book
            .worksheet_range(name)
            .map_err(|e| IngestError::CorruptFile { reason: format!("sheet `{name}`: {e}") })?;
        let Some((row0, col0)) = range.start() else { continue };
        let styles = xlsx_styles::cell_styles(bytes, name);
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
        let merges = merges(&mut book, bytes, name)
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

/// The merged ranges of a sheet: calamine reads them for XLSX and XLS; an ODS sheet's are read
/// from its `content.xml`.
fn merges(book: &mut Sheets<Cursor<&[u8]>>, bytes: &[u8], name: &str) -> Vec<calamine::Dimensions> {
    match book {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(name).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(name).unwrap_or_default(),
        Sheets::Ods(_) => ods_merges::merges(bytes, name),
        Sheets::Xlsb(_) => Vec::new(),
    }
}

/// A cell of its native type. A date at 00:00 is a date, unless its number format shows a
/// time (`shows_time`, known for XLSX): then it is a datetime that happens to be at midnight.
fn to_cell(data: &Data, shows_time: bool) -> Cell {
    match data {
        Data::Empty | Data::Error(_) => Cell::Empty,
        Data::String(s) => Cell::Text(s.nfc().collect()),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(_) | Data::DateTimeIso(_) => match data.as_datetime() {
            Some(dt) if dt.time() == NaiveTime::MIN && !shows_time => Cell::Date(dt.date()),
            Some(dt) => Cell::DateTime(dt),
            None => Cell::Text(data.to_string()),
        },
        Data::DurationIso(s) => Cell::Text(s.clone()),
    }
}
