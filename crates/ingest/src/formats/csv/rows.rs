//! Records into columns: [`Rows`] takes one record at a time and sorts it (data, blank, total,
//! footer), and [`read_records`] feeds it from a record reader, keeping each record's line.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;

use crate::column::TextColumn;
use crate::error::IngestError;
use crate::layout::{self, RowKind, SkipReason, SkippedRow};
use crate::limits::{self, Limits};

use super::{ReadError, clean_value, trimmed};

/// The rows of one stretch of the file, column by column.
#[derive(Debug, Default)]
pub struct Rows {
    width: usize,
    pub columns: Vec<TextColumn>,
    /// Line each data row starts on.
    pub row_numbers: Vec<usize>,
    pub skipped: Vec<SkippedRow>,
    /// A footer row has been seen: every later row is skipped as footer.
    pub in_footer: bool,
    /// The text these rows come from is known to be NFC (see `plainly_nfc`): values only
    /// need trimming.
    pub nfc: bool,
    pub limits: Limits,
}

/// Refuse a record of `fields` fields of `lengths` bytes, starting on `line`, above the limits:
/// more fields than `max_columns`, a field above `max_field_bytes`, or more bytes in all than
/// `max_record_bytes`.
pub fn check_record(
    line: usize,
    fields: usize,
    lengths: impl Iterator<Item = usize>,
    limits: &Limits,
) -> Result<(), IngestError> {
    if fields as u64 > limits.max_columns {
        let what = format!("the record on line {line}");
        return Err(limits::exceeded(what, Some(fields as u64), limits.max_columns, "fields", "max_columns"));
    }
    let mut total = fields.saturating_sub(1) as u64;
    for length in lengths {
        let length = length as u64;
        if length > limits.max_field_bytes {
            let what = format!("a value on line {line}");
            return Err(limits::exceeded(what, Some(length), limits.max_field_bytes, "bytes", "max_field_bytes"));
        }
        total += length;
    }
    if total > limits.max_record_bytes {
        let what = format!("the record on line {line}");
        return Err(limits::exceeded(what, Some(total), limits.max_record_bytes, "bytes", "max_record_bytes"));
    }
    Ok(())
}

/// Refuse `taken` rows read (data rows and rows skipped), or `data` data rows of `width`
/// columns, above `max_rows` or `max_cells`.
pub fn check_rows(taken: u64, data: u64, width: usize, limits: &Limits) -> Result<(), IngestError> {
    if taken > limits.max_rows {
        let what = "the rows of the file (data rows and rows skipped)";
        return Err(limits::exceeded(what, None, limits.max_rows, "rows", "max_rows"));
    }
    let cells = data.saturating_mul(width as u64);
    if cells > limits.max_cells {
        let what = format!("the table ({data} rows and more × {width} columns)");
        return Err(limits::exceeded(what, None, limits.max_cells, "cells", "max_cells"));
    }
    Ok(())
}

impl Rows {
    pub fn new(width: usize, in_footer: bool, limits: Limits) -> Self {
        Self {
            width,
            columns: (0..width).map(|_| TextColumn::default()).collect(),
            row_numbers: Vec::new(),
            skipped: Vec::new(),
            in_footer,
            nfc: false,
            limits,
        }
    }

    /// Rows taken, data or skipped.
    pub fn taken(&self) -> u64 {
        (self.row_numbers.len() + self.skipped.len()) as u64
    }

