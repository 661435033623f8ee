//! Delimited text (CSV, TSV, TXT): delimiter sniffing and an RFC 4180 record splitter that
//! remembers the line each record starts on, so errors and the report can name it.

use crate::cell::Cell;
use crate::layout::{Grid, GridRow};

/// Delimiters tried when none is given, in order of preference on a tie.
pub const CANDIDATES: [char; 4] = [',', ';', '\t', '|'];

/// One record: the 1-based line it starts on and its fields (unquoted, untrimmed).
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
pub fn sniff_delimiter(text: &str) -> char {
    let mut best = (',', 0usize);
    for delimiter in CANDIDATES {
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
        let score = if mode > 1 { mode * mode_lines } else { 0 };
        if score > best.1 {
            best = (delimiter, score);
        }
    }
    best.0
}

/// A delimiter as the report shows it.
pub fn delimiter_name(delimiter: char) -> String {
    match delimiter {
        '\t' => "tab".to_string(),
        c => c.to_string(),
    }
}

/// The whole text as a grid of text cells, one row per record, numbered by line.
pub fn grid(text: &str, delimiter: char) -> Grid {
    let rows = records(text, delimiter)
        .map(|r| GridRow {
            number: r.line,
            cells: r.fields.into_iter().map(|f| if f.is_empty() { Cell::Empty } else { Cell::Text(f) }).collect(),
        })
        .collect();
    Grid { rows, merges: Vec::new(), row_unit: "line" }
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
    }
}
