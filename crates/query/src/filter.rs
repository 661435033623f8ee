//! Field filters from query parameters:
//!
//! ```text
//! {field}=value                 equality; the key repeated means any of the values
//! {field}__{op}=value           op: eq ne gt gte lt lte contains icontains startswith in notin isnull
//! {field}__in=a&{field}__in=b   or {field}__in=["a","b"] (a JSON array)
//! {field}__isnull=true|false
//! ```
//!
//! Values are parsed as the field's type (integer `1500000`, float `7.5`, boolean `true`,
//! date `2024-03-01` or `01/03/2024`, datetime `2024-03-01T08:30:00`); a value that does not
//! parse is a 400 naming the parameter. `contains`, `icontains` and `startswith` apply to
//! string fields only; `icontains` ignores case and Vietnamese diacritics.

use chrono::{NaiveDate, NaiveDateTime};
use opendata_collate::Collation;
use opendata_ingest::{Field, FieldType, infer};
use polars::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::error::{QueryError, Result};
use crate::fold::{fold_expr, fold_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Icontains,
    Startswith,
    In,
    Notin,
    Isnull,
}

impl Op {
    pub const NAMES: [&'static str; 12] =
        ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "icontains", "startswith", "in", "notin", "isnull"];
    const ALL: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Contains,
        Op::Icontains,
        Op::Startswith,
        Op::In,
        Op::Notin,
        Op::Isnull,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|o| *o == self).unwrap_or(0)]
    }

    fn text_only(self) -> bool {
        matches!(self, Op::Contains | Op::Icontains | Op::Startswith)
    }
}

/// A typed literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
    Str(String),
}

impl Value {
    pub fn expr(&self) -> Expr {
        match self {
            Value::Bool(b) => lit(*b),
            Value::Int(i) => lit(*i),
            Value::Float(f) => lit(*f),
            Value::Date(d) => {
                lit((*d - chrono::DateTime::UNIX_EPOCH.date_naive()).num_days() as i32).cast(DataType::Date)
            }
            Value::Datetime(dt) => {
                lit(dt.and_utc().timestamp_micros()).cast(DataType::Datetime(TimeUnit::Microseconds, None))
            }
            Value::Str(s) => lit(s.clone()),
        }
    }
}

/// One validated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: String,
    pub field_type: FieldType,
    pub op: Op,
    pub values: Vec<Value>,
    /// The order of `gt`, `gte`, `lt` and `lte` on text.
    pub collation: Collation,
}

/// Parse `text` as a value of `field_type`; `param` names the parameter in errors.
pub fn parse_value(param: &str, text: &str, field_type: FieldType) -> Result<Value> {
    let bad = |expected: &str| QueryError::InvalidValue {
        param: param.to_string(),
        value: text.to_string(),
        expected: expected.to_string(),
    };
    let t = text.trim();
    Ok(match field_type {
        // Stored text is NFC; so is what it is compared with (input methods may send NFD).
        FieldType::String => Value::Str(text.nfc().collect()),
        FieldType::Integer => Value::Int(t.parse().map_err(|_| bad("integer (e.g. 1500000)"))?),
        FieldType::Float => {
            Value::Float(t.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| bad("number (e.g. 7.5)"))?)
        }
        FieldType::Boolean => Value::Bool(match t.to_lowercase().as_str() {
            "true" | "1" | "có" => true,
            "false" | "0" | "không" => false,
            _ => return Err(bad("boolean (true or false)")),
        }),
        FieldType::Date => Value::Date(infer::parse_date(t).ok_or_else(|| bad("date (YYYY-MM-DD)"))?),
        FieldType::Datetime => Value::Datetime(
            infer::parse_datetime(t)
                .or_else(|| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M").ok())
                .or_else(|| infer::parse_date(t).map(|d| d.and_time(chrono::NaiveTime::MIN)))
                .ok_or_else(|| bad("datetime (YYYY-MM-DDTHH:MM:SS)"))?,
        ),
    })
}

