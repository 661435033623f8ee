//! `/records` query parameters to a validated [`RecordsQuery`].
//!
//! ```text
//! sort=-ngay_tiep_nhan,ma_ho_so     minus = descending; nulls last
//! select=ward_code,ward_name        fields to return, in this order
//! limit=100&offset=0                limit ≤ 10,000 for json; csv has no cap and no default limit
//! format=json|csv                   or the Accept header
//! version=2                         read an older version (default: latest)
//! q=ha noi                          every word in some string field, case- and diacritic-insensitive
//! anything else                     a field filter, see `filter`
//! ```

use opendata_ingest::{Field, FieldType};
use polars::prelude::*;

use crate::error::{QueryError, Result};
use crate::filter::{self, Filter};
use crate::fold::{fold_expr, fold_text};

/// Default page size of the JSON envelope.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page of the JSON envelope.
pub const MAX_JSON_LIMIT: usize = 10_000;

/// Parameter names that are not field filters.
pub const RESERVED: [&str; 7] = ["sort", "select", "limit", "offset", "format", "version", "q"];

/// Output formats of `/records` and `/download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Json,
    Csv,
    Parquet,
}

impl OutputFormat {
    pub fn parse(param: &str, value: &str, allowed: &[OutputFormat]) -> Result<Self> {
        let f = match value.to_ascii_lowercase().as_str() {
            "json" => Self::Json,
            "csv" => Self::Csv,
            "parquet" => Self::Parquet,
            _ => None.ok_or_else(|| Self::invalid(param, value, allowed))?,
        };
        if allowed.contains(&f) { Ok(f) } else { Err(Self::invalid(param, value, allowed)) }
    }

    fn invalid(param: &str, value: &str, allowed: &[OutputFormat]) -> QueryError {
        QueryError::InvalidParameter {
            param: param.to_string(),
            message: format!(
                "unsupported format `{value}`; use one of: {}",
                allowed.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }

    /// Choose from an `Accept` header when no `format` parameter is given.
    pub fn from_accept(accept: &str) -> Option<Self> {
        let a = accept.to_ascii_lowercase();
        if a.contains("text/csv") {
            Some(Self::Csv)
        } else if a.contains("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// A validated `/records` request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordsQuery {
    pub filters: Vec<Filter>,
    /// Folded words of `q`.
    pub search: Vec<String>,
    pub sort: Vec<SortKey>,
    /// Fields to return; all when empty.
    pub select: Vec<String>,
    /// `None`: every row (streamed formats only).
    pub limit: Option<usize>,
    pub offset: usize,
    pub format: OutputFormat,
}

/// The parameters that must be known before the dataset's schema is: format and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    pub format: OutputFormat,
    pub version: Option<i64>,
}

fn single<'a>(pairs: &'a [(String, String)], key: &str) -> Result<Option<&'a str>> {
    let mut found = pairs.iter().filter(|(k, _)| k == key);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(QueryError::InvalidParameter { param: key.to_string(), message: "given more than once".into() });
    }
    Ok(first)
}

fn number<T: std::str::FromStr>(param: &str, value: &str, what: &str) -> Result<T> {
    value.trim().parse().map_err(|_| QueryError::InvalidParameter {
        param: param.to_string(),
        message: format!("`{value}` is not {what}"),
    })
}

/// Read `format` (or `Accept`) and `version`.
pub fn preamble(pairs: &[(String, String)], accept: Option<&str>, allowed: &[OutputFormat]) -> Result<Preamble> {
    let format = match single(pairs, "format")? {
        Some(f) => OutputFormat::parse("format", f, allowed)?,
        None => accept.and_then(OutputFormat::from_accept).filter(|f| allowed.contains(f)).unwrap_or(allowed[0]),
    };
    let version = match single(pairs, "version")? {
        Some(v) => {
            let n: i64 = number("version", v, "a version number (1, 2, …)")?;
            if n < 1 {
                return Err(QueryError::InvalidParameter {
                    param: "version".into(),
                    message: "versions start at 1".into(),
                });
            }
            Some(n)
        }
        None => None,
    };
    Ok(Preamble { format, version })
}

fn field_list(param: &str, value: &str, fields: &[Field]) -> Result<Vec<String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            let bare = name.strip_prefix('-').unwrap_or(name);
            if fields.iter().any(|f| f.name == bare) {
                Ok(name.to_string())
            } else {
                Err(QueryError::UnknownField {
                    param: param.to_string(),
                    field: bare.to_string(),
                    valid: fields.iter().map(|f| f.name.clone()).collect(),
                })
            }
        })
        .collect()
}

