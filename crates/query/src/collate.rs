//! Text in the order a person reads it ([`Collation`], Vietnamese dictionary order unless the
//! request says `collation=codepoint`) inside polars plans. polars orders strings by their
//! bytes; a text column is therefore sorted or compared through its collation keys, binary
//! values that order as the collation does.

use opendata_collate::Collation;
use polars::prelude::*;

/// `e` as something whose polars order is `collation`'s: a text column becomes its keys,
/// anything else stays as it is.
pub fn ordered(e: Expr, collation: Collation) -> Expr {
    if collation == Collation::Codepoint {
        return e;
    }
    e.map(
        move |c| keys(c, collation),
        |_, f| {
            Ok(if f.dtype() == &DataType::String { Field::new(f.name().clone(), DataType::Binary) } else { f.clone() })
        },
    )
}

/// The collation keys of a text column (other columns unchanged); a text column in code point
/// order stays as it is.
pub(crate) fn keys(c: Column, collation: Collation) -> PolarsResult<Column> {
    if collation == Collation::Codepoint {
        return Ok(c);
    }
    let Ok(ca) = c.str() else { return Ok(c) };
    let mut buf = Vec::new();
    let out: BinaryChunked = ca
        .iter()
        .map(|v| {
            v.map(|s| {
                buf.clear();
                collation.write_key(s, &mut buf);
                buf.clone()
            })
        })
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// The key of one text value, as a literal to compare [`ordered`] columns with.
pub fn ordered_lit(text: &str, collation: Collation) -> Expr {
    match collation {
        Collation::Codepoint => lit(text.to_string()),
        _ => lit(Scalar::new(DataType::Binary, AnyValue::BinaryOwned(collation.key(text)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_column_sorts_and_compares_in_dictionary_order() {
        let df = df!("ten" => [Some("Quận Đống Đa"), Some("Hoàng Mai"), None, Some("Hà Đông"), Some("Quận Tây Hồ")],
                     "n" => [1i64, 2, 3, 4, 5])
        .unwrap();
        let sorted = df
            .clone()
            .lazy()
            .sort_by_exprs(
                [ordered(col("ten"), Collation::Vietnamese)],
                SortMultipleOptions::default().with_nulls_last(true),
            )
            .collect()
            .unwrap();
        let names: Vec<Option<&str>> = sorted.column("ten").unwrap().str().unwrap().iter().collect();
        assert_eq!(names, [Some("Hà Đông"), Some("Hoàng Mai"), Some("Quận Đống Đa"), Some("Quận Tây Hồ"), None]);
        let after_h = df
            .lazy()
            .filter(ordered(col("ten"), Collation::Vietnamese).gt_eq(ordered_lit("Hoàng", Collation::Vietnamese)))
            .collect()
            .unwrap();
        let names: Vec<Option<&str>> = after_h.column("ten").unwrap().str().unwrap().iter().collect();
        assert_eq!(names, [Some("Quận Đống Đa"), Some("Hoàng Mai"), Some("Quận Tây Hồ")]);
    }
}
