//! Delimited text (CSV, TSV, TXT): delimiter sniffing, and [`read_table`], which reads
//! records (RFC 4180, through the `csv` crate) straight into compact columns: the header is
//! found in the first rows, and the rest is read in blocks parsed on every core (by `scan`,
//! which splits text in memory as the `csv` crate does, faster), each row classified (data,
//! blank, total, footer) as it comes; memory stays about the size of the text.

use std::borrow::Cow;
use std::io::Read;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::cell::Cell;
use crate::column::TextColumn;
use crate::error::IngestError;
use crate::layout::{self, Grid, GridRow, LayoutOptions, SkippedRow};
use crate::names;

mod parallel;
mod rows;
mod scan;
mod split;

use rows::{Lines, Rows};
use split::Split;

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

/// Choose the delimiter by the contract's rule (README §2): for each candidate, split the
/// first 50 non-blank lines, take the most common field count and how many lines have it; the
/// highest (lines × fields) wins, the earlier candidate on a tie.
///
/// One exception, for `;` or `|` files whose values carry decimal commas (`7,5;12,25`): there
/// `,` splits every data line into more fields than the true delimiter and can win, although
/// it leaves the header whole. So a candidate that splits every line the winner splits from
/// its own first split line on (its header; titles above are not data), and more lines
/// besides (the header), all into the same count, wins over a winner that splits fewer lines
/// or splits them unevenly. A winner that splits the header itself keeps the file: lines that
/// stop early (padded with nulls) are normal there, and another delimiter inside some values
/// (`;` in a note) does not make it the file's.
pub fn sniff_delimiter(text: &str) -> char {
    let candidates: Vec<Sniffed> = CANDIDATES.iter().map(|&d| Sniffed::of(text, d)).collect();
    let Some(best) = candidates.iter().enumerate().filter(|(_, c)| c.score() > 0).max_by(|(i, a), (j, b)| {
        // Highest score; on a tie, the earlier candidate (`max_by` keeps the last maximum).
        a.score().cmp(&b.score()).then_with(|| j.cmp(i))
    }) else {
        return ',';
    };
    let best = best.1;
    let better = candidates
        .iter()
        .filter(|c| c.consistent() && c.covers(best) && (!best.consistent() || c.lines > best.lines))
        .max_by_key(|c| (c.lines, c.score()));
    better.unwrap_or(best).delimiter
}

/// How one candidate delimiter splits the sniffed lines.
struct Sniffed {
    delimiter: char,
    /// The most common field count, and how many lines have it.
    mode: usize,
    lines: usize,
    /// The line each record split into several fields starts on.
    multi: Vec<usize>,
    /// The last line looked at.
    last_line: usize,
}

impl Sniffed {
    fn of(text: &str, delimiter: char) -> Self {
        let sampled: Vec<Record> = records(text, delimiter)
            .filter(|r| !(r.fields.len() == 1 && r.fields[0].trim().is_empty()))
            .take(50)
            .collect();
        let mut counts: Vec<usize> = sampled.iter().map(|r| r.fields.len()).collect();
        counts.sort_unstable();
        let (mut mode, mut lines) = (0, 0);
        for chunk in counts.chunk_by(|a, b| a == b) {
            if chunk.len() > lines || (chunk.len() == lines && chunk[0] > mode) {
                (mode, lines) = (chunk[0], chunk.len());
            }
        }
        let multi = sampled.iter().filter(|r| r.fields.len() > 1).map(|r| r.line).collect();
        let last_line = sampled.last().map_or(0, |r| r.line);
        Self { delimiter, mode, lines, multi, last_line }
    }

    fn score(&self) -> usize {
        if self.mode > 1 { self.mode * self.lines } else { 0 }
    }

    /// Every line split into several fields is split into the most common count.
    fn consistent(&self) -> bool {
        self.mode > 1 && self.lines == self.multi.len()
    }

    /// This candidate splits every line `other` splits, from this one's first split line (its
    /// header: title lines above it are not data) to the last line both looked at.
    fn covers(&self, other: &Sniffed) -> bool {
        let Some(&first) = self.multi.first() else { return false };
        let seen = self.last_line.min(other.last_line);
        other.multi.iter().filter(|l| (first..=seen).contains(*l)).all(|l| self.multi.binary_search(l).is_ok())
    }
}

/// A delimiter as the report shows it.
pub fn delimiter_name(delimiter: char) -> String {
    match delimiter {
        '\t' => "tab".to_string(),
        c => c.to_string(),
    }
}

/// A delimited file read into columns.
#[derive(Debug, Clone, PartialEq)]
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