/// Validate every parameter of a `/records` request against the dataset's fields.
pub fn parse_records(pairs: &[(String, String)], fields: &[Field], format: OutputFormat) -> Result<RecordsQuery> {
    let streamed = format != OutputFormat::Json;
    let limit = match single(pairs, "limit")? {
        Some(v) => {
            let n: usize = number("limit", v, "a whole number ≥ 0")?;
            if !streamed && n > MAX_JSON_LIMIT {
                return Err(QueryError::LimitTooLarge { value: n, max: MAX_JSON_LIMIT, format: format.name().into() });
            }
            Some(n)
        }
        None if streamed => None,
        None => Some(DEFAULT_LIMIT),
    };
    let offset = match single(pairs, "offset")? {
        Some(v) => number("offset", v, "a whole number ≥ 0")?,
        None => 0,
    };
    let sort = match single(pairs, "sort")? {
        Some(v) => field_list("sort", v, fields)?
            .into_iter()
            .map(|s| match s.strip_prefix('-') {
                Some(name) => SortKey { field: name.to_string(), descending: true },
                None => SortKey { field: s, descending: false },
            })
            .collect(),
        None => Vec::new(),
    };
    let select = match single(pairs, "select")? {
        Some(v) => {
            let list = field_list("select", v, fields)?;
            if let Some(bad) = list.iter().find(|s| s.starts_with('-')) {
                return Err(QueryError::InvalidParameter {
                    param: "select".into(),
                    message: format!("`{bad}`: a leading `-` belongs to `sort`, not `select`"),
                });
            }
            list
        }
        None => Vec::new(),
    };
    let search =
        single(pairs, "q")?.map(|q| fold_text(q).split_whitespace().map(str::to_string).collect()).unwrap_or_default();

    // Group the remaining keys in order of first appearance, keeping repeated values together.
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
        match grouped.iter_mut().find(|(gk, _)| gk == k) {
            Some((_, vs)) => vs.push(v.clone()),
            None => grouped.push((k.clone(), vec![v.clone()])),
        }
    }
    let filters = grouped.iter().map(|(k, vs)| filter::parse_filter(k, vs, fields)).collect::<Result<_>>()?;
    Ok(RecordsQuery { filters, search, sort, select, limit, offset, format })
}

impl RecordsQuery {
    /// The conjunction of every filter and the `q` search, if any.
    pub fn predicate(&self, fields: &[Field]) -> Option<Expr> {
        let mut parts: Vec<Expr> = self.filters.iter().map(Filter::expr).collect();
        let text_fields: Vec<&Field> = fields.iter().filter(|f| f.field_type == FieldType::String).collect();
        for word in &self.search {
            // The word must start a word of the text: `hanh` finds `hành`, not `thành`.
            let pattern = format!(r"(?:^|[^\p{{L}}\p{{N}}]){}", escape_regex(word));
            let any = text_fields
                .iter()
                .map(|f| {
                    fold_expr(col(f.name.as_str())).str().contains(lit(pattern.clone()), false).fill_null(lit(false))
                })
                .reduce(|a, b| a.or(b))
                .unwrap_or_else(|| lit(false));
            parts.push(any);
        }
        parts.into_iter().reduce(|a, b| a.and(b))
    }

    /// The fields returned, in order.
    pub fn output_fields<'a>(&self, fields: &'a [Field]) -> Vec<&'a Field> {
        if self.select.is_empty() {
            fields.iter().collect()
        } else {
            self.select.iter().filter_map(|s| fields.iter().find(|f| &f.name == s)).collect()
        }
    }
}

/// Escape regex metacharacters so a search word matches literally.
fn escape_regex(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if r"\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn fields() -> Vec<Field> {
        ["a", "b"]
            .iter()
            .map(|n| Field {
                name: n.to_string(),
                title: n.to_string(),
                field_type: FieldType::Integer,
                null_count: 0,
                distinct_count: 0,
                min: serde_json::Value::Null,
                max: serde_json::Value::Null,
            })
            .collect()
    }

    #[test]
    fn limits() {
        let q = parse_records(&pairs(&[]), &fields(), OutputFormat::Json).unwrap();
        assert_eq!(q.limit, Some(DEFAULT_LIMIT));
        let q = parse_records(&pairs(&[]), &fields(), OutputFormat::Csv).unwrap();
        assert_eq!(q.limit, None);
        let e = parse_records(&pairs(&[("limit", "10001")]), &fields(), OutputFormat::Json).unwrap_err();
        assert_eq!(e.code(), "invalid_limit");
        assert!(parse_records(&pairs(&[("limit", "50000")]), &fields(), OutputFormat::Csv).is_ok());
        let e = parse_records(&pairs(&[("offset", "-1")]), &fields(), OutputFormat::Json).unwrap_err();
        assert_eq!(e.code(), "invalid_offset");
    }

    #[test]
    fn sort_and_select() {
        let q = parse_records(&pairs(&[("sort", "-a,b"), ("select", "b")]), &fields(), OutputFormat::Json).unwrap();
        assert_eq!(
            q.sort,
            vec![SortKey { field: "a".into(), descending: true }, SortKey { field: "b".into(), descending: false }]
        );
        assert_eq!(q.select, vec!["b"]);
        let e = parse_records(&pairs(&[("sort", "c")]), &fields(), OutputFormat::Json).unwrap_err();
        assert_eq!(e.code(), "unknown_field");
    }

    #[test]
    fn format_from_param_or_accept() {
        let all = [OutputFormat::Json, OutputFormat::Csv];
        assert_eq!(preamble(&pairs(&[]), Some("text/csv"), &all).unwrap().format, OutputFormat::Csv);
        assert_eq!(preamble(&pairs(&[("format", "csv")]), None, &all).unwrap().format, OutputFormat::Csv);
        assert_eq!(preamble(&pairs(&[("format", "xml")]), None, &all).unwrap_err().code(), "invalid_format");
        assert_eq!(preamble(&pairs(&[("version", "0")]), None, &all).unwrap_err().code(), "invalid_version");
    }
}
