//! Delimited text (CSV, TSV, TXT): delimiter sniffing, and [`read_table`], which streams
//! records (RFC 4180, through the `csv` crate) straight into compact columns: the header is
//! found in the first rows, every later row is classified (data, blank, total, footer) as it
//! comes, and memory stays about the size of the text.

use std::borrow::Cow;
use std::io::Read;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::cell::Cell;
use crate::column::TextColumn;
use crate::error::IngestError;
use crate::layout::{self, Grid, GridRow, LayoutOptions, RowKind, SkipReason, SkippedRow};
use crate::names;

/// Delimiters tried when none is given, in order of preference on a tie.
pub const CANDIDATES: [char; 4] = [',', ';', '\t', '|'];

/// One record of the sniffer: the 1-based line it starts on and its fields (unquoted, untrimmed).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Split `text` into records. Quotes may hold delimiters, doubled quotes and newlines; CRLF and
/// LF both end a record. Blank lines produce a record with one empty field.
pub fn records(text: &str, delimiter: char) -> impl Iterator<Item = Record> + '_ {
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut at_field_start = true;
        while let Some(c) = chars.next() {
            if in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => in_quotes = false,
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    '\r' if chars.peek() == Some(&'\n') => {}
                    c => field.push(c),
                }
                continue;
            }
            match c {
                '"' if at_field_start => {
                    in_quotes = true;
                    at_field_start = false;
                }
                c if c == delimiter => {
                    fields.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    return Some(Record { line: start, fields });
                }
                c => {
                    if !(at_field_start && (c == ' ' || c == '\u{a0}') && chars.peek() == Some(&'"')) {
                        at_field_start = false;
                    }
                    field.push(c);
                }
            }
        }
        fields.push(field);
        Some(Record { line: start, fields })
    })
}

/// Choose the delimiter: for each candidate, split the first 50 non-blank lines, take the most
/// common field count and how many lines have it; the highest (lines × fields) wins.
///
/// One refinement of the contract's rule, for `;` files with decimal commas (`7,5;12,25`): when
/// the winner splits some multi-field lines into other counts (the file would read as ragged)
/// and another candidate splits every multi-field line into the same count, that one wins.
pub fn sniff_delimiter(text: &str) -> char {
    struct Candidate {
        delimiter: char,
        rank: usize,
        score: usize,
        /// Lines split into the most common count.
        lines: usize,
        consistent: bool,
    }
    let candidates: Vec<Candidate> = CANDIDATES
        .iter()
        .enumerate()
        .map(|(rank, &delimiter)| {
            let mut counts: Vec<usize> = records(text, delimiter)
                .filter(|r| !(r.fields.len() == 1 && r.fields[0].trim().is_empty()))
                .take(50)
                .map(|r| r.fields.len())
                .collect();
            counts.sort_unstable();
            let (mut mode, mut mode_lines) = (0, 0);
            for chunk in counts.chunk_by(|a, b| a == b) {
                if chunk.len() > mode_lines || (chunk.len() == mode_lines && chunk[0] > mode) {
                    (mode, mode_lines) = (chunk[0], chunk.len());
                }
            }
            let multi = counts.iter().filter(|c| **c > 1).count();
            let score = if mode > 1 { mode * mode_lines } else { 0 };
            Candidate { delimiter, rank, score, lines: mode_lines, consistent: mode > 1 && mode_lines == multi }
        })
        .collect();
    let Some(best) = candidates.iter().filter(|c| c.score > 0).max_by(|a, b| {
        // Highest score; on a tie, the earlier candidate (`max_by` keeps the last maximum).
        a.score.cmp(&b.score).then_with(|| b.rank.cmp(&a.rank))
    }) else {
        return ',';
    };
    // A delimiter that splits every line alike beats a winner that splits them raggedly, or
    // that leaves more lines (a header, say) unsplit: `0,1|0,1` under `Cột 1|Cột 2` is `|`.
    let better = candidates
        .iter()
        .filter(|c| c.consistent && (!best.consistent || c.lines > best.lines))
        .max_by_key(|c| (c.lines, c.score));
    better.unwrap_or(best).delimiter
}
/// A delimiter as the report shows it.
pub fn delimiter_name(delimiter: char) -> String {
    match delimiter {
        '\t' => "tab".to_string(),
        c => c.to_string(),
    }
}

