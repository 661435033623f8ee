//! Reading parts of a zipped office document (XLSX, ODS) that calamine does not expose: one
//! part's bytes, and its elements one by one with their attributes.

use std::borrow::Cow;
use std::io::{BufReader, Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// A document's zip archive, read from memory.
pub type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// Open the archive; `None` when the bytes are no zip (XLS) or a damaged one (calamine says
/// what is wrong with it).
pub fn open(bytes: &[u8]) -> Option<Archive<'_>> {
    zip::ZipArchive::new(Cursor::new(bytes)).ok()
}

/// The bytes of the part `name`.
pub fn part(zip: &mut Archive<'_>, name: &str) -> Option<Vec<u8>> {
    let mut file = zip.by_name(name).ok()?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).ok()?;
    Some(out)
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
    let mut reader = Reader::from_reader(BufReader::new(xml));
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => f(&e, true),
            Event::Empty(e) => f(&e, false),
            Event::End(e) => f(&BytesStart::new(format!("/{}", e.local_name().as_ref())), false),
            Event::Eof => return Some(()),
            _ => {}
        }
        buf.clear();
    }
}
