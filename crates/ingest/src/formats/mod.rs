//! One loader per format, each turning bytes into a [`Grid`](crate::layout::Grid) of cells, and
//! the detection of the format from the bytes (then the file name).

pub mod csv;
pub mod json;
pub mod ods;
pub mod parquet;
pub mod xls_styles;
pub mod xlsx;
pub mod xlsx_fonts;
pub mod xlsx_limits;
pub mod xlsx_styles;
mod xml_parts;

use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};

/// The formats ingest reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text: CSV, TSV, TXT.
    Csv,
    /// A workbook: XLSX, XLS, ODS.
    Spreadsheet,
    Json,
    Ndjson,
    Geojson,
    /// Parquet, taken as it is.
    Parquet,
}

impl Format {
    /// Parse a format name given as an option (`csv`, `tsv`, `xlsx`, `json`…).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().trim_start_matches('.') {
            "csv" | "tsv" | "txt" | "tab" => Self::Csv,
            "xlsx" | "xlsm" | "xls" | "ods" => Self::Spreadsheet,
            "json" => Self::Json,
            "ndjson" | "jsonl" => Self::Ndjson,
            "geojson" => Self::Geojson,
            "parquet" => Self::Parquet,
            _ => return None,
        })
    }
}

/// Detect the format from the bytes first; the file's extension only separates formats the
/// bytes cannot (JSON vs GeoJSON vs NDJSON are told apart by their content too).
pub fn detect(bytes: &[u8], filename: Option<&str>) -> Result<Format> {
    let unsupported = |what: &str| Err(IngestError::UnsupportedFormat { detected: what.to_string() });
    if bytes.starts_with(b"PK\x03\x04") {
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        if has(b"xl/workbook") || has(b"opendocument.spreadsheet") {
            return Ok(Format::Spreadsheet);
        }
        if has(b"word/document") {
            return unsupported("a Word document (DOCX)");
        }
        if has(b"ppt/presentation") {
            return unsupported("a PowerPoint presentation (PPTX)");
        }
        // A workbook whose central directory is damaged still starts with a zip header.
        if filename.and_then(ext).is_some_and(|e| matches!(e.as_str(), "xlsx" | "xlsm" | "ods")) {
            return Ok(Format::Spreadsheet);
        }
        return unsupported("a ZIP archive that is not a spreadsheet");
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Ok(Format::Spreadsheet);
    }
    if bytes.starts_with(b"%PDF") {
        return unsupported("a PDF document");
    }
    if bytes.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if bytes.starts_with(&[0x89, b'P', b'N', b'G']) || bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return unsupported("an image");
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let extension = filename.and_then(ext);
    match first {
        Some(b'[') => Ok(Format::Json),
        Some(b'{') => {
            if extension.as_deref() == Some("ndjson") || extension.as_deref() == Some("jsonl") {
                Ok(Format::Ndjson)
            } else if body.windows(19).any(|w| w == b"\"FeatureCollection\"") {
                Ok(Format::Geojson)
            } else if json::looks_like_ndjson(body) {
                Ok(Format::Ndjson)
            } else {
                Ok(Format::Json)
            }
        }
        _ => Ok(Format::Csv),
    }
}

fn ext(name: &str) -> Option<String> {
    let (_, e) = name.rsplit_once('.')?;
    Some(e.to_ascii_lowercase())
}
