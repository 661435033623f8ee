//! What an ODS sheet's `content.xml` says that calamine does not give: its merged ranges
//! (calamine reads them for XLSX and XLS only) and which date cells have a data style that
//! shows a time (§3: such a cell is a datetime even at 00:00; calamine gives the value only).
//!
//! A merged range is the cell with `table:number-columns-spanned` and
//! `table:number-rows-spanned`; the cells it covers are `table:covered-table-cell`.
//!
//! A date cell (`office:value-type="date"`) has a cell style: its own `table:style-name`, else
//! its row's `table:default-cell-style-name`, else its column's. That style, or the one it
//! inherits from (`style:parent-style-name`), names a data style (`style:data-style-name`), else
//! the default cell style (`style:default-style`) does. The data style, a `number:date-style` or
//! `number:time-style` of `content.xml` (automatic) or `styles.xml` (common), shows a time when
//! it holds `number:hours`, `number:minutes` or `number:seconds`.

use std::collections::HashMap;

use calamine::Dimensions;
use quick_xml::events::BytesStart;

use crate::error::Result;
use crate::formats::xlsx_styles::CellStyle;
use crate::formats::xml_parts::{Archive, attr, each_element_of};
use crate::limits::Limits;

/// Rows and columns at most that a repeated cell is counted over: calamine's own limits.
const MAX_ROWS: u32 = 1_048_576;
const MAX_COLUMNS: u32 = 16_384;

/// What `content.xml` says of one sheet, in the sheet's 0-based (row, column) coordinates as
/// calamine gives them: repeated rows and columns (`number-rows-repeated`,
/// `number-columns-repeated`) counted.
#[derive(Debug, Default)]
pub struct SheetExtras {
    pub merges: Vec<Dimensions>,
    /// The date cells whose data style shows a time.
    pub styles: HashMap<(u32, u32), CellStyle>,
}

/// Empty when the file is no ODS or cannot be read this way (calamine reports damage);
/// refused only when a part inflates past `max_part_bytes`.
pub fn sheet_extras(zip: Option<&mut Archive<'_>>, sheet: &str, limits: &Limits) -> Result<SheetExtras> {
    let Some(zip) = zip else { return Ok(SheetExtras::default()) };
    let mut styles = Styles::default();
    // Common styles; a document without them (or with damaged ones) still has its own.
    each_element_of(zip, "styles.xml", limits, |e, start| {
        styles.common.element(e, start);
        true
    })?;
    let mut content = Content::new(sheet, styles);
    let read = each_element_of(zip, "content.xml", limits, |e, start| {
        content.element(e, start);
        true
    })?;
    Ok(read.map_or_else(SheetExtras::default, |()| content.out))
}

/// Reads the merges and the date cells showing a time of the table named `sheet` in a
/// `content.xml`, one element at a time; `styles` holds the common styles, the content's own
/// are read on the way (they come before the tables).
struct Content<'a> {
    styles: Styles,
    walker: Walker<'a>,
    out: SheetExtras,
}

impl<'a> Content<'a> {
    fn new(sheet: &'a str, styles: Styles) -> Self {
        Self { styles, walker: Walker::new(sheet), out: SheetExtras::default() }
    }

    fn element(&mut self, e: &BytesStart<'_>, start: bool) {
        let Self { styles, walker, out } = self;
        styles.automatic.element(e, start);
        let Some(at) = walker.element(e, start) else { return };
        let number = |name: &str| count(e, name);
        let (columns, rows) = (number("number-columns-spanned"), number("number-rows-spanned"));
        if e.local_name().as_ref() == "table-cell" && (columns > 1 || rows > 1) {
            out.merges.push(Dimensions {
                start: (at.row, at.col),
                end: (at.row.saturating_add(rows - 1), at.col.saturating_add(columns - 1)),
            });
        }
        if attr(e, "value-type").as_deref() != Some("date") {
            return;
        }
        let own = attr(e, "style-name");
        // Within the rows and columns calamine reads (it stops at its limits), whose extent
        // `check_limits` has bounded.
        for col in at.col..at.col.saturating_add(at.columns).min(MAX_COLUMNS) {
            if styles.shows_time(own.as_deref().or_else(|| walker.default_style(col))) {
                let style = CellStyle { shows_time: true, ..CellStyle::default() };
                for row in at.row..at.row.saturating_add(at.rows).min(MAX_ROWS) {
                    out.styles.insert((row, col), style);
                }
            }
        }
    }
}

