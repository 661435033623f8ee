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
pub mod column;
pub mod error;
pub mod formats;
pub mod infer;
pub mod layout;
pub mod legacy;
pub mod limits;
pub mod names;
pub mod report;
pub mod table;
pub mod text;

pub use error::{IngestError, Result};
pub use formats::Format;
pub use infer::FieldType;
pub use limits::Limits;
pub use report::Report;
pub use table::{Field, Table, TableBuilder};

use crate::infer::TextRule;
use crate::layout::{Layout, LayoutOptions};
use crate::report::FieldReport;

/// Options that override what ingest would detect, and the limits of what it reads (see
/// [`limits`]: each `max_…` field defaults to the constant `DEFAULT_MAX_…` there, and exceeding
/// it refuses the file as `too_large`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Refuse files larger than this (`too_large`).
    pub max_bytes: Option<u64>,
    /// Rows of a table or of a sheet.
    pub max_rows: u64,
    /// Columns of a table or of a sheet's extent, fields of one record.
    pub max_columns: u64,
    /// Cells (rows × columns) of a table, and of a sheet's extent as declared and as found.
    pub max_cells: u64,
    /// Inflated bytes of one part of a zipped workbook (XLSX, ODS).
    pub max_part_bytes: u64,
    /// Inflated bytes of a whole zipped workbook; uncompressed bytes of a Parquet file's data.
    pub max_inflated_bytes: u64,
    /// Times its compressed size a zip part may inflate to (parts above 1 MiB inflated).
    pub max_inflate_ratio: u64,
    /// Bytes of one record of delimited text, or one line of NDJSON.
    pub max_record_bytes: u64,
    /// Bytes of one value (a field of delimited text, a JSON string).
    pub max_field_bytes: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            format: None,
            sheet: None,
            header_row: None,
            encoding: None,
            delimiter: None,
            max_bytes: None,
            max_rows: l.max_rows,
            max_columns: l.max_columns,
            max_cells: l.max_cells,
            max_part_bytes: l.max_part_bytes,
            max_inflated_bytes: l.max_inflated_bytes,
            max_inflate_ratio: l.max_inflate_ratio,
            max_record_bytes: l.max_record_bytes,
            max_field_bytes: l.max_field_bytes,
        }
    }
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

    /// The limits these options set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_rows: self.max_rows,
            max_columns: self.max_columns,
            max_cells: self.max_cells,
            max_part_bytes: self.max_part_bytes,
            max_inflated_bytes: self.max_inflated_bytes,
            max_inflate_ratio: self.max_inflate_ratio,
            max_record_bytes: self.max_record_bytes,
            max_field_bytes: self.max_field_bytes,
        }
    }

    /// These options with every limit of `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        let Limits {
            max_rows,
            max_columns,
            max_cells,
            max_part_bytes,
            max_inflated_bytes,
            max_inflate_ratio,
            max_record_bytes,
            max_field_bytes,
        } = limits;
        (self.max_rows, self.max_columns, self.max_cells) = (max_rows, max_columns, max_cells);
        (self.max_part_bytes, self.max_inflated_bytes, self.max_inflate_ratio) =
            (max_part_bytes, max_inflated_bytes, max_inflate_ratio);
        (self.max_record_bytes, self.max_field_bytes) = (max_record_bytes, max_field_bytes);
        self
    }
}

/// A table and the report of how it was read.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub table: Table,
    pub report: Report,
}

fn new_report(format: Format, filename: Option<&str>, bytes: usize) -> Report {
    Report {
        source: filename.map(str::to_string),
        format,
        bytes,
        encoding: None,
        delimiter: None,
        sheet: None,
        header_rows: Vec::new(),
        rows: 0,
        skipped_by_reason: Default::default(),
        skipped: Vec::new(),
        fields: Vec::new(),
    }
}

/// What can be told of a file from its first bytes (`head`): format, and for delimited text
/// the encoding and delimiter. The report of a refused file, so its sender still learns what
/// was understood; `None` when not even the format is known.
pub fn preflight(head: &[u8], filename: Option<&str>, bytes: usize, options: &IngestOptions) -> Option<Report> {
    if head.is_empty() {
        return None;
    }
    let format = match options.format {
        Some(f) => f,
        None => formats::detect(head, filename).ok()?,
    };
    let mut report = new_report(format, filename, bytes);
    if format == Format::Csv
        && let Ok((text, encoding)) = text::decode_lazy(head, options.encoding.as_deref())
    {
        let delimiter = options.delimiter.unwrap_or_else(|| formats::csv::sniff_delimiter(sample(&text)));
        report.encoding = Some(encoding);
        report.delimiter = Some(formats::csv::delimiter_name(delimiter));
    }
    Some(report)
}

