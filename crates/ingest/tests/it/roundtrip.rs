//! Property: a random typed table, written out as an agency might (any of four encodings, any
//! of four delimiters, Vietnamese or dot-decimal numbers, title rows above the header), reads
//! back as the same table.

use chrono::NaiveDate;
use opendata_ingest::{FieldType, IngestOptions, ingest};
use proptest::prelude::*;
use serde_json::{Value, json};
use unicode_normalization::UnicodeNormalization;

use super::helpers::{rows, same};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    Boolean,
    Date,
    Text,
}

const WORDS: [&str; 12] = [
    "Hà Nội",
    "Phường Dịch Vọng",
    "Quận Cầu Giấy",
    "Đường Láng",
    "Trường THCS Nghĩa Tân",
    "Sở Tư pháp",
    "Ủy ban nhân dân",
    "Hồ Gươm",
    "Phố Hàng Bạc",
    "Xã Thuỵ Lâm",
    "Chợ Đồng Xuân",
    "Bệnh viện Bạch Mai",
];

#[derive(Debug, Clone)]
struct Table {
    kinds: Vec<Kind>,
    /// Row-major values; `None` is an empty cell.
    cells: Vec<Vec<Option<Value>>>,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Integer), Just(Kind::Float), Just(Kind::Boolean), Just(Kind::Date), Just(Kind::Text)]
}

fn value(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Integer => (-5_000_000i64..5_000_000).prop_map(|v| json!(v)).boxed(),
        // Two decimals at most, so that a dot-decimal value is never `1.250` (thousands).
        Kind::Float => (-1_000_000i64..1_000_000, 1u32..=2)
            .prop_map(|(v, d)| {
                let scale = 10f64.powi(d as i32);
                let v = if v % 10 == 0 { v + 1 } else { v }; // keep the last decimal non-zero
                json!(v as f64 / scale)
            })
            .boxed(),
        Kind::Boolean => any::<bool>().prop_map(|b| json!(b)).boxed(),
        Kind::Date => (0i64..20_000)
            .prop_map(|d| {
                let date = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Duration::days(d);
                json!(date.format("%Y-%m-%d").to_string())
            })
            .boxed(),
        Kind::Text => proptest::sample::select(WORDS.to_vec()).prop_map(|w| json!(w)).boxed(),
    }
}

fn table() -> impl Strategy<Value = Table> {
    (prop::collection::vec(kind(), 2..6), 1usize..40).prop_flat_map(|(kinds, n)| {
        let row = kinds.iter().map(|k| prop::option::weighted(0.85, value(*k))).collect::<Vec<_>>();
        (Just(kinds), prop::collection::vec(row, n)).prop_map(|(kinds, mut cells)| {
            // A row of empty cells is a blank row (skipped, by the contract): give each a value.
            let (k0, fill) = (kinds[0], |k: &Kind| match k {
                Kind::Integer => json!(7),
                Kind::Float => json!(7.5),
                Kind::Boolean => json!(true),
                Kind::Date => json!("2024-03-01"),
                Kind::Text => json!("Hà Nội"),
            });
            for row in &mut cells {
                if row.iter().all(Option::is_none) {
                    row[0] = Some(fill(&k0));
                }
            }
            // Every column has at least one value, so its type is decided by values.
            for (c, k) in kinds.iter().enumerate() {
                if cells.iter().all(|r| r[c].is_none()) {
                    cells[0][c] = Some(match k {
                        Kind::Integer => json!(7),
                        Kind::Float => json!(7.5),
                        Kind::Boolean => json!(true),
                        Kind::Date => json!("2024-03-01"),
                        Kind::Text => json!("Hà Nội"),
                    });
                }
            }
            Table { kinds, cells }
        })
    })
}