/// The extent of one table as calamine reads it: the cells it stores while reading (each row's
/// cells up to its last with a value, a repeated row once), and the grid it then builds from
/// the first row with a value to the last, repeated rows repeated, over the columns with a
/// value. Rows stop at 1,048,576 in all and a row's columns at 16,384, as calamine's do.
#[derive(Debug, Default)]
struct TableExtent {
    name: String,
    stored: u64,
    rows: u64,
    first_row: Option<u64>,
    last_row: u64,
    last_col: u64,
    /// The row being read: its first index, repeat count, next column, last column with a value.
    row_start: u64,
    row_repeats: u64,
    col: u64,
    row_last: Option<u64>,
}

impl TableExtent {
    fn cells(&self) -> (u64, u64) {
        match self.first_row {
            Some(first) => (self.last_row - first + 1, self.last_col + 1),
            None => (0, 0),
        }
    }

    fn check(&self, limits: &Limits) -> Result<()> {
        let what = format!("the sheet `{}`", self.name);
        limits.cells(&format!("{what} (cells read before its rows are repeated)"), self.stored)?;
        let (rows, cols) = self.cells();
        limits.table(&what, rows, cols)
    }
}

/// Refuse an ODS whose tables, as calamine reads them (every table, when it opens the file),
/// are above `max_columns`, `max_rows` or `max_cells`: each table, and all of them together.
/// `content.xml` is streamed, and the reading stops at the first row beyond a limit. Repeated
/// rows and cells (`number-rows-repeated`, `number-columns-repeated`) are counted as repeated.
pub fn check_limits(zip: &mut Archive<'_>, limits: &Limits) -> Result<()> {
    let mut depth = 0usize;
    let mut table = TableExtent::default();
    let mut in_row = false;
    let (mut all, mut refused) = (0u64, None);
    each_element_of(zip, "content.xml", limits, |e, start| {
        match e.local_name().as_ref() {
            "table" if start => {
                depth += 1;
                if depth == 1 {
                    table = TableExtent { name: attr(e, "name").unwrap_or_default(), ..TableExtent::default() };
                }
            }
            "/table" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let (rows, cols) = table.cells();
                    all = all.saturating_add(rows * cols);
                    refused = limits.cells("the sheets of the workbook, together,", all).err();
                }
            }
            "table-row" if depth >= 1 => {
                let repeats = u64::from(count(e, "number-rows-repeated"));
                table.row_repeats = repeats.min(u64::from(MAX_ROWS).saturating_sub(table.rows));
                (table.row_start, table.col, table.row_last) = (table.rows, 0, None);
                table.rows += table.row_repeats;
                in_row = start;
                if !start {
                    refused = end_row(&mut table, limits).err();
                }
            }
            "/table-row" if in_row => {
                in_row = false;
                refused = end_row(&mut table, limits).err();
            }
            "table-cell" | "covered-table-cell" if in_row => {
                let repeats = u64::from(count(e, "number-columns-repeated"));
                let repeats = repeats.min(u64::from(MAX_COLUMNS).saturating_sub(table.col));
                let valued = start || attr(e, "value-type").is_some() || attr(e, "formula").is_some();
                if valued && repeats > 0 {
                    table.row_last = Some(table.col + repeats - 1);
                }
                table.col += repeats;
            }
            _ => {}
        }
        refused.is_none()
    })?;
    refused.map_or(Ok(()), Err)
}

/// The row just read into its table's extent, checked.
fn end_row(table: &mut TableExtent, limits: &Limits) -> Result<()> {
    let Some(last) = table.row_last else { return Ok(()) };
    table.stored = table.stored.saturating_add(last + 1);
    // Columns are counted from the first (calamine's grid starts at the leftmost cell with a
    // value: this is an upper bound of it).
    table.last_col = table.last_col.max(last);
    if table.row_repeats > 0 {
        table.first_row.get_or_insert(table.row_start);
        table.last_row = table.row_start + table.row_repeats - 1;
    }
    table.check(limits)
}

/// The value of a count attribute (`number-columns-repeated`…): 1 when absent or not a
/// positive number.
fn count(e: &BytesStart<'_>, name: &str) -> u32 {
    attr(e, name).and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0).unwrap_or(1)
}

/// Where a cell of the sheet is: its first row and column, and over how many rows (those of a
/// repeated row) and columns it repeats.
struct At {
    row: u32,
    col: u32,
    rows: u32,
    columns: u32,
}

