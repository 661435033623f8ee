//! What ingest understood of a file, for the agency that uploaded it: serialisable to JSON and
//! printable as plain text.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::formats::Format;
use crate::infer::{FieldType, RuledOut};
use crate::layout::{SkipReason, SkippedRow};
use crate::text::EncodingChoice;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The file name given, if any.
    pub source: Option<String>,
    pub format: Format,
    pub bytes: usize,
    pub encoding: Option<EncodingChoice>,
    /// `,`, `;`, `tab` or `|` for delimited text.
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    /// Row (sheet) or line (text) numbers of the header row(s).
    pub header_rows: Vec<usize>,
    /// Data rows taken into the table.
    pub rows: usize,
    /// How many rows were skipped for each reason.
    pub skipped_by_reason: BTreeMap<String, usize>,
    /// Every skipped row with its number and reason.
    pub skipped: Vec<SkippedRow>,
    pub fields: Vec<FieldReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldReport {
    pub name: String,
    pub title: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub null_count: usize,
    /// For string fields: the first value that ruled out each other type.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ruled_out: Vec<RuledOut>,
}

pub(crate) fn count_reasons(skipped: &[SkippedRow]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in skipped {
        let key = serde_json::to_value(s.reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file:      {}", self.source.as_deref().unwrap_or("(stdin)"))?;
        writeln!(f, "format:    {:?} ({} bytes)", self.format, self.bytes)?;
        if let Some(e) = &self.encoding {
            writeln!(f, "encoding:  {} ({})", e.name, e.reason)?;
        }
        if let Some(d) = &self.delimiter {
            writeln!(f, "delimiter: {d}")?;
        }
        if let Some(s) = &self.sheet {
            writeln!(f, "sheet:     {s}")?;
        }
        if !self.header_rows.is_empty() {
            let rows: Vec<String> = self.header_rows.iter().map(ToString::to_string).collect();
            writeln!(f, "header:    {}", rows.join(", "))?;
        }
        writeln!(f, "rows:      {}", self.rows)?;
        if !self.skipped.is_empty() {
            let by: Vec<String> = self.skipped_by_reason.iter().map(|(k, v)| format!("{v} {k}")).collect();
            writeln!(f, "skipped:   {} ({})", self.skipped.len(), by.join(", "))?;
            for (reason, label) in [
                (SkipReason::Title, "title"),
                (SkipReason::ColumnNumbers, "column numbers"),
                (SkipReason::Blank, "blank"),
                (SkipReason::Total, "total"),
                (SkipReason::Footer, "footer"),
            ] {
                let rows: Vec<String> =
                    self.skipped.iter().filter(|s| s.reason == reason).map(|s| s.row.to_string()).take(20).collect();
                if !rows.is_empty() {
                    writeln!(f, "  {label}: {}", rows.join(", "))?;
                }
            }
        }
        writeln!(f, "fields:")?;
        let width = self.fields.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.fields {
            writeln!(f, "  {:width$}  {:8}  {} null  ({})", c.name, c.field_type.as_str(), c.null_count, c.title)?;
            // One line per value that ruled types out: `not integer, float: "12A" at row 431`.
            let mut shown: Vec<(&RuledOut, Vec<&str>)> = Vec::new();
            for r in &c.ruled_out {
                match shown.iter_mut().find(|(s, _)| s.value == r.value && s.row == r.row) {
                    Some((_, types)) => types.push(r.field_type.as_str()),
                    None => shown.push((r, vec![r.field_type.as_str()])),
                }
            }
            for (r, types) in shown {
                let value: String = if r.value.chars().count() > 40 {
                    r.value.chars().take(39).chain(['…']).collect()
                } else {
                    r.value.clone()
                };
                let place = match self.format {
                    Format::Csv => format!(" (line {})", r.source_row),
                    Format::Spreadsheet => format!(" (sheet row {})", r.source_row),
                    _ => String::new(),
                };
                writeln!(f, "  {:width$}  not {}: {value:?} at row {}{place}", "", types.join(", "), r.row)?;
            }
        }
        Ok(())
    }
}
