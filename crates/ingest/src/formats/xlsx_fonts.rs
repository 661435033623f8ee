//! Which cells of an XLSX sheet are in a legacy Vietnamese font (`.VnTime…` for TCVN3,
//! `VNI-…` for VNI-Windows). calamine gives values but not fonts, so this reads the three
//! parts that say it: `xl/styles.xml` (fonts, and each cell format's font), the workbook and
//! its relations (which file is the sheet), and the sheet (each cell's format).

use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// A legacy font family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyFont {
    /// `.VnTime`, `.VnArial`…: TCVN3.
    Tcvn3,
    /// `.VnTimeH`, `.VnArialH`…: TCVN3 drawn in capitals.
    Tcvn3Upper,
    /// `VNI-Times`…: VNI-Windows.
    Vni,
}

impl LegacyFont {
    fn of(font_name: &str) -> Option<Self> {
        if font_name.starts_with(".Vn") {
            Some(if font_name.ends_with('H') { Self::Tcvn3Upper } else { Self::Tcvn3 })
        } else if font_name.to_ascii_uppercase().starts_with("VNI") {
            Some(Self::Vni)
        } else {
            None
        }
    }

    /// Convert a cell's text to Unicode.
    pub fn convert(self, text: &str) -> String {
        match self {
            Self::Tcvn3 => crate::legacy::tcvn3_font_text(text, false),
            Self::Tcvn3Upper => crate::legacy::tcvn3_font_text(text, true),
            Self::Vni => crate::legacy::vni_font_text(text),
        }
    }
}

/// 0-based (row, column) of every cell of `sheet` in a legacy font. Empty when the workbook
/// uses no such font, is not XLSX, or cannot be read this way (calamine reports damage).
pub fn legacy_cells(bytes: &[u8], sheet: &str) -> HashMap<(u32, u32), LegacyFont> {
    read(bytes, sheet).unwrap_or_default()
}

fn part(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    let mut file = zip.by_name(name).ok()?;
    let mut out = Vec::new();
    file.read_to_end(&mut out).ok()?;
    Some(out)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| a.value.into_owned())
}

/// Call `f` on every start or empty element of an XML part.
fn each_element(xml: &[u8], mut f: impl FnMut(&BytesStart<'_>, bool)) -> Option<()> {
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

fn read(bytes: &[u8], sheet: &str) -> Option<HashMap<(u32, u32), LegacyFont>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let styles = part(&mut zip, "xl/styles.xml")?;

    // Fonts in order, then each cell format (xf) of cellXfs to its font.
    let mut fonts: Vec<Option<LegacyFont>> = Vec::new();
    let mut formats: Vec<Option<LegacyFont>> = Vec::new();
    let (mut in_fonts, mut in_font, mut in_cell_xfs) = (false, false, false);
    each_element(&styles, |e, _| match e.local_name().as_ref() {
        "fonts" => in_fonts = true,
        "/fonts" => in_fonts = false,
        "font" if in_fonts => {
            in_font = true;
            fonts.push(None);
        }
        "/font" => in_font = false,
        "name" if in_font => {
            if let (Some(last), Some(name)) = (fonts.last_mut(), attr(e, "val")) {
                *last = LegacyFont::of(&name);
            }
        }
        "cellXfs" => in_cell_xfs = true,
        "/cellXfs" => in_cell_xfs = false,
        "xf" if in_cell_xfs => {
            let font =
                attr(e, "fontId").and_then(|i| i.parse::<usize>().ok()).and_then(|i| fonts.get(i).copied().flatten());
            formats.push(font);
        }
        _ => {}
    })?;
    if formats.iter().all(Option::is_none) {
        return Some(HashMap::new());
    }

    // The sheet's file: workbook.xml names it by relation id, the relations give the path.
    let workbook = part(&mut zip, "xl/workbook.xml")?;
    let mut rel_id = None;
    each_element(&workbook, |e, _| {
        if e.local_name().as_ref() == "sheet" && attr(e, "name").as_deref() == Some(sheet) {
            rel_id = attr(e, "id");
        }
    })?;
    let rels = part(&mut zip, "xl/_rels/workbook.xml.rels")?;
    let mut target = None;
    each_element(&rels, |e, _| {
        if e.local_name().as_ref() == "Relationship" && attr(e, "Id") == rel_id {
            target = attr(e, "Target");
        }
    })?;
    let target = target?;
    let path = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    };
    let sheet_xml = part(&mut zip, &path)?;

    let mut cells = HashMap::new();
    each_element(&sheet_xml, |e, _| {
        if e.local_name().as_ref() != "c" {
            return;
        }
        let font = attr(e, "s").and_then(|s| s.parse::<usize>().ok()).and_then(|s| formats.get(s).copied().flatten());
        if let (Some(font), Some(reference)) = (font, attr(e, "r"))
            && let Some(position) = parse_reference(&reference)
        {
            cells.insert(position, font);
        }
    })?;
    Some(cells)
}

/// `B5` → (4, 1).
fn parse_reference(reference: &str) -> Option<(u32, u32)> {
    let split = reference.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = reference.split_at(split);
    let col = letters.bytes().try_fold(0u32, |acc, b| {
        if !b.is_ascii_uppercase() {
            return None;
        }
        acc.checked_mul(26)?.checked_add(u32::from(b - b'A' + 1))
    })?;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(parse_reference("A1"), Some((0, 0)));
        assert_eq!(parse_reference("B5"), Some((4, 1)));
        assert_eq!(parse_reference("AA10"), Some((9, 26)));
        assert_eq!(parse_reference("5"), None);
        assert_eq!(parse_reference("AAAAAAAAAAAAA1"), None);
    }

    #[test]
    fn font_families() {
        assert_eq!(LegacyFont::of(".VnTime"), Some(LegacyFont::Tcvn3));
        assert_eq!(LegacyFont::of(".VnTimeH"), Some(LegacyFont::Tcvn3Upper));
        assert_eq!(LegacyFont::of("VNI-Times"), Some(LegacyFont::Vni));
        assert_eq!(LegacyFont::of("Times New Roman"), None);
    }
}