/// Build a filter from one parameter key (`field` or `field__op`) and its values.
pub fn parse_filter(key: &str, raw_values: &[String], fields: &[Field]) -> Result<Filter> {
    let (name, op) = match key.rsplit_once("__") {
        Some((name, op_name)) if fields.iter().any(|f| f.name == name) => {
            let op = Op::parse(op_name)
                .ok_or_else(|| QueryError::UnknownOperator { param: key.to_string(), op: op_name.to_string() })?;
            (name, op)
        }
        _ => (key, Op::Eq),
    };
    let field = fields.iter().find(|f| f.name == name).ok_or_else(|| QueryError::UnknownField {
        param: key.to_string(),
        field: name.to_string(),
        valid: fields.iter().map(|f| f.name.clone()).collect(),
    })?;
    if op.text_only() && field.field_type != FieldType::String {
        return Err(QueryError::OperatorNotApplicable {
            param: key.to_string(),
            op: op.name().to_string(),
            field: field.name.clone(),
            field_type: field.field_type.to_string(),
        });
    }
    let values = match op {
        Op::Isnull => {
            let [one] = raw_values else {
                return Err(QueryError::InvalidParameter {
                    param: key.to_string(),
                    message: "give it once, as true or false".into(),
                });
            };
            vec![parse_value(key, one, FieldType::Boolean)?]
        }
        Op::In | Op::Notin => {
            let mut items = Vec::new();
            for raw in raw_values {
                // A value that starts with `[` is a JSON array; one that does not parse is a
                // mistake to report, not a literal to look for (a value that itself starts with
                // `[` is written inside an array: `["[2023] Báo cáo"]`).
                if !raw.trim_start().starts_with('[') {
                    items.push(parse_value(key, raw, field.field_type)?);
                    continue;
                }
                let array = serde_json::from_str::<Vec<serde_json::Value>>(raw).map_err(|e| {
                    QueryError::InvalidParameter {
                        param: key.to_string(),
                        message: format!(
                            "`{raw}` is not a JSON array ({e}); write `[\"a\",\"b\"]` or repeat the parameter once per value"
                        ),
                    }
                })?;
                for item in array {
                    let text = match item {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    items.push(parse_value(key, &text, field.field_type)?);
                }
            }
            items
        }
        _ => raw_values.iter().map(|v| parse_value(key, v, field.field_type)).collect::<Result<_>>()?,
    };
    Ok(Filter { field: field.name.clone(), field_type: field.field_type, op, values, collation: Collation::default() })
}

impl Filter {
    /// The polars predicate of this filter. Several values mean any of them, except for `ne`
    /// and `notin` (none of them).
    pub fn expr(&self) -> Expr {
        let c = || col(self.field.as_str());
        let any = |f: &dyn Fn(&Value) -> Expr| -> Expr {
            crate::expr::balanced(self.values.iter().map(f).collect(), false).unwrap_or_else(|| lit(false))
        };
        let none = |f: &dyn Fn(&Value) -> Expr| -> Expr {
            crate::expr::balanced(self.values.iter().map(f).collect(), true).unwrap_or_else(|| lit(true))
        };
        let text = |v: &Value| match v {
            Value::Str(s) => s.clone(),
            _ => String::new(),
        };
        match self.op {
            Op::Eq | Op::In => any(&|v| c().eq(v.expr())),
            Op::Ne => none(&|v| c().neq(v.expr()).or(c().is_null())),
            Op::Notin => none(&|v| c().neq(v.expr()).or(c().is_null())),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte if self.field_type == FieldType::String => {
                let k = || crate::collate::ordered(c(), self.collation);
                let key = |v: &Value| crate::collate::ordered_lit(&text(v), self.collation);
                match self.op {
                    Op::Gt => any(&|v| k().gt(key(v))),
                    Op::Gte => any(&|v| k().gt_eq(key(v))),
                    Op::Lt => any(&|v| k().lt(key(v))),
                    _ => any(&|v| k().lt_eq(key(v))),
                }
            }
            Op::Gt => any(&|v| c().gt(v.expr())),
            Op::Gte => any(&|v| c().gt_eq(v.expr())),
            Op::Lt => any(&|v| c().lt(v.expr())),
            Op::Lte => any(&|v| c().lt_eq(v.expr())),
            Op::Contains => any(&|v| c().str().contains_literal(lit(text(v)))),
            Op::Icontains => any(&|v| fold_expr(c()).str().contains_literal(lit(fold_text(&text(v))))),
            Op::Startswith => any(&|v| c().str().starts_with(lit(text(v)))),
            Op::Isnull => match self.values.first() {
                Some(Value::Bool(false)) => c().is_not_null(),
                _ => c().is_null(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        let f = Field::new;
        vec![f("ten", FieldType::String), f("so", FieldType::Integer), f("ngay", FieldType::Date)]
    }

    #[test]
    fn operators_and_values() {
        let f = parse_filter("so__gte", &["5".into()], &fields()).unwrap();
        assert_eq!((f.op, f.values), (Op::Gte, vec![Value::Int(5)]));
        let f = parse_filter("so__in", &["[1,2]".into(), "3".into()], &fields()).unwrap();
        assert_eq!(f.values, vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        let f = parse_filter("ngay", &["01/03/2024".into()], &fields()).unwrap();
        assert_eq!(f.values, vec![Value::Date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap())]);
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = parse_filter("so__gt", &["nhiều".into()], &fields()).unwrap_err();
        assert_eq!(e.code(), "invalid_value");
        assert!(e.to_string().contains("`so__gt`"), "{e}");
        let e = parse_filter("khong_co", &["1".into()], &fields()).unwrap_err();
        assert_eq!(e.to_string(), "unknown field `khong_co` in parameter `khong_co`; valid fields: ten, so, ngay");
        let e = parse_filter("so__contains", &["1".into()], &fields()).unwrap_err();
        assert_eq!(e.code(), "invalid_operator");
        let e = parse_filter("so__near", &["1".into()], &fields()).unwrap_err();
        assert_eq!(e.code(), "unknown_operator");
    }

    #[test]
    fn a_broken_json_array_is_an_error_not_a_value() {
        let e = parse_filter("ten__in", &["[\"a\",".into()], &fields()).unwrap_err();
        assert_eq!(e.code(), "invalid_parameter");
        assert!(e.to_string().contains("`ten__in`") && e.to_string().contains("not a JSON array"), "{e}");
        let f = parse_filter("ten__in", &["[\"[2023] Báo cáo\"]".into(), "a".into()], &fields()).unwrap();
        assert_eq!(f.values, vec![Value::Str("[2023] Báo cáo".into()), Value::Str("a".into())]);
    }
}