/// A delimited file read into columns.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub headers: Vec<String>,
    pub names: Vec<String>,
    pub columns: Vec<TextColumn>,
    /// Line each data row starts on.
    pub row_numbers: Vec<usize>,
    pub header_rows: Vec<usize>,
    pub skipped: Vec<SkippedRow>,
}

/// Why [`read_table`] stopped.
#[derive(Debug)]
pub enum ReadError {
    Ingest(IngestError),
    /// A field is not valid UTF-8: read the file again with a legacy decoding.
    NotUtf8,
}

impl From<IngestError> for ReadError {
    fn from(e: IngestError) -> Self {
        Self::Ingest(e)
    }
}

/// Trimmed and NFC, borrowing when the text already is.
pub fn clean_value(field: &str) -> Cow<'_, str> {
    let t = field.trim();
    // Latin letters with their precomposed marks (all of Vietnamese) are NFC as they stand;
    // only text with other characters (combining marks first) needs the full check.
    let plainly_nfc = || t.chars().all(|c| (c as u32) < 0x300 || (0x1E00..=0x1EFF).contains(&(c as u32)));
    if t.is_ascii() || plainly_nfc() || is_nfc_quick(t.chars()) == IsNormalized::Yes {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(t.nfc().collect())
    }
}

/// Records read before the header is chosen (the contract looks at the first 30 rows).
const HEAD_ROWS: usize = 30;