/// Read one file held in memory. `filename` helps only where the bytes are ambiguous and names
/// the source in the report.
pub fn ingest(bytes: &[u8], filename: Option<&str>, options: &IngestOptions) -> Result<Ingested> {
    if bytes.is_empty() {
        return Err(IngestError::EmptyFile);
    }
    check_size(bytes.len() as u64, options)?;
    let format = match options.format {
        Some(f) => f,
        None => formats::detect(bytes, filename)?,
    };
    let mut report = new_report(format, filename, bytes.len());
    match format {
        Format::Csv => {
            let (text, encoding) = text::decode_lazy(bytes, options.encoding.as_deref())?;
            let delimiter = options.delimiter.unwrap_or_else(|| formats::csv::sniff_delimiter(sample(&text)));
            report.encoding = Some(encoding);
            let table = read_csv(text.as_bytes(), delimiter, options, &mut report, &mut |_, _| {})?;
            finish_csv(table, report)
        }
        Format::Spreadsheet => {
            let (grid, sheet) = formats::xlsx::grid(bytes, options.sheet.as_deref(), &options.limits())?;
            report.sheet = Some(sheet);
            let opts = LayoutOptions { header_row: options.header_row, strict_width: false, limits: options.limits() };
            let layout = layout::locate(grid, opts)?;
            finish_cells(layout, TextRule::Parse, report)
        }
        Format::Parquet => {
            let (headers, columns) = formats::parquet::read(bytes, &options.limits())?;
            let names = names::normalise_all(&headers);
            let height = columns.first().map_or(0, infer::TypedColumn::len);
            if height == 0 {
                return Err(IngestError::NoDataRows { columns: names.len(), names });
            }
            let mut builder = TableBuilder::new(height);
            let ruled = vec![Vec::new(); columns.len()];
            for ((name, title), column) in names.iter().zip(&headers).zip(columns) {
                builder.push(name, title, column)?;
            }
            finish(builder.finish()?, ruled, report)
        }
        Format::Json | Format::Ndjson | Format::Geojson => {
            let (text, encoding) = text::decode(bytes, options.encoding.as_deref())?;
            report.encoding = Some(encoding);
            let records = formats::json::read(&text, format, &options.limits())?;
            let height = records.columns.first().map_or(0, Vec::len);
            let names = names::normalise_all(&records.headers);
            if height == 0 {
                return Err(IngestError::NoDataRows { columns: names.len(), names });
            }
            let layout = Layout {
                names,
                headers: records.headers,
                columns: records.columns,
                row_numbers: (1..=height).collect(),
                header_rows: Vec::new(),
                skipped: Vec::new(),
            };
            finish_cells(layout, TextRule::KeepAsString, report)
        }
    }
}

/// How far a read has got, as reported to an [`ingest_path`] progress callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub bytes_read: u64,
    pub bytes_total: u64,
    /// Records read so far (known while streaming delimited text; 0 until the end otherwise).
    pub rows_read: u64,
}

