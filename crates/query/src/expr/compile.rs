//! Type-check a `where=` AST against the dataset's fields and compile it to a polars predicate.

use opendata_collate::Collation;
use opendata_ingest::{Field, FieldType};
use polars::prelude::{Expr, col, lit};
use unicode_normalization::UnicodeNormalization;

use super::parse::{Ast, CmpOp, Literal, Operand};
use crate::collate::ordered;
use crate::error::{QueryError, Result};
use crate::filter::{Value, parse_value};
use crate::fold::{fold_expr, fold_text};

fn error(position: usize, message: String) -> QueryError {
    QueryError::Expression { param: "where".into(), position, message, valid_fields: None }
}

fn field<'a>(fields: &'a [Field], name: &str, pos: usize) -> Result<&'a Field> {
    fields.iter().find(|f| f.name == name).ok_or_else(|| QueryError::Expression {
        param: "where".into(),
        position: pos,
        message: format!("unknown field `{name}`"),
        valid_fields: Some(fields.iter().map(|f| f.name.clone()).collect()),
    })
}

fn literal_name(l: &Literal) -> String {
    match l {
        Literal::Text(t) => format!("text '{t}'"),
        Literal::Number(n) => format!("number {n}"),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// A literal as a value of the field's type.
fn coerce(l: &Literal, f: &Field, pos: usize) -> Result<Expr> {
    let mismatch = |hint: &str| {
        error(pos, format!("{} cannot be compared with {} field `{}`{hint}", literal_name(l), f.field_type, f.name))
    };
    let value = match (l, f.field_type) {
        (Literal::Null, _) => {
            return Err(error(pos, "null compares as unknown; write `is null` or `is not null`".into()));
        }
        (Literal::Text(t), FieldType::String) => Value::Str(t.nfc().collect()),
        (Literal::Number(_), FieldType::String) => return Err(mismatch(": put the value in quotes, e.g. '001'")),
        (Literal::Number(n), FieldType::Integer) => match n.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(n.parse().map_err(|_| error(pos, format!("`{n}` is not a number")))?),
        },
        (Literal::Number(n), FieldType::Float) => {
            Value::Float(n.parse().map_err(|_| error(pos, format!("`{n}` is not a number")))?)
        }
        (Literal::Text(_), FieldType::Integer | FieldType::Float) => {
            return Err(mismatch(": write numbers without quotes, e.g. 500000"));
        }
        (Literal::Bool(b), FieldType::Boolean) => Value::Bool(*b),
        (Literal::Text(t), FieldType::Date | FieldType::Datetime) => {
            parse_value("where", t, f.field_type).map_err(|_| {
                error(pos, format!("'{t}' is not a {} for field `{}`; write '2024-03-01'", f.field_type, f.name))
            })?
        }
        _ => return Err(mismatch("")),
    };
    Ok(value.expr())
}

/// A literal on its own (compared with another literal).
fn bare_literal(l: &Literal, pos: usize) -> Result<(Expr, &'static str)> {
    Ok(match l {
        Literal::Text(t) => (lit(t.clone()), "text"),
        Literal::Number(n) => match n.parse::<i64>() {
            Ok(i) => (lit(i), "number"),
            Err(_) => (lit(n.parse::<f64>().map_err(|_| error(pos, format!("`{n}` is not a number")))?), "number"),
        },
        Literal::Bool(b) => (lit(*b), "boolean"),
        Literal::Null => return Err(error(pos, "null compares as unknown; write `is null` or `is not null`".into())),
    })
}

fn numeric(t: FieldType) -> bool {
    matches!(t, FieldType::Integer | FieldType::Float)
}

/// Two operands made comparable: each side's expression, and whether they are text.
fn pair(left: &Operand, right: &Operand, fields: &[Field]) -> Result<(Expr, Expr, bool)> {
    let text = |o: &Operand| match o {
        Operand::Field { name, pos } => field(fields, name, *pos).is_ok_and(|f| f.field_type == FieldType::String),
        Operand::Literal { value, .. } => matches!(value, Literal::Text(_)),
    };
    let is_text = text(left) && text(right);
    let (a, b) = pair_exprs(left, right, fields)?;
    Ok((a, b, is_text))
}

fn pair_exprs(left: &Operand, right: &Operand, fields: &[Field]) -> Result<(Expr, Expr)> {
    match (left, right) {
        (Operand::Field { name: a, pos: pa }, Operand::Field { name: b, pos: pb }) => {
            let (fa, fb) = (field(fields, a, *pa)?, field(fields, b, *pb)?);
            if fa.field_type != fb.field_type && !(numeric(fa.field_type) && numeric(fb.field_type)) {
                return Err(error(
                    *pb,
                    format!("{} field `{a}` cannot be compared with {} field `{b}`", fa.field_type, fb.field_type),
                ));
            }
            Ok((col(a.as_str()), col(b.as_str())))
        }
        (Operand::Field { name, pos }, Operand::Literal { value, pos: lpos }) => {
            Ok((col(field(fields, name, *pos)?.name.as_str()), coerce(value, field(fields, name, *pos)?, *lpos)?))
        }
        (Operand::Literal { value, pos: lpos }, Operand::Field { name, pos }) => {
            let f = field(fields, name, *pos)?;
            Ok((coerce(value, f, *lpos)?, col(f.name.as_str())))
        }
        (Operand::Literal { value: a, pos: pa }, Operand::Literal { value: b, pos: pb }) => {
            let ((ea, ta), (eb, tb)) = (bare_literal(a, *pa)?, bare_literal(b, *pb)?);
            if ta != tb {
                return Err(error(*pb, format!("{} cannot be compared with {}", literal_name(a), literal_name(b))));
            }
            Ok((ea, eb))
        }
    }
}

/// `a op b`; text ordered by `collation` when `text`.
fn compare(a: Expr, op: CmpOp, b: Expr, text: bool, collation: Collation) -> Expr {
    let (a, b) = match op {
        CmpOp::Eq | CmpOp::Ne => (a, b),
        _ if text => (ordered(a, collation), ordered(b, collation)),
        _ => (a, b),
    };
    match op {
        CmpOp::Eq => a.eq(b),
        CmpOp::Ne => a.neq(b),
        CmpOp::Lt => a.lt(b),
        CmpOp::Lte => a.lt_eq(b),
        CmpOp::Gt => a.gt(b),
        CmpOp::Gte => a.gt_eq(b),
    }
}

/// A text field for `like` and `contains`.
fn text_field<'a>(operand: &Operand, fields: &'a [Field], what: &str) -> Result<&'a Field> {
    match operand {
        Operand::Field { name, pos } => {
            let f = field(fields, name, *pos)?;
            if f.field_type != FieldType::String {
                return Err(error(*pos, format!("`{what}` applies to text fields; `{name}` is {}", f.field_type)));
            }
            Ok(f)
        }
        Operand::Literal { pos, .. } => Err(error(*pos, format!("`{what}` needs a field on its left"))),
    }
}

