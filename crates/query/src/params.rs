//! `/records` query parameters to a validated [`RecordsQuery`].
//!
//! ```text
//! sort=-ngay_tiep_nhan,ma_ho_so     minus = descending; nulls last
//! select=ward_code,ward_name        fields to return, in this order; or aggregates, see `aggregate`
//! group_by=quan_huyen               groups for aggregates
//! where=le_phi >= 500000 and …      an expression, see `expr`
//! q=ha noi                          every word in some string field, case- and diacritic-insensitive
//! facet=quan_huyen&facet_size=10    top values with counts of the matching rows (JSON)
//! limit=100&offset=0                json: default 100, at most 10,000; xlsx: at most 1,048,575;
//!                                   csv, ndjson, geojson, parquet: no default and no cap
//! cursor=…                          the opaque `links.next` token (pins the version)
//! format=json|ndjson|csv|parquet|xlsx|geojson   or the Accept header
//! version=2                         read an older version (default: latest)
//! anything else                     a field filter, see `filter`
//! ```

use opendata_collate::Collation;
use opendata_ingest::{Field, FieldType};
use polars::prelude::*;

use crate::aggregate::{self, SelectItem};
use crate::error::{QueryError, Result};
use crate::filter::{self, Filter};
use crate::fold::{fold_expr, fold_text};

/// Default page size of the JSON envelope.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page of the JSON envelope.
pub const MAX_JSON_LIMIT: usize = 10_000;
/// Rows an Excel sheet holds below its header row.
pub const MAX_XLSX_ROWS: usize = 1_048_575;
/// The largest offset accepted (far past any table, and safe in every integer type).
pub const MAX_OFFSET: usize = 1 << 40;
/// Default and largest number of values per facet.
pub const DEFAULT_FACET_SIZE: usize = 10;
pub const MAX_FACET_SIZE: usize = 1000;

/// Parameter names that are not field filters.
pub const RESERVED: [&str; 16] = [
    "sort",
    "collation",
    "select",
    "group_by",
    "where",
    "facet",
    "facet_size",
    "limit",
    "offset",
    "cursor",
    "format",
    "version",
    "q",
    "bom",
    "delimiter",
    "callback",
];

