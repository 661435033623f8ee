//! Fixture paths and a table-to-JSON view for comparing with `expected.json`.

use std::path::PathBuf;

use opendata_ingest::Table;
use polars::prelude::*;
use serde_json::{Value, json};

/// `shared/fixtures`, beside the project's root.
pub fn fixtures_dir() -> PathBuf {
    // Read when the tests run, not when they are built (see `opendata_e2e::workspace_root`).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../../../shared/fixtures")
}

/// This crate's own fixtures (`tests/fixtures`, made by its `make_fixtures.py`), in the same
/// form as the shared corpus.
pub fn own_fixtures_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("tests/fixtures")
}

/// Every row of a table as JSON objects (dates `YYYY-MM-DD`, datetimes `YYYY-MM-DDTHH:MM:SS`).
pub fn rows(table: &Table) -> Vec<serde_json::Map<String, Value>> {
    let frame = &table.frame;
    let columns: Vec<Series> = frame.columns().iter().map(|c| c.as_materialized_series().rechunk()).collect();
    (0..frame.height())
        .map(|i| {
            columns
                .iter()
                .map(|s| {
                    let v = match s.get(i).unwrap() {
                        AnyValue::Null => Value::Null,
                        AnyValue::Boolean(b) => json!(b),
                        AnyValue::Int64(v) => json!(v),
                        AnyValue::Float64(v) => json!(v),
                        AnyValue::String(v) => json!(v),
                        AnyValue::StringOwned(v) => json!(v.as_str()),
                        AnyValue::Date(d) => {
                            let date = chrono::DateTime::UNIX_EPOCH.date_naive() + chrono::Duration::days(i64::from(d));
                            json!(date.format("%Y-%m-%d").to_string())
                        }
                        AnyValue::Datetime(us, TimeUnit::Microseconds, _) => {
                            let t = chrono::DateTime::from_timestamp_micros(us).unwrap().naive_utc();
                            json!(t.format("%Y-%m-%dT%H:%M:%S").to_string())
                        }
                        other => panic!("unexpected value {other:?} in column {}", s.name()),
                    };
                    (s.name().to_string(), v)
                })
                .collect()
        })
        .collect()
}

/// Equal as the contract compares: floats within 1e-9, everything else exactly.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
