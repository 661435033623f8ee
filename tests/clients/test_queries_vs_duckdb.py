"""`/records` against an independent engine: DuckDB over the very Parquet file the server
serves. Each case is a query in our parameters and the same question in SQL; the answers must
be equal row for row (floats to 1e-9)."""

import datetime
import decimal
import io
import json
import math
import urllib.parse

import duckdb
import pytest

DATASET = "ho-so-tthc-mau"
BASE = f"/api/v1/datasets/{DATASET}/records"
STRING_FIELDS = ["ma_ho_so", "ten_thu_tuc", "linh_vuc", "quan_huyen", "phuong_xa", "trang_thai", "hinh_thuc_nop"]


@pytest.fixture(scope="module")
def db(api):
    status, _, body = api.get(f"/api/v1/datasets/{DATASET}/download?format=parquet")
    assert status == 200
    con = duckdb.connect()
    path = f"/tmp/opendata-duckdb-{id(con)}.parquet"
    with open(path, "wb") as f:
        f.write(body)
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
    # Our folding: lower case, đ → d, diacritics removed.
    con.execute("CREATE MACRO fold(x) AS strip_accents(lower(replace(replace(x, 'Đ', 'd'), 'đ', 'd')))")
    return con


def get(api, params):
    status, _, body = api.get(BASE + "?" + urllib.parse.urlencode(params))
    answer = json.loads(body)
    assert status == 200, answer
    return answer


def plain(v):
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == int(v) else float(v)
    return v


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    return a == b


def assert_rows_equal(ours, theirs, what):
    assert len(ours) == len(theirs), f"{what}: {len(ours)} rows, DuckDB {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)), f"{what}: row {i}: {a} != {b}"


def sql_rows(db, sql):
    return [tuple(plain(v) for v in row) for row in db.execute(sql).fetchall()]


def collate(field):
    """DuckDB's ICU collation for a text field: our text order is Vietnamese dictionary order."""
    return " COLLATE vi" if field in STRING_FIELDS else ""


def word_search(words):
    """Our `q`: every folded word starts a word of some string field."""
    parts = []
    for w in words.split():
        w = w.lower()
        ors = " OR ".join(f"regexp_matches(fold({f}), '(?:^|[^\\pL\\pN]){w}')" for f in STRING_FIELDS)
        parts.append(f"({ors})")
    return " AND ".join(parts)


