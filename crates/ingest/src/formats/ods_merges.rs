//! Merged ranges of an ODS sheet, which calamine reads for XLSX and XLS but not for ODS: in
//! `content.xml` a merged range is the cell with `table:number-columns-spanned` and
//! `table:number-rows-spanned`; the cells it covers are `table:covered-table-cell`.

use calamine::Dimensions;

use crate::formats::xml_parts::{self, attr, each_element, part};

/// Every merged range of `sheet`, in the sheet's 0-based (row, column) coordinates as calamine
/// gives them: repeated rows and columns (`number-rows-repeated`, `number-columns-repeated`)
/// counted. Empty when the file is no ODS or cannot be read this way.
pub fn merges(bytes: &[u8], sheet: &str) -> Vec<Dimensions> {
    read(bytes, sheet).unwrap_or_default()
}

fn read(bytes: &[u8], sheet: &str) -> Option<Vec<Dimensions>> {
    let mut zip = xml_parts::open(bytes)?;
    let content = part(&mut zip, "content.xml")?;
    Some(spans(&content, sheet))
}

/// The spans of the table named `sheet` in a `content.xml`.
fn spans(content: &[u8], sheet: &str) -> Vec<Dimensions> {
    let mut out = Vec::new();
    // Tables open (a cell may hold a table of its own), and whether the outermost is `sheet`.
    let (mut depth, mut in_sheet) = (0usize, false);
    let (mut next_row, mut row, mut col) = (0u32, 0u32, 0u32);
    let number = |e: &quick_xml::events::BytesStart<'_>, name: &str| {
        attr(e, name).and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0).unwrap_or(1)
    };
    each_element(content, |e, start| match e.local_name().as_ref() {
        "table" if start => {
            depth += 1;
            if depth == 1 {
                in_sheet = attr(e, "name").as_deref() == Some(sheet);
            }
        }
        "/table" => {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                in_sheet = false;
            }
        }
        "table-row" if in_sheet && depth == 1 => {
            (row, col) = (next_row, 0);
            next_row = next_row.saturating_add(number(e, "number-rows-repeated"));
        }
        name @ ("table-cell" | "covered-table-cell") if in_sheet && depth == 1 => {
            let (columns, rows) = (number(e, "number-columns-spanned"), number(e, "number-rows-spanned"));
            if name == "table-cell" && (columns > 1 || rows > 1) {
                out.push(Dimensions {
                    start: (row, col),
                    end: (row.saturating_add(rows - 1), col.saturating_add(columns - 1)),
                });
            }
            col = col.saturating_add(number(e, "number-columns-repeated"));
        }
        _ => {}
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_with_repeated_rows_and_columns() {
        let content = r#"<office:document-content><office:body><office:spreadsheet>
            <table:table table:name="Khác"><table:table-row>
              <table:table-cell table:number-columns-spanned="3"/></table:table-row></table:table>
            <table:table table:name="Dân số">
              <table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>
              <table:table-row>
                <table:table-cell table:number-columns-repeated="2"/>
                <table:table-cell office:value-type="string" table:number-columns-spanned="2"
                   table:number-rows-spanned="2"><text:p>Dân số</text:p></table:table-cell>
                <table:covered-table-cell/>
                <table:table-cell table:number-rows-spanned="3"><table:table>
                  <table:table-row><table:table-cell table:number-columns-spanned="9"/></table:table-row>
                </table:table></table:table-cell>
              </table:table-row>
              <table:table-row><table:covered-table-cell table:number-columns-repeated="2"/></table:table-row>
            </table:table></office:spreadsheet></office:body></office:document-content>"#;
        let found: Vec<((u32, u32), (u32, u32))> =
            spans(content.as_bytes(), "Dân số").into_iter().map(|d| (d.start, d.end)).collect();
        assert_eq!(found, vec![((2, 2), (3, 3)), ((2, 4), (4, 4))]);
    }
}
