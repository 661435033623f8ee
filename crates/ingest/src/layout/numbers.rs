//! The column-number row right under a header (fixtures README §4): its non-empty cells, left
//! to right, count from 1 (`1 2 3`), from A (`A B C`), or from A then from 1 (`A B 1 2 3`, the
//! form of statistical reports), with or without brackets.
//!
//! Labels in brackets or with letters are never data. A row of bare numbers can be: it is a
//! column-number row only when reading it as data would change some column's type, that is,
//! when some column it labels has other values that are not all numbers. That needs the whole
//! column, so such a row is taken as data first and [`bare_row_is_data`] decides at the end.

use crate::cell::Cell;
use crate::column::{CellRef, Cells};
use crate::infer::{self, NumberStyle};

/// What a row is, as a column-number row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Not a column-number row.
    None,
    /// Bracketed labels, or labels with letters: a column-number row, never data.
    Labels,
    /// Bare `1 2 … n`: a column-number row only if reading it as data would change a type.
    Bare,
}

/// How a row's cells read as column labels.
pub fn numbering(cells: &[Cell]) -> Numbering {
    let labels: Vec<String> = cells.iter().filter(|c| !c.is_blank()).map(|c| c.display().trim().to_string()).collect();
    // One label numbers nothing: a lone `1` under a header is a data row.
    if labels.len() < 2 {
        return Numbering::None;
    }
    let mut bracketed = false;
    let mut letters = 0u32;
    let mut numbers = 0usize;
    for label in &labels {
        let inner = match label.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
            Some(inner) => {
                bracketed = true;
                inner.trim()
            }
            None => label.as_str(),
        };
        let mut chars = inner.chars();
        let letter = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Some(c.to_ascii_uppercase()),
            _ => None,
        };
        // Letters come first, from A; numbers after them, from 1.
        if numbers == 0 && letter.is_some_and(|c| u32::from(c) == u32::from('A') + letters) {
            letters += 1;
        } else if inner.parse::<usize>().ok() == Some(numbers + 1) && !inner.starts_with('+') {
            numbers += 1;
        } else {
            return Numbering::None;
        }
    }
    if bracketed || letters > 0 { Numbering::Labels } else { Numbering::Bare }
}

/// Whether a bare `1 2 … n` row, the first value of each of `columns`, is data: every column
/// it labels has other values (nulls aside) that are all numbers, so the row changes no type.
pub fn bare_row_is_data<C: Cells + ?Sized>(columns: &[&C]) -> bool {
    columns.iter().all(|column| {
        let labelled = column.cells().next().is_some_and(|c| !is_null(&c));
        !labelled || others_are_numbers(*column)
    })
}

fn is_null(cell: &CellRef<'_>) -> bool {
    match cell {
        CellRef::Empty => true,
        CellRef::Text(t) => infer::is_null_text(t),
        _ => false,
    }
}

/// Every non-null value of `column` after its first is a number as §5 reads numbers, in the
/// column's number style.
fn others_are_numbers<C: Cells + ?Sized>(column: &C) -> bool {
    let style = infer::number_style(column.cells().skip(1).filter_map(|c| match c {
        CellRef::Text(t) if !infer::is_null_text(t) => Some(t),
        _ => None,
    }));
    column.cells().skip(1).filter(|c| !is_null(c)).all(|c| match c {
        CellRef::Int(_) | CellRef::Float(_) => true,
        CellRef::Text(t) => number(t, style),
        _ => false,
    })
}

/// An integer or a float in `style` (a float's rule accepts integers too).
fn number(text: &str, style: NumberStyle) -> bool {
    infer::parse_float(text, style).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(labels: &[&str]) -> Vec<Cell> {
        labels.iter().map(|s| if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_string()) }).collect()
    }

    #[test]
    fn the_forms_of_a_column_number_row() {
        assert_eq!(numbering(&row(&["(1)", "(2)", "(3)"])), Numbering::Labels);
        assert_eq!(numbering(&row(&["A", "B", "C"])), Numbering::Labels);
        assert_eq!(numbering(&row(&["A", "B", "1", "2", "3"])), Numbering::Labels);
        assert_eq!(numbering(&row(&["(A)", "(B)", "(1)", "(2)"])), Numbering::Labels);
        assert_eq!(numbering(&row(&["1", "2", "3"])), Numbering::Bare);
        assert_eq!(numbering(&[Cell::Int(1), Cell::Float(2.0), Cell::Empty, Cell::Int(3)]), Numbering::Bare);
    }

    #[test]
    fn what_is_not_one() {
        assert_eq!(numbering(&row(&["1"])), Numbering::None);
        assert_eq!(numbering(&row(&["1", "3", "2"])), Numbering::None);
        assert_eq!(numbering(&row(&["2", "3", "4"])), Numbering::None);
        assert_eq!(numbering(&row(&["1", "A", "2"])), Numbering::None);
        assert_eq!(numbering(&row(&["A", "C"])), Numbering::None);
        assert_eq!(numbering(&row(&["A", "B", "2", "3"])), Numbering::None);
        assert_eq!(numbering(&row(&["1", "Phường Phúc Xá", "3"])), Numbering::None);
    }

    fn column(values: &[&str]) -> Vec<Cell> {
        row(values)
    }

    #[test]
    fn bare_numbers_are_data_unless_a_type_would_change() {
        let (a, b) = (column(&["1", "7", "1.500", "x"]), column(&["2", "8,5", ""]));
        assert!(bare_row_is_data::<[Cell]>(&[&a, &b]));
        let text = column(&["2", "Phường Phúc Xá"]);
        assert!(!bare_row_is_data::<[Cell]>(&[&a, &text]));
        // A code with a leading zero is no number, nor is a date.
        assert!(!bare_row_is_data::<[Cell]>(&[&a, &column(&["2", "0104865449"])]));
        assert!(!bare_row_is_data::<[Cell]>(&[&a, &column(&["2", "01/01/2024"])]));
        // Only the row's values: a column it leaves empty does not count.
        assert!(bare_row_is_data::<[Cell]>(&[&a, &column(&["", "Phường Phúc Xá"])]));
        // Nothing under it: nothing changes.
        assert!(bare_row_is_data::<[Cell]>(&[&column(&["1"]), &column(&["2"])]));
    }
}
