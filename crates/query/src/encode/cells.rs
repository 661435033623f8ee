//! JSON rows written by row id straight from a table's own arrays, with no gathered copy of
//! the page. This is how a `/records` JSON page of a table held in memory is written.
//!
//! - A text field with value codes has each distinct value encoded once per version, with
//!   the field's name: `"quan_huyen":"Quận Ba Đình"` ([`Fragments`]). A cell is one copy.
//! - Other fields read the cell from the chunk that holds the row ([`Chunked`]). Row groups
//!   of equal size (a power of two) find their chunk with a shift.
//!
//! On the 526-row ward table, the first profile of `records?limit=1000` spent 45% of the
//! server's time encoding. Most of that was a polars gather of the page into a frame, a
//! rechunk, and a per-cell `fmt` call.

use polars::prelude::*;

use super::json::{member_key, write_str, write_value};
use super::{CellValue, ColumnValues};
use crate::error::Result;

/// A text field's distinct values as JSON members, `"name":"value"`, by value code, encoded
/// once.
#[derive(Debug, Default)]
pub(crate) struct Fragments {
    bytes: Vec<u8>,
    /// Where each code's member ends in `bytes`.
    ends: Vec<u32>,
    /// `"name":null`.
    null: Vec<u8>,
}

impl Fragments {
    /// The members of field `name` with each of `values`, the value of code `i` at `i`.
    pub(crate) fn of<'a>(name: &str, values: impl IntoIterator<Item = &'a str>) -> Self {
        let key = member_key(name);
        let mut out = Self { null: [key.as_slice(), b"null"].concat(), ..Self::default() };
        for v in values {
            out.bytes.extend_from_slice(&key);
            write_str(&mut out.bytes, v);
            out.ends.push(out.bytes.len() as u32);
        }
        out
    }

    /// The member of code `code`; `"name":null` for `u32::MAX` (and any code out of range).
    fn get(&self, code: u32) -> &[u8] {
        let i = code as usize;
        match self.ends.get(i) {
            Some(end) => {
                let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
                &self.bytes[start..*end as usize]
            }
            None => &self.null,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes.len() + self.ends.len() * 4
    }
}

/// A column's arrays, chunk by chunk, and how to find the chunk that holds a row.
pub(crate) struct Chunked {
    chunks: Vec<ColumnValues<'static>>,
    /// The first row of each chunk.
    starts: Vec<usize>,
    /// How a row's chunk is found.
    find: Find,
}

/// How [`Chunked`] finds the chunk that holds a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Find {
    /// Every chunk but the last holds `1 << shift` rows (the row groups our ingest writes): the
    /// chunk is `row >> shift`.
    Shift(u32),
    /// Every chunk but the last holds `n` rows (as polars' writer balances row groups: 15 of
    /// 66,666 rows for a million): the chunk is `row / n`.
    Divide(usize),
    /// Chunks of any size: a binary search of their starts.
    Search,
}

impl Chunked {
    /// The arrays of `series`, shared with it (not copied) unless its type needs a cast.
    pub(crate) fn of(series: &Series) -> Result<Self> {
        let chunks = ColumnValues::chunks(series)?;
        let lens: Vec<usize> = chunks.iter().map(ColumnValues::len).collect();
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |at, n| {
                let start = *at;
                *at += n;
                Some(start)
            })
            .collect();
        let find = match lens.split_last() {
            Some((_, [first, rest @ ..])) if rest.iter().all(|n| n == first) && lens.last() <= Some(first) => {
                if first.is_power_of_two() { Find::Shift(first.trailing_zeros()) } else { Find::Divide(*first) }
            }
            Some((_, [])) => Find::Shift(usize::BITS - 1),
            _ => Find::Search,
        };
        Ok(Self { chunks, starts, find })
    }

    /// On `sort=ma_ho_so&offset=…` (Q5), each cell in a chunk of its own, finding chunks by
    /// shift rather than by search served 25–40% more requests a second.
    fn get(&self, row: usize) -> CellValue<'_> {
        let chunk = match self.find {
            Find::Shift(shift) => row >> shift,
            Find::Divide(n) => row / n,
            Find::Search => self.starts.partition_point(|s| *s <= row).saturating_sub(1),
        };
        match (self.chunks.get(chunk), self.starts.get(chunk)) {
            (Some(values), Some(start)) => values.get(row - start),
            _ => CellValue::Null,
        }
    }
}

/// Where a column's cells come from.
pub(crate) enum Cells<'a> {
    /// Each row's value code, and each code's JSON.
    Coded {
        codes: &'a [u32],
        fragments: &'a Fragments,
    },
    Values(&'a Chunked),
}

/// A column to write: its `"name":` (empty for coded cells, whose members hold it) and its
/// cells.
pub(crate) struct JsonColumn<'a> {
    key: Vec<u8>,
    cells: Cells<'a>,
}

impl<'a> JsonColumn<'a> {
    /// The column `name`; coded cells must have been made with the same name.
    pub(crate) fn new(name: &str, cells: Cells<'a>) -> Self {
        let key = match cells {
            Cells::Coded { .. } => Vec::new(),
            Cells::Values(_) => member_key(name),
        };
        Self { key, cells }
    }
}

/// Rows read per column before a block is written.
const BLOCK: usize = 128;