/// SQL `like` as an anchored regular expression: `%` any run, `_` one character.
fn like_regex(pattern: &str) -> String {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c if r"\.+*?()|[]{}^$#&-~".contains(c) => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

/// `and` or `or` of many expressions as a balanced tree: a chain of hundreds of conditions
/// (`a or b or …`, a long `in` list) would otherwise nest as deep as it is long, and polars
/// walks expression trees recursively.
pub(crate) fn balanced(mut exprs: Vec<Expr>, and: bool) -> Option<Expr> {
    while exprs.len() > 1 {
        let mut next = Vec::with_capacity(exprs.len().div_ceil(2));
        let mut it = exprs.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) if and => a.and(b),
                Some(b) => a.or(b),
                None => a,
            });
        }
        exprs = next;
    }
    exprs.pop()
}

/// The operands of a chain of the same operator: `a or b or c` → [a, b, c].
fn chain<'a>(ast: &'a Ast, and: bool, out: &mut Vec<&'a Ast>) {
    match (ast, and) {
        (Ast::And(a, b), true) | (Ast::Or(a, b), false) => {
            chain(a, and, out);
            chain(b, and, out);
        }
        _ => out.push(ast),
    }
}

fn negate(e: Expr, negated: bool) -> Expr {
    if negated { e.not() } else { e }
}

