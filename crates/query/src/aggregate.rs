//! `select=` with aggregates and `group_by=`:
//!
//! ```text
//! select=quan_huyen,count(*),sum(le_phi_vnd) as tong,avg(so_ngay) as tb&group_by=quan_huyen
//! ```
//!
//! Functions: `count(*)`, `count(f)` (non-null values), `sum`, `avg` (numeric fields), `min`,
//! `max` (numbers, dates, text), `count_distinct(f)` (distinct non-null values). An aggregate is
//! named by `as alias`, or `count`, `sum_f`, `avg_f`… Every plain field of an aggregating
//! `select` must be in `group_by`; `group_by` alone means `select=<group fields>,count(*)`. As
//! in SQL, `sum` and `avg` of no values are null.

use opendata_collate::Collation;
use opendata_ingest::{Field, FieldType};
use polars::prelude::*;

use crate::error::{QueryError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
}

impl AggFunc {
    const ALL: [(&'static str, AggFunc); 6] = [
        ("count", AggFunc::Count),
        ("sum", AggFunc::Sum),
        ("avg", AggFunc::Avg),
        ("min", AggFunc::Min),
        ("max", AggFunc::Max),
        ("count_distinct", AggFunc::CountDistinct),
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, f)| *f == self).map_or("count", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggFunc,
    /// `None` for `count(*)`.
    pub field: Option<String>,
    pub alias: String,
    /// The type of the result.
    pub output_type: FieldType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Field(String),
    Aggregate(Aggregate),
}

impl SelectItem {
    /// The name of the output column.
    pub fn name(&self) -> &str {
        match self {
            SelectItem::Field(f) => f,
            SelectItem::Aggregate(a) => &a.alias,
        }
    }
}

fn invalid(message: String) -> QueryError {
    QueryError::InvalidParameter { param: "select".into(), message }
}

fn unknown(param: &str, name: &str, fields: &[Field]) -> QueryError {
    QueryError::UnknownField {
        param: param.to_string(),
        field: name.to_string(),
        valid: fields.iter().map(|f| f.name.clone()).collect(),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Parse one `select` item.
fn parse_item(item: &str, fields: &[Field]) -> Result<SelectItem> {
    let Some(open) = item.find('(') else {
        if item.starts_with('-') {
            return Err(invalid(format!("`{item}`: a leading `-` belongs to `sort`, not `select`")));
        }
        return fields
            .iter()
            .find(|f| f.name == item)
            .map(|f| SelectItem::Field(f.name.clone()))
            .ok_or_else(|| unknown("select", item, fields));
    };
    let func_name = item[..open].trim();
    let func = AggFunc::parse(func_name).ok_or_else(|| {
        invalid(format!("`{func_name}` is not a function; use count, sum, avg, min, max or count_distinct"))
    })?;
    let close = item.find(')').ok_or_else(|| invalid(format!("`{item}`: missing `)`")))?;
    let arg = item[open + 1..close].trim();
    let rest = item[close + 1..].trim();
    let alias = if rest.is_empty() {
        None
    } else {
        let mut words = rest.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(kw), Some(a), None) if kw.eq_ignore_ascii_case("as") && is_name(a) => Some(a.to_string()),
            _ => return Err(invalid(format!("`{item}`: after `)` only `as name` may follow"))),
        }
    };
    let field = if arg == "*" {
        if func != AggFunc::Count {
            return Err(invalid(format!("`{func_name}(*)`: only count takes `*`")));
        }
        None
    } else {
        Some(fields.iter().find(|f| f.name == arg).ok_or_else(|| unknown("select", arg, fields))?)
    };
    let output_type = match (func, field) {
        (AggFunc::Count | AggFunc::CountDistinct, _) => FieldType::Integer,
        (AggFunc::Avg, Some(f)) if matches!(f.field_type, FieldType::Integer | FieldType::Float) => FieldType::Float,
        (AggFunc::Sum, Some(f)) if matches!(f.field_type, FieldType::Integer | FieldType::Float) => f.field_type,
        (AggFunc::Min | AggFunc::Max, Some(f)) if f.field_type != FieldType::Boolean => f.field_type,
        (_, Some(f)) => {
            return Err(invalid(format!(
                "`{}({})`: {} field `{}` has no {}",
                func.name(),
                f.name,
                f.field_type,
                f.name,
                func.name()
            )));
        }
        (_, None) => return Err(invalid(format!("`{func_name}(*)`: only count takes `*`"))),
    };
    let alias = alias.unwrap_or_else(|| match field {
        None => "count".to_string(),
        Some(f) => format!("{}_{}", func.name(), f.name),
    });
    Ok(SelectItem::Aggregate(Aggregate { func, field: field.map(|f| f.name.clone()), alias, output_type }))
}

/// Parse `select` (and check it against `group_by`).
pub fn parse_select(value: &str, group_by: &[String], fields: &[Field]) -> Result<Vec<SelectItem>> {
    let items: Vec<SelectItem> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_item(s, fields))
        .collect::<Result<_>>()?;
    let aggregating = !group_by.is_empty() || items.iter().any(|i| matches!(i, SelectItem::Aggregate(_)));
    if aggregating {
        for item in &items {
            if let SelectItem::Field(f) = item
                && !group_by.contains(f)
            {
                return Err(invalid(format!(
                    "field `{f}` is neither aggregated nor in `group_by`; add `group_by={f}` or aggregate it, e.g. `count_distinct({f})`"
                )));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for item in &items {
        if !seen.insert(item.name()) {
            return Err(invalid(format!("`{}` appears twice; give one of them another name with `as`", item.name())));
        }
        if let SelectItem::Aggregate(a) = item
            && group_by.contains(&a.alias)
        {
            return Err(invalid(format!("`{}` is a group field; name the aggregate otherwise with `as`", a.alias)));
        }
    }
    Ok(items)
}

/// Parse `group_by`.
pub fn parse_group_by(value: &str, fields: &[Field]) -> Result<Vec<String>> {
    let names: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.name.clone())
                .ok_or_else(|| unknown("group_by", name, fields))
        })
        .collect::<Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(QueryError::InvalidParameter {
            param: "group_by".into(),
            message: format!("`{dup}` appears twice"),
        });
    }
    Ok(names)
}