/// Read one file from disk. Delimited UTF-8 text is streamed from the file (a large CSV is
/// never held whole in memory); `progress` is called now and then.
pub fn ingest_path(
    path: &std::path::Path,
    options: &IngestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Ingested> {
    use std::io::{Read, Seek};
    let filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // The file's name only: the folder it sits in is the server's business.
    let shown = filename.clone().unwrap_or_default();
    let io_error = |e: std::io::Error| IngestError::BadOption { option: "file", message: format!("{shown}: {e}") };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let size = file.metadata().map_err(io_error)?.len();
    check_size(size, options)?;
    let mut head = Vec::with_capacity(1 << 20);
    file.by_ref().take(1 << 20).read_to_end(&mut head).map_err(io_error)?;
    if head.is_empty() {
        return Err(IngestError::EmptyFile);
    }
    let format = match options.format {
        Some(f) => f,
        None => formats::detect(&head, filename.as_deref())?,
    };
    let forced_utf8 = match options.encoding.as_deref() {
        Some(label) => text::encoding_for_label(label)? == Some(encoding_rs::UTF_8),
        None => true,
    };
    let utf16 = head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF");
    if format == Format::Csv && forced_utf8 && !utf16 && head_is_utf8(&head) {
        if options.encoding.is_none() {
            text::check_not_binary(&head)?;
        }
        let bom = head.starts_with(b"\xEF\xBB\xBF");
        let sample_text = String::from_utf8_lossy(&head[if bom { 3 } else { 0 }..]);
        let delimiter = options.delimiter.unwrap_or_else(|| formats::csv::sniff_delimiter(sample(&sample_text)));
        let mut report = new_report(format, filename.as_deref(), size as usize);
        let reason = match (options.encoding.is_some(), bom) {
            (true, _) => "given by the `encoding` option",
            (false, true) => "UTF-8 byte-order mark",
            (false, false) => "valid UTF-8",
        };
        report.encoding = Some(text::EncodingChoice { name: "utf-8".into(), reason: reason.into() });
        file.seek(std::io::SeekFrom::Start(if bom { 3 } else { 0 })).map_err(io_error)?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        match read_csv_stream(reader, delimiter, options, &mut report, &mut |bytes_read, rows_read| {
            progress(Progress { bytes_read, bytes_total: size, rows_read });
        }) {
            Ok(table) => {
                let ingested = finish_csv(table, report)?;
                let rows_read = ingested.table.rows() as u64;
                progress(Progress { bytes_read: size, bytes_total: size, rows_read });
                return Ok(ingested);
            }
            // Not UTF-8 after all: read it whole and let the decoder choose.
            Err(formats::csv::ReadError::NotUtf8) => {}
            Err(formats::csv::ReadError::Ingest(e)) => return Err(e),
        }
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    progress(Progress { bytes_read: size, bytes_total: size, rows_read: 0 });
    let ingested = ingest(&bytes, filename.as_deref(), options)?;
    let rows_read = ingested.table.rows() as u64;
    progress(Progress { bytes_read: size, bytes_total: size, rows_read });
    Ok(ingested)
}

fn check_size(size: u64, options: &IngestOptions) -> Result<()> {
    match options.max_bytes {
        Some(limit) if size > limit => Err(IngestError::TooLarge { size, limit }),
        _ => Ok(()),
    }
}

/// The first MiB is UTF-8, but for a character cut at its end.
fn head_is_utf8(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The first lines of a text, for sniffing.
fn sample(text: &str) -> &str {
    let mut end = text.len().min(256 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn read_csv(
    text: &[u8],
    delimiter: char,
    options: &IngestOptions,
    report: &mut Report,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<formats::csv::CsvTable> {
    read_csv_stream(text, delimiter, options, report, progress).map_err(|e| match e {
        formats::csv::ReadError::Ingest(e) => e,
        // Decoded text is UTF-8 by construction.
        formats::csv::ReadError::NotUtf8 => IngestError::NotText { what: "invalid UTF-8 after decoding".into() },
    })
}

fn read_csv_stream<R: std::io::Read>(
    reader: R,
    delimiter: char,
    options: &IngestOptions,
    report: &mut Report,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<formats::csv::CsvTable, formats::csv::ReadError> {
    report.delimiter = Some(formats::csv::delimiter_name(delimiter));
    if !delimiter.is_ascii() {
        return Err(IngestError::BadOption {
            option: "delimiter",
            message: format!("`{delimiter}` is not an ASCII character; use `,` `;` `|` or a tab"),
        }
        .into());
    }
    let delimiter = delimiter as u8;
    let opts = LayoutOptions { header_row: options.header_row, strict_width: true, limits: options.limits() };
    formats::csv::read_table(reader, delimiter, opts, progress)
}

fn finish_csv(table: formats::csv::CsvTable, mut report: Report) -> Result<Ingested> {
    let formats::csv::CsvTable { headers, names, columns, row_numbers, header_rows, skipped } = table;
    report.header_rows = header_rows;
    report.skipped = skipped;
    // Columns are typed and converted on every core, the largest first, each worker taking the
    // next column when done with one; a column's text is dropped (or becomes the string
    // column) as soon as it is typed, so the text is never held twice over.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(columns.len()).max(1);
    let mut by_size: Vec<(usize, column::TextColumn)> = columns.into_iter().enumerate().collect();
    by_size.sort_by_key(|(_, c)| c.text_bytes());
    let queue = std::sync::Mutex::new(by_size);
    let rows = &row_numbers;
    let (names_ref, headers_ref, queue_ref) = (&names, &headers, &queue);
    type Typed = (usize, polars::prelude::Column, Field, Vec<infer::RuledOut>);
    let results: Vec<Result<Typed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let next = queue_ref.lock().map(|mut q| q.pop()).unwrap_or_default();
                        let Some((i, text)) = next else { break done };
                        let (typed, ruled) = infer::type_text_column(text, rows);
                        let converted = table::convert(&names_ref[i], &headers_ref[i], typed);
                        done.push(converted.map(|(column, field)| (i, column, field, ruled)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut done = results.into_iter().collect::<Result<Vec<Typed>>>()?;
    done.sort_by_key(|(i, ..)| *i);
    if done.len() != names.len() {
        return Err(IngestError::Write("a worker typing columns failed".into()));
    }
    let mut builder = TableBuilder::new(row_numbers.len());
    let mut ruled = Vec::with_capacity(done.len());
    for (_, column, field, r) in done {
        builder.push_converted(column, field);
        ruled.push(r);
    }
    finish(builder.finish()?, ruled, report)
}

fn finish_cells(layout: Layout, rule: TextRule, mut report: Report) -> Result<Ingested> {
    let Layout { headers, names, columns, row_numbers, header_rows, skipped } = layout;
    report.header_rows = header_rows;
    report.skipped = skipped;
    let mut builder = TableBuilder::new(row_numbers.len());
    let mut ruled = Vec::with_capacity(columns.len());
    for ((name, title), cells) in names.iter().zip(&headers).zip(columns) {
        let (typed, r) = infer::type_column(cells.as_slice(), &row_numbers, rule);
        builder.push(name, title, typed)?;
        ruled.push(r);
    }
    finish(builder.finish()?, ruled, report)
}

fn finish(table: Table, ruled_out: Vec<Vec<infer::RuledOut>>, mut report: Report) -> Result<Ingested> {
    report.rows = table.rows();
    report.skipped_by_reason = report::count_reasons(&report.skipped);
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
