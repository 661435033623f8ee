//! What an XLSX workbook's styles say of each cell that calamine does not: whether its font is
//! a legacy Vietnamese one (see `xlsx_fonts`), and whether its number format shows a time
//! (§3: a date cell whose format holds a time is a datetime, even at 00:00, which calamine
//! cannot tell from a date). Read from three parts: `xl/styles.xml` (fonts, number formats,
//! and each cell format's font and number format), the workbook and its relations (which file
//! is the sheet), and the sheet (each cell's format).

use std::collections::HashMap;

use crate::error::Result;
use crate::formats::xlsx_fonts::LegacyFont;
use crate::formats::xml_parts::{self, Archive, attr, each_element, each_element_of, part};
use crate::limits::Limits;

/// What the styles say of one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellStyle {
    pub legacy_font: Option<LegacyFont>,
    /// The number format shows an hour or seconds.
    pub shows_time: bool,
}

impl CellStyle {
    fn is_plain(self) -> bool {
        self == Self::default()
    }
}

/// 0-based (row, column) of every cell of `sheet` whose style says something (a legacy font,
/// a time in its format). Empty when no style does, when the workbook is not XLSX, or when it
/// cannot be read this way (calamine reports damage); refused only when a part it reads
/// inflates past `max_part_bytes`.
pub fn cell_styles(bytes: &[u8], sheet: &str, limits: &Limits) -> Result<HashMap<(u32, u32), CellStyle>> {
    Ok(read(bytes, sheet, limits)?.unwrap_or_default())
}

/// Whether a number format code shows a time: an hour or seconds, outside quoted text,
/// escaped characters, and bracketed colours or locales (`[Red]`, `[$-42A]`); elapsed time
/// (`[h]:mm`) counts. Minutes alone tell nothing: `m` is also the month.
pub fn shows_time(code: &str) -> bool {
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                chars.by_ref().find(|c| *c == '"');
            }
            // An escaped character, the width of one (`_)`), a fill character (`*-`).
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                if !inner.is_empty() && inner.chars().all(|c| matches!(c.to_ascii_lowercase(), 'h' | 'm' | 's')) {
                    return true;
                }
            }
            'h' | 'H' | 's' | 'S' => return true,
            _ => {}
        }
    }
    false
}

/// Excel's built-in number formats that show a time (ECMA-376 §18.8.30; XLS has the same ids):
/// `h:mm AM/PM`, `h:mm:ss AM/PM`, `h:mm`, `h:mm:ss`, `m/d/yyyy h:mm`, `mm:ss`, `[h]:mm:ss`,
/// `mm:ss.0`.
pub(crate) fn builtin_shows_time(id: u32) -> bool {
    matches!(id, 18..=22 | 45..=47)
}

/// Each cell format (xf of `cellXfs`) of `xl/styles.xml`, in order.
#[cfg(test)]
fn cell_formats(styles: &[u8]) -> Option<Vec<CellStyle>> {
    let mut reader = CellFormats::default();
    each_element(styles, |e, _| reader.element(e))?;
    Some(reader.formats)
}

/// Reads the cell formats of `xl/styles.xml` one element at a time.
#[derive(Debug, Default)]
struct CellFormats {
    fonts: Vec<Option<LegacyFont>>,
    custom_time: HashMap<u32, bool>,
    formats: Vec<CellStyle>,
    in_fonts: bool,
    in_font: bool,
    in_num_fmts: bool,
    in_cell_xfs: bool,
}

impl CellFormats {
    fn element(&mut self, e: &quick_xml::events::BytesStart<'_>) {
        let Self { fonts, custom_time, formats, in_fonts, in_font, in_num_fmts, in_cell_xfs } = self;
        let (in_fonts, in_font, in_num_fmts, in_cell_xfs) = (in_fonts, in_font, in_num_fmts, in_cell_xfs);
        match e.local_name().as_ref() {
            "fonts" => *in_fonts = true,
            "/fonts" => *in_fonts = false,
            "font" if *in_fonts => {
                *in_font = true;
                fonts.push(None);
            }
            "/font" => *in_font = false,
            "name" if *in_font => {
                if let (Some(last), Some(name)) = (fonts.last_mut(), attr(e, "val")) {
                    *last = LegacyFont::of(&name);
                }
            }
            // Number formats of the workbook (those of `dxfs`, for conditional formats, are not).
            "numFmts" => *in_num_fmts = true,
            "/numFmts" => *in_num_fmts = false,
            "numFmt" if *in_num_fmts => {
                let id = attr(e, "numFmtId").and_then(|i| i.parse().ok());
                if let (Some(id), Some(code)) = (id, attr(e, "formatCode")) {
                    custom_time.insert(id, shows_time(&code));
                }
            }
            "cellXfs" => *in_cell_xfs = true,
            "/cellXfs" => *in_cell_xfs = false,
            "xf" if *in_cell_xfs => {
                let index = |name: &str| attr(e, name).and_then(|i| i.parse::<u32>().ok());
                let legacy_font = index("fontId").and_then(|i| fonts.get(i as usize).copied().flatten());
                // A workbook may define a format under a built-in id: its own code then counts.
                let shows_time = index("numFmtId")
                    .is_some_and(|id| custom_time.get(&id).copied().unwrap_or_else(|| builtin_shows_time(id)));
                formats.push(CellStyle { legacy_font, shows_time });
            }
            _ => {}
        }
    }
}