    /// A value trimmed, and made NFC unless the text is known to be.
    fn clean(nfc: bool, value: &str) -> Cow<'_, str> {
        if nfc { Cow::Borrowed(trimmed(value)) } else { clean_value(value) }
    }

    /// Take the record that starts on `line`.
    pub fn take(&mut self, line: usize, values: &[&str]) -> Result<(), ReadError> {
        check_record(line, values.len(), values.iter().map(|v| v.len()), &self.limits)?;
        if self.in_footer {
            self.skipped.push(SkippedRow { row: line, reason: SkipReason::Footer });
            return Ok(());
        }
        let first = values.iter().map(|v| Self::clean(self.nfc, v)).find(|v| !v.is_empty());
        let reason = match layout::classify(first.as_deref()) {
            RowKind::Blank => SkipReason::Blank,
            RowKind::Total => SkipReason::Total,
            RowKind::Footer => {
                self.in_footer = true;
                SkipReason::Footer
            }
            RowKind::Data => return self.take_data(line, values),
        };
        self.skipped.push(SkippedRow { row: line, reason });
        Ok(())
    }

    fn take_data(&mut self, line: usize, values: &[&str]) -> Result<(), ReadError> {
        let width = self.width;
        if values.len() > width {
            let extra: Vec<String> =
                values[width..].iter().map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string).collect();
            if !extra.is_empty() {
                return Err(layout::ragged(line, values.len(), width, extra).into());
            }
        }
        let nfc = self.nfc;
        for (col, column) in self.columns.iter_mut().enumerate() {
            let value = values.get(col).map(|v| Self::clean(nfc, v));
            column.push(value.as_deref().filter(|v| !v.is_empty()));
        }
        self.row_numbers.push(line);
        Ok(())
    }
}

/// How much a stretch of the file holds, learnt from one already read: each column's text and
/// the rows per byte of file. A piece's buffers are sized from it once, with room to spare,
/// rather than grown by doubling, which copies and leaves freed memory behind. (Room never
/// written to costs address space, not memory.) On the 1M-row file, 4 alternating runs each:
/// 1.70–2.07 s and 604–654 MB peak with it, 1.76–2.14 s and 668–684 MB without.
#[derive(Debug, Clone, Default)]
pub struct Sizing {
    text_per_byte: Vec<f64>,
    rows_per_byte: f64,
}

impl Sizing {
    /// Learnt from `rows`, read from `bytes` bytes of the file.
    pub fn of(rows: &Rows, bytes: usize) -> Self {
        if bytes == 0 || rows.row_numbers.is_empty() {
            return Self::default();
        }
        let bytes = bytes as f64;
        Self {
            text_per_byte: rows.columns.iter().map(|c| c.text_bytes() as f64 / bytes).collect(),
            rows_per_byte: rows.row_numbers.len() as f64 / bytes,
        }
    }

    /// Empty rows with room for `bytes` bytes of the file.
    pub fn rows_for(&self, width: usize, in_footer: bool, bytes: usize, limits: Limits) -> Rows {
        const SPARE: f64 = 1.5;
        let mut rows = Rows::new(width, in_footer, limits);
        if self.text_per_byte.len() == width {
            let room = |per_byte: f64| (per_byte * bytes as f64 * SPARE) as usize;
            let height = room(self.rows_per_byte);
            for (column, per_byte) in rows.columns.iter_mut().zip(&self.text_per_byte) {
                *column = TextColumn::with_capacity(height, room(*per_byte));
            }
            rows.row_numbers.reserve(height);
        }
        rows
    }
}

/// The record reader every path uses: `\n` ends a record, and the `\r` of CRLF stays on the
/// last field, to be trimmed with it. It fails once a record grows past `max_record_bytes`.
pub fn reader<R: Read>(input: R, delimiter: u8, limits: &Limits) -> RecordReader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .flexible(true)
        .quoting(true)
        .double_quote(true)
        .from_reader(Ends { input, ended: false, since_record: 0, max_record: limits.max_record_bytes, over: false })
}

/// The record reader over `R`.
pub type RecordReader<R> = csv::Reader<Ends<R>>;

/// Input that remembers having come to its end. The record reader asks for more only once it
/// has used all it was given, so when a record comes back after the end was reached, that
/// record is the last and had no newline after it.
///
/// It also counts the bytes given since the last record came back (but newlines, which may be
/// empty lines before the next record), and fails once they pass `max_record`: the record
/// reader has then used them all on one record, which started before them, so that record is
/// longer than the limit, and is refused before the reader holds more of it.
#[derive(Debug)]
pub struct Ends<R> {
    input: R,
    ended: bool,
    since_record: u64,
    max_record: u64,
    over: bool,
}