# Row filters: (our parameters, the SQL condition). Both sides list every matching id in order.
FILTERS = [
    ([("quan_huyen", "Quận Ba Đình")], "quan_huyen = 'Quận Ba Đình'"),
    ([("le_phi_vnd__gte", "500000")], "le_phi_vnd >= 500000"),
    ([("le_phi_vnd__lt", "100000")], "le_phi_vnd < 100000"),
    ([("dung_han", "true")], "dung_han"),
    ([("dung_han__isnull", "true")], "dung_han IS NULL"),
    ([("ngay_tra_ket_qua__isnull", "false")], "ngay_tra_ket_qua IS NOT NULL"),
    ([("ngay_tiep_nhan__gte", "2023-09-01")], "ngay_tiep_nhan >= DATE '2023-09-01'"),
    ([("ngay_tiep_nhan__lte", "15/07/2023")], "ngay_tiep_nhan <= DATE '2023-07-15'"),
    ([("linh_vuc__in", '["Đất đai","Xây dựng"]')], "linh_vuc IN ('Đất đai', 'Xây dựng')"),
    ([("trang_thai__ne", "Quá hạn")], "trang_thai <> 'Quá hạn' OR trang_thai IS NULL"),
    ([("phuong_xa__startswith", "Phường")], "starts_with(phuong_xa, 'Phường')"),
    ([("ten_thu_tuc__contains", "giấy phép")], "contains(ten_thu_tuc, 'giấy phép')"),
    ([("ten_thu_tuc__icontains", "GIAY PHEP")], "contains(fold(ten_thu_tuc), 'giay phep')"),
    ([("quan_huyen", "Quận Tây Hồ"), ("quan_huyen", "Huyện Ba Vì")], "quan_huyen IN ('Quận Tây Hồ', 'Huyện Ba Vì')"),
    ([("le_phi_vnd__notin", "[0,100000]")], "le_phi_vnd NOT IN (0, 100000) OR le_phi_vnd IS NULL"),
    (
        [("where", "le_phi_vnd >= 500000 and (quan_huyen = 'Quận Ba Đình' or quan_huyen in ('Quận Tây Hồ', 'Quận Hoàn Kiếm')) and ngay_tra_ket_qua is null")],
        "le_phi_vnd >= 500000 AND (quan_huyen = 'Quận Ba Đình' OR quan_huyen IN ('Quận Tây Hồ', 'Quận Hoàn Kiếm')) AND ngay_tra_ket_qua IS NULL",
    ),
    ([("where", "not dung_han")], "NOT dung_han"),
    ([("where", "dung_han is null or le_phi_vnd = 0")], "dung_han IS NULL OR le_phi_vnd = 0"),
    ([("where", "ngay_tiep_nhan between '2023-08-01' and '2023-08-31'")], "ngay_tiep_nhan BETWEEN DATE '2023-08-01' AND DATE '2023-08-31'"),
    ([("where", "phuong_xa like 'Xã %'")], "phuong_xa LIKE 'Xã %'"),
    ([("where", "ten_thu_tuc ilike '%dang ky%'")], "fold(ten_thu_tuc) LIKE '%dang ky%'"),
    ([("where", "linh_vuc not in ('Đất đai', 'Tư pháp')")], "linh_vuc NOT IN ('Đất đai', 'Tư pháp')"),
    ([("where", "ngay_tra_ket_qua > ngay_hen_tra")], "ngay_tra_ket_qua > ngay_hen_tra"),
    ([("where", "le_phi_vnd != 100000")], "le_phi_vnd <> 100000"),
    ([("where", "quan_huyen icontains 'ba dinh' or quan_huyen icontains 'TAY HO'")], "contains(fold(quan_huyen), 'ba dinh') OR contains(fold(quan_huyen), 'tay ho')"),
    ([("where", "not (le_phi_vnd > 0 and dung_han)")], "NOT (le_phi_vnd > 0 AND dung_han)"),
    ([("where", "trang_thai contains 'hạn' and hinh_thuc_nop <> 'Trực tuyến'")], "contains(trang_thai, 'hạn') AND hinh_thuc_nop <> 'Trực tuyến'"),
    ([("where", "ngay_tiep_nhan >= '01/09/2023' and ngay_tra_ket_qua is not null")], "ngay_tiep_nhan >= DATE '2023-09-01' AND ngay_tra_ket_qua IS NOT NULL"),
    ([("where", "phuong_xa like '%Đ_ng%'")], "phuong_xa LIKE '%Đ_ng%'"),
    ([("where", "le_phi_vnd between 100000 and 500000")], "le_phi_vnd BETWEEN 100000 AND 500000"),
    ([("where", "le_phi_vnd in (0, 1500000) or le_phi_vnd > 99999.5")], "le_phi_vnd IN (0, 1500000) OR le_phi_vnd > 99999.5"),
    ([("where", "not ngay_tiep_nhan not between '2023-07-10' and '2023-07-20'")], "NOT (ngay_tiep_nhan NOT BETWEEN DATE '2023-07-10' AND DATE '2023-07-20')"),
    ([("q", "dang ky")], word_search("dang ky")),
    ([("q", "Quan Tay Ho")], word_search("quan tay ho")),
    ([("q", "XAY DUNG"), ("le_phi_vnd__gt", "0")], word_search("xay dung") + " AND le_phi_vnd > 0"),
    ([("q", "duong"), ("where", "dung_han = false")], word_search("duong") + " AND dung_han = false"),
]


@pytest.mark.parametrize("params,condition", FILTERS, ids=[urllib.parse.urlencode(p)[:60] for p, _ in FILTERS])
def test_filter_matches_duckdb(api, db, params, condition):
    ours = get(api, params + [("select", "ma_ho_so"), ("sort", "ma_ho_so"), ("limit", "10000")])
    theirs = sql_rows(db, f"SELECT ma_ho_so FROM t WHERE {condition} ORDER BY ma_ho_so COLLATE vi")
    assert ours["total"] == len(theirs)
    assert_rows_equal([(r["ma_ho_so"],) for r in ours["items"]], theirs, condition)


