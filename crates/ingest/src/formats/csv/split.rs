//! Where a block of delimited text can be cut so that each piece holds whole records, found
//! without parsing: a newline outside quotes ends a record.
//!
//! That rule matches the record reader (`csv_core`) only where quotes are used the RFC 4180
//! way: a quote opens a field (after a delimiter or a newline) and closes it (before a
//! delimiter, a newline or a carriage return), or is doubled inside it. Any other quote (`5"`,
//! `"a"b`) makes the text [`Split::Irregular`], and the caller reads it in one piece instead.

use memchr::memchr2_iter;

/// The answer of [`split_point`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `bytes[..end]` holds whole records.
    At { end: usize },
    /// No newline outside quotes yet: one record is longer than the block.
    None,
    /// A quote that is not where RFC 4180 puts quotes.
    Irregular,
}

/// The last record boundary in `bytes`, which start at a record boundary.
pub fn split_point(bytes: &[u8], delimiter: u8) -> Split {
    let mut quoted = false;
    let mut last = None;
    let mut skip_to = 0;
    for pos in memchr2_iter(b'"', b'\n', bytes) {
        if pos < skip_to {
            continue;
        }
        if bytes[pos] == b'\n' {
            if !quoted {
                last = Some(pos + 1);
            }
            continue;
        }
        if quoted {
            match bytes.get(pos + 1) {
                Some(b'"') => skip_to = pos + 2,
                Some(&next) if next == delimiter || next == b'\n' || next == b'\r' => quoted = false,
                // The block ends here: what follows decides, in the next block.
                None => break,
                Some(_) => return Split::Irregular,
            }
        } else {
            if pos > 0 && bytes[pos - 1] != delimiter && bytes[pos - 1] != b'\n' {
                return Split::Irregular;
            }
            quoted = true;
        }
    }
    match last {
        Some(end) => Split::At { end },
        None => Split::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_after_the_last_newline_outside_quotes() {
        let text = b"a,b\n\"x\ny\",\"say \"\"hi\"\"\"\r\n1,\"open\nstill open";
        assert_eq!(split_point(text, b','), Split::At { end: 24 });
        assert_eq!(&text[..24], b"a,b\n\"x\ny\",\"say \"\"hi\"\"\"\r\n".as_slice());
        assert_eq!(split_point(b"1;2\n3;4\n", b';'), Split::At { end: 8 });
        assert_eq!(split_point(b"\"one long\nrecord", b','), Split::None);
        assert_eq!(split_point(b"\"\"\n", b','), Split::At { end: 3 });
    }

    #[test]
    fn stray_quotes_are_irregular() {
        assert_eq!(split_point(b"a,5\" monitor\n", b','), Split::Irregular);
        assert_eq!(split_point(b"\"a\"b,c\n", b','), Split::Irregular);
        assert_eq!(split_point(b"a, \"b\"\n", b','), Split::Irregular);
        // A closing quote at the very end is decided by the bytes that follow.
        assert_eq!(split_point(b"a\n\"b\"", b','), Split::At { end: 2 });
    }
}