/// Marks a polars error raised by [`exact_sum`], so it is answered as the request's fault.
pub(crate) const SUM_OVERFLOW: &str = "opendata:sum_overflow:";

/// The error of an integer sum outside the 64-bit range.
pub(crate) fn sum_overflow(alias: &str, value: &str) -> QueryError {
    QueryError::InvalidParameter {
        param: "select".into(),
        message: format!(
            "`{alias}` is {value}, beyond the range of a 64-bit integer (±9223372036854775807); filter the rows or use avg"
        ),
    }
}

/// The sum of an integer column, exact or an error. polars adds `Int64` with wrapping, which
/// gives the true sum whenever that fits in 64 bits, however the partial sums overflow. The
/// same sum in `f64` is within far less than 2⁶² of the true one (its error grows with the
/// number of values times 2⁻⁵³), while a wrapped answer is off by 2⁶⁴: the two disagreeing by
/// more than 2⁶² is an overflow.
fn exact_sum(c: Expr, alias: String) -> Expr {
    let float = c.clone().cast(DataType::Float64).sum();
    c.sum().map_many(
        move |columns| {
            let (ints, floats) = (columns[0].i64()?, columns[1].f64()?);
            for (i, f) in ints.iter().zip(floats.iter()) {
                if let (Some(i), Some(f)) = (i, f)
                    && ((i as f64) - f).abs() > 4.611_686_018_427_388e18
                {
                    polars_bail!(ComputeError: "{SUM_OVERFLOW}{alias}:{f:e}");
                }
            }
            Ok(columns[0].clone())
        },
        &[float],
        |_, fields| Ok(fields[0].clone()),
    )
}

impl Aggregate {
    /// The polars aggregation; text `min`/`max` in `collation` order.
    pub fn expr(&self, collation: Collation) -> Expr {
        let c = || col(self.field.as_deref().unwrap_or_default());
        let e = match (self.func, &self.field) {
            (AggFunc::Count, None) => len().cast(DataType::Int64),
            (AggFunc::Count, Some(_)) => c().count().cast(DataType::Int64),
            (AggFunc::CountDistinct, _) => c().drop_nulls().n_unique().cast(DataType::Int64),
            // SQL: the sum of no values is null, not 0.
            (AggFunc::Sum, _) if self.output_type == FieldType::Integer => {
                when(c().count().gt(lit(0))).then(exact_sum(c(), self.alias.clone())).otherwise(lit(Null {}))
            }
            (AggFunc::Sum, _) => when(c().count().gt(lit(0))).then(c().sum()).otherwise(lit(Null {})),
            (AggFunc::Avg, _) => c().mean(),
            (AggFunc::Min | AggFunc::Max, _) if self.output_type == FieldType::String => {
                let options = SortMultipleOptions::default()
                    .with_order_descending(self.func == AggFunc::Max)
                    .with_nulls_last(true);
                c().sort_by([crate::collate::ordered(c(), collation)], options).first()
            }
            (AggFunc::Min, _) => c().min(),
            (AggFunc::Max, _) => c().max(),
        };
        e.alias(self.alias.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        let f = Field::new;
        vec![f("quan", FieldType::String), f("phi", FieldType::Integer), f("ngay", FieldType::Date)]
    }

    #[test]
    fn items_aliases_and_checks() {
        let items =
            parse_select("quan, count(*), sum(phi) as tong, avg(phi), max(ngay)", &["quan".into()], &fields()).unwrap();
        let names: Vec<&str> = items.iter().map(SelectItem::name).collect();
        assert_eq!(names, ["quan", "count", "tong", "avg_phi", "max_ngay"]);
        let e = parse_select("quan, count(*)", &[], &fields()).unwrap_err();
        assert!(e.to_string().contains("group_by=quan"), "{e}");
        assert!(parse_select("sum(quan)", &[], &fields()).unwrap_err().to_string().contains("has no sum"));
        assert!(parse_select("median(phi)", &[], &fields()).unwrap_err().to_string().contains("not a function"));
        assert_eq!(parse_select("count(khong)", &[], &fields()).unwrap_err().code(), "unknown_field");
        assert!(parse_select("count(*), count(*)", &[], &fields()).unwrap_err().to_string().contains("twice"));
        assert!(parse_select("sum(*)", &[], &fields()).is_err());
        assert!(parse_select("count(*) tong", &[], &fields()).is_err());
    }
}