/// Output formats of `/records` and `/download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Json,
    Ndjson,
    Csv,
    Parquet,
    Xlsx,
    Geojson,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 6] = [Self::Json, Self::Ndjson, Self::Csv, Self::Parquet, Self::Xlsx, Self::Geojson];

    pub fn parse(param: &str, value: &str, allowed: &[OutputFormat]) -> Result<Self> {
        let f = Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| Self::invalid(param, value, allowed))?;
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
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Xlsx => "xlsx",
            Self::Geojson => "geojson",
        }
    }

    /// The media type answered.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Geojson => "application/geo+json",
        }
    }

    /// Streamed formats have no default limit and no cap.
    pub fn streamed(self) -> bool {
        !matches!(self, Self::Json | Self::Xlsx)
    }

    /// Choose from an `Accept` header when no `format` parameter is given: the first media
    /// type listed that we produce (quality values are not weighed).
    pub fn from_accept(accept: &str) -> Option<Self> {
        accept.split(',').find_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
            // `q=0` means "not this one".
            let refused = pieces.any(|p| {
                p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
            });
            if refused {
                return None;
            }
            match media.as_str() {
                "text/csv" => Some(Self::Csv),
                "application/json" => Some(Self::Json),
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Some(Self::Ndjson),
                "application/vnd.apache.parquet" | "application/parquet" => Some(Self::Parquet),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(Self::Xlsx),
                "application/geo+json" => Some(Self::Geojson),
                _ => None,
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// A compiled `where=` expression (compared by its text).
#[derive(Debug, Clone)]
pub struct Where {
    pub source: String,
    pub expr: Expr,
    /// The fields it reads.
    pub fields: Vec<String>,
}

impl PartialEq for Where {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A validated `/records` request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordsQuery {
    pub filters: Vec<Filter>,
    /// Folded words of `q`.
    pub search: Vec<String>,
    pub where_: Option<Where>,
    pub sort: Vec<SortKey>,
    /// Fields or aggregates to return; every field when empty.
    pub select: Vec<SelectItem>,
    pub group_by: Vec<String>,
    pub facets: Vec<String>,
    pub facet_size: usize,
    /// `None`: every row.
    pub limit: Option<usize>,
    pub offset: usize,
    pub format: OutputFormat,
    /// How text is ordered: `sort`, group order, facet ties, text `min`/`max`, text ranges.
    pub collation: Collation,
}

/// An output column: a field, a group field or an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub field_type: FieldType,
}

/// The parameters that must be known before the dataset's schema is: format, version, cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    pub format: OutputFormat,
    pub version: Option<i64>,
    pub cursor: Option<String>,
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

/// Read `format` (or `Accept`), `version` and `cursor`.
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
    let cursor = single(pairs, "cursor")?.map(str::to_string);
    if cursor.is_some() && single(pairs, "offset")?.is_some() {
        return Err(QueryError::InvalidCursor("give `cursor` or `offset`, not both".into()));
    }
    Ok(Preamble { format, version, cursor })
}

/// Validate every parameter of a `/records` request against the dataset's fields. `cursor`
/// is the offset a decoded cursor gives (it replaces `offset`).
pub fn parse_records(
    pairs: &[(String, String)],
    fields: &[Field],
    format: OutputFormat,
    cursor: Option<usize>,
) -> Result<RecordsQuery> {
    let limit = match single(pairs, "limit")? {
        Some(v) => {
            let n: usize = number("limit", v, "a whole number ≥ 0")?;
            let max = match format {
                OutputFormat::Json => Some(MAX_JSON_LIMIT),
                OutputFormat::Xlsx => Some(MAX_XLSX_ROWS),
                _ => None,
            };
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(QueryError::LimitTooLarge { value: n, max, format: format.name().into() });
            }
            Some(n)
        }
        None if format == OutputFormat::Json => Some(DEFAULT_LIMIT),
        None => None,
    };
    let offset = match (cursor, single(pairs, "offset")?) {
        (Some(o), _) => o,
        (None, Some(v)) => {
            let n: usize = number("offset", v, "a whole number ≥ 0")?;
            if n > MAX_OFFSET {
                return Err(QueryError::InvalidParameter {
                    param: "offset".into(),
                    message: format!("{n} is past any table; at most {MAX_OFFSET}"),
                });
            }
            n
        }
        (None, None) => 0,
    };
    let group_by = match single(pairs, "group_by")? {
        Some(v) => aggregate::parse_group_by(v, fields)?,
        None => Vec::new(),
    };
    let mut select = match single(pairs, "select")? {
        Some(v) => aggregate::parse_select(v, &group_by, fields)?,
        None => Vec::new(),
    };
    if select.is_empty() && !group_by.is_empty() {
        select = aggregate::parse_select(&format!("{},count(*)", group_by.join(",")), &group_by, fields)?;
    }
    let aggregating = select.iter().any(|i| matches!(i, SelectItem::Aggregate(_)));
    let collation = match single(pairs, "collation")? {
        None => Collation::default(),
        Some(c) => Collation::parse(c).ok_or_else(|| QueryError::InvalidParameter {
            param: "collation".into(),
            message: format!(
                "`{c}` is not a collation; use `vi` (Vietnamese dictionary order, the default) or `codepoint`"
            ),
        })?,
    };
    let sort = match single(pairs, "sort")? {
        Some(v) => {
            let names: Vec<String> = if aggregating {
                select.iter().map(|i| i.name().to_string()).collect()
            } else {
                fields.iter().map(|f| f.name.clone()).collect()
            };
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let (name, descending) = match s.strip_prefix('-') {
                        Some(n) => (n, true),
                        None => (s, false),
                    };
                    if names.iter().any(|n| n == name) {
                        Ok(SortKey { field: name.to_string(), descending })
                    } else {
                        Err(QueryError::UnknownField {
                            param: "sort".into(),
                            field: name.to_string(),
                            valid: names.clone(),
                        })
                    }
                })
                .collect::<Result<Vec<SortKey>>>()?
        }
        None => Vec::new(),
    };
    if let Some(twice) = sort.iter().enumerate().find(|(i, k)| sort[..*i].iter().any(|e| e.field == k.field)) {
        return Err(QueryError::InvalidParameter {
            param: "sort".into(),
            message: format!("`{}` is given twice; sort by a field once, ascending or descending (`-`)", twice.1.field),
        });
    }
    let search =
        single(pairs, "q")?.map(|q| fold_text(q).split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    let where_ = match single(pairs, "where")? {
        Some(source) => {
            let ast = crate::expr::parse(source).map_err(|e| QueryError::Expression {
                param: "where".into(),
                position: e.position,
                message: e.message,
                valid_fields: None,
            })?;
            Some(Where {
                source: source.to_string(),
                expr: crate::expr::compile(&ast, fields, collation)?,
                fields: ast.fields(),
            })
        }
        None => None,
    };
    let facets: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "facet")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            fields.iter().find(|f| f.name == name).map(|f| f.name.clone()).ok_or_else(|| QueryError::UnknownField {
                param: "facet".into(),
                field: name.to_string(),
                valid: fields.iter().map(|f| f.name.clone()).collect(),
            })
        })
        .collect::<Result<_>>()?;
    if !facets.is_empty() && format != OutputFormat::Json {
        return Err(QueryError::InvalidParameter {
            param: "facet".into(),
            message: format!(
                "facets are part of the JSON envelope; drop `facet` or use format=json, not {}",
                format.name()
            ),
        });
    }
    let facet_size = match single(pairs, "facet_size")? {
        Some(v) => {
            let n: usize = number("facet_size", v, "a whole number")?;
            if n == 0 || n > MAX_FACET_SIZE {
                return Err(QueryError::InvalidParameter {
                    param: "facet_size".into(),
                    message: format!("{n} is not between 1 and {MAX_FACET_SIZE}"),
                });
            }
            n
        }
        None => DEFAULT_FACET_SIZE,
    };

    // Group the remaining keys in order of first appearance, keeping repeated values together.
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
        match grouped.iter_mut().find(|(gk, _)| gk == k) {
            Some((_, vs)) => vs.push(v.clone()),
            None => grouped.push((k.clone(), vec![v.clone()])),
        }
    }
    let filters = grouped
        .iter()
        .map(|(k, vs)| filter::parse_filter(k, vs, fields).map(|f| Filter { collation, ..f }))
        .collect::<Result<_>>()?;
    Ok(RecordsQuery {
        filters,
        search,
        where_,
        sort,
        select,
        group_by,
        facets,
        facet_size,
        limit,
        offset,
        format,
        collation,
    })
}