/// Digits with `sep` every three from the right.
fn group(digits: &str, sep: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

fn write_number(v: &Value, kind: Kind, vietnamese: bool, grouped: bool) -> String {
    let (thousands, decimal) = if vietnamese { (".", ",") } else { (",", ".") };
    let f = v.as_f64().unwrap();
    let sign = if f < 0.0 { "-" } else { "" };
    let (int_part, frac) = match kind {
        Kind::Integer => (v.as_i64().unwrap().unsigned_abs().to_string(), String::new()),
        _ => {
            let text = format!("{}", f.abs());
            match text.split_once('.') {
                Some((i, d)) => (i.to_string(), d.to_string()),
                None => (text, String::new()),
            }
        }
    };
    // A dot-decimal integer column has no `.` to show its style, and `1,234` alone reads as
    // Vietnamese 1,234 (the contract's rule): such files write integers ungrouped.
    let grouped = grouped && (vietnamese || kind == Kind::Float);
    let int_part = if grouped { group(&int_part, thousands) } else { int_part };
    if frac.is_empty() { format!("{sign}{int_part}") } else { format!("{sign}{int_part}{decimal}{frac}") }
}

fn cell_text(v: &Value, kind: Kind, vietnamese: bool, grouped: bool) -> String {
    match kind {
        Kind::Integer | Kind::Float => write_number(v, kind, vietnamese, grouped),
        Kind::Boolean => if v.as_bool().unwrap() { "Có" } else { "Không" }.to_string(),
        Kind::Date => {
            let d = NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
            d.format("%d/%m/%Y").to_string()
        }
        Kind::Text => v.as_str().unwrap().to_string(),
    }
}

/// Windows-1258 keeps tone marks apart: `ề` is `ê` then a combining grave.
fn to_windows_1258(text: &str) -> Vec<u8> {
    let mut split = String::new();
    for c in text.chars() {
        let nfd: Vec<char> = c.to_string().nfd().collect();
        let (tones, rest): (Vec<char>, Vec<char>) =
            nfd.iter().partition(|m| matches!(**m as u32, 0x300 | 0x301 | 0x303 | 0x309 | 0x323));
        split.extend(rest.into_iter().collect::<String>().nfc());
        split.extend(tones);
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258.encode(&split);
    assert!(!unmappable, "{text}");
    bytes.into_owned()
}

fn encode(text: &str, encoding: u8) -> Vec<u8> {
    match encoding {
        0 => text.as_bytes().to_vec(),
        1 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        2 => {
            let mut out = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                out.extend_from_slice(&u.to_le_bytes());
            }
            out
        }
        _ => to_windows_1258(text),
    }
}

fn quote(field: &str, delimiter: char) -> String {
    if field.contains(delimiter) || field.contains('"') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_tables_read_back_identical(
        t in table(),
        encoding in 0u8..4,
        delimiter in proptest::sample::select(vec![',', ';', '\t', '|']),
        vietnamese in any::<bool>(),
        grouped in any::<bool>(),
        title_rows in 0usize..3,
    ) {
        let headers: Vec<String> = (0..t.kinds.len()).map(|i| format!("Cột số {}", i + 1)).collect();
        let mut lines: Vec<String> = Vec::new();
        for i in 0..title_rows {
            lines.push(quote(&format!("ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI {}", i + 1), delimiter));
        }
        let sep = delimiter.to_string();
        lines.push(headers.iter().map(|h| quote(h, delimiter)).collect::<Vec<_>>().join(&sep));
        for row in &t.cells {
            let fields: Vec<String> = row
                .iter()
                .zip(&t.kinds)
                .map(|(v, k)| v.as_ref().map_or(String::new(), |v| quote(&cell_text(v, *k, vietnamese, grouped), delimiter)))
                .collect();
            lines.push(fields.join(&sep));
        }
        let text = lines.join("\r\n") + "\r\n";
        let bytes = encode(&text, encoding);
        let ingested = ingest(&bytes, Some("t.csv"), &IngestOptions::default())
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{text}")))?;
        let table = ingested.table;
        let types: Vec<FieldType> = table.fields.iter().map(|f| f.field_type).collect();
        let want: Vec<FieldType> = t.kinds.iter().map(|k| match k {
            Kind::Integer => FieldType::Integer,
            Kind::Float => FieldType::Float,
            Kind::Boolean => FieldType::Boolean,
            Kind::Date => FieldType::Date,
            Kind::Text => FieldType::String,
        }).collect();
        // A float column whose values all happen to be whole reads as integers: same numbers.
        let compatible = types.iter().zip(&want).all(|(g, w)| g == w || (*w == FieldType::Float && *g == FieldType::Integer));
        prop_assert!(compatible, "types {:?}, wrote {:?}\n{}", types, want, text);
        let got = rows(&table);
        prop_assert_eq!(got.len(), t.cells.len());
        for (r, row) in t.cells.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let got_v = got[r].values().nth(c).unwrap();
                let want_v = v.clone().unwrap_or(Value::Null);
                let ok = same(got_v, &want_v) || (got_v.is_i64() && want_v.as_f64() == got_v.as_f64());
                prop_assert!(ok, "row {} col {}: got {}, wrote {}\n{}", r, c, got_v, want_v, text);
            }
        }
    }
}
