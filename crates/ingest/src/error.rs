//! The one error type of the ingest crate. Every refusal has a stable snake_case code (the API
//! maps it to HTTP 422/415/413/400) and a message a clerk can act on.

use serde_json::Value;

/// Why a file was refused. `code()` is stable and machine-readable; the `Display` text names
/// the line, row, sheet or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file is empty (0 bytes)")]
    EmptyFile,
    #[error("a header was found ({columns} columns: {}) but there are no data rows", names.join(", "))]
    NoDataRows { columns: usize, names: Vec<String> },
    #[error(
        "line {line} has {found} fields where the header has {expected}; the extra values ({}) would be lost, so the file is refused. Quote values that contain the delimiter",
        extra.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
    )]
    RaggedRows { line: usize, found: usize, expected: usize, extra: Vec<String> },
    #[error("the file is binary, not text in a supported encoding: found {what}")]
    NotText { what: String },
    #[error("the workbook is damaged or truncated and cannot be opened: {reason}")]
    CorruptFile { reason: String },
    #[error(
        "unsupported file format: {detected}. Accepted formats: CSV, TSV, TXT, XLSX, XLS, ODS, JSON, NDJSON, GeoJSON, Parquet"
    )]
    UnsupportedFormat { detected: String },
    #[error("no sheet holds a table (a row of at least two values with data under it); sheets: {}", sheets.join(", "))]
    NoTable { sheets: Vec<String> },
    #[error("the file is {size} bytes, above the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    /// One of the [`Limits`](crate::limits::Limits) (`setting` names its option): `what` has
    /// `found` `unit`s (`None`: more than `limit`, where counting stopped).
    #[error("{}", limit_message(what, *found, *limit, unit, setting))]
    LimitExceeded { what: String, found: Option<u64>, limit: u64, unit: &'static str, setting: &'static str },
    #[error("option `{option}`: {message}")]
    BadOption { option: &'static str, message: String },
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("could not write the table: {0}")]
    Write(String),
}

impl IngestError {
    /// The stable code of this refusal, as listed in `fixtures/bad/README.md`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyFile => "empty_file",
            Self::NoDataRows { .. } => "no_data_rows",
            Self::RaggedRows { .. } => "ragged_rows",
            Self::NotText { .. } => "not_text",
            Self::CorruptFile { .. } => "corrupt_file",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::NoTable { .. } => "no_table",
            Self::BadOption { .. } => "bad_option",
            Self::TooLarge { .. } | Self::LimitExceeded { .. } => "too_large",
            Self::InvalidJson(_) => "invalid_json",
            Self::Write(_) => "write_failed",
        }
    }

    /// Machine-readable details for the error envelope.
    pub fn details(&self) -> Value {
        match self {
            Self::NoDataRows { columns, names } => serde_json::json!({ "columns": columns, "names": names }),
            Self::RaggedRows { line, found, expected, extra } => {
                serde_json::json!({ "line": line, "found": found, "expected": expected, "extra": extra })
            }
            Self::NoTable { sheets } => serde_json::json!({ "sheets": sheets }),
            Self::BadOption { option, .. } => serde_json::json!({ "option": option }),
            Self::TooLarge { size, limit } => serde_json::json!({ "size": size, "limit": limit }),
            Self::LimitExceeded { what, found, limit, unit, setting } => {
                serde_json::json!({ "what": what, "found": found, "limit": limit, "unit": unit, "setting": setting })
            }
            _ => Value::Null,
        }
    }

    /// True when the problem is the input file (422), false when it is ours (500).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Self::Write(_))
    }
}

fn limit_message(what: &str, found: Option<u64>, limit: u64, unit: &str, setting: &str) -> String {
    let found = match found {
        Some(found) => format!("{found} {unit}, above the limit of"),
        None => "more than the limit of".to_string(),
    };
    format!(
        "{what} is {found} {limit} {unit} (ingest setting `{setting}`); split the file, or ask for the limit to be raised"
    )
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;
