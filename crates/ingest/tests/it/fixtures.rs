//! Every data file in `shared/fixtures/agency` and in this crate's `tests/fixtures/agency`
//! against its `.expected.json`: columns and types in order, the row count, every sample row
//! (the first and last in place), and every `must_not_contain`. A file added to either folder
//! later is checked with no code change.

use opendata_ingest::{IngestOptions, ingest, ingest_path};
use serde_json::Value;

use super::helpers::{fixtures_dir, own_fixtures_dir, rows, same};

fn check(name: &str, expected: &Value, table: &opendata_ingest::Table) -> Vec<String> {
    let mut problems = Vec::new();
    let want: Vec<(String, String)> = expected["columns"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let got: Vec<(String, String)> = table.fields.iter().map(|f| (f.name.clone(), f.field_type.to_string())).collect();
    if got != want {
        problems.push(format!("{name}: columns {got:?}, expected {want:?}"));
        return problems;
    }
    let all = rows(table);
    if all.len() as u64 != expected["rows"].as_u64().unwrap() {
        problems.push(format!("{name}: {} rows, expected {}", all.len(), expected["rows"]));
    }
    let samples = expected["samples"].as_array().unwrap();
    for (i, sample) in samples.iter().enumerate() {
        let candidates: Vec<&serde_json::Map<String, Value>> = if i == 0 {
            all.first().into_iter().collect()
        } else if i == samples.len() - 1 {
            all.last().into_iter().collect()
        } else {
            all.iter().collect()
        };
        let sample_obj = Value::Object(sample.as_object().unwrap().clone());
        if !candidates.iter().any(|r| same(&Value::Object((*r).clone()), &sample_obj)) {
            let near = candidates.first().map(|r| Value::Object((*r).clone()));
            problems.push(format!("{name}: sample {i} {sample} not found (nearest candidate: {near:?})"));
        }
    }
    for bad in expected["must_not_contain"].as_array().unwrap() {
        let bad = bad.as_str().unwrap();
        if let Some(v) = all.iter().flat_map(|r| r.values()).find(|v| v.as_str().is_some_and(|s| s.contains(bad))) {
            problems.push(format!("{name}: value {v} contains {bad:?}"));
        }
    }
    problems
}

/// Check every data file of `dir` that has an `.expected.json` beside it; the number checked
/// and the problems found.
fn check_folder(dir: &std::path::Path) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".expected.json") {
            continue;
        }
        let expected_path = dir.join(format!("{name}.expected.json"));
        let Ok(text) = std::fs::read_to_string(&expected_path) else { continue };
        let expected: Value = serde_json::from_str(&text).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // Both front doors: bytes in memory (uploads) and a streamed file (the CLI).
        match ingest(&bytes, Some(&name), &IngestOptions::default()) {
            Ok(i) => {
                problems.extend(check(&name, &expected, &i.table));
                // Our own Parquet, uploaded again, is taken as it is.
                let mut parquet = Vec::new();
                i.table.write_parquet(&mut parquet).unwrap();
                match ingest(&parquet, Some("t.parquet"), &IngestOptions::default()) {
                    Ok(again) => problems.extend(check(&format!("{name} (as Parquet)"), &expected, &again.table)),
                    Err(e) => problems.push(format!("{name} (as Parquet): refused: {e}")),
                }
            }
            Err(e) => problems.push(format!("{name}: refused: {e}")),
        }
        match ingest_path(&path, &IngestOptions::default(), &mut |_| {}) {
            Ok(i) => problems.extend(check(&format!("{name} (from disk)"), &expected, &i.table)),
            Err(e) => problems.push(format!("{name} (from disk): refused: {e}")),
        }
        checked += 1;
    }
    (checked, problems)
}

#[test]
fn every_agency_file_matches_its_expected_table() {
    let dir = fixtures_dir().join("agency");
    let (checked, problems) = check_folder(&dir);
    assert!(checked >= 9, "only {checked} fixtures found in {}", dir.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same check on this crate's own fixtures: each a case the contract settles that ingest
/// once got wrong.
#[test]
fn every_own_fixture_matches_its_expected_table() {
    let dir = own_fixtures_dir().join("agency");
    let (checked, problems) = check_folder(&dir);
    assert!(checked > 0, "no fixtures found in {}", dir.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn reports_say_what_was_understood() {
    let dir = fixtures_dir().join("agency");
    let read = |name: &str| ingest_path(&dir.join(name), &IngestOptions::default(), &mut |_| {}).unwrap().report;

    let r = read("chi-tieu-chuyen-doi-so-ha-noi.csv");
    assert_eq!(r.encoding.as_ref().unwrap().name, "windows-1258");
    assert_eq!(r.delimiter.as_deref(), Some(";"));

    let r = read("quan-trac-khong-khi-10-2023.txt");
    assert_eq!(r.encoding.as_ref().unwrap().name, "utf-16le");
    assert_eq!(r.delimiter.as_deref(), Some("tab"));

    let r = read("ubnd-hn-don-vi-hanh-chinh.xlsx");
    assert_eq!(r.sheet.as_deref(), Some("DM_DVHC"));
    assert_eq!(r.header_rows, vec![6]);
    assert_eq!(r.skipped_by_reason.get("total"), Some(&1));
    assert_eq!(r.skipped_by_reason.get("column_numbers"), Some(&1));
    assert!(r.skipped_by_reason.get("footer").is_some_and(|n| *n > 0));

    let r = read("ma-so-thue-mixed.csv");
    let so_nha = r.fields.iter().find(|f| f.name == "so_nha").unwrap();
    let integer = so_nha.ruled_out.iter().find(|o| o.field_type == opendata_ingest::FieldType::Integer).unwrap();
    assert_eq!((integer.value.as_str(), integer.row), ("12A", 431));

    let r = read("truong-hoc-tcvn3.xlsx");
    assert_eq!(r.fields[1].title, "Tên trường");
}

#[test]
fn options_override_detection() {
    let dir = fixtures_dir().join("agency");
    let bytes = std::fs::read(dir.join("ubnd-hn-don-vi-hanh-chinh.xlsx")).unwrap();
    let e = ingest(&bytes, None, &IngestOptions::default().with_sheet("Không có")).unwrap_err();
    assert_eq!(e.code(), "bad_option");
    assert!(e.to_string().contains("DM_DVHC"), "{e}");
    let e = ingest(&bytes, None, &IngestOptions::default().with_header_row(5000)).unwrap_err();
    assert_eq!(e.code(), "bad_option");

    let csv = std::fs::read(dir.join("chi-tieu-chuyen-doi-so-ha-noi.csv")).unwrap();
    let forced = ingest(&csv, None, &IngestOptions::default().with_encoding("windows-1258")).unwrap();
    assert_eq!(forced.report.encoding.unwrap().reason, "given by the `encoding` option");
    let e = ingest(&csv, None, &IngestOptions::default().with_encoding("ebcdic-vn")).unwrap_err();
    assert_eq!(e.code(), "bad_option");
}
