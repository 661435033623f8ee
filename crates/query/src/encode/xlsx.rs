//! XLSX: one sheet, the header row then the rows, written straight into a zip (no shared
//! strings table, so rows stream through with bounded memory). Numbers are numbers, dates and
//! datetimes are Excel dates with a `yyyy-mm-dd` format, text is inline strings: a cell that
//! looks like a formula stays text, as XLSX never evaluates inline strings.

use std::io::{Seek, Write};

use ::zip::ZipWriter;
use ::zip::write::SimpleFileOptions;
use chrono::NaiveDate;
use polars::prelude::*;

use super::{CellValue, ColumnValues, columns};
use crate::error::{QueryError, Result};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;
/// Styles: 0 plain, 1 date, 2 datetime, 3 bold (the header).
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#;

fn zip_error(e: impl std::fmt::Display) -> QueryError {
    QueryError::Engine(format!("writing XLSX: {e}"))
}

/// Text made safe for XML: escaped, and without the control characters XML forbids.
fn escape(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\t' | '\n' | '\r' => out.push(c as u8),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Characters an Excel cell holds.
const CELL_MAX: usize = 32_767;

fn inline_string(out: &mut Vec<u8>, s: &str, style: Option<u8>) {
    // Longer text (a boundary's geometry) is cut, and says so: Excel refuses the file otherwise.
    let cut: String;
    let s = if s.chars().count() > CELL_MAX {
        cut = s.chars().take(CELL_MAX - 1).chain(std::iter::once('…')).collect();
        cut.as_str()
    } else {
        s
    };
    out.extend_from_slice(b"<c t=\"inlineStr\"");
    if let Some(s) = style {
        let _ = write!(out, " s=\"{s}\"");
    }
    out.extend_from_slice(b"><is><t xml:space=\"preserve\">");
    escape(out, s);
    out.extend_from_slice(b"</t></is></c>");
}

/// Days since Excel's day 0 (1899-12-30).
fn serial(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default()).num_days()
}

/// A workbook being written.
pub struct XlsxWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    rows: usize,
    buf: Vec<u8>,
}

impl<W: Write + Seek> XlsxWriter<W> {
    /// Start a workbook whose sheet `sheet` has the header row `names`.
    pub fn new(inner: W, sheet: &str, names: &[String]) -> Result<Self> {
        let mut zip = ZipWriter::new(inner);
        let options = SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Deflated);
        for (name, body) in [
            ("[Content_Types].xml", CONTENT_TYPES.to_string()),
            ("_rels/.rels", RELS.to_string()),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.to_string()),
            ("xl/styles.xml", STYLES.to_string()),
            ("xl/workbook.xml", workbook(sheet)),
        ] {
            zip.start_file(name, options).map_err(zip_error)?;
            zip.write_all(body.as_bytes()).map_err(zip_error)?;
        }
        zip.start_file("xl/worksheets/sheet1.xml", options).map_err(zip_error)?;
        let mut head = Vec::new();
        head.extend_from_slice(
            br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData><row r="1">"#,
        );
        for n in names {
            inline_string(&mut head, n, Some(3));
        }
        head.extend_from_slice(b"</row>");
        zip.write_all(&head).map_err(zip_error)?;
        Ok(Self { zip, rows: 1, buf: Vec::with_capacity(1 << 16) })
    }

    /// Append the rows of `frame`.
    pub fn write(&mut self, frame: &DataFrame) -> Result<()> {
        let (series, _) = columns(frame)?;
        let values: Vec<ColumnValues<'_>> = series.iter().map(ColumnValues::of).collect::<Result<_>>()?;
        for row in 0..frame.height() {
            self.rows += 1;
            let out = &mut self.buf;
            let _ = write!(out, "<row r=\"{}\">", self.rows);
            for column in &values {
                match column.get(row) {
                    CellValue::Null => out.extend_from_slice(b"<c/>"),
                    CellValue::Bool(b) => {
                        let _ = write!(out, "<c t=\"b\"><v>{}</v></c>", u8::from(b));
                    }
                    CellValue::Int(i) => {
                        let _ = write!(out, "<c><v>{i}</v></c>");
                    }
                    CellValue::Float(f) if f.is_finite() => {
                        let _ = write!(out, "<c><v>{f}</v></c>");
                    }
                    CellValue::Float(_) => out.extend_from_slice(b"<c/>"),
                    CellValue::Date(d) => {
                        let _ = write!(out, "<c s=\"1\"><v>{}</v></c>", serial(d));
                    }
                    CellValue::Datetime(dt) => {
                        let seconds = f64::from(chrono::Timelike::num_seconds_from_midnight(&dt.time()));
                        let _ = write!(out, "<c s=\"2\"><v>{}</v></c>", serial(dt.date()) as f64 + seconds / 86_400.0);
                    }
                    CellValue::Str(s) => inline_string(out, s, None),
                }
            }
            out.extend_from_slice(b"</row>");
            if out.len() >= 1 << 16 {
                self.zip.write_all(out).map_err(zip_error)?;
                out.clear();
            }
        }
        Ok(())
    }

    /// Close the sheet and the archive; the inner writer back.
    pub fn finish(mut self) -> Result<W> {
        self.buf.extend_from_slice(b"</sheetData></worksheet>");
        self.zip.write_all(&self.buf).map_err(zip_error)?;
        self.zip.finish().map_err(zip_error)
    }
}

fn workbook(sheet: &str) -> String {
    // Sheet names: at most 31 characters, none of []:*?/\
    let clean: String = sheet.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
    let mut name = Vec::new();
    escape(&mut name, if clean.is_empty() { "data" } else { &clean });
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        String::from_utf8_lossy(&name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_zip_with_typed_cells() {
        let frame = df!("ten" => ["=1+1", "Hà <Nội>"], "so" => [1i64, 2]).unwrap();
        let mut w = XlsxWriter::new(std::io::Cursor::new(Vec::new()), "thử", &["ten".into(), "so".into()]).unwrap();
        w.write(&frame).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
        assert!(sheet.contains(r#"<t xml:space="preserve">=1+1</t>"#), "{sheet}");
        assert!(sheet.contains("Hà &lt;Nội&gt;"));
        assert!(sheet.contains(r#"<row r="3"><c t="inlineStr"><is><t xml:space="preserve">Hà &lt;Nội&gt;</t></is></c><c><v>2</v></c></row>"#));
        assert_eq!(serial(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()), 45352);
    }
}