/// Follows the rows, cells and columns of one table of a `content.xml`.
struct Walker<'a> {
    sheet: &'a str,
    /// Tables open (a cell may hold a table of its own), and whether the outermost is `sheet`.
    depth: usize,
    in_sheet: bool,
    /// The row being read, its repeat count, the next row's index, the next cell's column.
    row: u32,
    rows: u32,
    next_row: u32,
    col: u32,
    /// The row's default cell style.
    row_style: Option<String>,
    /// The default cell style of the columns from each index on, and the next column's index.
    column_styles: Vec<(u32, Option<String>)>,
    next_column: u32,
}

impl<'a> Walker<'a> {
    fn new(sheet: &'a str) -> Self {
        Self {
            sheet,
            depth: 0,
            in_sheet: false,
            row: 0,
            rows: 1,
            next_row: 0,
            col: 0,
            row_style: None,
            column_styles: Vec::new(),
            next_column: 0,
        }
    }

    /// Take one element in; a cell of the sheet (`table-cell` or `covered-table-cell`) gives
    /// where it is.
    fn element(&mut self, e: &BytesStart<'_>, start: bool) -> Option<At> {
        match e.local_name().as_ref() {
            "table" if start => {
                self.depth += 1;
                if self.depth == 1 {
                    self.in_sheet = attr(e, "name").as_deref() == Some(self.sheet);
                }
            }
            "/table" => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.in_sheet = false;
                }
            }
            "table-column" if self.in_sheet && self.depth == 1 => {
                self.column_styles.push((self.next_column, attr(e, "default-cell-style-name")));
                self.next_column = self.next_column.saturating_add(count(e, "number-columns-repeated"));
            }
            "table-row" if self.in_sheet && self.depth == 1 => {
                let rows = count(e, "number-rows-repeated");
                (self.row, self.rows, self.col) = (self.next_row, rows, 0);
                self.next_row = self.next_row.saturating_add(rows);
                self.row_style = attr(e, "default-cell-style-name");
            }
            "table-cell" | "covered-table-cell" if self.in_sheet && self.depth == 1 => {
                let columns = count(e, "number-columns-repeated");
                let at = At { row: self.row, col: self.col, rows: self.rows, columns };
                self.col = self.col.saturating_add(columns);
                return Some(at);
            }
            _ => {}
        }
        None
    }

    /// The default cell style of a cell without its own at `col` of the current row.
    fn default_style(&self, col: u32) -> Option<&str> {
        self.row_style.as_deref().or_else(|| {
            let i = self.column_styles.partition_point(|(first, _)| *first <= col);
            self.column_styles.get(i.checked_sub(1)?)?.1.as_deref()
        })
    }
}

/// The cell styles and data styles of one part (`content.xml` or `styles.xml`).
#[derive(Debug, Default)]
struct StylePart {
    /// Each cell style (`style:style` of family `table-cell`): its data style and parent.
    cells: HashMap<String, (Option<String>, Option<String>)>,
    /// The data style of the default cell style (`style:default-style`).
    default_data_style: Option<String>,
    /// Each date or time data style: whether it shows a time.
    data: HashMap<String, bool>,
    /// The data style being read.
    open: Option<String>,
}

impl StylePart {
    fn element(&mut self, e: &BytesStart<'_>, start: bool) {
        match e.local_name().as_ref() {
            "date-style" | "time-style" if start => {
                self.open = attr(e, "name");
                if let Some(name) = &self.open {
                    self.data.insert(name.clone(), false);
                }
            }
            "/date-style" | "/time-style" => self.open = None,
            "hours" | "minutes" | "seconds" => {
                if let Some(shows) = self.open.as_ref().and_then(|name| self.data.get_mut(name)) {
                    *shows = true;
                }
            }
            "style" if attr(e, "family").as_deref() == Some("table-cell") => {
                if let Some(name) = attr(e, "name") {
                    self.cells.insert(name, (attr(e, "data-style-name"), attr(e, "parent-style-name")));
                }
            }
            "default-style" if attr(e, "family").as_deref() == Some("table-cell") => {
                self.default_data_style = attr(e, "data-style-name");
            }
            _ => {}
        }
    }
}

/// The styles of a document: the content's own (automatic) and the common ones.
#[derive(Debug, Default)]
struct Styles {
    automatic: StylePart,
    common: StylePart,
}