impl<R: Read> Read for Ends<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_record > self.max_record {
            self.over = true;
            return Err(std::io::Error::other("a record above the limit"));
        }
        let n = self.input.read(buf)?;
        self.ended |= n == 0 && !buf.is_empty();
        self.since_record += (n - memchr::memchr_iter(b'\n', &buf[..n]).count()) as u64;
        Ok(n)
    }
}

/// The line each record starts on, worked out from the reader's line count after it: the
/// count before a record does not yet include the newline that ended the one before, and the
/// reader skips empty lines, which are blank rows all the same.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    /// Added to the reader's own line count (which starts at 1).
    base: usize,
    /// Where the next record may start.
    next: usize,
    /// The reader's line count after the record before.
    after_last: usize,
}

impl Lines {
    /// For a reader whose first byte is on line `first`.
    pub fn starting_at(first: usize) -> Self {
        Self { base: first.saturating_sub(1), next: first, after_last: first }
    }

    /// Where the next record may start.
    pub fn next(&self) -> usize {
        self.next
    }

    /// Read one record: the line it starts on and the empty lines skipped before it.
    pub fn read<R: Read>(
        &mut self,
        csv: &mut RecordReader<R>,
        record: &mut csv::ByteRecord,
    ) -> Result<Option<(usize, Range<usize>)>, ReadError> {
        match csv.read_byte_record(record) {
            Ok(true) => {
                csv.get_mut().since_record = 0;
                // A last record with no newline after it has not moved the count on: as if it had.
                let end = self.base + csv.position().line() as usize + usize::from(csv.get_ref().ended);
                // One line further than the record before: no empty line skipped and no newline
                // inside a field, the common case. Otherwise the fields' newlines are counted.
                let inner =
                    if end <= self.after_last + 1 { 0 } else { memchr::memchr_iter(b'\n', record.as_slice()).count() };
                self.after_last = end;
                let start = end.saturating_sub(inner + 1).max(self.next);
                let blanks = self.next..start;
                self.next = start + inner + 1;
                Ok(Some((start, blanks)))
            }
            Ok(false) => Ok(None),
            Err(_) if csv.get_ref().over => {
                let (limit, what) = (csv.get_ref().max_record, format!("the record on line {}", self.next));
                Err(limits::exceeded(what, None, limit, "bytes", "max_record_bytes").into())
            }
            Err(e) => Err(super::unreadable(e)),
        }
    }
}

/// Every remaining record of `csv` into `rows`, after `before` rows (data or skipped, of
/// which `before_data` data rows) taken from the file already; `progress` is called now and
/// then with the bytes read and the records taken.
pub fn read_records<R: Read>(
    csv: &mut RecordReader<R>,
    lines: &mut Lines,
    rows: &mut Rows,
    before: (u64, u64),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ReadError> {
    let mut record = csv::ByteRecord::new();
    let mut count = 0u64;
    let (limits, width) = (rows.limits, rows.width);
    let (before, before_data) = before;
    while let Some((line, blanks)) = lines.read(csv, &mut record)? {
        for blank in blanks {
            rows.take(blank, &[])?;
        }
        // A record wider than the limit is refused as it is: its fields are not gathered.
        if record.len() as u64 > limits.max_columns {
            check_record(line, record.len(), std::iter::empty(), &limits)?;
        }
        // One UTF-8 check per record; fields are slices of it (delimiters are ASCII, so every
        // field boundary is a character boundary).
        let whole = simdutf8::basic::from_utf8(record.as_slice()).map_err(|_| ReadError::NotUtf8)?;
        let field = |i: usize| record.range(i).and_then(|r| whole.get(r)).unwrap_or_default();
        // The fields of most records fit on the stack: no allocation per record.
        let mut few = [""; 32];
        if record.len() <= few.len() {
            for (i, slot) in few.iter_mut().enumerate().take(record.len()) {
                *slot = field(i);
            }
            rows.take(line, &few[..record.len()])?;
        } else {
            rows.take(line, &(0..record.len()).map(field).collect::<Vec<_>>())?;
        }
        check_rows(before + rows.taken(), before_data + rows.row_numbers.len() as u64, width, &limits)?;
        count += 1;
        if count.is_multiple_of(65_536) {
            progress(record.position().map_or(0, csv::Position::byte), count);
        }
    }
    Ok(())
}
