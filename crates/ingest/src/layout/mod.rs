//! Where the table is in a grid of cells (fixtures README §4): the header row (or two), the
//! column-number row, cells merged down, blank, total and footer rows, empty columns, ragged
//! rows.

mod merges;
pub mod numbers;

use serde::{Deserialize, Serialize};

use crate::cell::Cell;
use crate::error::{IngestError, Result};
use crate::names;
use numbers::Numbering;

/// A rectangular-ish sheet of cells as a reader produced it.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub rows: Vec<GridRow>,
    /// Merged ranges, as 0-based (row index into `rows`, column) corners, inclusive.
    pub merges: Vec<Merge>,
    /// What a row number counts: `line` for text files, `row` for sheets.
    pub row_unit: &'static str,
}

#[derive(Debug, Clone)]
pub struct GridRow {
    /// 1-based line (text) or row (sheet) number, as the agency sees it.
    pub number: usize,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: usize,
    pub last_row: usize,
    pub first_col: usize,
    pub last_col: usize,
}

/// Why a row of the source was not taken as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Above the header: agency name, motto, title, notes.
    Title,
    /// The `(1) (2) (3)` row under a header.
    ColumnNumbers,
    Blank,
    Total,
    /// A signature block or footnote, and everything after it.
    Footer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRow {
    pub row: usize,
    pub reason: SkipReason,
}

/// The table found in a grid: column headers and names, and the data cells column by column.
#[derive(Debug, Clone)]
pub struct Layout {
    pub headers: Vec<String>,
    pub names: Vec<String>,
    pub columns: Vec<Vec<Cell>>,
    /// Source row number of each data row.
    pub row_numbers: Vec<usize>,
    /// Row numbers of the header row(s).
    pub header_rows: Vec<usize>,
    pub skipped: Vec<SkippedRow>,
}

/// Options that steer [`locate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LayoutOptions {
    /// 1-based row (sheet) or line (text) number of the header, overriding detection.
    pub header_row: Option<usize>,
    /// Text files: a row longer than the header with non-empty extra fields is an error.
    pub strict_width: bool,
    /// How much a reader takes before it refuses the file.
    pub limits: crate::limits::Limits,
}

fn non_empty(row: &GridRow) -> usize {
    row.cells.iter().filter(|c| !c.is_blank()).count()
}

fn first_text(row: &GridRow) -> Option<String> {
    row.cells.iter().find(|c| !c.is_blank()).map(|c| c.display().trim().to_string())
}

/// Index in `grid.rows` of the header row.
fn header_index(grid: &Grid, opts: LayoutOptions) -> Result<usize> {
    if let Some(n) = opts.header_row {
        return grid.rows.iter().position(|r| r.number == n).ok_or_else(|| IngestError::BadOption {
            option: "header_row",
            message: format!(
                "{} {n} is past the end of the data (last {} is {})",
                grid.row_unit,
                grid.row_unit,
                grid.rows.last().map_or(0, |r| r.number)
            ),
        });
    }
    let window = &grid.rows[..grid.rows.len().min(30)];
    let widest = window.iter().map(non_empty).max().unwrap_or(0);
    window
        .iter()
        .position(|r| {
            let n = non_empty(r);
            n > 0 && n * 10 >= widest * 6
        })
        .ok_or(IngestError::EmptyFile)
}

fn is_total(text: &str) -> bool {
    let t = text.trim_end_matches(':').trim().to_lowercase();
    matches!(t.as_str(), "tổng cộng" | "tổng số" | "tổng" | "cộng" | "total")
}

const FOOTER_PREFIXES: [&str; 11] = [
    "người lập",
    "kt.",
    "tm.",
    "tl.",
    "giám đốc",
    "phó giám đốc",
    "kế toán trưởng",
    "thủ trưởng",
    "ghi chú:",
    "nguồn:",
    "người lập biểu",
];

fn is_footer(text: &str) -> bool {
    let t = text.to_lowercase();
    if FOOTER_PREFIXES.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    // `Hà Nội, ngày 15 tháng 01 năm 2024`: a short place name, then `, ngày`.
    t.find(", ngày").is_some_and(|i| i > 0 && t[..i].chars().count() <= 40 && !t[..i].contains(','))
}