/// The refusal of text the record reader cannot read (an I/O or record error).
fn unreadable(e: impl std::fmt::Display) -> ReadError {
    ReadError::Ingest(IngestError::NotText { what: format!("unreadable delimited text: {e}") })
}

/// Trimmed, without the Unicode scan when the edges are visible ASCII (most values).
fn trimmed(field: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    if visible(field.as_bytes().first()) && visible(field.as_bytes().last()) { field } else { field.trim() }
}

/// Trimmed and NFC, borrowing when the text already is.
pub fn clean_value(field: &str) -> Cow<'_, str> {
    let t = trimmed(field);
    if t.is_ascii() || plainly_nfc(t.as_bytes()) || is_nfc_quick(t.chars()) == IsNormalized::Yes {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(t.nfc().collect())
    }
}

/// Every character is below U+0300 or in U+1E00–U+1EFF: Latin letters with their precomposed
/// marks (all of Vietnamese), which are NFC as they stand. Only text with other characters
/// (combining marks first) needs the full check. Read from the UTF-8 bytes: U+0300 is the
/// first character whose lead byte is 0xCC or above, and U+1E00–U+1EFF are `E1 B8..=BB ..`.
pub(crate) fn plainly_nfc(bytes: &[u8]) -> bool {
    // 32 bytes at a time, with the byte after them, checked without branching so that the
    // check is vectorised: a byte of 0xCC or above must be 0xE1 with 0xB8..=0xBB after it.
    // (Continuation bytes are below 0xCC, so where a character starts does not matter.)
    const LANES: usize = 32;
    let mut i = 0;
    while let Some(Ok(window)) = bytes.get(i..i + LANES + 1).map(<&[u8; LANES + 1]>::try_from) {
        let mut other = false;
        for j in 0..LANES {
            let vietnamese = (window[j] == 0xE1) & (window[j + 1].wrapping_sub(0xB8) < 4);
            other |= (window[j] >= 0xCC) & !vietnamese;
        }
        if other {
            return false;
        }
        i += LANES;
    }
    while let Some(&b) = bytes.get(i) {
        if b < 0xCC {
            i += 1;
        } else if b == 0xE1 && matches!(bytes.get(i + 1), Some(0xB8..=0xBB)) {
            i += 3;
        } else {
            return false;
        }
    }
    true
}

/// Records read before the header is chosen (the contract looks at the first 30 rows).
const HEAD_ROWS: usize = 30;

/// The first records of a file, and whether they are all it has.
fn read_head<R: Read>(
    csv: &mut rows::RecordReader<R>,
    lines: &mut Lines,
    opts: LayoutOptions,
) -> Result<(Grid, bool), ReadError> {
    // Enough rows to find the header in, and the row under it.
    let head_len = HEAD_ROWS.max(opts.header_row.map_or(0, |h| h.saturating_add(3))).saturating_add(2);
    let mut head = Grid { rows: Vec::new(), merges: Vec::new(), row_unit: "line" };
    let mut record = csv::ByteRecord::new();
    while head.rows.len() < head_len {
        let Some((line, blanks)) = lines.read(csv, &mut record)? else {
            return Ok((head, true));
        };
        head.rows.extend(blanks.map(|l| GridRow { number: l, cells: Vec::new() }));
        rows::check_record(line, record.len(), record.iter().map(<[u8]>::len), &opts.limits)?;
        let cells = record
            .iter()
            .map(|f| {
                let f = std::str::from_utf8(f).map_err(|_| ReadError::NotUtf8)?;
                Ok(if f.trim().is_empty() { Cell::Empty } else { Cell::Text(clean_value(f).into_owned()) })
            })
            .collect::<Result<Vec<Cell>, ReadError>>()?;
        head.rows.push(GridRow { number: line, cells });
    }
    Ok((head, false))
}

/// The header found in the head, and the head's rows under it taken.
struct Header {
    headers: Vec<String>,
    header_rows: Vec<usize>,
    /// A bare `1 2 … n` line under the header, taken as data until the end (see `layout`).
    numbers_row: Option<usize>,
    rows: Rows,
}

fn plan_head(head: &Grid, opts: LayoutOptions) -> Result<Header, ReadError> {
    if head.rows.is_empty() {
        return Err(IngestError::EmptyFile.into());
    }
    let width = layout::header_width(head, opts)?;
    let plan = layout::plan_header(head, opts, width)?;
    let mut rows = Rows::new(width, false, opts.limits);
    rows.skipped = plan.skipped;
    for row in &head.rows[plan.data_start..] {
        let values: Vec<String> = row.cells.iter().map(Cell::display).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        rows.take(row.number, &refs)?;
    }
    Ok(Header { headers: plan.headers, header_rows: plan.header_rows, numbers_row: plan.numbers_row, rows })
}