impl Styles {
    /// Whether the data style of a cell with the cell style `name` (none: the default) shows a
    /// time. A name of the content is looked up among its own styles first; a common style's
    /// parent and data style are common ones.
    fn shows_time(&self, name: Option<&str>) -> bool {
        let (mut name, mut automatic) = (name, true);
        // A parent chain: a few levels at most, cut short should one loop.
        for _ in 0..16 {
            let Some(n) = name else { break };
            let found = match self.automatic.cells.get(n).filter(|_| automatic) {
                Some(style) => Some(style),
                None => {
                    automatic = false;
                    self.common.cells.get(n)
                }
            };
            let Some((data_style, parent)) = found else { break };
            if let Some(data_style) = data_style {
                return self.data_shows_time(data_style, automatic);
            }
            (name, automatic) = (parent.as_deref(), false);
        }
        self.common.default_data_style.as_deref().is_some_and(|d| self.data_shows_time(d, false))
    }

    fn data_shows_time(&self, data_style: &str, automatic: bool) -> bool {
        let own = self.automatic.data.get(data_style).filter(|_| automatic);
        own.or_else(|| self.common.data.get(data_style)).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xml_parts::each_element;

    fn extras(content: &str, common: &str, sheet: &str) -> SheetExtras {
        let mut styles = Styles::default();
        each_element(common.as_bytes(), |e, start| styles.common.element(e, start));
        let mut reader = Content::new(sheet, styles);
        each_element(content.as_bytes(), |e, start| reader.element(e, start));
        reader.out
    }

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
            extras(content, "", "Dân số").merges.into_iter().map(|d| (d.start, d.end)).collect();
        assert_eq!(found, vec![((2, 2), (3, 3)), ((2, 4), (4, 4))]);
    }

    #[test]
    fn date_cells_whose_data_style_shows_a_time() {
        // Data styles: N1 a date, N2 a date with hours, N3 (common) minutes and seconds, N4 a
        // time style. The common style "Thời điểm" has N3; "ce4" inherits it.
        let common = r#"<office:document-styles><office:styles>
            <number:date-style style:name="N3"><number:day/><number:text>/</number:text>
              <number:minutes/><number:seconds/></number:date-style>
            <number:date-style style:name="N2"><number:day/></number:date-style>
            <style:default-style style:family="table-cell"/>
            <style:style style:name="Default" style:family="table-cell"/>
            <style:style style:name="Thời điểm" style:family="table-cell" style:data-style-name="N3"/>
            </office:styles></office:document-styles>"#;
        let content = r#"<office:document-content><office:automatic-styles>
            <number:date-style style:name="N1"><number:day/><number:month/><number:year/></number:date-style>
            <number:date-style style:name="N2"><number:day/><number:text> </number:text><number:hours/></number:date-style>
            <number:time-style style:name="N4"><number:hours/></number:time-style>
            <style:style style:name="ce1" style:family="table-cell" style:parent-style-name="Default"
               style:data-style-name="N1"/>
            <style:style style:name="ce2" style:family="table-cell" style:data-style-name="N2"/>
            <style:style style:name="ce4" style:family="table-cell" style:parent-style-name="Thời điểm"/>
            <style:style style:name="ce5" style:family="table-cell" style:data-style-name="N4"/>
            <style:style style:name="ro1" style:family="table-row"/>
            </office:automatic-styles><office:body><office:spreadsheet><table:table table:name="T">
            <table:table-columns><table:table-column table:number-columns-repeated="2"/>
              <table:table-column table:default-cell-style-name="ce2"/>
              <table:table-column table:number-columns-repeated="3" table:default-cell-style-name="ce1"/>
            </table:table-columns>
            <table:table-row table:style-name="ro1">
              <table:table-cell table:style-name="ce1" office:value-type="date" office:date-value="2024-01-02"/>
              <table:table-cell table:style-name="ce2" office:value-type="date" office:date-value="2024-01-02T00:00:00"/>
              <table:table-cell office:value-type="date" office:date-value="2024-01-02T00:00:00"/>
              <table:table-cell office:value-type="date" office:date-value="2024-01-02"/>
              <table:table-cell table:style-name="ce4" office:value-type="date" table:number-columns-repeated="2"/>
            </table:table-row>
            <table:table-row table:number-rows-repeated="2" table:default-cell-style-name="ce5">
              <table:table-cell table:style-name="ce2" office:value-type="float"/>
              <table:table-cell office:value-type="date"/>
            </table:table-row>
            </table:table></office:spreadsheet></office:body></office:document-content>"#;
        let mut found: Vec<(u32, u32)> = extras(content, common, "T").styles.into_keys().collect();
        found.sort_unstable();
        assert_eq!(found, vec![(0, 1), (0, 2), (0, 4), (0, 5), (1, 1), (2, 1)]);
        assert!(extras(content, common, "Khác").styles.is_empty());
    }
}
