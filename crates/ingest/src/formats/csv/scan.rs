//! Records of delimited text held in memory, split exactly as the record reader
//! ([`super::rows::reader`], `csv_core`) splits them, but a field at a time with `memchr`
//! rather than a byte at a time through a state machine. The body of a large file is read this
//! way (see `parallel`); a test checks it against the reader on arbitrary text.
//!
//! The reader's rules, as it is set up: `\n` ends a record, and an empty line is no record. A
//! field that starts with `"` is quoted until a `"` that is not doubled (`""` is one `"`), and
//! may hold delimiters and newlines; what follows the closing quote, up to a delimiter or `\n`,
//! is part of the field, quotes included. A quote in a field that did not start with one is a
//! plain character, and so is `\r` (a CRLF record's last field keeps it, to be trimmed). An
//! unclosed quote runs to the end of the text.

use std::ops::Range;

use memchr::{memchr, memchr2};

/// Where one field's text is.
#[derive(Debug, Clone)]
enum Field {
    /// The field is `text[range]` as it stands (unquoted, or quoted with nothing to undo).
    Plain(Range<usize>),
    /// A quoted field with doubled quotes, text after its closing quote, or no closing quote:
    /// `text[range]` from its opening quote, to be undone by [`unquote`].
    Quoted(Range<usize>),
}

/// Most records have fewer fields: their values are gathered on the stack.
const FEW: usize = 32;

/// Call `take(line, fields)` for every record of `text`, whose first byte is on line
/// `first_line`; before a record, `take(line, &[])` for each empty line since the record
/// before. Empty lines after the last record are not taken. Returns the line after the last
/// record. A record of more than `most` fields comes with its first `most` only.
pub fn records<E>(
    text: &str,
    delimiter: u8,
    first_line: usize,
    most: usize,
    mut take: impl FnMut(usize, &[&str]) -> Result<(), E>,
) -> Result<usize, E> {
    let bytes = text.as_bytes();
    let (mut pos, mut line, mut next) = (0, first_line, first_line);
    let mut fields: Vec<Field> = Vec::with_capacity(FEW);
    let mut unquoted: Vec<String> = Vec::new();
    while pos < bytes.len() {
        if bytes[pos] == b'\n' {
            pos += 1;
            line += 1;
            continue;
        }
        let start = line;
        fields.clear();
        loop {
            let (field, end, newlines) = field_at(bytes, pos, delimiter);
            if fields.len() < most {
                fields.push(field);
            }
            line += newlines;
            match bytes.get(end) {
                Some(b'\n') => {
                    pos = end + 1;
                    line += 1;
                    break;
                }
                // The delimiter: another field follows, empty at the end of the text.
                Some(_) => pos = end + 1,
                None => {
                    pos = end;
                    line += 1;
                    break;
                }
            }
        }
        for blank in next..start {
            take(blank, &[])?;
        }
        next = line;
        unquoted.clear();
        unquoted.extend(fields.iter().filter_map(|f| match f {
            Field::Quoted(range) => Some(unquote(&text[range.clone()])),
            Field::Plain(_) => None,
        }));
        let mut unquoted_values = unquoted.iter();
        let mut value = |field: &Field| match field {
            Field::Plain(range) => text.get(range.clone()).unwrap_or_default(),
            Field::Quoted(_) => unquoted_values.next().map_or("", String::as_str),
        };
        if fields.len() <= FEW {
            let mut few = [""; FEW];
            for (slot, field) in few.iter_mut().zip(&fields) {
                *slot = value(field);
            }
            take(start, &few[..fields.len()])?;
        } else {
            take(start, &fields.iter().map(value).collect::<Vec<_>>())?;
        }
    }
    Ok(next)
}

