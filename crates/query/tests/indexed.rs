//! The indexed answers of a table in memory (value codes, sorted numbers, kept sort orders) are
//! the answers polars gives scanning the Parquet file: random filters, searches, sorts, pages
//! and group-bys over a table with nulls in every column.

use std::sync::OnceLock;

use opendata_ingest::{Field, FieldType};
use opendata_query::memory::{Effort, MemoryTable};
use opendata_query::params::{self, OutputFormat};
use opendata_query::plan::{self, Source};
use polars::prelude::*;
use proptest::prelude::*;

const ROWS: usize = 3000;
const NAMES: [&str; 5] = ["Đăng ký khai sinh", "Cấp giấy phép xây dựng", "Chứng thực bản sao", "Đất đai", "Hộ tịch"];

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    table: MemoryTable,
    fields: Vec<Field>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // A small generator, so the table is the same on every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut ten = Vec::new();
        let mut quan = Vec::new();
        let mut so = Vec::new();
        let mut tien = Vec::new();
        let mut ngay = Vec::new();
        let mut co = Vec::new();
        let mut luc = Vec::new();
        let mut lon = Vec::new();
        for _ in 0..ROWS {
            ten.push((next(10) > 0).then(|| NAMES[next(5) as usize].to_string()));
            quan.push((next(20) > 0).then(|| format!("Quận {}", next(30))));
            so.push((next(8) > 0).then(|| next(25) as i64 - 5));
            tien.push((next(8) > 0).then(|| [-0.0, 0.0, 2.5, -1.25, 1e6, 7.0][next(6) as usize]));
            ngay.push((next(8) > 0).then(|| 19_000 + next(400) as i32));
            co.push((next(4) > 0).then(|| next(2) == 1));
            luc.push((next(8) > 0).then(|| 1_700_000_000_000_000 + next(1000) as i64 * 3_600_000_000));
            // Around 2⁵⁰: a group's sum passes 2⁵³, where an f64 no longer holds every integer.
            lon.push((next(8) > 0).then(|| (1i64 << 50) + next(1000) as i64 * 7 + 1));
        }
        let mut frame = df!(
            "ten" => ten, "quan" => quan, "so" => so, "tien" => tien, "ngay" => ngay, "co" => co, "luc" => luc,
            "lon" => lon,
        )
        .and_then(|df| {
            df.lazy()
                .with_columns([
                    col("ngay").cast(DataType::Date),
                    col("luc").cast(DataType::Datetime(TimeUnit::Microseconds, None)),
                ])
                .collect()
        })
        .expect("the frame");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("t.parquet");
        // Row groups of 1024 rows: the memory table keeps them as chunks, and writes JSON cells
        // from the chunk that holds each row.
        ParquetWriter::new(std::fs::File::create(&path).expect("the file"))
            .with_row_group_size(Some(1024))
            .finish(&mut frame)
            .expect("written");
        let fields = vec![
            Field::new("ten", FieldType::String),
            Field::new("quan", FieldType::String),
            Field::new("so", FieldType::Integer),
            Field::new("tien", FieldType::Float),
            Field::new("ngay", FieldType::Date),
            Field::new("co", FieldType::Boolean),
            Field::new("luc", FieldType::Datetime),
            Field::new("lon", FieldType::Integer),
        ];
        let table = MemoryTable::load(&path, &fields).expect("loaded");
        Fixture { _dir: dir, path, table, fields }
    })
}