/// Stream UTF-8 delimited text from `reader` into a [`CsvTable`]. `progress` is called now and
/// then with the bytes and records read so far.
pub fn read_table<R: Read>(
    reader: R,
    delimiter: u8,
    opts: LayoutOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CsvTable, ReadError> {
    // `\n` ends a record; the `\r` of CRLF stays on the last field and is trimmed with it.
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .flexible(true)
        .quoting(true)
        .double_quote(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    // The line each record starts on, from the reader's position after it: the position before
    // a record does not yet count the newline that ended the one before, and empty lines are
    // skipped by the reader. `lines.0` is where the next record may start.
    let mut lines = (1usize, Vec::<usize>::new());
    let next = |csv: &mut csv::Reader<R>,
                record: &mut csv::ByteRecord,
                lines: &mut (usize, Vec<usize>)|
     -> Result<Option<usize>, ReadError> {
        match csv.read_byte_record(record) {
            Ok(true) => {
                let end = csv.position().line() as usize;
                let inner = record.iter().map(|f| f.iter().filter(|b| **b == b'\n').count()).sum::<usize>();
                let start = end.saturating_sub(inner + 1).max(lines.0);
                // Lines skipped between the previous record and this one were empty.
                lines.1 = (lines.0..start).collect();
                lines.0 = start + inner + 1;
                Ok(Some(start))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(ReadError::Ingest(IngestError::NotText { what: format!("unreadable delimited text: {e}") })),
        }
    };
    let fields = |record: &csv::ByteRecord| -> Result<Vec<String>, ReadError> {
        record.iter().map(|f| std::str::from_utf8(f).map(str::to_string).map_err(|_| ReadError::NotUtf8)).collect()
    };

    // The head: enough rows to find the header in, and the row under it.
    let head_len = HEAD_ROWS.max(opts.header_row.map_or(0, |h| h.saturating_add(3))).saturating_add(2);
    let mut head = Grid { rows: Vec::new(), merges: Vec::new(), row_unit: "line" };
    let mut exhausted = false;
    while head.rows.len() < head_len {
        let Some(line) = next(&mut csv, &mut record, &mut lines)? else {
            exhausted = true;
            break;
        };
        head.rows.extend(lines.1.iter().map(|l| GridRow { number: *l, cells: Vec::new() }));
        let cells = fields(&record)?
            .into_iter()
            .map(|f| if f.trim().is_empty() { Cell::Empty } else { Cell::Text(clean_value(&f).into_owned()) })
            .collect();
        head.rows.push(GridRow { number: line, cells });
    }
    if head.rows.is_empty() {
        return Err(IngestError::EmptyFile.into());
    }
    let width = layout::header_width(&head, opts)?;
    let plan = layout::plan_header(&head, opts, width)?;
    let mut skipped = plan.skipped;
    let mut columns: Vec<TextColumn> = (0..width).map(|_| TextColumn::default()).collect();
    let mut row_numbers = Vec::new();
    let mut in_footer = false;

    // One row of fields, from the head or the stream.
    let mut take_row = |line: usize, values: &[&str]| -> Result<(), ReadError> {
        if in_footer {
            skipped.push(SkippedRow { row: line, reason: SkipReason::Footer });
            return Ok(());
        }
        let first = values.iter().map(|v| clean_value(v)).find(|v| !v.is_empty());
        match layout::classify(first.as_deref()) {
            RowKind::Blank => skipped.push(SkippedRow { row: line, reason: SkipReason::Blank }),
            RowKind::Total => skipped.push(SkippedRow { row: line, reason: SkipReason::Total }),
            RowKind::Footer => {
                in_footer = true;
                skipped.push(SkippedRow { row: line, reason: SkipReason::Footer });
            }
            RowKind::Data => {
                if values.len() > width {
                    let extra: Vec<String> = values[width..]
                        .iter()
                        .map(|v| v.trim())
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .collect();
                    if !extra.is_empty() {
                        return Err(layout::ragged(line, values.len(), width, extra).into());
                    }
                }
                for (col, column) in columns.iter_mut().enumerate() {
                    let value = values.get(col).map(|v| clean_value(v)).filter(|v| !v.is_empty());
                    if !column.push(value.as_deref()) {
                        return Err(
                            IngestError::Write(format!("column {} holds more than 4 GiB of text", col + 1)).into()
                        );
                    }
                }
                row_numbers.push(line);
            }
        }
        Ok(())
    };
    for row in &head.rows[plan.data_start..] {
        let values: Vec<String> = row.cells.iter().map(Cell::display).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        take_row(row.number, &refs)?;
    }
    if !exhausted {
        let mut count = 0u64;
        while let Some(line) = next(&mut csv, &mut record, &mut lines)? {
            for blank in std::mem::take(&mut lines.1) {
                take_row(blank, &[])?;
            }
            // One UTF-8 check per record; fields are slices of it (delimiters are ASCII, so
            // every field boundary is a character boundary).
            let whole = simdutf8::basic::from_utf8(record.as_slice()).map_err(|_| ReadError::NotUtf8)?;
            let mut values: Vec<&str> = Vec::with_capacity(record.len());
            for i in 0..record.len() {
                values.push(record.range(i).and_then(|r| whole.get(r)).unwrap_or_default());
            }
            take_row(line, &values)?;
            count += 1;
            if count.is_multiple_of(65_536) {
                progress(record.position().map_or(0, csv::Position::byte), count);
            }
        }
    }

    let keep = layout::keep_columns(&plan.headers, |c| columns[c].iter().any(|v| v.is_some()));
    let headers: Vec<String> = plan.headers.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(h, _)| h).collect();
    let columns: Vec<TextColumn> = columns.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
    let names = names::normalise_all(&headers);
    if row_numbers.is_empty() {
        return Err(IngestError::NoDataRows { columns: names.len(), names }.into());
    }
    skipped.sort_by_key(|s| s.row);
    Ok(CsvTable { headers, names, columns, row_numbers, header_rows: plan.header_rows, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str, d: char) -> Vec<Vec<String>> {
        records(text, d).map(|r| r.fields).collect()
    }

    #[test]
    fn quotes_commas_newlines_and_crlf() {
        let text = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",z\r\n";
        assert_eq!(fields(text, ','), vec![vec!["a", "b"], vec!["x, y", "say \"hi\""], vec!["two\nlines", "z"]]);
        let lines: Vec<usize> = records(text, ',').map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 2, 3]);
    }

    #[test]
    fn sniffs_each_candidate() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n4;5;6\n"), ';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), '\t');
        assert_eq!(sniff_delimiter("a,b,c\n1,\"2;3\",4\n"), ',');
        assert_eq!(sniff_delimiter("a|b\n1|2\n"), '|');
        // Decimal commas in a `;` file: `,` would score higher but read ragged.
        assert_eq!(sniff_delimiter("so;tien\n7,5;12,25\n1,5;2,75\n3;4\n"), ';');
    }
}