# Sorted pages: (parameters, fields, ORDER BY, LIMIT, OFFSET). Nulls sort last both ways; text
# in Vietnamese dictionary order (DuckDB's ICU collation `vi`), as ours.
PAGES = [
    ("sort=-le_phi_vnd,ma_ho_so", ["ma_ho_so", "le_phi_vnd"], "le_phi_vnd DESC NULLS LAST, ma_ho_so COLLATE vi", 50, 100),
    ("sort=ngay_tra_ket_qua,ma_ho_so", ["ma_ho_so", "ngay_tra_ket_qua"], "ngay_tra_ket_qua NULLS LAST, ma_ho_so COLLATE vi", 100, 2650),
    ("sort=-ngay_tra_ket_qua,ma_ho_so", ["ma_ho_so", "ngay_tra_ket_qua"], "ngay_tra_ket_qua DESC NULLS LAST, ma_ho_so COLLATE vi", 100, 0),
    ("sort=quan_huyen,-ngay_tiep_nhan,ma_ho_so", ["quan_huyen", "ngay_tiep_nhan", "ma_ho_so"], "quan_huyen COLLATE vi, ngay_tiep_nhan DESC, ma_ho_so COLLATE vi", 200, 2500),
    ("sort=-dung_han,ma_ho_so", ["ma_ho_so", "dung_han"], "dung_han DESC NULLS LAST, ma_ho_so COLLATE vi", 300, 2600),
    ("sort=ma_ho_so", ["ma_ho_so"], "ma_ho_so COLLATE vi", 10, 5000),
    ("sort=-ma_ho_so", ["ma_ho_so"], "ma_ho_so COLLATE vi DESC", 0, 0),
]


@pytest.mark.parametrize("sort,fields,order,limit,offset", PAGES, ids=[p[0] for p in PAGES])
def test_sorted_page_matches_duckdb(api, db, sort, fields, order, limit, offset):
    params = urllib.parse.parse_qsl(sort) + [("select", ",".join(fields)), ("limit", str(limit)), ("offset", str(offset))]
    ours = get(api, params)
    theirs = sql_rows(db, f"SELECT {', '.join(fields)} FROM t ORDER BY {order} LIMIT {limit} OFFSET {offset}")
    assert_rows_equal([tuple(r[f] for f in fields) for r in ours["items"]], theirs, sort)


def test_cursor_walk_matches_duckdb(api, db):
    page = get(api, [("where", "le_phi_vnd > 0"), ("sort", "-ngay_tiep_nhan,ma_ho_so"), ("select", "ma_ho_so"), ("limit", "700")])
    seen = [r["ma_ho_so"] for r in page["items"]]
    while page["links"]["next"]:
        status, _, body = api.get(page["links"]["next"])
        assert status == 200
        page = json.loads(body)
        seen += [r["ma_ho_so"] for r in page["items"]]
    theirs = sql_rows(db, "SELECT ma_ho_so FROM t WHERE le_phi_vnd > 0 ORDER BY ngay_tiep_nhan DESC, ma_ho_so COLLATE vi")
    assert seen == [r[0] for r in theirs]


# Aggregates: (parameters, output fields, SQL).
AGGREGATES = [
    (
        [("select", "quan_huyen,count(*)"), ("group_by", "quan_huyen")],
        ["quan_huyen", "count"],
        "SELECT quan_huyen, count(*) FROM t GROUP BY quan_huyen ORDER BY quan_huyen COLLATE vi",
    ),
    (
        [("select", "linh_vuc,sum(le_phi_vnd) as tong,avg(le_phi_vnd) as tb,min(ngay_tiep_nhan),max(ngay_tra_ket_qua)"), ("group_by", "linh_vuc")],
        ["linh_vuc", "tong", "tb", "min_ngay_tiep_nhan", "max_ngay_tra_ket_qua"],
        "SELECT linh_vuc, sum(le_phi_vnd), avg(le_phi_vnd), min(ngay_tiep_nhan), max(ngay_tra_ket_qua) FROM t GROUP BY linh_vuc ORDER BY linh_vuc COLLATE vi",
    ),
    (
        [("select", "count(*),count(ngay_tra_ket_qua),count_distinct(phuong_xa)")],
        ["count", "count_ngay_tra_ket_qua", "count_distinct_phuong_xa"],
        "SELECT count(*), count(ngay_tra_ket_qua), count(DISTINCT phuong_xa) FROM t",
    ),
    (
        [("select", "trang_thai,hinh_thuc_nop,count(*) as n"), ("group_by", "trang_thai,hinh_thuc_nop"), ("sort", "-n,trang_thai,hinh_thuc_nop")],
        ["trang_thai", "hinh_thuc_nop", "n"],
        "SELECT trang_thai, hinh_thuc_nop, count(*) AS n FROM t GROUP BY ALL ORDER BY n DESC, trang_thai COLLATE vi, hinh_thuc_nop COLLATE vi",
    ),
    (
        [("where", "dung_han"), ("group_by", "quan_huyen"), ("sort", "-count,quan_huyen"), ("limit", "5")],
        ["quan_huyen", "count"],
        "SELECT quan_huyen, count(*) AS c FROM t WHERE dung_han GROUP BY quan_huyen ORDER BY c DESC, quan_huyen COLLATE vi LIMIT 5",
    ),
    (
        [("select", "dung_han,count(*),avg(le_phi_vnd)"), ("group_by", "dung_han")],
        ["dung_han", "count", "avg_le_phi_vnd"],
        "SELECT dung_han, count(*), avg(le_phi_vnd) FROM t GROUP BY dung_han ORDER BY dung_han NULLS LAST",
    ),
    (
        [("q", "dat dai"), ("select", "quan_huyen,max(le_phi_vnd) as cao_nhat,count_distinct(phuong_xa) as so_xa"), ("group_by", "quan_huyen"), ("sort", "-so_xa,quan_huyen")],
        ["quan_huyen", "cao_nhat", "so_xa"],
        f"SELECT quan_huyen, max(le_phi_vnd), count(DISTINCT phuong_xa) AS s FROM t WHERE {word_search('dat dai')} GROUP BY quan_huyen ORDER BY s DESC, quan_huyen COLLATE vi",
    ),
]