/// The header of a table and where its data starts.
#[derive(Debug, Clone)]
pub struct HeaderPlan {
    /// Header text of each column (group and sub-header joined for two-row headers).
    pub headers: Vec<String>,
    /// Row numbers of the header row(s).
    pub header_rows: Vec<usize>,
    /// Index in the grid of the first row after the header and any column-number row.
    pub data_start: usize,
    /// Title rows above the header and the column-number row.
    pub skipped: Vec<SkippedRow>,
    /// Row number of a bare `1 2 … n` row under the header. It is taken as the first data row,
    /// and [`drop_numbers_row`] tells, once every row is read, whether it was data.
    pub numbers_row: Option<usize>,
}

/// What a row under the header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Data,
    Blank,
    Total,
    /// A signature block or footnote: this row and every row after it are not data.
    Footer,
}

/// Classify a row by its first non-empty cell's text (trimmed), `None` when all are empty.
pub fn classify(first_text: Option<&str>) -> RowKind {
    match first_text {
        None => RowKind::Blank,
        // Every total and footer phrase starts with a letter: most data rows are decided here.
        Some(t) if !t.starts_with(char::is_alphabetic) => RowKind::Data,
        Some(t) if is_footer(t) => RowKind::Footer,
        Some(t) if is_total(t) => RowKind::Total,
        Some(_) => RowKind::Data,
    }
}

