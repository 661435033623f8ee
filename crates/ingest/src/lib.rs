//! # opendata-ingest
//!
//! Files as agencies have them in, one normalised typed table plus a report out. A pure library:
//! no HTTP, no catalog. The contract is `shared/fixtures/README.md`; each module owns one part:
//!
//! - [`formats`]: detect the format and read bytes into a grid of cells (CSV, workbooks, JSON),
//! - [`text`]: decode text files (BOM, UTF-8, UTF-16, windows-1258) to NFC,
//! - [`layout`]: find the table in the grid (header, title, total and footer rows),
//! - [`names`]: column names from header text,
//! - [`infer`]: null markers, number styles, dates, and the type of each column,
//! - [`table`]: the typed `DataFrame`, its schema and its Parquet encoding,
//! - [`report`]: what was understood, for the agency.

pub mod cell;
pub mod error;
pub mod formats;
pub mod infer;
pub mod layout;
pub mod names;
pub mod report;
pub mod table;
pub mod text;

pub use error::{IngestError, Result};
pub use formats::Format;
pub use infer::FieldType;
pub use report::Report;
pub use table::{Field, Table};

use crate::infer::TextRule;
use crate::layout::{Layout, LayoutOptions};
use crate::report::FieldReport;

/// Options that override what ingest would detect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Read as this format, whatever the bytes look like.
    pub format: Option<Format>,
    /// Sheet name (or 1-based position) in a workbook.
    pub sheet: Option<String>,
    /// 1-based row (sheet) or line (text) number of the header row.
    pub header_row: Option<usize>,
    /// Text encoding label (`utf-8`, `windows-1258`, `utf-16le`…).
    pub encoding: Option<String>,
    /// Field delimiter of delimited text.
    pub delimiter: Option<char>,
}

impl IngestOptions {
    pub fn with_sheet(mut self, sheet: impl Into<String>) -> Self {
        self.sheet = Some(sheet.into());
        self
    }

    pub fn with_header_row(mut self, row: usize) -> Self {
        self.header_row = Some(row);
        self
    }

    pub fn with_encoding(mut self, encoding: impl Into<String>) -> Self {
        self.encoding = Some(encoding.into());
        self
    }
}

/// A table and the report of how it was read.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub table: Table,
    pub report: Report,
}

/// Read one file. `filename` helps only where the bytes are ambiguous and names the source in
/// the report.
pub fn ingest(bytes: &[u8], filename: Option<&str>, options: &IngestOptions) -> Result<Ingested> {
    if bytes.is_empty() {
        return Err(IngestError::EmptyFile);
    }
    let format = match options.format {
        Some(f) => f,
        None => formats::detect(bytes, filename)?,
    };
    let mut report = Report {
        source: filename.map(str::to_string),
        format,
        bytes: bytes.len(),
        encoding: None,
        delimiter: None,
        sheet: None,
        header_rows: Vec::new(),
        rows: 0,
        skipped_by_reason: Default::default(),
        skipped: Vec::new(),
        fields: Vec::new(),
    };
    let layout = match format {
        Format::Csv => {
            let (text, encoding) = text::decode(bytes, options.encoding.as_deref())?;
            let delimiter = options.delimiter.unwrap_or_else(|| formats::csv::sniff_delimiter(&text));
            report.encoding = Some(encoding);
            report.delimiter = Some(formats::csv::delimiter_name(delimiter));
            let grid = formats::csv::grid(&text, delimiter);
            layout::locate(&grid, LayoutOptions { header_row: options.header_row, strict_width: true })?
        }
        Format::Spreadsheet => {
            let (grid, sheet) = formats::xlsx::grid(bytes, options.sheet.as_deref())?;
            report.sheet = Some(sheet);
            layout::locate(&grid, LayoutOptions { header_row: options.header_row, strict_width: false })?
        }
        Format::Json | Format::Ndjson | Format::Geojson => {
            let (text, encoding) = text::decode(bytes, options.encoding.as_deref())?;
            report.encoding = Some(encoding);
            let records = formats::json::read(&text, format)?;
            let height = records.columns.first().map_or(0, Vec::len);
            let names = names::normalise_all(&records.headers);
            if height == 0 {
                return Err(IngestError::NoDataRows { columns: names.len(), names });
            }
            Layout {
                names,
                headers: records.headers,
                columns: records.columns,
                row_numbers: (1..=height).collect(),
                header_rows: Vec::new(),
                skipped: Vec::new(),
            }
        }
    };
    let rule = if matches!(format, Format::Json | Format::Ndjson | Format::Geojson) {
        TextRule::KeepAsString
    } else {
        TextRule::Parse
    };
    let mut typed = Vec::with_capacity(layout.columns.len());
    let mut ruled_out = Vec::with_capacity(layout.columns.len());
    for cells in &layout.columns {
        let (column, r) = infer::type_column(cells, &layout.row_numbers, rule);
        typed.push(column);
        ruled_out.push(r);
    }
    let table = Table::from_columns(&layout.names, &layout.headers, typed)?;
    report.header_rows = layout.header_rows;
    report.rows = table.rows();
    report.skipped_by_reason = report::count_reasons(&layout.skipped);
    report.skipped = layout.skipped;
    report.fields = table
        .fields
        .iter()
        .zip(ruled_out)
        .map(|(f, r)| FieldReport {
            name: f.name.clone(),
            title: f.title.clone(),
            field_type: f.field_type,
            null_count: f.null_count,
            ruled_out: if f.field_type == FieldType::String { r } else { Vec::new() },
        })
        .collect();
    Ok(Ingested { table, report })
}