fn filter() -> impl Strategy<Value = (String, String)> {
    let name = prop::sample::select(NAMES.to_vec()).prop_map(str::to_string);
    prop_oneof![
        name.clone().prop_map(|v| ("ten".to_string(), v)),
        (name.clone(), name).prop_map(|(a, b)| ("ten__in".to_string(), serde_json::json!([a, b]).to_string())),
        (0..32u32).prop_map(|i| ("quan".to_string(), format!("Quận {i}"))),
        (prop::sample::select(vec!["", "__gt", "__gte", "__lt", "__lte"]), -6..21i64)
            .prop_map(|(op, v)| (format!("so{op}"), v.to_string())),
        (-3..4i64, -3..4i64).prop_map(|(a, b)| ("so__in".to_string(), format!("[{a},{b}]"))),
        (
            prop::sample::select(vec!["", "__gt", "__gte", "__lt", "__lte"]),
            prop::sample::select(vec!["0", "-0", "2.5", "-1.25", "3"])
        )
            .prop_map(|(op, v)| (format!("tien{op}"), v.to_string())),
        (prop::sample::select(vec!["__gte", "__lte", "__lt", ""]), 0..400i64).prop_map(|(op, d)| {
            let day = chrono::NaiveDate::from_ymd_opt(2022, 1, 8).unwrap() + chrono::Duration::days(d);
            (format!("ngay{op}"), day.to_string())
        }),
        any::<bool>().prop_map(|b| ("co".to_string(), b.to_string())),
        // Text filters that polars evaluates, over fields the table holds as value codes.
        prop::sample::select(vec![
            ("ten__icontains", "khai"),
            ("ten__icontains", "ĐẤT"),
            ("ten__startswith", "Cấp"),
            ("quan__ne", "Quận 3"),
            ("quan__startswith", "Quận 1"),
            ("quan__notin", "[\"Quận 1\",\"Quận 2\"]"),
            ("quan__notin", "[]"),
            ("ten__in", "[]"),
            ("ten__isnull", "true"),
            ("where", "quan in ('Quận 1', 'Quận 2') or so > 15"),
            ("where", "ten like '%giấy%' and not co"),
            ("where", "true"),
            // Text ranges, in the query's collation (Đ comes after C and before H in Vietnamese,
            // after H in code points).
            ("ten__gt", "Đ"),
            ("ten__lte", "Đất đai"),
            ("quan__gte", "Quận 2"),
            ("where", "ten >= 'Đ' and ten < 'H'"),
            ("where", "ten between 'Chứng' and 'Hộ' or quan > 'Quận 7'"),
        ])
        .prop_map(|(k, v)| (k.to_string(), v.to_string())),
        (prop::sample::select(vec!["__gte", "__lt"]), 0..1000i64).prop_map(|(op, h)| {
            let t = chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000 + h * 3_600_000_000).unwrap();
            (format!("luc{op}"), t.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
        }),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    let search = prop::option::of(prop::sample::select(vec![
        "dang ky",
        "giay",
        "Đất",
        "quan 1",
        "ho",
        "khong co",
        "khai quan",
        "ho tich 1",
        "quan 2 dat",
    ]));
    let sort = prop::option::of(prop::sample::select(vec![
        "so",
        "-so",
        "ngay,-tien",
        "-luc",
        "co,ten",
        "tien",
        "-quan,so",
        "ten",
        "-ten,quan",
    ]));
    let collation = prop::option::of(prop::sample::select(vec!["vi", "codepoint"]));
    let group = prop::option::of(prop::sample::select(vec![
        ("quan", "quan,count(*),sum(so),avg(tien),min(so),max(tien)"),
        ("ten", "ten,count(so)"),
        ("quan", "quan,sum(lon),min(lon),max(lon),avg(lon)"),
        ("ten", "ten,sum(lon),min(quan),max(quan)"),
    ]));
    let select = prop::option::of(prop::sample::select(vec!["so,ten,ngay", "luc,quan", "tien"]));
    let facet = prop::option::of(prop::sample::select(vec!["quan", "ten", "co"]));
    (prop::collection::vec(filter(), 0..4), search, sort, group, select, facet, collation, 0..60usize, 1..50usize)
        .prop_map(|(filters, search, sort, group, select, facet, collation, offset, limit)| {
            let mut pairs = filters;
            if let Some(c) = collation {
                pairs.push(("collation".into(), c.into()));
            }
            // `where` and `isnull` are given once.
            let mut seen = std::collections::HashSet::new();
            pairs.retain(|(k, _)| !(k == "where" || k.ends_with("__isnull")) || seen.insert(k.clone()));
            if let Some(q) = search {
                pairs.push(("q".into(), q.into()));
            }
            match group {
                Some((by, select)) => {
                    pairs.push(("group_by".into(), by.into()));
                    pairs.push(("select".into(), select.into()));
                }
                None => {
                    if let Some(fields) = select {
                        pairs.push(("select".into(), fields.into()));
                    }
                    if let Some(s) = sort {
                        pairs.push(("sort".into(), s.into()));
                    }
                    if let Some(f) = facet {
                        pairs.push(("facet".into(), f.into()));
                    }
                    pairs.push(("offset".into(), offset.to_string()));
                }
            }
            pairs.push(("limit".into(), limit.to_string()));
            pairs
        })
}

/// Equal frames, floats within a relative 1e-9 (sums in another order may differ in the last
/// bits).
fn same(a: &DataFrame, b: &DataFrame) -> bool {
    let float = |c: &Column| -> Vec<Option<f64>> {
        c.cast(&DataType::Float64).ok().and_then(|c| c.f64().ok().map(|x| x.iter().collect())).unwrap_or_default()
    };
    a.shape() == b.shape()
        && a.get_column_names() == b.get_column_names()
        && a.columns().iter().zip(b.columns()).all(|(x, y)| {
            if x.dtype().is_float() && y.dtype().is_float() {
                float(x).iter().zip(float(y)).all(|(p, q)| match (p, q) {
                    (Some(p), Some(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                    (p, q) => p.is_none() && q.is_none(),
                })
            } else {
                x.as_materialized_series().equals_missing(y.as_materialized_series())
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn indexed_answers_are_the_files_answers(pairs in query()) {
        let f = fixture();
        let query = params::parse_records(&pairs, &f.fields, OutputFormat::Json, None).expect("a valid query");
        let memory = plan::page(Source::Memory(&f.table), &query, &f.fields).expect("memory runs");
        let file = plan::page(Source::File(&f.path), &query, &f.fields).expect("file runs");
        prop_assert_eq!(memory.total, file.total, "total of {:?}", pairs);
        prop_assert!(same(&memory.frame, &file.frame), "{:?}\nmemory: {}\nfile: {}", pairs, memory.frame, file.frame);
        prop_assert_eq!(memory.facets.len(), file.facets.len());
        for ((name, m), (_, f)) in memory.facets.iter().zip(&file.facets) {
            prop_assert!(same(m, f), "facet {} of {:?}\nmemory: {}\nfile: {}", name, pairs, m, f);
        }
        prop_assert_eq!(
            plan::total(Source::Memory(&f.table), &query, &f.fields).expect("memory counts"),
            memory.total
        );
        let empty = |source| plan::empty_answer(source, &query, &f.fields).expect("an empty answer");
        let (m, b) = (empty(Source::Memory(&f.table)), empty(Source::File(&f.path)));
        prop_assert_eq!((m.height(), m.schema()), (0, b.schema()), "empty answer of {:?}", pairs);
        // A download of the same query, batch by batch.
        let batches = |source| -> DataFrame {
            let mut all: Option<DataFrame> = None;
            for batch in plan::Batches::new(source, &query, &f.fields).expect("batches") {
                let batch = batch.expect("a batch");
                match &mut all {
                    Some(a) => { a.vstack_mut(&batch).expect("stacked"); }
                    None => all = Some(batch),
                }
            }
            all.unwrap_or_default()
        };
        let (m, b) = (batches(Source::Memory(&f.table)), batches(Source::File(&f.path)));
        prop_assert!(same(&m, &b), "download of {:?}\nmemory: {}\nfile: {}", pairs, m, b);
        // The JSON page, written from the table's arrays and value codes where it can be, is
        // the file's page written by the frame writer (aggregates may differ in a float's last
        // bits, and are compared above). `-0.0` and `0.0` sort as equals, and polars' two sorts
        // order such ties differently: they are compared as one.
        if !query.aggregating() {
            let json = plan::json_page(Source::Memory(&f.table), &query, &f.fields).expect("memory runs");
            let mut want = Vec::new();
            opendata_query::encode::json::write_objects(&file.frame, &mut want, false).expect("encoded");
            prop_assert_eq!((json.total, json.rows), (file.total, file.frame.height()));
            let zero = |b: &[u8]| String::from_utf8_lossy(b).replace(":-0.0", ":0.0");
            prop_assert_eq!(zero(&json.items), zero(&want), "{:?}", pairs);
            // The quick answer, when there is one, is the same page.
            if let Some(quick) = plan::indexed_json_page(&f.table, &query, &f.fields, Effort::Quick).expect("quick runs") {
                prop_assert_eq!((quick.total, &quick.items), (json.total, &json.items), "{:?}", pairs);
            }
        }
    }
}