/// Stream UTF-8 delimited text from `reader` into a [`CsvTable`]. `progress` is called now and
/// then with the bytes and records read so far.
///
/// The head (the first rows, where the header is found) is read first. The rest is read in
/// blocks parsed on every core, unless its quoting is irregular or one record is longer than
/// a block, when it is read from start to end on one.
pub fn read_table<R: Read>(
    reader: R,
    delimiter: u8,
    opts: LayoutOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CsvTable, ReadError> {
    read_table_in_blocks(reader, delimiter, opts, parallel::BLOCK, progress)
}

/// [`read_table`] reading `block` bytes at a time (tests cut small files into many pieces).
pub fn read_table_in_blocks<R: Read>(
    mut reader: R,
    delimiter: u8,
    opts: LayoutOptions,
    block: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CsvTable, ReadError> {
    let block = block.max(1);
    let mut first = Vec::with_capacity(block);
    (&mut reader).take(block as u64).read_to_end(&mut first).map_err(unreadable)?;
    let at_eof = first.len() < block;
    let cut = if at_eof {
        Some(first.len())
    } else {
        match split::split_point(&first, delimiter) {
            Split::At { end } => Some(end),
            Split::None | Split::Irregular => None,
        }
    };
    if let Some(cut) = cut {
        let mut csv = rows::reader(&first[..cut], delimiter, &opts.limits);
        let mut lines = Lines::starting_at(1);
        let (head, exhausted) = read_head(&mut csv, &mut lines, opts)?;
        // A head longer than the block (30 rows of huge records) is read again below.
        if at_eof || !exhausted {
            let (start, first_line) = (csv.position().byte() as usize, lines.next());
            drop(csv);
            let mut header = plan_head(&head, opts)?;
            let head_rows = std::mem::take(&mut header.rows);
            let shape = parallel::Shape { width: head_rows.columns.len(), delimiter, block, limits: opts.limits };
            let start = parallel::Start { first, start, cut, first_line, at_eof };
            let pieces = parallel::read_body(start, reader, head_rows, shape, progress)?;
            return assemble(header, pieces);
        }
    }
    // From start to end on one core, the first block read again.
    let mut csv = rows::reader(std::io::Cursor::new(first).chain(reader), delimiter, &opts.limits);
    let mut lines = Lines::starting_at(1);
    let (head, exhausted) = read_head(&mut csv, &mut lines, opts)?;
    let mut header = plan_head(&head, opts)?;
    if !exhausted {
        rows::read_records(&mut csv, &mut lines, &mut header.rows, (0, 0), progress)?;
    }
    let rows = std::mem::take(&mut header.rows);
    assemble(header, vec![rows])
}

/// One table from the pieces read, in file order.
fn assemble(header: Header, pieces: Vec<Rows>) -> Result<CsvTable, ReadError> {
    let Header { headers, header_rows, numbers_row, .. } = header;
    let width = headers.len();
    let mut row_numbers = Vec::with_capacity(pieces.iter().map(|p| p.row_numbers.len()).sum());
    let mut skipped = Vec::new();
    let mut parts: Vec<Vec<TextColumn>> = (0..width).map(|_| Vec::with_capacity(pieces.len())).collect();
    for piece in pieces {
        row_numbers.extend(piece.row_numbers);
        skipped.extend(piece.skipped);
        for (part, column) in parts.iter_mut().zip(piece.columns) {
            part.push(column);
        }
    }
    let mut columns: Vec<TextColumn> = parts.into_iter().map(TextColumn::concat).collect();
    let column_refs: Vec<&TextColumn> = columns.iter().collect();
    if layout::drop_numbers_row(numbers_row, &row_numbers, &column_refs, &mut skipped) {
        row_numbers.remove(0);
        for column in &mut columns {
            column.remove_first();
        }
    }
    let keep = layout::keep_columns(&headers, |c| columns[c].iter().any(|v| v.is_some()));
    let headers: Vec<String> = headers.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(h, _)| h).collect();
    let columns: Vec<TextColumn> = columns.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
    let names = names::normalise_all(&headers);
    if row_numbers.is_empty() {
        return Err(IngestError::NoDataRows { columns: names.len(), names }.into());
    }
    skipped.sort_by_key(|s| s.row);
    Ok(CsvTable { headers, names, columns, row_numbers, header_rows, skipped })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    /// One line of a generated file: data, or the rows agencies put among their data.
    fn line() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            40 => "[a-z0-9 ]{0,6}",
            20 => "[ĐđăâêôơưÀ-ỹa-z]{1,5}",
            10 => "\"[a-z,;\n\r ]{0,6}\"",
            10 => "\"[a-z]{0,3}\"\"[a-z]{0,3}\"",
            // Decomposed marks, which must come out composed (NFC).
            2 => Just("Hoa\u{300}n Kie\u{302}\u{301}m".to_string()),
            // A stray quote, which sends the rest of the file to the one-core reader.
            1 => Just("5\" x".to_string()),
        ];
        prop_oneof![
            60 => proptest::collection::vec(field, 1..5).prop_map(|f| f.join(",")),
            4 => Just(String::new()),
            2 => Just("Tổng cộng,12,".to_string()),
            1 => Just("Người lập biểu".to_string()),
            1 => Just("1,2,3,4,5,6,7".to_string()),
        ]
    }

    fn read(text: &str, block: usize) -> Result<CsvTable, String> {
        let opts = LayoutOptions { header_row: None, strict_width: true, ..Default::default() };
        read_table_in_blocks(text.as_bytes(), b',', opts, block, &mut |_, _| {}).map_err(|e| match e {
            ReadError::Ingest(e) => e.to_string(),
            ReadError::NotUtf8 => "not UTF-8".to_string(),
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// However the file is cut into blocks, the table (every value, line number and
        /// skipped row) or the refusal is the one of reading it whole.
        #[test]
        fn blocks_read_as_one(
            lines in proptest::collection::vec(line(), 0..40),
            crlf in proptest::bool::ANY,
            block in 1usize..96,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let text = format!("ma,ten,so,ghi chu{end}{}", lines.join(end));
            let whole = read(&text, 1 << 20);
            if let Ok(table) = &whole {
                let nfc = table.columns.iter().flat_map(|c| c.iter().flatten()).all(|v| v.nfc().eq(v.chars()));
                proptest::prop_assert!(nfc, "a value is not NFC");
            }
            proptest::prop_assert_eq!(read(&text, block), whole);
        }
    }

    #[test]
    fn plain_vietnamese_is_nfc_without_the_full_check() {
        for (text, plain) in [
            ("Đăng ký khai sinh", true),
            ("Phường Đồng Mai, Hà Đông", true),
            ("Ấp Ỹ ỹ", true),
            ("Cafe\u{301}", false),
            ("中文", false),
            ("ℌ", false),
        ] {
            assert_eq!(plainly_nfc(text.as_bytes()), plain, "{text}");
            let all = text.chars().all(|c| (c as u32) < 0x300 || (0x1E00..=0x1EFF).contains(&(c as u32)));
            assert_eq!(plain, all, "{text}");
        }
        assert_eq!(clean_value(" Cafe\u{301} "), "Café");
    }

    proptest::proptest! {
        /// Long texts too (checked 32 bytes at a time), with at most a few other characters.
        #[test]
        fn plainly_nfc_is_its_rule(chars in proptest::collection::vec(prop_oneof![
            40 => proptest::sample::select(&['a', ' ', ',', 'Đ', 'đ', 'ă', 'ơ', 'ư', 'ạ', 'ế', 'ỹ', 'Ỹ', '\u{1e00}', '\u{1eff}'][..]),
            1 => proptest::sample::select(&['\u{300}', '\u{301}', '\u{1f00}', '\u{2000}', '中'][..]),
        ], 0..120)) {
            let text: String = chars.into_iter().collect();
            let rule = text.chars().all(|c| (c as u32) < 0x300 || (0x1E00..=0x1EFF).contains(&(c as u32)));
            proptest::prop_assert_eq!(plainly_nfc(text.as_bytes()), rule);
        }
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

    #[test]
    fn the_contract_rule_and_its_one_exception() {
        // Every value with a decimal comma: `,` scores 3 × 3 against `;`'s 2 × 4, but leaves
        // the header whole, and `;` splits every line alike.
        assert_eq!(sniff_delimiter("x;y\n7,5;1,25\n2,5;3,75\n0,5;8,5\n"), ';');
        // The property test's case: `|` under `Cột số 1|Cột số 2`.
        assert_eq!(sniff_delimiter("Cột số 1|Cột số 2\n0,1|0,1\n0,1|0,1\n0,1|0,1\n-0,04|-5.124,98\n"), '|');
        // `,` splits the header and most lines into four fields; one line stops early, and
        // the notes hold a `;`, which splits every line holding it alike: `,` still wins.
        let text = "ma,ten,ngay,ghi chu\n1,An,01/03/2024,a; b\n2,Binh,02/03/2024,c; d\n3,Chi\n4,Dung,03/03/2024,e; f\n";
        assert_eq!(sniff_delimiter(text), ',');
        // A title above the header may hold a comma: it is not data.
        assert_eq!(sniff_delimiter("UBND QUẬN BA ĐÌNH, PHÒNG TN-MT\nx;y\n7,5;1,25\n2,5;3,75\n0,5;8,5\n"), ';');
    }
}