/// The field starting at `pos`: where it is, where it ends (at a delimiter, a `\n` or the end
/// of the text), and the newlines inside it.
fn field_at(bytes: &[u8], pos: usize, delimiter: u8) -> (Field, usize, usize) {
    let stop_after = |from: usize| from + memchr2(delimiter, b'\n', &bytes[from..]).unwrap_or(bytes.len() - from);
    if bytes.get(pos) != Some(&b'"') {
        let end = stop_after(pos);
        return (Field::Plain(pos..end), end, 0);
    }
    let newlines = |part: &[u8]| part.iter().filter(|b| **b == b'\n').count();
    let (mut from, mut inner, mut doubled) = (pos + 1, 0, false);
    loop {
        let Some(quote) = memchr(b'"', &bytes[from..]).map(|q| from + q) else {
            inner += newlines(&bytes[from..]);
            return (Field::Quoted(pos..bytes.len()), bytes.len(), inner);
        };
        inner += newlines(&bytes[from..quote]);
        if bytes.get(quote + 1) == Some(&b'"') {
            (from, doubled) = (quote + 2, true);
            continue;
        }
        let end = stop_after(quote + 1);
        let field = if doubled || end > quote + 1 { Field::Quoted(pos..end) } else { Field::Plain(pos + 1..quote) };
        return (field, end, inner);
    }
}

/// The value of a quoted field, `raw` from its opening quote: doubled quotes made single, the
/// closing quote dropped, and whatever follows it kept as it is.
fn unquote(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut rest = &raw[1..];
    while let Some(quote) = rest.find('"') {
        value.push_str(&rest[..quote]);
        if rest[quote + 1..].starts_with('"') {
            value.push('"');
            rest = &rest[quote + 2..];
        } else {
            value.push_str(&rest[quote + 1..]);
            return value;
        }
    }
    value.push_str(rest);
    value
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Records as the record reader gives them, with the lines the reading path works out.
    fn by_reader(text: &str, delimiter: u8) -> (Vec<(usize, Vec<String>)>, usize) {
        let mut csv = super::super::rows::reader(text.as_bytes(), delimiter, &Default::default());
        let mut lines = super::super::rows::Lines::starting_at(1);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some((line, blanks)) = lines.read(&mut csv, &mut record).unwrap() {
            out.extend(blanks.map(|b| (b, Vec::new())));
            let fields = record.iter().map(|f| String::from_utf8(f.to_vec()).unwrap()).collect();
            out.push((line, fields));
        }
        (out, lines.next())
    }

    fn scanned(text: &str, delimiter: u8) -> (Vec<(usize, Vec<String>)>, usize) {
        let mut out = Vec::new();
        let next = records::<()>(text, delimiter, 1, usize::MAX, |line, fields| {
            out.push((line, fields.iter().map(|f| f.to_string()).collect()));
            Ok(())
        })
        .unwrap();
        (out, next)
    }

    #[test]
    fn quotes_doubled_quotes_newlines_and_tails() {
        let text = "a,\"b,\"\"c\"\"\"\r\n\n\"two\nlines\",x\"y\"\n\"q\"tail,\"open\nto the end";
        let (records, next) = scanned(text, b',');
        let expected: Vec<(usize, Vec<&str>)> = vec![
            (1, vec!["a", "b,\"c\"\r"]),
            (2, vec![]),
            (3, vec!["two\nlines", "x\"y\""]),
            (5, vec!["qtail", "open\nto the end"]),
        ];
        let expected: Vec<(usize, Vec<String>)> =
            expected.into_iter().map(|(l, f)| (l, f.into_iter().map(String::from).collect())).collect();
        assert_eq!(records, expected);
        assert_eq!(next, 7);
        assert_eq!((records, next), by_reader(text, b','));
    }

    #[test]
    fn many_fields_and_trailing_delimiters() {
        let wide = vec!["x"; 40].join(";") + ";\n\n\n";
        assert_eq!(scanned(&wide, b';'), by_reader(&wide, b';'));
        assert_eq!(scanned(&wide, b';').1, 2);
        assert_eq!(scanned(&wide, b';').0[0].1.len(), 41);
        assert_eq!(scanned("", b','), (vec![], 1));
        assert_eq!(scanned("\n\n", b','), by_reader("\n\n", b','));
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any text at all (stray quotes, unclosed quotes, CR, empty lines) splits into the
        /// records and lines the record reader gives.
        #[test]
        fn splits_as_the_record_reader(text in "[a,;\"\n\r é]{0,60}", semicolon in proptest::bool::ANY) {
            let delimiter = if semicolon { b';' } else { b',' };
            proptest::prop_assert_eq!(scanned(&text, delimiter), by_reader(&text, delimiter));
        }
    }
}
