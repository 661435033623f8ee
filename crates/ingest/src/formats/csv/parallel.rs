//! The body of a large delimited file, read on every core: the calling thread reads blocks,
//! cuts each after its last whole record ([`split_point`]), and hands it to a worker, which
//! parses it into its own [`Rows`]. The pieces are taken back in file order, so a footer, an
//! error or a line number comes out exactly as a reading from start to end would give it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::ops::Range;
use std::sync::{Mutex, mpsc};

use super::rows::{self, Lines, Rows, Sizing, check_rows};
use super::split::{Split, split_point};
use super::{ReadError, scan};
use crate::limits::{self, Limits};

/// Bytes read at a time, and so the size of a worker's piece.
pub const BLOCK: usize = 8 << 20;

/// One piece of the file for a worker.
#[derive(Debug)]
struct Job {
    index: usize,
    bytes: Vec<u8>,
    /// Where in `bytes` the piece's records are.
    range: Range<usize>,
    /// Line of the piece's first byte, and newlines in it.
    first_line: usize,
    lines: usize,
    /// The piece ends the file.
    last: bool,
    sizing: Sizing,
}

/// What the reader needs to know: the table's width, the delimiter, the bytes to read at a
/// time, and the limits.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub width: usize,
    pub delimiter: u8,
    pub block: usize,
    pub limits: Limits,
}

/// Where the body starts: `first` is the block read so far, its records from `start` on
/// (line `first_line`) are the body's first, and `first[..cut]` ends on a record boundary
/// (`cut` is `first.len()` when `at_eof`).
#[derive(Debug)]
pub struct Start {
    pub first: Vec<u8>,
    pub start: usize,
    pub cut: usize,
    pub first_line: usize,
    pub at_eof: bool,
}

/// Parse one piece into rows; `in_footer` when a footer came before it.
fn parse(job: &Job, shape: Shape, in_footer: bool) -> Result<Rows, ReadError> {
    let mut rows = job.sizing.rows_for(shape.width, in_footer, job.range.len(), shape.limits);
    let piece = &job.bytes[job.range.clone()];
    // One check of the whole piece (delimiters and quotes are ASCII, so every field is text
    // too) spares one per record, and one per value for NFC.
    let text = simdutf8::basic::from_utf8(piece).map_err(|_| ReadError::NotUtf8)?;
    rows.nfc = super::plainly_nfc(piece);
    // A record wider than `max_columns` comes with one field more than that, and is refused.
    let most = usize::try_from(shape.limits.max_columns).unwrap_or(usize::MAX).saturating_add(1);
    let next = scan::records(text, shape.delimiter, job.first_line, most, |line, values| rows.take(line, values))?;
    if !job.last {
        // Empty lines closing the piece, which the next record would have shown as blank rows.
        // (At the end of the file they are not rows.)
        for blank in next..job.first_line + job.lines {
            rows.take(blank, &[])?;
        }
    }
    Ok(rows)
}

/// Pieces taken back in file order.
struct Ordered {
    shape: Shape,
    next: usize,
    waiting: BTreeMap<usize, (Job, Result<Rows, ReadError>)>,
    pieces: Vec<Rows>,
    in_footer: bool,
    rows: u64,
    /// Rows taken, data or skipped.
    taken: u64,
    /// Learnt from the last piece taken back (or the head).
    sizing: Sizing,
    /// Blocks whose pieces are parsed, to read into again.
    spare: Vec<Vec<u8>>,
}

impl Ordered {
    fn accept(&mut self, job: Job, result: Result<Rows, ReadError>) -> Result<(), ReadError> {
        self.waiting.insert(job.index, (job, result));
        while let Some((job, result)) = self.waiting.remove(&self.next) {
            // After a footer every row is footer, whatever the worker made of it.
            let rows = if self.in_footer { parse(&job, self.shape, true)? } else { result? };
            self.in_footer = rows.in_footer;
            self.rows += rows.row_numbers.len() as u64;
            self.taken += rows.taken();
            check_rows(self.taken, self.rows, self.shape.width, &self.shape.limits)?;
            if !rows.row_numbers.is_empty() {
                self.sizing = Sizing::of(&rows, job.range.len());
            }
            self.pieces.push(rows);
            self.next += 1;
            self.spare.push(job.bytes);
        }
        Ok(())
    }
}

