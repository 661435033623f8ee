//! Reading parts of a zipped office document (XLSX, ODS) that calamine does not expose: one
//! part's bytes, and its elements one by one with their attributes, always through a counting
//! reader that stops at the part limit; and the check of the archive's declared sizes, made
//! before calamine opens it.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::error::Result;
use crate::limits::{self, INFLATE_RATIO_FLOOR, Limits};

/// A document's zip archive, read from memory.
pub type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// Open the archive; `None` when the bytes are no zip (XLS) or a damaged one (calamine says
/// what is wrong with it).
pub fn open(bytes: &[u8]) -> Option<Archive<'_>> {
    zip::ZipArchive::new(Cursor::new(bytes)).ok()
}

/// Refuse an archive whose central directory declares a part inflating above `max_part_bytes`
/// or above `max_inflate_ratio` times its compressed size (parts above the ratio's floor), or
/// parts inflating above `max_inflated_bytes` together. Declared sizes bound what any reader
/// gets: the zip crate fails a part as soon as it inflates past its declared size, so a part
/// that lies is cut short there (calamine then reports it damaged), and our own reads count
/// besides ([`part`], [`each_element_of`]).
pub fn check_archive(zip: &mut Archive<'_>, limits: &Limits) -> Result<()> {
    let mut total = 0u64;
    for i in 0..zip.len() {
        let Ok(file) = zip.by_index_raw(i) else { continue };
        let name = file.name().map(Cow::into_owned).unwrap_or_default();
        let (size, packed) = (file.size(), file.compressed_size());
        if size > limits.max_part_bytes {
            let what = format!("the part `{name}` of the workbook, inflated,");
            return Err(limits::exceeded(what, Some(size), limits.max_part_bytes, "bytes", "max_part_bytes"));
        }
        if size > INFLATE_RATIO_FLOOR && size / packed.max(1) > limits.max_inflate_ratio {
            let what = format!("the part `{name}` of the workbook ({packed} bytes compressed, {size} inflated)");
            let (found, limit) = (size / packed.max(1), limits.max_inflate_ratio);
            return Err(limits::exceeded(what, Some(found), limit, "times its compressed size", "max_inflate_ratio"));
        }
        total = total.saturating_add(size);
    }
    if total > limits.max_inflated_bytes {
        let what = "the parts of the workbook, inflated,";
        return Err(limits::exceeded(what, Some(total), limits.max_inflated_bytes, "bytes", "max_inflated_bytes"));
    }
    Ok(())
}

/// A reader that fails once more than `left` bytes have come through it.
struct Counted<R> {
    inner: R,
    left: u64,
    over: bool,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => {
                self.over = true;
                Err(std::io::Error::other("part above its limit"))
            }
        }
    }
}

/// The refusal of a part that inflated past `max_part_bytes` while read.
fn part_too_large(name: &str, limits: &Limits) -> crate::error::IngestError {
    let what = format!("the part `{name}` of the workbook, inflated,");
    limits::exceeded(what, None, limits.max_part_bytes, "bytes", "max_part_bytes")
}

/// The bytes of the part `name`; `None` when there is none or it cannot be read.
pub fn part(zip: &mut Archive<'_>, name: &str, limits: &Limits) -> Result<Option<Vec<u8>>> {
    let Ok(file) = zip.by_name(name) else { return Ok(None) };
    let mut counted = Counted { inner: file, left: limits.max_part_bytes, over: false };
    let mut out = Vec::new();
    match counted.read_to_end(&mut out) {
        Ok(_) => Ok(Some(out)),
        Err(_) if counted.over => Err(part_too_large(name, limits)),
        Err(_) => Ok(None),
    }
}

/// [`each_element`] over the part `name`, streamed (never held whole), for as long as `f`
/// returns `true`; `None` when there is no such part or it is not well-formed XML.
pub fn each_element_of(
    zip: &mut Archive<'_>,
    name: &str,
    limits: &Limits,
    f: impl FnMut(&BytesStart<'_>, bool) -> bool,
) -> Result<Option<()>> {
    let Ok(file) = zip.by_name(name) else { return Ok(None) };
    let mut counted = Counted { inner: file, left: limits.max_part_bytes, over: false };
    let done = walk(BufReader::with_capacity(64 << 10, &mut counted), f);
    if counted.over {
        return Err(part_too_large(name, limits));
    }
    Ok(done)
}

/// The value, unescaped (`&quot;` is `"`), of the attribute whose local name (without its
/// namespace prefix) is `name`.
pub fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name)?;
    Some(a.normalized_value(XmlVersion::Implicit1_0).map_or_else(|_| a.value.clone().into_owned(), Cow::into_owned))
}

/// Call `f` on every element of an XML part: start and empty elements as they are (`true` for
/// a start, which has an end to come), end elements as an element named `/name`.
pub fn each_element(xml: &[u8], mut f: impl FnMut(&BytesStart<'_>, bool)) -> Option<()> {
    walk(xml, |e, start| {
        f(e, start);
        true
    })
}

/// [`each_element`] over XML read from `input`, for as long as `f` returns `true`.
fn walk<R: BufRead>(input: R, mut f: impl FnMut(&BytesStart<'_>, bool) -> bool) -> Option<()> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    loop {
        let go_on = match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => f(&e, true),
            Event::Empty(e) => f(&e, false),
            Event::End(e) => f(&BytesStart::new(format!("/{}", e.local_name().as_ref())), false),
            Event::Eof => return Some(()),
            _ => true,
        };
        if !go_on {
            return Some(());
        }
        buf.clear();
    }
}
