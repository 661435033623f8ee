//! Files built to exhaust memory, each refused as `too_large` (or, for a zip that lies about
//! its sizes, as damaged) quickly and within bounds: on Linux, the process's peak RSS (VmHWM,
//! reset before each ingest through `/proc/self/clear_refs`) grows by less than 300 MB. One
//! test runs them one after the other, alone in this binary, so each measure is its ingest's.

use std::io::Write;
use std::time::{Duration, Instant};

use ::zip::write::SimpleFileOptions;
use opendata_ingest::{IngestError, IngestOptions, Limits, ingest, ingest_path};
use polars::prelude::{Column, DataFrame, ParquetWriter};

/// Peak RSS growth allowed around one refusal.
const MAX_GROWTH: u64 = 300 << 20;
/// Time allowed for one refusal (tests build dependencies at opt-level 1, ingest at 0).
const MAX_TIME: Duration = Duration::from_secs(30);

/// A field of `/proc/self/status`, in bytes.
fn status(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

/// Run `f`, and give how much the peak RSS grew meanwhile (`None` off Linux) and how long it took.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Option<u64>, Duration) {
    // Resets VmHWM to the current RSS (Linux 4.0 on).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status("VmHWM:");
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    let growth = match (reset, before, status("VmHWM:")) {
        (true, Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    (out, growth, took)
}

/// One refusal checked and reported: `code`, and every one of `says` in its message.
fn refused(name: &str, code: &str, says: &[&str], f: impl FnOnce() -> Result<(), IngestError>) -> String {
    let (result, growth, took) = measure(f);
    let e = result.expect_err(name);
    assert_eq!(e.code(), code, "{name}: {e}");
    for s in says {
        assert!(e.to_string().contains(s), "{name}: `{s}` not in: {e}");
    }
    assert!(took < MAX_TIME, "{name}: {took:?}");
    if let Some(growth) = growth {
        assert!(growth < MAX_GROWTH, "{name}: peak RSS grew by {} MB", growth >> 20);
    }
    let mb = growth.map_or("n/a".to_string(), |g| format!("{:.1} MB", g as f64 / 1e6));
    format!("{name}: {code}, peak RSS +{mb}, {took:.2?}: {e}")
}

fn read(bytes: &[u8], name: &str) -> Result<(), IngestError> {
    ingest(bytes, Some(name), &IngestOptions::default()).map(drop)
}

/// A zip of `parts` (name, bytes), deflated but for `stored` ones.
fn zipped(parts: &[(&str, &[u8])], stored: &[&str]) -> Vec<u8> {
    let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in parts {
        let method =
            if stored.contains(name) { ::zip::CompressionMethod::Stored } else { ::zip::CompressionMethod::Deflated };
        zip.start_file(*name, SimpleFileOptions::default().compression_method(method)).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Dữ liệu" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// An XLSX of one sheet, `Dữ liệu`, whose XML is `sheet`, and more parts.
fn xlsx(sheet: &[u8], more: &[(&str, &[u8])]) -> Vec<u8> {
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    parts.extend_from_slice(more);
    zipped(&parts, &[])
}

fn sheet_xml(dimension: &str, rows: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>"#
    )
    .into_bytes()
}

/// A small table (a header and two rows), and a cell far away at `corner` if any.
fn table_rows(corner: Option<(&str, u32)>) -> String {
    let mut rows = String::from(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>ma</t></is></c><c r="B1" t="inlineStr"><is><t>so</t></is></c></row><row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>10</v></c></row><row r="3"><c r="A3"><v>2</v></c><c r="B3"><v>20</v></c></row>"#,
    );
    if let Some((cell, row)) = corner {
        rows.push_str(&format!(r#"<row r="{row}"><c r="{cell}"><v>7</v></c></row>"#));
    }
    rows
}

/// `count` copies of `unit` streamed into a deflated part, never held whole.
fn inflating(name: &str, head: &str, unit: &str, count: usize, tail: &str) -> (String, Vec<u8>) {
    let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Deflated);
    zip.start_file(name, options.compression_level(Some(9))).unwrap();
    zip.write_all(head.as_bytes()).unwrap();
    let chunk = unit.repeat((1 << 20) / unit.len());
    let per_chunk = (1 << 20) / unit.len();
    let mut left = count;
    while left >= per_chunk {
        zip.write_all(chunk.as_bytes()).unwrap();
        left -= per_chunk;
    }
    zip.write_all(unit.repeat(left).as_bytes()).unwrap();
    zip.write_all(tail.as_bytes()).unwrap();
    (name.to_string(), zip.finish().unwrap().into_inner())
}

/// An XLSX whose part `name` is `count` copies of `unit` between `head` and `tail`, and whose
/// other parts are those of a small valid workbook.
fn xlsx_with_bomb(name: &str, head: &str, unit: &str, count: usize, tail: &str) -> Vec<u8> {
    let (_, bomb) = inflating(name, head, unit, count, tail);
    // Append the small parts to the archive holding the bomb.
    let mut zip = ::zip::ZipWriter::new_append(std::io::Cursor::new(bomb)).unwrap();
    let sheet = sheet_xml("A1:B3", &table_rows(None));
    let parts: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("_rels/.rels", RELS.as_bytes()),
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", &sheet),
    ];
    for (part, bytes) in parts.into_iter().filter(|(p, _)| *p != name) {
        zip.start_file(part, SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An ODS whose `content.xml` holds `table` (rows of `table:table-row`) as sheet `Dữ liệu`.
fn ods(table: &str) -> Vec<u8> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Dữ liệu">{table}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    zipped(
        &[
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", content.as_bytes()),
            ("META-INF/manifest.xml", manifest.as_bytes()),
        ],
        &["mimetype"],
    )
}

const ODS_TABLE: &str = r#"<table:table-row><table:table-cell office:value-type="string"><text:p>ma</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>so</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell office:value-type="float" office:value="1"/><table:table-cell office:value-type="float" office:value="10"/></table:table-row><table:table-row><table:table-cell office:value-type="float" office:value="2"/><table:table-cell office:value-type="float" office:value="20"/></table:table-row>"#;

/// Parquet of `batches` row groups, each `rows` rows of one repeated value per column.
fn parquet(columns: usize, rows: usize, batches: usize) -> Vec<u8> {
    let series: Vec<Column> = (0..columns).map(|i| Column::new(format!("c{i}").into(), vec![7i32; rows])).collect();
    let frame = DataFrame::new(rows, series).unwrap();
    let mut out = Vec::new();
    let mut writer = ParquetWriter::new(&mut out).batched(frame.schema()).unwrap();
    for _ in 0..batches {
        writer.write_batch(&frame).unwrap();
    }
    writer.finish().unwrap();
    out
}

/// Set the declared inflated size of every zip entry named `name` (local header and central
/// directory) to `size`.
fn lie_about_size(zip: &mut [u8], name: &str, size: u32) {
    let name = name.as_bytes();
    for (signature, name_len_at, size_at, name_at) in [(b"PK\x03\x04", 26, 22, 30), (b"PK\x01\x02", 28, 24, 46)] {
        let mut i = 0;
        while i + name_at + name.len() <= zip.len() {
            let len = u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]) as usize;
            if &zip[i..i + 4] == signature && len == name.len() && &zip[i + name_at..i + name_at + len] == name {
                zip[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            }
            i += 1;
        }
    }
}

/// Set in the copy of this test that measures (see below).
const CHILD: &str = "OPENDATA_INGEST_BOMBS_CHILD";

#[test]
fn every_bomb_is_refused_within_bounds() {
    // On Linux the measures are taken in a copy of this test whose allocator hands large blocks
    // back as soon as they are freed (fixed thresholds, glibc's tunables): otherwise memory
    // freed by one step stays resident and is reused by the next, which then seems to grow less.
    if cfg!(target_os = "linux") && std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args(["--exact", "every_bomb_is_refused_within_bounds", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072")
            .status()
            .unwrap();
        assert!(status.success(), "the measuring copy failed: {status}");
        return;
    }
    let mut report = Vec::new();

    // The builders make files that read: a small workbook of each kind is a table.
    let small = xlsx(&sheet_xml("A1:B3", &table_rows(None)), &[]);
    assert_eq!(ingest(&small, Some("t.xlsx"), &IngestOptions::default()).unwrap().table.rows(), 2);
    assert_eq!(ingest(&ods(ODS_TABLE), Some("t.ods"), &IngestOptions::default()).unwrap().table.rows(), 2);
    let small_parquet = parquet(2, 100, 2);
    assert_eq!(ingest(&small_parquet, Some("t.parquet"), &IngestOptions::default()).unwrap().table.rows(), 200);

    // XLSX: one cell in each corner of the sheet, as the dimension says.
    let corners = xlsx(&sheet_xml("A1:XFD1048576", &table_rows(Some(("XFD1048576", 1_048_576)))), &[]);
    assert!(corners.len() < 3_000, "{}", corners.len());
    report.push(refused("xlsx corners, declared", "too_large", &["A1:XFD1048576", "max_columns"], || {
        read(&corners, "x.xlsx")
    }));
    // The same cells under a dimension that lies.
    let lying = xlsx(&sheet_xml("A1:B3", &table_rows(Some(("XFD1048576", 1_048_576)))), &[]);
    report.push(refused("xlsx corners, dimension lying", "too_large", &["A1 to XFD1048576", "max_columns"], || {
        read(&lying, "x.xlsx")
    }));
    // Within the columns, not within the cells: A1:ZZ1048576 is 702 × 1,048,576.
    let tall = xlsx(&sheet_xml("A1:B3", &table_rows(Some(("ZZ1048576", 1_048_576)))), &[]);
    report.push(refused("xlsx 702 columns × 1M rows", "too_large", &["A1 to ZZ1048576", "max_cells"], || {
        read(&tall, "x.xlsx")
    }));

    // XLSX: a sheet inflating to about 200 MB from a few hundred KB.
    let head = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
    let rows = 8_000_000;
    let inflated = xlsx_with_bomb(
        "xl/worksheets/sheet1.xml",
        head,
        "<row><c><v>1</v></c></row>",
        rows,
        "</sheetData></worksheet>",
    );
    assert!(inflated.len() < 1 << 20, "{}", inflated.len());
    report.push(refused(
        "xlsx sheet inflating 200 MB",
        "too_large",
        &["xl/worksheets/sheet1.xml", "max_inflate_ratio"],
        || read(&inflated, "x.xlsx"),
    ));
    // The same with its declared size a lie: the zip reader stops at the declared size.
    let mut liar = inflated.clone();
    lie_about_size(&mut liar, "xl/worksheets/sheet1.xml", 4096);
    let (result, growth, took) = measure(|| read(&liar, "x.xlsx"));
    let e = result.expect_err("a zip lying about its sizes");
    assert!(["corrupt_file", "too_large"].contains(&e.code()), "{e}");
    assert!(growth.is_none_or(|g| g < MAX_GROWTH) && took < MAX_TIME, "{growth:?} {took:?}");
    report.push(format!("xlsx sheet lying about its size: {}, peak RSS +{:?} B, {took:.2?}: {e}", e.code(), growth));
    // XLSX: styles inflating to about 200 MB.
    let styles_head = r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts>"#;
    let styles = xlsx_with_bomb(
        "xl/styles.xml",
        styles_head,
        r#"<font><name val="Arial"/></font>"#,
        6_000_000,
        "</fonts></styleSheet>",
    );
    report.push(refused("xlsx styles inflating 200 MB", "too_large", &["xl/styles.xml", "max_inflate_ratio"], || {
        read(&styles, "x.xlsx")
    }));
    // Shared strings declaring more than they could hold.
    let strings = xlsx(
        &sheet_xml("A1:B3", &table_rows(None)),
        &[("xl/sharedStrings.xml", br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="4000000000"><si><t>a</t></si></sst>"#)],
    );
    report.push(refused(
        "xlsx shared strings declaring 4 billion",
        "too_large",
        &["declared", "4000000000 strings", "max_cells"],
        || read(&strings, "x.xlsx"),
    ));

    // ODS: a million rows of a hundred repeated cells, in a few hundred bytes.
    let repeated = ods(&format!(
        r#"{ODS_TABLE}<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="100" office:value-type="float" office:value="1"/></table:table-row>"#
    ));
    report.push(refused("ods repeated rows and cells", "too_large", &["Dữ liệu", "max_cells"], || {
        read(&repeated, "x.ods")
    }));
    // ODS: content.xml inflating to about 200 MB.
    let (_, content) = inflating(
        "content.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body><office:spreadsheet><table:table table:name="T">"#,
        r#"<table:table-row><table:table-cell office:value-type="float" office:value="1"/></table:table-row>"#,
        2_000_000,
        "</table:table></office:spreadsheet></office:body></office:document-content>",
    );
    let mut zip = ::zip::ZipWriter::new_append(std::io::Cursor::new(content)).unwrap();
    zip.start_file("mimetype", SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Stored))
        .unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    let content_bomb = zip.finish().unwrap().into_inner();
    report.push(refused("ods content inflating 200 MB", "too_large", &["content.xml", "max_inflate_ratio"], || {
        read(&content_bomb, "x.ods")
    }));

    // Parquet: 60 million rows of a repeated value, in a few hundred KB.
    let rows_bomb = parquet(1, 4_000_000, 15);
    assert!(rows_bomb.len() < 4 << 20, "{}", rows_bomb.len());
    report.push(refused("parquet 60M rows", "too_large", &["Parquet", "max_rows"], || read(&rows_bomb, "x.parquet")));
    // Parquet: 2 million rows of 20 columns, within the rows, not the cells.
    let cells_bomb = parquet(20, 2_000_000, 1);
    report.push(refused("parquet 2M rows × 20 columns", "too_large", &["Parquet", "max_cells"], || {
        read(&cells_bomb, "x.parquet")
    }));

    // CSV: one line of 100 MB, from disk (streamed) and from memory.
    let dir = tempfile::tempdir().unwrap();
    let long_line = dir.path().join("dong-dai.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&long_line).unwrap());
    file.write_all(b"ma,ghi chu\n1,").unwrap();
    for _ in 0..100 {
        file.write_all(&[b'x'; 1 << 20]).unwrap();
    }
    file.write_all(b"\n2,y\n").unwrap();
    drop(file);
    report.push(refused("csv line of 100 MB, streamed", "too_large", &["line 2", "max_record_bytes"], || {
        ingest_path(&long_line, &IngestOptions::default(), &mut |_| {}).map(drop)
    }));
    let bytes = std::fs::read(&long_line).unwrap();
    report.push(refused("csv line of 100 MB, in memory", "too_large", &["line 2", "max_record_bytes"], || {
        read(&bytes, "x.csv")
    }));
    drop(bytes);
    // A stray quote first: the file is read from start to end on one core.
    let stray = dir.path().join("ngoac-kep.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&stray).unwrap());
    file.write_all(b"ma,ghi chu\n1,5\" x\n2,").unwrap();
    for _ in 0..100 {
        file.write_all(&[b'x'; 1 << 20]).unwrap();
    }
    drop(file);
    report.push(refused(
        "csv line of 100 MB after a stray quote",
        "too_large",
        &["line 3", "max_record_bytes"],
        || ingest_path(&stray, &IngestOptions::default(), &mut |_| {}).map(drop),
    ));
    // A quoted value running over 30 million short lines.
    let quoted = dir.path().join("ngoac-mo.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&quoted).unwrap());
    file.write_all(b"ma,ghi chu\n1,\"").unwrap();
    for _ in 0..30 {
        file.write_all(&b"a\n".repeat(1 << 20)).unwrap();
    }
    drop(file);
    report.push(refused("csv quoted value over 30M lines", "too_large", &["line 2", "max_record_bytes"], || {
        ingest_path(&quoted, &IngestOptions::default(), &mut |_| {}).map(drop)
    }));
    // A header of 100,000 columns.
    let wide = format!("{}\n{}\n", vec!["c"; 100_000].join(","), vec!["1"; 100_000].join(","));
    report.push(refused("csv of 100,000 columns", "too_large", &["line 1 is 100000 fields", "max_columns"], || {
        read(wide.as_bytes(), "x.csv")
    }));

    // NDJSON: one line of 100 MB.
    let mut ndjson = b"{\"a\": 1}\n{\"a\": \"".to_vec();
    ndjson.extend(std::iter::repeat_n(b'x', 100 << 20));
    ndjson.extend(b"\"}\n");
    report.push(refused("ndjson line of 100 MB", "too_large", &["line 2", "max_record_bytes"], || {
        read(&ndjson, "x.ndjson")
    }));

    // Limits are options: lowered, a small file is refused by each.
    let tight = IngestOptions::default().with_limits(Limits { max_rows: 1, ..Limits::default() });
    let e = ingest(b"a,b\n1,2\n3,4\n", Some("t.csv"), &tight).unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert!(e.to_string().contains("max_rows"), "{e}");
    let tight = IngestOptions::default().with_limits(Limits { max_field_bytes: 3, ..Limits::default() });
    let e = ingest(b"a,b\n1,2345\n", Some("t.csv"), &tight).unwrap_err();
    assert!(e.to_string().contains("a value on line 2 is 4 bytes") && e.to_string().contains("max_field_bytes"), "{e}");
    let details = e.details();
    assert_eq!(details["setting"], "max_field_bytes");
    assert_eq!((details["found"].as_u64(), details["limit"].as_u64()), (Some(4), Some(3)));

    for line in &report {
        eprintln!("{line}");
    }
}