/// Append `rows` as comma-separated JSON objects of `columns` (no surrounding brackets).
///
/// The rows of a sorted or filtered page are scattered over a table of a million rows, and
/// nearly every cell is a cache miss. So a block of rows is first read column by column (loads
/// that do not wait on each other, so the misses overlap, string bytes touched too), then
/// written row by row from what was read. On `sort=ma_ho_so&offset=…` this cut the time in
/// `ColumnValues::get` and the writer by half.
pub(crate) fn write_rows(columns: &[JsonColumn<'_>], rows: &[u32], out: &mut Vec<u8>) {
    let start = out.len();
    let mut members: Vec<Vec<&[u8]>> = columns.iter().map(|_| Vec::with_capacity(BLOCK)).collect();
    let mut cells: Vec<Vec<CellValue<'_>>> = columns.iter().map(|_| Vec::with_capacity(BLOCK)).collect();
    for (b, block) in rows.chunks(BLOCK).enumerate() {
        for (i, column) in columns.iter().enumerate() {
            match &column.cells {
                Cells::Coded { codes, fragments } => {
                    members[i].clear();
                    members[i].extend(
                        block.iter().map(|r| fragments.get(codes.get(*r as usize).copied().unwrap_or(u32::MAX))),
                    );
                }
                Cells::Values(values) => {
                    cells[i].clear();
                    cells[i].extend(block.iter().map(|r| values.get(*r as usize)));
                    let touched = cells[i].iter().fold(0u8, |t, c| match c {
                        CellValue::Str(s) => t ^ s.as_bytes().first().copied().unwrap_or(0),
                        _ => t,
                    });
                    std::hint::black_box(touched);
                }
            }
        }
        for n in 0..block.len() {
            if b > 0 || n > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match &column.cells {
                    Cells::Coded { .. } => out.extend_from_slice(members[i][n]),
                    Cells::Values(_) => {
                        out.extend_from_slice(&column.key);
                        write_value(out, cells[i][n]);
                    }
                }
            }
            out.push(b'}');
            if b == 0 && n == 0 {
                // The rest of the page at the first row's size and a quarter: one allocation,
                // where growing by doubling copied the page once more.
                let first = out.len() - start;
                out.reserve((first + first / 4) * (rows.len() - 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::json::write_objects;

    /// Rows written by id from a frame of several chunks are what the frame-wide writer
    /// writes for the same rows gathered.
    #[test]
    fn rows_by_id_match_the_frame_writer() {
        let mut frame = df!(
            "s" => [Some("Phường \"Phúc\" Xá"), None, Some("Xã Văn Khê")],
            "i" => [Some(-7i64), Some(120_000), None],
            "f" => [Some(21.027476f64), None, Some(f64::NAN)],
            "b" => [Some(true), Some(false), None],
        )
        .unwrap();
        // Chunks of uneven size: found by search, not by shift.
        let more = frame.slice(0, 2);
        frame.vstack_mut(&more).unwrap();
        let more = frame.slice(1, 3);
        frame.vstack_mut(&more).unwrap();
        assert!(frame.first_col_n_chunks() > 1);
        let chunked: Vec<(String, Chunked)> = frame
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), Chunked::of(c.as_materialized_series()).unwrap()))
            .collect();
        let names = ["s", "x", "b"];
        let fragments = Fragments::of("coded", names);
        let codes = [2u32, u32::MAX, 0, 1, 1, 0, 2, u32::MAX];
        let mut columns: Vec<JsonColumn<'_>> =
            chunked.iter().map(|(name, values)| JsonColumn::new(name, Cells::Values(values))).collect();
        columns.push(JsonColumn::new("coded", Cells::Coded { codes: &codes, fragments: &fragments }));
        let rows = [7u32, 0, 3, 5, 4];
        let mut got = Vec::new();
        write_rows(&columns, &rows, &mut got);

        let idx = IdxCa::from_vec("".into(), rows.to_vec());
        let mut gathered = frame.take(&idx).unwrap();
        let coded: Vec<Option<&str>> = rows.iter().map(|r| names.get(codes[*r as usize] as usize).copied()).collect();
        gathered.with_column(Column::new("coded".into(), coded)).unwrap();
        let mut want = Vec::new();
        write_objects(&gathered, &mut want, false).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
    }

    #[test]
    fn equal_power_of_two_chunks_are_found_by_shift() {
        let mut s = Series::new("n".into(), (0..4i64).collect::<Vec<_>>());
        for k in 1..3 {
            s.append(&Series::new("n".into(), (4 * k..4 * k + 4).collect::<Vec<i64>>())).unwrap();
        }
        s.append(&Series::new("n".into(), [12i64, 13])).unwrap();
        let chunked = Chunked::of(&s).unwrap();
        assert_eq!(chunked.find, Find::Shift(2));
        for row in 0..14 {
            assert!(matches!(chunked.get(row), CellValue::Int(v) if v == row as i64), "row {row}");
        }
        assert!(matches!(chunked.get(14), CellValue::Null));
    }

    #[test]
    fn equal_chunks_are_found_by_division_and_others_by_search() {
        let chunks = |sizes: &[i64]| {
            let mut s = Series::new_empty("n".into(), &DataType::Int64);
            let mut at = 0;
            for size in sizes {
                s.append(&Series::new("n".into(), (at..at + size).collect::<Vec<i64>>())).unwrap();
                at += size;
            }
            (Chunked::of(&s).unwrap(), at as usize)
        };
        for (sizes, find) in
            [(&[3, 3, 3, 2][..], Find::Divide(3)), (&[3, 2, 3][..], Find::Search), (&[3, 3, 4][..], Find::Search)]
        {
            let (chunked, rows) = chunks(sizes);
            assert_eq!(chunked.find, find, "{sizes:?}");
            for row in 0..rows {
                assert!(matches!(chunked.get(row), CellValue::Int(v) if v == row as i64), "{sizes:?} row {row}");
            }
            assert!(matches!(chunked.get(rows), CellValue::Null));
        }
    }
}
