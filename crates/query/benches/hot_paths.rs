//! The hot paths, in process, so a slowdown shows up in review: `cargo bench -p opendata-query`.
//!
//! - a Q1-shaped query (two text equalities, a sort, the first page) on a 1M-row table in memory;
//! - a Q3-shaped text search on the same table;
//! - writing a 1,000-row page as JSON;
//! - Vietnamese folding;
//! - reading and typing a 50,000-row CSV (ingest).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use opendata_ingest::{Field, FieldType, IngestOptions};
use opendata_query::memory::MemoryTable;
use opendata_query::params::{OutputFormat, parse_records};
use opendata_query::plan::{self, Source};
use polars::prelude::*;

const DISTRICTS: [&str; 6] =
    ["Quận Ba Đình", "Quận Hoàn Kiếm", "Quận Tây Hồ", "Quận Cầu Giấy", "Huyện Ba Vì", "Thị xã Sơn Tây"];
const STATUSES: [&str; 3] = ["Đã trả kết quả", "Đang xử lý", "Quá hạn"];
const PROCEDURES: [&str; 4] = [
    "Đăng ký khai sinh",
    "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
    "Chứng thực bản sao từ bản chính",
    "Đăng ký đất đai lần đầu",
];

fn table(rows: usize) -> (tempfile::TempDir, MemoryTable, Vec<Field>) {
    let pick = |list: &[&str], i: usize| list[i % list.len()].to_string();
    let mut frame = df!(
        "ma_ho_so" => (0..rows).map(|i| format!("000.00.{:02}.H26-{:07}", i % 30, i)).collect::<Vec<_>>(),
        "thu_tuc" => (0..rows).map(|i| pick(&PROCEDURES, i / 7)).collect::<Vec<_>>(),
        "quan_huyen" => (0..rows).map(|i| pick(&DISTRICTS, i / 3)).collect::<Vec<_>>(),
        "trang_thai" => (0..rows).map(|i| pick(&STATUSES, i / 11)).collect::<Vec<_>>(),
        "ngay" => (0..rows).map(|i| (19_000 + (i * 7919) % 730) as i32).collect::<Vec<_>>(),
        "le_phi" => (0..rows).map(|i| ((i * 31) % 16) as i64 * 100_000).collect::<Vec<_>>(),
    )
    .and_then(|df| df.lazy().with_columns([col("ngay").cast(DataType::Date)]).collect())
    .expect("the frame");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("t.parquet");
    ParquetWriter::new(std::fs::File::create(&path).expect("the file")).finish(&mut frame).expect("written");
    let fields = vec![
        Field::new("ma_ho_so", FieldType::String),
        Field::new("thu_tuc", FieldType::String),
        Field::new("quan_huyen", FieldType::String),
        Field::new("trang_thai", FieldType::String),
        Field::new("ngay", FieldType::Date),
        Field::new("le_phi", FieldType::Integer),
    ];
    let table = MemoryTable::load(&path, &fields).expect("loaded");
    (dir, table, fields)
}

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn queries(c: &mut Criterion) {
    let (_dir, table, fields) = table(1_000_000);
    let q1 = parse_records(
        &pairs(&[("quan_huyen", "Quận Tây Hồ"), ("trang_thai", "Quá hạn"), ("sort", "-ngay"), ("limit", "100")]),
        &fields,
        OutputFormat::Json,
        None,
    )
    .expect("Q1 parses");
    c.bench_function("q1_filter_sort_page_1m", |b| {
        b.iter(|| black_box(plan::page(Source::Memory(&table), &q1, &fields).expect("Q1 runs")))
    });
    let q3 = parse_records(&pairs(&[("q", "dang ky"), ("limit", "50")]), &fields, OutputFormat::Json, None)
        .expect("Q3 parses");
    c.bench_function("q3_search_page_1m", |b| {
        b.iter(|| black_box(plan::page(Source::Memory(&table), &q3, &fields).expect("Q3 runs")))
    });
    let page = plan::page(
        Source::Memory(&table),
        &parse_records(&pairs(&[("limit", "1000")]), &fields, OutputFormat::Json, None).expect("parses"),
        &fields,
    )
    .expect("a page");
    c.bench_function("json_page_1000_rows", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(1 << 18);
            opendata_query::encode::json::write_objects(&page.frame, &mut out, false).expect("encoded");
            black_box(out)
        })
    });
}

fn folding(c: &mut Criterion) {
    let names: Vec<String> = (0..10_000).map(|i| format!("{} {}", PROCEDURES[i % 4], DISTRICTS[i % 6])).collect();
    c.bench_function("fold_10k_names", |b| {
        b.iter(|| names.iter().map(|n| opendata_query::fold::fold_text(n).len()).sum::<usize>())
    });
}

fn ingest(c: &mut Criterion) {
    let mut csv = String::from("Mã hồ sơ;Thủ tục;Ngày tiếp nhận;Lệ phí;Đúng hạn\n");
    for i in 0..50_000 {
        csv.push_str(&format!(
            "{:06};{};{:02}/{:02}/2024;{}.{:03}.000;{}\n",
            i,
            PROCEDURES[i % 4],
            1 + i % 28,
            1 + i % 12,
            1 + i % 9,
            i % 1000,
            if i % 3 == 0 { "Có" } else { "Không" }
        ));
    }
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.bench_function("csv_50k_rows_typed", |b| {
        b.iter(|| {
            black_box(opendata_ingest::ingest(csv.as_bytes(), Some("t.csv"), &IngestOptions::default()).expect("read"))
        })
    });
    group.finish();
}

criterion_group!(benches, queries, folding, ingest);
criterion_main!(benches);
