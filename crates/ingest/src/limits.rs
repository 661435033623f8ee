//! How large a file ingest reads, whatever the file claims: each limit is a field of
//! [`IngestOptions`](crate::IngestOptions), whose default is one of the constants here, and each
//! is checked before memory grows with what it bounds (from a declared size where the format
//! has one, and again while reading, since a declaration can lie). Exceeding one refuses the
//! file with [`IngestError::LimitExceeded`] (code `too_large`), naming the limit and its setting.
//!
//! The defaults are chosen for a server of a few cores and 16–32 GB that ingests one file at a
//! time beside everything else it does: one ingest within every default stays within a few GB,
//! and no genuine agency file comes near them (the 1M-row benchmark CSV, 14 columns and 260 MB,
//! is 14 million cells).

use crate::error::IngestError;

/// Rows of a table (data rows, or a sheet's rows). Fifty times the benchmark's million rows;
/// with [`DEFAULT_MAX_CELLS`] it bounds only very narrow tables, whose rows cost little each.
pub const DEFAULT_MAX_ROWS: u64 = 50_000_000;

/// Columns of a table, of a sheet's extent, or fields of one record. Excel allows 16,384;
/// agency tables have tens, the widest statistical tables (a column per month over decades) a
/// few hundred. Every column costs something at every later step (its own typing, a column
/// chunk per Parquet row group, a field in every API answer), so two thousand is plenty.
pub const DEFAULT_MAX_COLUMNS: u64 = 2_000;

/// Cells (rows × columns) of a table, and of a sheet's extent as declared and as found: a
/// workbook reader holds a sheet as a dense grid (calamine: 32 bytes a cell, empty or not), and
/// ingest copies it once more into its own cells before typing columns, about 100 bytes a cell
/// at the peak, so 20 million cells is about 2 GB. A full sheet of Excel (1,048,576 rows × 16,384
/// columns) is 17 billion cells: a 2 KB file that says so is refused, not allocated. Delimited
/// text costs less a cell (about 5 bytes besides its text), but the same limit keeps a file of
/// bare delimiters from becoming billions of empty cells; 20 million is still 1.4 times the
/// benchmark's 14 million.
pub const DEFAULT_MAX_CELLS: u64 = 20_000_000;

/// Inflated bytes of one part of a zipped workbook (XLSX, ODS): a sheet's XML, `styles.xml`,
/// `sharedStrings.xml`, `content.xml`. A full million-row sheet of 20 columns is about 600 MB of
/// XML; 1 GiB is above any sheet within [`DEFAULT_MAX_CELLS`].
pub const DEFAULT_MAX_PART_BYTES: u64 = 1 << 30;

/// Inflated bytes of a whole zipped workbook, all its parts together; also the uncompressed
/// size of a Parquet file's data (its row groups' `total_byte_size`) and of its text values.
pub const DEFAULT_MAX_INFLATED_BYTES: u64 = 2 << 30;

/// How many times its compressed size a zip part may inflate to, for parts inflating above
/// [`INFLATE_RATIO_FLOOR`]. Spreadsheet XML deflates about 10 to 30 times, the most repetitive
/// (empty styled cells) rarely beyond 60; a deflate bomb is 300 to 1,000 times.
pub const DEFAULT_MAX_INFLATE_RATIO: u64 = 100;

/// Parts that inflate to at most this many bytes are not held to the ratio: a small part can
/// compress very well (an empty sheet, a styles part of defaults) and costs nothing.
pub const INFLATE_RATIO_FLOOR: u64 = 1 << 20;

/// Bytes of one record of delimited text (a CSV line, quoted newlines and all) or one line of
/// NDJSON. Sixteen times [`DEFAULT_MAX_FIELD_BYTES`]: room for a record of several long
/// values, and a reader never holds more than this of a record it will refuse.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 16 << 20;

/// Bytes of one value (a field of delimited text, a JSON string). Excel holds at most 32,767
/// characters in a cell; 1 MiB is 32 times that, room for a long description or a geometry.
pub const DEFAULT_MAX_FIELD_BYTES: u64 = 1 << 20;

/// The limits of one ingest, as given by its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_rows: u64,
    pub max_columns: u64,
    pub max_cells: u64,
    pub max_part_bytes: u64,
    pub max_inflated_bytes: u64,
    pub max_inflate_ratio: u64,
    pub max_record_bytes: u64,
    pub max_field_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS,
            max_columns: DEFAULT_MAX_COLUMNS,
            max_cells: DEFAULT_MAX_CELLS,
            max_part_bytes: DEFAULT_MAX_PART_BYTES,
            max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES,
            max_inflate_ratio: DEFAULT_MAX_INFLATE_RATIO,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
        }
    }
}

/// The refusal of `what` at `found` (`None`: more than the limit, counting stopped there).
pub fn exceeded(
    what: impl Into<String>,
    found: Option<u64>,
    limit: u64,
    unit: &'static str,
    setting: &'static str,
) -> IngestError {
    IngestError::LimitExceeded { what: what.into(), found, limit, unit, setting }
}

impl Limits {
    /// Refuse `found` rows of `what` above `max_rows`.
    pub fn rows(&self, what: &str, found: u64) -> Result<(), IngestError> {
        check(what, found, self.max_rows, "rows", "max_rows")
    }

    /// Refuse `found` columns of `what` above `max_columns`.
    pub fn columns(&self, what: &str, found: u64) -> Result<(), IngestError> {
        check(what, found, self.max_columns, "columns", "max_columns")
    }

    /// Refuse `found` cells of `what` above `max_cells`.
    pub fn cells(&self, what: &str, found: u64) -> Result<(), IngestError> {
        check(what, found, self.max_cells, "cells", "max_cells")
    }

    /// Refuse a table of `rows` × `columns`: each alone, then both.
    pub fn table(&self, what: &str, rows: u64, columns: u64) -> Result<(), IngestError> {
        self.columns(what, columns)?;
        self.rows(what, rows)?;
        self.cells(&format!("{what}, {rows} rows × {columns} columns,"), rows.saturating_mul(columns))
    }
}

fn check(what: &str, found: u64, limit: u64, unit: &'static str, setting: &'static str) -> Result<(), IngestError> {
    if found > limit { Err(exceeded(what, Some(found), limit, unit, setting)) } else { Ok(()) }
}
