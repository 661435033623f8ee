//! Vietnamese folding for case- and diacritic-insensitive matching: `Đường Láng` → `duong lang`.
//! The same rule as `opendata_ingest::names::fold`, as a polars expression for columns.

use polars::prelude::*;

/// Fold a literal search term.
pub fn fold_text(text: &str) -> String {
    opendata_ingest::names::fold(text)
}

/// Fold a string column: lower-case, `đ` → `d`, combining marks removed.
pub fn fold_expr(e: Expr) -> Expr {
    e.str()
        .to_lowercase()
        .str()
        .replace_all(lit("đ"), lit("d"), true)
        .str()
        .replace_all(lit("²"), lit("2"), true)
        .str()
        .replace_all(lit("³"), lit("3"), true)
        .str()
        .replace_all(lit("[µμ]"), lit("u"), false)
        .str()
        .normalize(UnicodeForm::NFD)
        .str()
        .replace_all(lit(r"\p{M}"), lit(""), false)
}