@pytest.mark.parametrize("params,fields,sql", AGGREGATES, ids=[urllib.parse.urlencode(p)[:60] for p, _, _ in AGGREGATES])
def test_aggregate_matches_duckdb(api, db, params, fields, sql):
    ours = get(api, params)
    assert [f["name"] for f in ours["fields"]] == fields
    theirs = sql_rows(db, sql)
    assert ours["total"] == len(theirs) or ("limit", "5") in params
    assert_rows_equal([tuple(r[f] for f in fields) for r in ours["items"]], theirs, urllib.parse.urlencode(params))


# Facets: (parameters, field, SQL condition). Most frequent first, ties by value, nulls counted.
FACETS = [
    ([("facet", "quan_huyen"), ("facet_size", "5"), ("where", "le_phi_vnd > 0")], "quan_huyen", "le_phi_vnd > 0", 5),
    ([("facet", "dung_han")], "dung_han", "true", 10),
    ([("facet", "linh_vuc"), ("q", "giay phep")], "linh_vuc", word_search("giay phep"), 10),
    ([("facet", "trang_thai"), ("quan_huyen", "Quận Cầu Giấy")], "trang_thai", "quan_huyen = 'Quận Cầu Giấy'", 10),
]


@pytest.mark.parametrize("params,field,condition,size", FACETS, ids=[urllib.parse.urlencode(p)[:60] for p, _, _, _ in FACETS])
def test_facet_matches_duckdb(api, db, params, field, condition, size):
    ours = get(api, params + [("limit", "1")])
    theirs = sql_rows(
        db, f"SELECT {field}, count(*) AS c FROM t WHERE {condition} GROUP BY {field} ORDER BY c DESC, {field}{collate(field)} NULLS LAST LIMIT {size}"
    )
    assert_rows_equal([(v["value"], v["count"]) for v in ours["facets"][field]], theirs, field)


def test_there_are_at_least_forty_cases():
    assert len(FILTERS) + len(PAGES) + 1 + len(AGGREGATES) + len(FACETS) >= 40


def test_parquet_answer_reads_back_with_pyarrow(api, db):
    import pyarrow.parquet as pq

    status, headers, body = api.get(BASE + "?" + urllib.parse.urlencode({"where": "le_phi_vnd >= 500000", "format": "parquet", "sort": "ma_ho_so"}))
    assert status == 200
    assert headers["content-disposition"] == f'attachment; filename="{DATASET}-v1.parquet"'
    table = pq.read_table(io.BytesIO(body))
    theirs = sql_rows(db, "SELECT ma_ho_so, le_phi_vnd, ngay_tiep_nhan, dung_han FROM t WHERE le_phi_vnd >= 500000 ORDER BY ma_ho_so COLLATE vi")
    ours = [
        (r["ma_ho_so"], r["le_phi_vnd"], r["ngay_tiep_nhan"].isoformat(), r["dung_han"])
        for r in table.select(["ma_ho_so", "le_phi_vnd", "ngay_tiep_nhan", "dung_han"]).to_pylist()
    ]
    assert_rows_equal(ours, theirs, "parquet")