/// The path in the archive of the sheet named `sheet`: the workbook names it by relation id,
/// the relations give the path. `None` when a part is missing or not well-formed.
pub(crate) fn sheet_path(zip: &mut Archive<'_>, sheet: &str, limits: &Limits) -> Result<Option<String>> {
    let Some(workbook) = part(zip, "xl/workbook.xml", limits)? else { return Ok(None) };
    let mut rel_id = None;
    let found = each_element(&workbook, |e, _| {
        if e.local_name().as_ref() == "sheet" && attr(e, "name").as_deref() == Some(sheet) {
            rel_id = attr(e, "id");
        }
    });
    let Some(rels) = part(zip, "xl/_rels/workbook.xml.rels", limits)?.filter(|_| found.is_some()) else {
        return Ok(None);
    };
    let mut target = None;
    each_element(&rels, |e, _| {
        if e.local_name().as_ref() == "Relationship" && attr(e, "Id") == rel_id {
            target = attr(e, "Target");
        }
    });
    Ok(target.map(|target| match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    }))
}

fn read(bytes: &[u8], sheet: &str, limits: &Limits) -> Result<Option<HashMap<(u32, u32), CellStyle>>> {
    let Some(mut zip) = xml_parts::open(bytes) else { return Ok(None) };
    let mut reader = CellFormats::default();
    if each_element_of(&mut zip, "xl/styles.xml", limits, |e, _| {
        reader.element(e);
        true
    })?
    .is_none()
    {
        return Ok(None);
    }
    let formats = reader.formats;
    if formats.iter().all(|f| f.is_plain()) {
        return Ok(Some(HashMap::new()));
    }
    let Some(path) = sheet_path(&mut zip, sheet, limits)? else { return Ok(None) };
    let mut cells = HashMap::new();
    // A row or cell without its reference follows the one before.
    let (mut row, mut col) = (0u32, 0u32);
    let read = each_element_of(&mut zip, &path, limits, |e, _| {
        match e.local_name().as_ref() {
            "row" => {
                row = attr(e, "r").and_then(|r| r.parse::<u32>().ok()).map_or(row + 1, |r| r);
                col = 0;
            }
            "c" => {
                let reference = attr(e, "r").and_then(|r| parse_reference(&r));
                let (r, c) = reference.map_or((row, col + 1), |(r, c)| (r + 1, c + 1));
                (row, col) = (r, c);
                let style = attr(e, "s").and_then(|s| s.parse::<usize>().ok()).and_then(|s| formats.get(s).copied());
                if let Some(style) = style.filter(|s| !s.is_plain())
                    && let (Some(r), Some(c)) = (r.checked_sub(1), c.checked_sub(1))
                {
                    cells.insert((r, c), style);
                }
            }
            _ => {}
        }
        true
    })?;
    Ok(read.map(|()| cells))
}

/// `B5` → (4, 1).
pub(crate) fn parse_reference(reference: &str) -> Option<(u32, u32)> {
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
    fn formats_that_show_a_time() {
        for code in
            ["dd/mm/yyyy hh:mm", "d/m/yyyy h:mm:ss", "[h]:mm", "mm:ss", "yyyy-mm-dd\\ hh:mm", "[$-42A]dd/mm/yyyy HH:MM"]
        {
            assert!(shows_time(code), "{code}");
        }
        for code in ["dd/mm/yyyy", "mm-dd-yy", "d \"tháng\" m \"năm\" yyyy", "[Red]dd/mm/yyyy", "\\h dd/mm", "General"]
        {
            assert!(!shows_time(code), "{code}");
        }
        assert!(builtin_shows_time(22) && !builtin_shows_time(14));
    }

    #[test]
    fn each_cell_format_with_its_font_and_time() {
        let styles = br#"<styleSheet>
            <numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm"/>
              <numFmt numFmtId="165" formatCode="dd/mm/yyyy"/></numFmts>
            <fonts count="2"><font><name val="Calibri"/></font><font><name val=".VnTime"/></font></fonts>
            <cellStyleXfs count="1"><xf numFmtId="22" fontId="1"/></cellStyleXfs>
            <cellXfs count="5"><xf numFmtId="0" fontId="0"/><xf numFmtId="164" fontId="0"/>
              <xf numFmtId="165" fontId="1"/><xf numFmtId="22" fontId="0"/><xf numFmtId="14" fontId="0"/></cellXfs>
            <dxfs count="1"><dxf><numFmt numFmtId="165" formatCode="hh:mm"/></dxf></dxfs>
        </styleSheet>"#;
        let plain = CellStyle::default();
        let time = CellStyle { shows_time: true, ..plain };
        let legacy = CellStyle { legacy_font: Some(LegacyFont::Tcvn3), ..plain };
        assert_eq!(cell_formats(styles), Some(vec![plain, time, legacy, time, plain]));
    }
}
