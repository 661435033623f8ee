//! The limits of an XLSX workbook, checked by streaming its parts before calamine reads them:
//! calamine reserves room for as many shared strings as `sharedStrings.xml` declares, and
//! holds a sheet as a dense grid over the rows and columns its cells span, so a 2 KB sheet with
//! one cell in each corner of `A1:XFD1048576` would be 17 billion cells. Each sheet's declared
//! dimension (`<dimension ref>`) is checked, and so is the extent its cells really span (the
//! dimension can lie), counted as calamine places them.

use crate::error::Result;
use crate::formats::xlsx_styles::{parse_reference, sheet_path};
use crate::formats::xml_parts::{Archive, attr, each_element_of};
use crate::limits::{self, Limits};

/// Refuse a workbook whose shared strings, declared (`uniqueCount`) or found, outnumber
/// `max_cells`: a string is held for each, whether a cell uses it or not.
pub fn check_shared_strings(zip: &mut Archive<'_>, limits: &Limits) -> Result<()> {
    for name in part_names(zip, |n| n.ends_with("sharedStrings.xml")) {
        let (mut declared, mut found) = (0u64, 0u64);
        each_element_of(zip, &name, limits, |e, start| {
            match e.local_name().as_ref() {
                "sst" => declared = attr(e, "uniqueCount").and_then(|n| n.parse().ok()).unwrap_or(0),
                "si" if start => found += 1,
                _ => {}
            }
            declared <= limits.max_cells && found <= limits.max_cells
        })?;
        let what = format!("the shared strings of the workbook (`{name}`)");
        for (what, found) in [(format!("{what}, as declared,"), declared), (what, found)] {
            if found > limits.max_cells {
                return Err(limits::exceeded(what, Some(found), limits.max_cells, "strings", "max_cells"));
            }
        }
    }
    Ok(())
}

/// The names of the archive's parts that `wanted` keeps.
fn part_names(zip: &Archive<'_>, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    zip.file_names().filter_map(|n| n.ok()).filter(|n| wanted(n)).map(|n| n.into_owned()).collect()
}

/// `(4, 1)` → `B5`.
pub fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), u64::from(row) + 1)
}

/// The rows, columns and cells of a rectangle from `first` to `last` (0-based, inclusive).
fn span(first: (u32, u32), last: (u32, u32)) -> (u64, u64) {
    let rows = u64::from(last.0.saturating_sub(first.0)) + 1;
    let cols = u64::from(last.1.saturating_sub(first.1)) + 1;
    (rows, cols)
}

/// Refuse the sheet `sheet` when its declared dimension or the extent of its cells with a
/// value is above `max_columns`, `max_rows` or `max_cells`. The sheet's XML is streamed and
/// the reading stops at the first cell beyond a limit. A sheet whose part cannot be found this
/// way is looked for among all the workbook's worksheets, each checked alike.
pub fn check_sheet(zip: &mut Archive<'_>, sheet: &str, limits: &Limits) -> Result<()> {
    let paths = match sheet_path(zip, sheet, limits)? {
        Some(path) if zip.index_for_name(&path).is_some() => vec![path],
        _ => part_names(zip, |n| n.starts_with("xl/worksheets/") && n.ends_with(".xml")),
    };
    for path in paths {
        check_sheet_part(zip, &path, sheet, limits)?;
    }
    Ok(())
}

/// Where the cells of a sheet with a value are, as calamine places them: a cell at its `r`, or
/// after the cell before; a row at its `r`, or after the row before.
#[derive(Debug, Default)]
struct Extent {
    row: u32,
    col: u32,
    cell: Option<(u32, u32)>,
    has_value: bool,
    first: Option<(u32, u32)>,
    last: (u32, u32),
}

fn check_sheet_part(zip: &mut Archive<'_>, path: &str, sheet: &str, limits: &Limits) -> Result<()> {
    let mut extent = Extent::default();
    let mut refused = None;
    each_element_of(zip, path, limits, |e, start| {
        match e.local_name().as_ref() {
            "dimension" => {
                if let Some(reference) = attr(e, "ref") {
                    let mut ends = reference.split(':').map(parse_reference);
                    if let (Some(Some(first)), last) = (ends.next(), ends.next()) {
                        let (rows, cols) = span(first, last.flatten().unwrap_or(first));
                        let what = format!("the sheet `{sheet}` (its declared dimension {reference})");
                        refused = limits.table(&what, rows, cols).err();
                    }
                }
            }
            "row" => {
                if let Some(r) = attr(e, "r").and_then(|r| r.parse::<u32>().ok()) {
                    extent.row = r.saturating_sub(1);
                }
                if !start {
                    (extent.row, extent.col) = (extent.row.saturating_add(1), 0);
                }
            }
            "/row" => (extent.row, extent.col) = (extent.row.saturating_add(1), 0),
            "c" => {
                let at = match attr(e, "r").and_then(|r| parse_reference(&r)) {
                    Some(at) => at,
                    None => (extent.row, extent.col),
                };
                extent.col = at.1.saturating_add(1);
                extent.cell = start.then_some(at);
                extent.has_value = false;
            }
            "v" | "is" => extent.has_value |= extent.cell.is_some(),
            "/c" => {
                if let (Some(at), true) = (extent.cell.take(), extent.has_value) {
                    let first = extent.first.map_or(at, |f| (f.0.min(at.0), f.1.min(at.1)));
                    let last =
                        if extent.first.is_some() { (extent.last.0.max(at.0), extent.last.1.max(at.1)) } else { at };
                    (extent.first, extent.last) = (Some(first), last);
                    let (rows, cols) = span(first, last);
                    let what = format!(
                        "the sheet `{sheet}` (its cells from {} to {})",
                        cell_name(first.0, first.1),
                        cell_name(last.0, last.1)
                    );
                    refused = limits.table(&what, rows, cols).err();
                }
            }
            _ => {}
        }
        refused.is_none()
    })?;
    refused.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_names() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(4, 1), "B5");
        assert_eq!(cell_name(9, 26), "AA10");
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
        for (row, col) in [(0, 0), (3, 25), (7, 701), (1_048_575, 16_383)] {
            assert_eq!(parse_reference(&cell_name(row, col)), Some((row, col)));
        }
    }
}