impl RecordsQuery {
    /// True when `select` has aggregates (or `group_by` is given).
    pub fn aggregating(&self) -> bool {
        self.select.iter().any(|i| matches!(i, SelectItem::Aggregate(_)))
    }

    /// The columns of the answer, in order.
    pub fn output_columns(&self, fields: &[Field]) -> Vec<OutputColumn> {
        if self.select.is_empty() {
            return fields.iter().map(|f| OutputColumn { name: f.name.clone(), field_type: f.field_type }).collect();
        }
        self.select
            .iter()
            .map(|item| match item {
                SelectItem::Field(name) => OutputColumn {
                    name: name.clone(),
                    field_type: fields.iter().find(|f| &f.name == name).map_or(FieldType::String, |f| f.field_type),
                },
                SelectItem::Aggregate(a) => OutputColumn { name: a.alias.clone(), field_type: a.output_type },
            })
            .collect()
    }

    /// The conjunction of every filter, the `where` expression and the `q` search, if any.
    pub fn predicate(&self, fields: &[Field]) -> Option<Expr> {
        let mut parts: Vec<Expr> = self.filter_predicate().into_iter().collect();
        let text_fields: Vec<&Field> = fields.iter().filter(|f| f.field_type == FieldType::String).collect();
        for word in &self.search {
            let any = crate::expr::balanced(text_fields.iter().map(|f| word_predicate(&f.name, word)).collect(), false)
                .unwrap_or_else(|| lit(false));
            parts.push(any);
        }
        crate::expr::balanced(parts, true)
    }

    /// The filters and the `where` expression, without `q`.
    pub fn filter_predicate(&self) -> Option<Expr> {
        let mut parts: Vec<Expr> = self.filters.iter().map(Filter::expr).collect();
        if let Some(w) = &self.where_ {
            parts.push(w.expr.clone());
        }
        crate::expr::balanced(parts, true)
    }

    /// The fields returned, in order (without aggregates).
    pub fn output_fields<'a>(&self, fields: &'a [Field]) -> Vec<&'a Field> {
        if self.select.is_empty() {
            fields.iter().collect()
        } else {
            self.select.iter().filter_map(|s| fields.iter().find(|f| f.name == s.name())).collect()
        }
    }
}

/// True where a folded word of `q` starts a word of the field's folded text: `hanh` finds
/// `hành`, not `thành`.
pub fn word_predicate(field: &str, word: &str) -> Expr {
    let pattern = format!(r"(?:^|[^\p{{L}}\p{{N}}]){}", escape_regex(word));
    fold_expr(col(field)).str().contains(lit(pattern), false).fill_null(lit(false))
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
        ["a", "b"].iter().map(|n| Field::new(n, FieldType::Integer)).collect()
    }

    #[test]
    fn limits() {
        let q = parse_records(&pairs(&[]), &fields(), OutputFormat::Json, None).unwrap();
        assert_eq!(q.limit, Some(DEFAULT_LIMIT));
        let q = parse_records(&pairs(&[]), &fields(), OutputFormat::Csv, None).unwrap();
        assert_eq!(q.limit, None);
        let e = parse_records(&pairs(&[("limit", "10001")]), &fields(), OutputFormat::Json, None).unwrap_err();
        assert_eq!(e.code(), "invalid_limit");
        assert!(parse_records(&pairs(&[("limit", "50000")]), &fields(), OutputFormat::Csv, None).is_ok());
        let e = parse_records(&pairs(&[("offset", "-1")]), &fields(), OutputFormat::Json, None).unwrap_err();
        assert_eq!(e.code(), "invalid_offset");
    }

    #[test]
    fn sort_and_select() {
        let q =
            parse_records(&pairs(&[("sort", "-a,b"), ("select", "b")]), &fields(), OutputFormat::Json, None).unwrap();
        assert_eq!(
            q.sort,
            vec![SortKey { field: "a".into(), descending: true }, SortKey { field: "b".into(), descending: false }]
        );
        assert_eq!(q.select, vec![SelectItem::Field("b".into())]);
        let e = parse_records(&pairs(&[("sort", "c")]), &fields(), OutputFormat::Json, None).unwrap_err();
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
