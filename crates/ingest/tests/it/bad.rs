//! Every file in `shared/fixtures/bad` is refused with the code and message its README gives,
//! and the other refusals the README lists are built here.

use opendata_ingest::{IngestOptions, ingest, ingest_path};

use super::helpers::fixtures_dir;

fn refuse(name: &str) -> opendata_ingest::IngestError {
    let path = fixtures_dir().join("bad").join(name);
    let bytes = std::fs::read(&path).unwrap();
    let from_memory = ingest(&bytes, Some(name), &IngestOptions::default()).unwrap_err();
    let from_disk = ingest_path(&path, &IngestOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(from_memory.code(), from_disk.code(), "{name}");
    assert_eq!(from_memory.to_string(), from_disk.to_string(), "{name}");
    from_memory
}

/// `file → code` from the table in `bad/README.md`.
fn listed_codes() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(fixtures_dir().join("bad/README.md")).unwrap();
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let code = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((file.to_string(), code.to_string()))
        })
        .collect()
}

#[test]
fn every_bad_file_is_refused_with_its_code() {
    let listed = listed_codes();
    assert!(listed.len() >= 5, "the README's table was not read: {listed:?}");
    let mut walked = 0;
    for entry in std::fs::read_dir(fixtures_dir().join("bad")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "README.md" {
            continue;
        }
        let e = refuse(&name);
        if let Some((_, code)) = listed.iter().find(|(f, _)| *f == name) {
            assert_eq!(e.code(), code, "{name}: {e}");
        }
        assert!(!e.to_string().is_empty());
        walked += 1;
    }
    assert_eq!(walked, listed.len(), "every listed file exists and every file is listed");
}

#[test]
fn the_bad_corpus() {
    let e = refuse("empty.csv");
    assert_eq!(e.code(), "empty_file");
    assert!(e.to_string().contains("empty (0 bytes)"));

    let e = refuse("header-only.csv");
    assert_eq!(e.code(), "no_data_rows");
    assert!(e.to_string().contains("4 columns: stt, ma_dvhc, ten_don_vi_hanh_chinh, dan_so_nguoi"), "{e}");

    let e = refuse("ragged.csv");
    assert_eq!(e.code(), "ragged_rows");
    let m = e.to_string();
    assert!(m.contains("line 7 has 7 fields where the header has 5"), "{m}");
    assert!(m.contains("`ghi chú thừa`, `x`"), "{m}");
    assert!(!m.contains("line 10"), "{m}");

    let e = refuse("random-bytes.csv");
    assert_eq!(e.code(), "not_text");
    assert!(e.to_string().contains("NUL bytes"), "{e}");

    let e = refuse("truncated.xlsx");
    assert_eq!(e.code(), "corrupt_file");
    assert!(e.to_string().contains("damaged or truncated"), "{e}");
}

#[test]
fn the_refusals_without_a_file() {
    let pdf = ingest(b"%PDF-1.7\n%...", Some("bao-cao.pdf"), &IngestOptions::default()).unwrap_err();
    assert_eq!(pdf.code(), "unsupported_format");
    assert!(pdf.to_string().contains("PDF") && pdf.to_string().contains("CSV"), "{pdf}");

    let docx = ingest(b"PK\x03\x04....word/document.xml....", Some("a.docx"), &IngestOptions::default()).unwrap_err();
    assert_eq!(docx.code(), "unsupported_format");
    assert!(docx.to_string().contains("Word"), "{docx}");

    let zip = ingest(b"PK\x03\x04....data.csv....", Some("a.zip"), &IngestOptions::default()).unwrap_err();
    assert_eq!(zip.code(), "unsupported_format");

    let not_a_table = ingest(b"{\"a\": 1, \"b\": [1, 2]}", Some("x.json"), &IngestOptions::default()).unwrap_err();
    assert_eq!(not_a_table.code(), "invalid_json");

    let big =
        ingest(b"a,b\n1,2\n", Some("x.csv"), &IngestOptions { max_bytes: Some(4), ..Default::default() }).unwrap_err();
    assert_eq!(big.code(), "too_large");
    assert!(big.to_string().contains("8 bytes") && big.to_string().contains("4 bytes"), "{big}");
}

/// The benchmark's CSV (`make_bench_data.py --rows 1000000`, 1M rows, 14 columns, about 250 MB),
/// named by `OPENDATA_BENCH_CSV`, reads whole under the default limits. Run by hand:
/// `OPENDATA_BENCH_CSV=… cargo test -p opendata-ingest --test it large_csv -- --ignored`.
#[test]
#[ignore = "needs the benchmark's data, made by shared/bench/make_bench_data.py"]
fn large_csv_within_the_default_limits() {
    let path = std::env::var_os("OPENDATA_BENCH_CSV").expect("OPENDATA_BENCH_CSV");
    let ingested = ingest_path(std::path::Path::new(&path), &IngestOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(ingested.table.rows(), 1_000_000);
}
