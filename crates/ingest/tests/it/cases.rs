//! This crate's own fixtures (`tests/fixtures/agency`), one case of the contract each, read
//! with what the report says of them. Their tables are checked against their `expected.json`
//! by `fixtures.rs`; these tests name the case and check the report.

use opendata_ingest::{FieldType, IngestOptions, Ingested, ingest_path};
use serde_json::json;

use super::helpers::{own_fixtures_dir, rows};

fn read(name: &str) -> Ingested {
    let path = own_fixtures_dir().join("agency").join(name);
    ingest_path(&path, &IngestOptions::default(), &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn skipped(i: &Ingested) -> Vec<(usize, String)> {
    i.report
        .skipped
        .iter()
        .map(|s| (s.row, serde_json::to_value(s.reason).unwrap().as_str().unwrap().to_string()))
        .collect()
}

fn types(i: &Ingested) -> Vec<(String, FieldType)> {
    i.table.fields.iter().map(|f| (f.name.clone(), f.field_type)).collect()
}

#[test]
fn a_bare_column_number_row_is_skipped_when_it_would_change_a_type() {
    let i = read("cot-so-thu-tu-1-2-3.csv");
    assert_eq!(skipped(&i), vec![(2, "column_numbers".to_string())]);
    assert_eq!(i.report.rows, 4);
    assert_eq!(rows(&i.table)[0]["ten_phuong"], json!("Phường Phúc Xá"));
}

#[test]
fn a_bare_column_number_row_is_data_when_every_column_is_numbers() {
    let i = read("so-vu-chay-theo-thang.csv");
    assert!(i.report.skipped.is_empty(), "{:?}", i.report.skipped);
    assert_eq!(i.report.rows, 6);
    assert_eq!(rows(&i.table)[0]["so_vu_chay"], json!(2));

    let i = read("hai-cot-mot-dong.csv");
    assert_eq!(i.report.rows, 1);
}

#[test]
fn a_letters_then_numbers_row_is_skipped() {
    let i = read("bieu-thong-ke-a-b-1-2-3.xlsx");
    assert_eq!(i.report.header_rows, vec![4]);
    let s = skipped(&i);
    assert_eq!(s[..3], [(1, "title".into()), (2, "title".into()), (5, "column_numbers".into())]);
    assert_eq!(s[3..], [(11, "blank".into()), (12, "footer".into())]);
    assert!(types(&i)[2..].iter().all(|(_, t)| *t == FieldType::Float), "{:?}", types(&i));
}

#[test]
fn cells_merged_down_fill_every_row_they_cover() {
    let i = read("to-dan-pho-gop-o-theo-quan.xlsx");
    let all = rows(&i.table);
    let quan: Vec<&str> = all.iter().map(|r| r["quan"].as_str().unwrap()).collect();
    assert_eq!(quan.iter().filter(|q| **q == "Quận Ba Đình").count(), 4);
    assert_eq!(quan.iter().filter(|q| **q == "Quận Tây Hồ").count(), 4);
    let notes = all.iter().filter(|r| !r["ghi_chu"].is_null()).count();
    assert_eq!(notes, 2, "only the two rows the note is merged over");
}

#[test]
fn merges_are_read_in_every_spreadsheet_format() {
    for ext in ["xlsx", "xls", "ods"] {
        let i = read(&format!("dan-so-hai-dong-tieu-de.{ext}"));
        assert_eq!(i.report.header_rows, vec![3, 4], "{ext}");
        let names: Vec<String> = types(&i).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["stt", "quan", "phuong", "dan_so_nguoi_nam", "dan_so_nguoi_nu", "dien_tich_km2"], "{ext}");
        assert_eq!(i.report.fields[3].title, "Dân số (người) Nam", "{ext}");
        assert_eq!(i.report.fields[1].null_count, 0, "{ext}: the district fills its wards' rows");
    }
}

#[test]
fn a_datetime_format_makes_midnight_a_datetime() {
    for ext in ["xlsx", "xls", "ods"] {
        let i = read(&format!("ho-so-tiep-nhan-luc-nua-dem.{ext}"));
        let t: Vec<FieldType> = types(&i).into_iter().map(|(_, t)| t).collect();
        assert_eq!(t, [FieldType::String, FieldType::Datetime, FieldType::Date, FieldType::Datetime], "{ext}");
        let first = &rows(&i.table)[0];
        assert_eq!(first["thoi_diem_tiep_nhan"], json!("2024-01-02T00:00:00"), "{ext}");
        assert_eq!(first["ngay_hen_tra"], json!("2024-01-12"), "{ext}");
    }
}

#[test]
fn unsigned_64_bit_parquet_keeps_every_value() {
    let i = read("cong-to-dien-uint64.parquet");
    assert_eq!(types(&i)[..2], [("ma_cong_to".into(), FieldType::String), ("chi_so_kwh".into(), FieldType::Integer)]);
    let all = rows(&i.table);
    assert_eq!(all[0]["ma_cong_to"], json!("18446744073709551615"));
    assert_eq!(all[3]["ma_cong_to"], json!(null));
    assert_eq!(all[5]["chi_so_kwh"], json!(i64::MAX));
}

#[test]
fn geojson_point_columns_follow_the_repeated_name_rule() {
    let i = read("tram-quan-trac-toa-do-trung-ten.geojson");
    let names: Vec<String> = types(&i).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["ma_tram", "ten_tram", "longitude", "latitude", "longitude_2", "latitude_2"]);
    assert_eq!(i.report.fields[4].title, "longitude");
    let first = &rows(&i.table)[0];
    assert_eq!((first["longitude"].clone(), first["longitude_2"].clone()), (json!(105.853), json!(105.852765)));
}

#[test]
fn the_delimiter_is_the_contract_winner_though_some_lines_are_short() {
    let i = read("ho-so-dong-ngan-ghi-chu-cham-phay.csv");
    assert_eq!(i.report.delimiter.as_deref(), Some(","));
    assert_eq!(i.table.fields.len(), 7);
}

#[test]
fn decimal_commas_do_not_make_comma_the_delimiter() {
    let i = read("quan-trac-cham-phay-so-thap-phan.csv");
    assert_eq!(i.report.delimiter.as_deref(), Some(";"));
    assert!(types(&i).iter().all(|(_, t)| *t == FieldType::Float));
}
