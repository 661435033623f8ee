//! The `where=` parser and compiler never panic, whatever they are fed: arbitrary text, and
//! soups of the grammar's own tokens (which get much deeper into the parser than random text).
//! `make test` runs 2,000 cases of each; `PROPTEST_CASES=100000 cargo test -p opendata-query
//! --test where_fuzz --release` is the long run.

use opendata_ingest::{Field, FieldType};
use opendata_query::expr::{MAX_LEN, compile, parse};
use polars::prelude::*;
use proptest::prelude::*;

fn fields() -> Vec<Field> {
    let f = Field::new;
    vec![
        f("ten", FieldType::String),
        f("le_phi", FieldType::Integer),
        f("ty_le", FieldType::Float),
        f("ngay", FieldType::Date),
        f("luc", FieldType::Datetime),
        f("dung_han", FieldType::Boolean),
    ]
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

const TOKENS: &[&str] = &[
    "ten",
    "le_phi",
    "ty_le",
    "ngay",
    "luc",
    "dung_han",
    "khong_co",
    "\"ten\"",
    "\"and\"",
    "and",
    "or",
    "not",
    "in",
    "between",
    "like",
    "ilike",
    "contains",
    "icontains",
    "is",
    "null",
    "true",
    "false",
    "NOT",
    "AnD",
    "(",
    ")",
    ",",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "-",
    "'Hà Nội'",
    "'2024-03-01'",
    "'01/03/2024'",
    "''",
    "'a''b'",
    "'%'",
    "'_'",
    "0",
    "-1",
    "1.5",
    "1e3",
    "9999999999999999999999",
    ".5",
    "'",
    "\"",
    "!",
    ";",
    "Đường",
    " ",
    "\t",
];

/// A small frame of every field type, nulls included, to run compiled expressions on.
fn frame() -> DataFrame {
    use chrono::NaiveDate;
    let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d);
    df!(
        "ten" => [Some("Hà Nội"), None, Some("Đường Láng"), Some("a'b")],
        "le_phi" => [Some(500_000i64), Some(0), None, Some(-1)],
        "ty_le" => [Some(0.5f64), None, Some(7.25), Some(-0.0)],
        "ngay" => [day(1), day(2), None, day(31)],
        "luc" => [Some(1_709_251_200_000_000i64), None, Some(0), Some(1)],
        "dung_han" => [Some(true), Some(false), None, Some(true)],
    )
    .and_then(|df| {
        df.lazy().with_columns([col("luc").cast(DataType::Datetime(TimeUnit::Microseconds, None))]).collect()
    })
    .expect("the test frame")
}

fn check(src: &str) {
    let len = src.chars().count();
    match parse(src) {
        Ok(ast) => {
            // What compiles must also run: a runtime error would be a 500.
            if let Ok(expr) = compile(&ast, &fields(), Default::default()) {
                let run = frame().lazy().filter(expr).collect();
                assert!(run.is_ok(), "{src:?} compiled but failed to run: {:?}", run.err());
            }
        }
        Err(e) => {
            assert!(e.position >= 1, "position 0 for {src:?}");
            assert!(e.position <= len.max(MAX_LEN) + 1, "position {} past the end of {src:?}", e.position);
            assert!(!e.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        check(&src);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..40)) {
        check(&tokens.join(" "));
        check(&tokens.concat());
    }
}

#[test]
fn long_and_deep_inputs_are_refused_not_overflowed() {
    check(&"(".repeat(100_000));
    check(&"not ".repeat(100_000));
    check(&format!("{}ten = 'a'{}", "(".repeat(60), ")".repeat(60)));
    check(&"a".repeat(MAX_LEN + 10));
    check(&format!("{}ten = 'a'", "ten = 'a' or ".repeat(300)));
    check(&format!("{}le_phi between 1 and 2", "not (le_phi > 0.5) and ".repeat(200)));
}