/// Check `ast` against `fields` and build its predicate.
/// The polars predicate of a `where` expression; text comparisons in `collation` order.
pub fn compile(ast: &Ast, fields: &[Field], collation: Collation) -> Result<Expr> {
    Ok(match ast {
        Ast::Or(..) | Ast::And(..) => {
            let and = matches!(ast, Ast::And(..));
            let mut operands = Vec::new();
            chain(ast, and, &mut operands);
            let exprs = operands.into_iter().map(|a| compile(a, fields, collation)).collect::<Result<Vec<_>>>()?;
            balanced(exprs, and).unwrap_or_else(|| lit(and))
        }
        Ast::Not(a) => compile(a, fields, collation)?.not(),
        Ast::Compare { left, op, right } => {
            let (a, b, text) = pair(left, right, fields)?;
            compare(a, *op, b, text, collation)
        }
        Ast::In { operand, list, negated } => {
            let mut eqs = Vec::with_capacity(list.len());
            for item in list {
                if let Operand::Literal { value: Literal::Null, pos } = item {
                    return Err(error(*pos, "null in an `in` list never matches; write `… or x is null`".into()));
                }
                let (a, b, _) = pair(operand, item, fields)?;
                eqs.push(a.eq(b));
            }
            negate(balanced(eqs, false).unwrap_or_else(|| lit(false)), *negated)
        }
        Ast::Between { operand, low, high, negated } => {
            let (a, lo, text) = pair(operand, low, fields)?;
            let (_, hi, _) = pair(operand, high, fields)?;
            let at_least = compare(a.clone(), CmpOp::Gte, lo, text, collation);
            negate(at_least.and(compare(a, CmpOp::Lte, hi, text, collation)), *negated)
        }
        Ast::Like { operand, pattern, insensitive, negated } => {
            let f = text_field(operand, fields, if *insensitive { "ilike" } else { "like" })?;
            let e = if *insensitive {
                fold_expr(col(f.name.as_str())).str().contains(lit(like_regex(&fold_text(pattern))), true)
            } else {
                col(f.name.as_str()).str().contains(lit(like_regex(&pattern.nfc().collect::<String>())), true)
            };
            negate(e, *negated)
        }
        Ast::Contains { operand, needle, insensitive, negated } => {
            let f = text_field(operand, fields, if *insensitive { "icontains" } else { "contains" })?;
            let e = if *insensitive {
                fold_expr(col(f.name.as_str())).str().contains_literal(lit(fold_text(needle)))
            } else {
                col(f.name.as_str()).str().contains_literal(lit(needle.nfc().collect::<String>()))
            };
            negate(e, *negated)
        }
        Ast::IsNull { operand, negated } => {
            let e = match operand {
                Operand::Field { name, pos } => col(field(fields, name, *pos)?.name.as_str()),
                Operand::Literal { value: Literal::Null, .. } => lit(polars::prelude::Null {}),
                Operand::Literal { value, pos } => bare_literal(value, *pos)?.0,
            };
            if *negated { e.is_not_null() } else { e.is_null() }
        }
        Ast::Truth(Operand::Field { name, pos }) => {
            let f = field(fields, name, *pos)?;
            if f.field_type != FieldType::Boolean {
                return Err(error(
                    *pos,
                    format!("`{name}` is a {} field, not a condition: compare it, e.g. `{name} = …`", f.field_type),
                ));
            }
            col(name.as_str())
        }
        Ast::Truth(Operand::Literal { value: Literal::Bool(b), .. }) => lit(*b),
        Ast::Truth(Operand::Literal { value, pos }) => {
            return Err(error(*pos, format!("{} is not a condition: compare it with a field", literal_name(value))));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn fields() -> Vec<Field> {
        let f = Field::new;
        vec![
            f("ten", FieldType::String),
            f("le_phi", FieldType::Integer),
            f("ngay", FieldType::Date),
            f("dung_han", FieldType::Boolean),
        ]
    }

    fn check(src: &str) -> Result<Expr> {
        compile(&parse(src).map_err(|e| error(e.position, e.message))?, &fields(), Collation::default())
    }

    #[test]
    fn types_are_checked_with_positions() {
        assert!(check("le_phi >= 500000 and (ten = 'Quận Ba Đình' or ten in ('A', 'B')) and ngay is null").is_ok());
        assert!(check("ngay between '2024-01-01' and '31/12/2024' and dung_han").is_ok());
        let e = check("le_phi = 'nhiều'").unwrap_err();
        assert_eq!(e.code(), "invalid_where");
        assert!(e.to_string().contains("position 10") && e.to_string().contains("without quotes"), "{e}");
        let e = check("ten = 001").unwrap_err();
        assert!(e.to_string().contains("in quotes"), "{e}");
        let e = check("khong_co > 1").unwrap_err();
        assert_eq!(e.code(), "unknown_field");
        assert!(e.to_string().contains("valid fields: ten, le_phi, ngay, dung_han"), "{e}");
        assert!(check("ngay > 'hôm qua'").unwrap_err().to_string().contains("not a date"));
        assert!(check("le_phi like '5%'").unwrap_err().to_string().contains("text fields"));
        assert!(check("le_phi").unwrap_err().to_string().contains("not a condition"));
        assert!(check("ten = null").unwrap_err().to_string().contains("is null"));
        assert!(check("ten > le_phi").unwrap_err().to_string().contains("cannot be compared"));
    }

    #[test]
    fn like_is_anchored_and_literal() {
        assert_eq!(like_regex("Phường%"), "(?s)^Phường.*$");
        assert_eq!(like_regex("a_b.c"), r"(?s)^a.b\.c$");
    }
}
