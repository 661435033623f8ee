//! Cells merged down inside the table (fixtures README §4): a district written once beside its
//! wards holds its value in the merged range's first cell only; every row the range covers
//! gets it, as a person copying the sheet would write it on each line.

use super::{GridRow, Merge};

/// Give the first cell of each range merged over several rows, from `data_start` (an index
/// into `rows`) on, to the rows under it in the same column. A range merged across columns as
/// well gives its value to its first column only: that is the column it belongs to. Header
/// ranges (above `data_start`) are read by the header plan.
pub fn fill_down(rows: &mut [GridRow], merges: &[Merge], data_start: usize) {
    for m in merges.iter().filter(|m| m.first_row >= data_start && m.last_row > m.first_row) {
        let Some(value) = rows.get(m.first_row).and_then(|r| r.cells.get(m.first_col)).cloned() else { continue };
        if value.is_blank() {
            continue;
        }
        let last = m.last_row.min(rows.len().saturating_sub(1));
        for row in &mut rows[m.first_row + 1..=last] {
            if row.cells.len() <= m.first_col {
                row.cells.resize(m.first_col + 1, crate::cell::Cell::Empty);
            }
            row.cells[m.first_col] = value.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Cell;

    fn rows(cells: &[&[&str]]) -> Vec<GridRow> {
        cells
            .iter()
            .enumerate()
            .map(|(i, r)| GridRow {
                number: i + 1,
                cells: r.iter().map(|s| if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }).collect(),
            })
            .collect()
    }

    fn texts(rows: &[GridRow], col: usize) -> Vec<String> {
        rows.iter().map(|r| r.cells.get(col).map(Cell::display).unwrap_or_default()).collect()
    }

    #[test]
    fn a_district_fills_its_wards_and_other_empty_cells_stay() {
        let mut grid = rows(&[
            &["STT", "Quận", "Phường", "Ghi chú"],
            &["1", "Ba Đình", "Phúc Xá", ""],
            &["2", "", "Trúc Bạch", ""],
            &["3", "", "Vĩnh Phúc"],
            &["4", "Tây Hồ", "Nhật Tân", ""],
            &["5", "", "Tứ Liên", ""],
        ]);
        let merges = [
            Merge { first_row: 1, last_row: 3, first_col: 1, last_col: 1 },
            // Not merged down: nothing to give.
            Merge { first_row: 4, last_row: 4, first_col: 1, last_col: 2 },
            // In the header: not this module's.
            Merge { first_row: 0, last_row: 1, first_col: 0, last_col: 0 },
        ];
        fill_down(&mut grid, &merges, 1);
        assert_eq!(texts(&grid, 1), vec!["Quận", "Ba Đình", "Ba Đình", "Ba Đình", "Tây Hồ", ""]);
        assert_eq!(texts(&grid, 3), vec!["Ghi chú", "", "", "", "", ""]);
        assert_eq!(texts(&grid, 0)[1], "1");
    }

    #[test]
    fn a_range_past_the_last_row_or_over_columns() {
        let mut grid = rows(&[&["a", "b", "c"], &["x", "1", ""], &["", "2", ""]]);
        fill_down(&mut grid, &[Merge { first_row: 1, last_row: 9, first_col: 0, last_col: 2 }], 1);
        assert_eq!(texts(&grid, 0), vec!["a", "x", "x"]);
        assert_eq!(texts(&grid, 2), vec!["c", "", ""]);
    }
}