/// Find the header in the first rows of `grid` (all of them may be given, or only a head).
/// `width` is the number of columns the header spans.
pub fn plan_header(grid: &Grid, opts: LayoutOptions, width: usize) -> Result<HeaderPlan> {
    if grid.rows.iter().all(|r| non_empty(r) == 0) {
        return Err(IngestError::EmptyFile);
    }
    let h = header_index(grid, opts)?;
    let mut skipped: Vec<SkippedRow> = grid.rows[..h]
        .iter()
        .filter(|r| non_empty(r) > 0)
        .map(|r| SkippedRow { row: r.number, reason: SkipReason::Title })
        .collect();
    // A cell of the header row merged across columns makes the next row a sub-header row.
    let spans: Vec<&Merge> = grid.merges.iter().filter(|m| m.first_row == h && m.last_col > m.first_col).collect();
    let two_rows = !spans.is_empty() && h + 1 < grid.rows.len();
    let cell_text = |row: usize, col: usize| -> String {
        grid.rows.get(row).and_then(|r| r.cells.get(col)).map(|c| c.display().trim().to_string()).unwrap_or_default()
    };
    let headers: Vec<String> = (0..width)
        .map(|col| {
            let group_col =
                spans.iter().find(|m| (m.first_col..=m.last_col).contains(&col)).map_or(col, |m| m.first_col);
            let group = cell_text(h, group_col);
            if !two_rows {
                return group;
            }
            let merged_down = grid.merges.iter().any(|m| m.first_row == h && m.last_row > h && m.first_col == col);
            let sub = if merged_down { String::new() } else { cell_text(h + 1, col) };
            [group, sub].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let mut header_rows = vec![grid.rows[h].number];
    let mut next = h + 1;
    if two_rows {
        header_rows.push(grid.rows[next].number);
        next += 1;
    }
    let mut numbers_row = None;
    if let Some(row) = grid.rows.get(next) {
        match numbers::numbering(&row.cells) {
            Numbering::Labels => {
                skipped.push(SkippedRow { row: row.number, reason: SkipReason::ColumnNumbers });
                next += 1;
            }
            Numbering::Bare => numbers_row = Some(row.number),
            Numbering::None => {}
        }
    }
    Ok(HeaderPlan { headers, header_rows, data_start: next, skipped, numbers_row })
}

/// Whether the first data row, a bare `1 2 … n` row right under the header (`numbers_row`),
/// is a column-number row after all: some column it labels has other values that are not all
/// numbers, so reading it as data would change that column's type. When it is, it is recorded
/// in `skipped`, and the caller drops it from the columns.
pub fn drop_numbers_row<C: crate::column::Cells + ?Sized>(
    numbers_row: Option<usize>,
    row_numbers: &[usize],
    columns: &[&C],
    skipped: &mut Vec<SkippedRow>,
) -> bool {
    let Some(row) = numbers_row.filter(|n| row_numbers.first() == Some(n)) else { return false };
    if numbers::bare_row_is_data(columns) {
        return false;
    }
    skipped.push(SkippedRow { row, reason: SkipReason::ColumnNumbers });
    true
}

/// The width of a header row: its cell count (text files) or the widest row from it on (sheets).
pub fn header_width(grid: &Grid, opts: LayoutOptions) -> Result<usize> {
    let h = header_index(grid, opts)?;
    Ok(if opts.strict_width {
        grid.rows[h].cells.len()
    } else {
        grid.rows[h..].iter().map(|r| r.cells.len()).max().unwrap_or(0)
    })
}

/// The error for a row with more non-empty fields than the header.
pub fn ragged(row: usize, found: usize, expected: usize, extra: Vec<String>) -> IngestError {
    IngestError::RaggedRows { line: row, found, expected, extra }
}

/// Which columns to keep: those with a header or with a value in some data row.
pub fn keep_columns(headers: &[String], has_value: impl Fn(usize) -> bool) -> Vec<bool> {
    headers.iter().enumerate().map(|(c, h)| !h.is_empty() || has_value(c)).collect()
}

/// Find the table in `grid`.
pub fn locate(mut grid: Grid, opts: LayoutOptions) -> Result<Layout> {
    let width = header_width(&grid, opts)?;
    let plan = plan_header(&grid, opts, width)?;
    merges::fill_down(&mut grid.rows, &grid.merges, plan.data_start);
    let mut skipped = plan.skipped;
    let mut columns: Vec<Vec<Cell>> = vec![Vec::new(); width];
    let mut row_numbers = Vec::new();
    let mut rows = grid.rows[plan.data_start..].iter();
    while let Some(row) = rows.next() {
        match classify(first_text(row).as_deref()) {
            RowKind::Blank => skipped.push(SkippedRow { row: row.number, reason: SkipReason::Blank }),
            RowKind::Total => skipped.push(SkippedRow { row: row.number, reason: SkipReason::Total }),
            RowKind::Footer => {
                skipped.push(SkippedRow { row: row.number, reason: SkipReason::Footer });
                skipped.extend(rows.by_ref().map(|r| SkippedRow { row: r.number, reason: SkipReason::Footer }));
                break;
            }
            RowKind::Data => {
                if row.cells.len() > width {
                    let extra: Vec<String> =
                        row.cells[width..].iter().filter(|c| !c.is_blank()).map(Cell::display).collect();
                    if !extra.is_empty() {
                        return Err(ragged(row.number, row.cells.len(), width, extra));
                    }
                }
                for (col, column) in columns.iter_mut().enumerate() {
                    column.push(row.cells.get(col).cloned().unwrap_or(Cell::Empty));
                }
                row_numbers.push(row.number);
            }
        }
    }
    let column_refs: Vec<&[Cell]> = columns.iter().map(Vec::as_slice).collect();
    if drop_numbers_row(plan.numbers_row, &row_numbers, &column_refs, &mut skipped) {
        row_numbers.remove(0);
        for column in &mut columns {
            column.remove(0);
        }
    }
    let keep = keep_columns(&plan.headers, |c| columns[c].iter().any(|v| !v.is_blank()));
    let headers: Vec<String> = plan.headers.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(h, _)| h).collect();
    let columns: Vec<Vec<Cell>> = columns.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
    let names = names::normalise_all(&headers);
    if row_numbers.is_empty() {
        return Err(IngestError::NoDataRows { columns: names.len(), names });
    }
    skipped.sort_by_key(|s| s.row);
    Ok(Layout { headers, names, columns, row_numbers, header_rows: plan.header_rows, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_grid(rows: &[&[&str]]) -> Grid {
        Grid {
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| GridRow {
                    number: i + 1,
                    cells: r
                        .iter()
                        .map(|s| if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) })
                        .collect(),
                })
                .collect(),
            merges: vec![],
            row_unit: "row",
        }
    }

    #[test]
    fn title_numbers_total_and_footer() {
        let grid = text_grid(&[
            &["UBND THÀNH PHỐ HÀ NỘI", "", ""],
            &["Danh sách", "", ""],
            &["STT", "Tên", "Số"],
            &["(1)", "(2)", "(3)"],
            &["1", "Ba Đình", "5"],
            &["", "", ""],
            &["2", "Tây Hồ", "7"],
            &["Tổng cộng:", "", "12"],
            &["Hà Nội, ngày 15 tháng 01 năm 2024", "", ""],
            &["9", "not data", "1"],
        ]);
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        assert_eq!(layout.names, vec!["stt", "ten", "so"]);
        assert_eq!(layout.row_numbers, vec![5, 7]);
        let reasons: Vec<(usize, SkipReason)> = layout.skipped.iter().map(|s| (s.row, s.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, SkipReason::Title),
                (2, SkipReason::Title),
                (4, SkipReason::ColumnNumbers),
                (6, SkipReason::Blank),
                (8, SkipReason::Total),
                (9, SkipReason::Footer),
                (10, SkipReason::Footer)
            ]
        );
    }

    #[test]
    fn two_row_merged_header() {
        let mut grid = text_grid(&[&["Tên", "Dân số (người)", ""], &["", "Nam", "Nữ"], &["Ba Đình", "1", "2"]]);
        grid.merges = vec![
            Merge { first_row: 0, last_row: 0, first_col: 1, last_col: 2 },
            Merge { first_row: 0, last_row: 1, first_col: 0, last_col: 0 },
        ];
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        assert_eq!(layout.names, vec!["ten", "dan_so_nguoi_nam", "dan_so_nguoi_nu"]);
        assert_eq!(layout.row_numbers, vec![3]);
    }

    fn skipped(layout: &Layout) -> Vec<(usize, SkipReason)> {
        layout.skipped.iter().map(|s| (s.row, s.reason)).collect()
    }

    #[test]
    fn a_bare_numbers_row_is_skipped_only_when_it_would_change_a_type() {
        let grid = text_grid(&[
            &["STT", "Tên", "Dân số"],
            &["1", "2", "3"],
            &["1", "Phường Phúc Xá", "9.123"],
            &["2", "Phường Trúc Bạch", "10.450"],
        ]);
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        assert_eq!(layout.row_numbers, vec![3, 4]);
        assert_eq!(skipped(&layout), vec![(2, SkipReason::ColumnNumbers)]);
        assert_eq!(layout.columns[1][0], Cell::Text("Phường Phúc Xá".into()));

        let grid = text_grid(&[&["a", "b", "c"], &["1", "2", "3"], &["7", "8", "9"]]);
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        assert_eq!(layout.row_numbers, vec![2, 3]);
        assert!(layout.skipped.is_empty());

        // The only data row of a two-column sheet.
        let layout = locate(text_grid(&[&["a", "b"], &[], &["1", "2"]]), LayoutOptions::default()).unwrap();
        assert_eq!(layout.row_numbers, vec![3]);
        let layout = locate(text_grid(&[&["a", "b"], &["1", "2"]]), LayoutOptions::default()).unwrap();
        assert_eq!(layout.row_numbers, vec![2]);
    }

    #[test]
    fn letters_and_numbers_row_is_skipped() {
        let grid = text_grid(&[
            &["Chỉ tiêu", "Đơn vị tính", "Năm 2022", "Năm 2023"],
            &["A", "B", "1", "2"],
            &["Dân số", "Nghìn người", "8435,7", "8587,1"],
        ]);
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        assert_eq!(layout.row_numbers, vec![3]);
        assert_eq!(skipped(&layout), vec![(2, SkipReason::ColumnNumbers)]);
    }

    #[test]
    fn cells_merged_down_give_their_value_to_every_row() {
        let mut grid = text_grid(&[
            &["Quận", "Phường", "Ghi chú"],
            &["Ba Đình", "Phúc Xá", ""],
            &["", "Trúc Bạch", ""],
            &["Tây Hồ", "Nhật Tân", ""],
        ]);
        grid.merges = vec![Merge { first_row: 1, last_row: 2, first_col: 0, last_col: 0 }];
        let layout = locate(grid, LayoutOptions::default()).unwrap();
        let quan: Vec<String> = layout.columns[0].iter().map(Cell::display).collect();
        assert_eq!(quan, vec!["Ba Đình", "Ba Đình", "Tây Hồ"]);
        assert!(layout.columns[2].iter().all(|c| *c == Cell::Empty), "not merged, so still empty");
    }

    #[test]
    fn ragged_row_names_the_line() {
        let grid = text_grid(&[&["a", "b"], &["1", "2", ""], &["3", "4", "oops"]]);
        let err = locate(grid, LayoutOptions { strict_width: true, ..Default::default() }).unwrap_err();
        assert_eq!(err.code(), "ragged_rows");
        assert!(err.to_string().contains("line 3 has 3 fields where the header has 2"), "{err}");
    }

    #[test]
    fn header_only_is_no_data_rows() {
        let err = locate(text_grid(&[&["a", "b"]]), LayoutOptions::default()).unwrap_err();
        assert_eq!(err.code(), "no_data_rows");
        assert!(err.to_string().contains("a, b"));
    }
}