/// Read the body of the file into pieces of rows, in file order, after `head` (the rows taken
/// from the head). `progress` is called with the bytes read and the data rows taken so far.
pub fn read_body<R: Read>(
    start: Start,
    mut reader: R,
    head: Rows,
    shape: Shape,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<Rows>, ReadError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut ordered = Ordered {
        shape,
        next: 0,
        waiting: BTreeMap::new(),
        in_footer: head.in_footer,
        rows: head.row_numbers.len() as u64,
        taken: head.taken(),
        // The head's rows and the bytes up to their end (title and header lines included).
        sizing: Sizing::of(&head, start.start),
        pieces: vec![head],
        spare: Vec::new(),
    };
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers);
    let (done_tx, done_rx) = mpsc::channel::<(Job, Result<Rows, ReadError>)>();
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (jobs, done) = (&job_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    let Ok(Ok(job)) = jobs.lock().map(|rx| rx.recv()) else { break };
                    let result = parse(&job, shape, false);
                    if done.send((job, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let job_tx = job_tx;
        let Start { first, start, cut, first_line, at_eof } = start;
        let (mut block, mut range, mut last, mut line) = (first, start..cut, at_eof, first_line);
        let mut bytes_read = block.len() as u64;
        let mut index = 0;
        loop {
            let carry = block[range.end..].to_vec();
            let lines = memchr::memchr_iter(b'\n', &block[range.clone()]).count();
            let sizing = ordered.sizing.clone();
            let job = Job { index, bytes: block, range, first_line: line, lines, last, sizing };
            if job_tx.send(job).is_err() {
                break;
            }
            (index, line) = (index + 1, line + lines);
            while let Ok((job, result)) = done_rx.try_recv() {
                ordered.accept(job, result)?;
            }
            progress(bytes_read, ordered.rows);
            if last {
                break;
            }
            // The next block: the unfinished record, then more bytes, until a cut is found.
            let mut next = ordered.spare.pop().unwrap_or_default();
            next.clear();
            next.extend_from_slice(&carry);
            let cut = loop {
                let before = next.len();
                next.reserve(shape.block);
                (&mut reader).take(shape.block as u64).read_to_end(&mut next).map_err(super::unreadable)?;
                bytes_read += (next.len() - before) as u64;
                if next.len() - before < shape.block {
                    break Some((next.len(), true));
                }
                match split_point(&next, shape.delimiter) {
                    Split::At { end } => break Some((end, false)),
                    // One record so far, which starts on `line`: refused once above the limit,
                    // before more of it is read.
                    Split::None if next.len() as u64 > shape.limits.max_record_bytes => {
                        let (what, limit) = (format!("the record on line {line}"), shape.limits.max_record_bytes);
                        return Err(limits::exceeded(what, None, limit, "bytes", "max_record_bytes").into());
                    }
                    Split::None => {}
                    Split::Irregular => break None,
                }
            };
            let Some((end, eof)) = cut else {
                // Quotes this cutting cannot follow: take back what the workers have, then
                // read the rest in one go.
                drop(job_tx);
                for (job, result) in done_rx.iter() {
                    ordered.accept(job, result)?;
                }
                let mut rest = Rows::new(shape.width, ordered.in_footer, shape.limits);
                let done = bytes_read - next.len() as u64;
                let mut csv = rows::reader(Cursor::new(next).chain(&mut reader), shape.delimiter, &shape.limits);
                let mut lines = Lines::starting_at(line);
                let taken = ordered.rows;
                let before = (ordered.taken, ordered.rows);
                rows::read_records(&mut csv, &mut lines, &mut rest, before, &mut |bytes, count| {
                    progress(done + bytes, taken + count);
                })?;
                ordered.pieces.push(rest);
                return Ok(ordered.pieces);
            };
            (block, range, last) = (next, 0..end, eof);
        }
        drop(job_tx);
        for (job, result) in done_rx.iter() {
            ordered.accept(job, result)?;
        }
        Ok(ordered.pieces)
    })
}
