"""What a researcher's tools do with our URLs, on versions nothing has touched yet: polars and
pandas read CSV and Parquet straight from the URL (their HTTP readers ask for the length and
read ranges), `curl -C -` resumes a half download, DuckDB reads the files downloaded. Every
one of them must read the same table, on a version's download and on a filtered `/records`
answer. And text comes in Vietnamese dictionary order, as ICU's `vi` collation orders it."""

import io
import json
import subprocess
import urllib.parse

import duckdb
import fsspec
import icu
import pandas as pd
import polars as pl
import pytest

from conftest import publish, serve

WARDS = "don-vi-hanh-chinh-ha-noi"
COLUMNS = ["district_code", "district_name", "district_type", "ward_code", "ward_name", "ward_type"]
COLLATOR = icu.Collator.createInstance(icu.Locale("vi"))


def vi_sorted(values):
    return sorted(values, key=COLLATOR.getSortKey)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A server over versions published just now and read by nobody."""
    data_dir = tmp_path_factory.mktemp("fresh")
    publish(data_dir)
    with serve(data_dir) as api:
        yield api


@pytest.fixture(scope="module")
def truth(fresh, tmp_path_factory):
    """The table as DuckDB reads the stored Parquet file."""
    path = tmp_path_factory.mktemp("truth") / "wards.parquet"
    subprocess.run(["curl", "-sf", "-o", str(path), f"{fresh.base}/api/v1/datasets/{WARDS}/download?format=parquet"], check=True)
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").pl()


def rows(frame):
    """Rows as tuples of text, whatever types the reader chose: the same table reads equal."""
    frame = frame.select(COLUMNS) if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame[COLUMNS])
    return [tuple("" if v is None else str(v) for v in r) for r in frame.cast(pl.String).iter_rows()]


def codes_as_text(frame):
    """CSV readers guess `00001` as a number: read the codes back as text of their width."""
    widths = {"district_code": 3, "ward_code": 5}
    return frame.with_columns([pl.col(c).cast(pl.String).str.zfill(w) for c, w in widths.items()])


def urls(base):
    filtered = urllib.parse.urlencode({"district_code": ["001", "002"], "sort": "ward_name"}, doseq=True)
    return {
        "download": (f"{base}/api/v1/datasets/{WARDS}/download?format=csv", f"{base}/api/v1/datasets/{WARDS}/download?format=parquet", None),
        "records": (
            f"{base}/api/v1/datasets/{WARDS}/records?format=csv&{filtered}",
            f"{base}/api/v1/datasets/{WARDS}/records?format=parquet&{filtered}",
            ["001", "002"],
        ),
    }


@pytest.mark.parametrize("kind", ["download", "records"])
def test_polars_pandas_and_curl_read_the_same_table_first_time(fresh, truth, kind, tmp_path):
    csv_url, parquet_url, districts = urls(fresh.base)[kind]
    expected = truth if districts is None else truth.filter(pl.col("district_code").is_in(districts))
    if districts is not None:
        # The answer's own order: the dictionary's.
        expected = pl.DataFrame(sorted(expected.iter_rows(named=True), key=lambda r: COLLATOR.getSortKey(r["ward_name"])))
    want = rows(expected)
    # Each reader first, on a URL nothing has asked for yet.
    assert rows(codes_as_text(pl.read_csv(csv_url))) == want, "polars.read_csv"
    assert rows(pl.read_parquet(parquet_url)) == want, "polars.read_parquet"
    assert rows(pl.scan_parquet(parquet_url).collect()) == want, "polars.scan_parquet"
    assert rows(codes_as_text(pl.from_pandas(pd.read_csv(csv_url)))) == want, "pandas.read_csv"
    with fsspec.open(parquet_url, "rb") as f:  # HTTP with ranges
        assert rows(pd.read_parquet(f)) == want, "pandas.read_parquet over fsspec"
    # curl: half, then resume with -C -.
    for url, name in [(csv_url, "t.csv"), (parquet_url, "t.parquet")]:
        whole = subprocess.run(["curl", "-sf", url], check=True, capture_output=True).stdout
        path = tmp_path / name
        half = len(whole) // 2
        subprocess.run(["curl", "-sf", "-r", f"0-{half - 1}", "-o", str(path), url], check=True)
        assert path.stat().st_size == half
        subprocess.run(["curl", "-sf", "-C", "-", "-o", str(path), url], check=True)
        assert path.read_bytes() == whole, f"curl -C - on {url}"
    # DuckDB reads the downloaded files.
    assert rows(codes_as_text(duckdb.sql(f"SELECT * FROM read_csv('{tmp_path / 't.csv'}')").pl())) == want
    assert rows(duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path / 't.parquet'}')").pl()) == want


def test_every_download_format_has_a_length_on_the_first_request(fresh):
    for fmt in ["csv", "json", "ndjson", "xlsx", "parquet"]:
        status, headers, body = fresh.get(f"/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/download?format={fmt}")
        assert status == 200, fmt
        headers = {k.lower(): v for k, v in headers.items()}
        assert int(headers["content-length"]) == len(body), fmt
        assert headers["accept-ranges"] == "bytes", fmt
    _, _, body = fresh.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/versions")
    assert json.loads(body)["items"][0]["exports_bytes"] > 0


def test_a_csv_round_trip_keeps_the_data_and_the_excel_variant_is_safe(fresh, tmp_path):
    table = pd.DataFrame(
        {
            "ma": ["01", "02", "03", "04", "05"],
            "gia_tri": ["+84901234567", "=SUM(A1:A2)", "-5 độ", "@tên", "bình thường"],
        }
    )
    folder = tmp_path / "round-trip"
    folder.mkdir()
    table.to_csv(folder / "bang.csv", index=False)
    (folder / "metadata.json").write_text(
        '{"id": "khu-hoi", "title": "Khứ hồi", "license": "CC0-1.0", "publisher": {"id": "so-thu", "name": "Sở Thử"}}',
        encoding="utf-8",
    )
    data_dir = tmp_path / "data"
    publish(data_dir, folder)
    with serve(data_dir) as api:
        back = pd.read_csv(f"{api.base}/api/v1/datasets/khu-hoi/download?format=csv", dtype=str)
        pd.testing.assert_frame_equal(back, table)
        back = pd.read_csv(f"{api.base}/api/v1/datasets/khu-hoi/records?format=csv", dtype=str)
        pd.testing.assert_frame_equal(back, table)
        _, _, body = api.get("/api/v1/datasets/khu-hoi/download?format=csv&bom=true")
        excel = pd.read_csv(io.BytesIO(body), dtype=str, encoding="utf-8-sig")
        assert list(excel["gia_tri"]) == ["'+84901234567", "'=SUM(A1:A2)", "'-5 độ", "'@tên", "bình thường"]


def get_json(api, path, **params):
    status, _, body = api.get(path + "?" + urllib.parse.urlencode(params, doseq=True))
    answer = json.loads(body)
    assert status == 200, answer
    return answer


def test_wards_and_districts_in_vietnamese_dictionary_order(fresh, truth):
    base = f"/api/v1/datasets/{WARDS}/records"
    wards = truth["ward_name"].to_list()
    districts = vi_sorted(set(truth["district_name"].to_list()))
    assert len(wards) == 526 and len(districts) == 30
    # sort: ties (a ward name in two districts) in file order, as Python's stable sort keeps them.
    answer = get_json(fresh, base, sort="ward_name", select="ward_name", limit=1000)
    assert [r["ward_name"] for r in answer["items"]] == vi_sorted(wards)
    answer = get_json(fresh, base, sort="-ward_name,ward_code", select="ward_name", limit=1000)
    assert [r["ward_name"] for r in answer["items"]] == list(reversed(vi_sorted(wards)))
    # group order
    answer = get_json(fresh, base, group_by="district_name", limit=100)
    assert [r["district_name"] for r in answer["items"]] == districts
    # facets with equal counts: by value
    answer = get_json(fresh, base, facet="district_type", facet_size=10, limit=0, where="district_type != 'Quận'")
    counts = {v["value"]: v["count"] for v in answer["facets"]["district_type"]}
    expected = sorted(counts, key=lambda v: (-counts[v], COLLATOR.getSortKey(v)))
    assert [v["value"] for v in answer["facets"]["district_type"]] == expected
    answer = get_json(fresh, base, facet="district_name", facet_size=30, limit=0, ward_type="Thị trấn")
    values = answer["facets"]["district_name"]
    for a, b in zip(values, values[1:]):
        if a["count"] == b["count"]:
            assert COLLATOR.compare(a["value"], b["value"]) < 0, (a, b)
    # text ranges agree with sort
    answer = get_json(fresh, base, district_name__gte="Huyện", district_name__lt="Quận", group_by="district_name")
    assert [r["district_name"] for r in answer["items"]] == [d for d in districts if COLLATOR.compare(d, "Huyện") >= 0 and COLLATOR.compare(d, "Quận") < 0]
    answer = get_json(fresh, base, where="ward_name >= 'Phường Đ' and ward_name < 'Phường G'", select="ward_name", sort="ward_name", limit=1000)
    assert [r["ward_name"] for r in answer["items"]] == [
        w for w in vi_sorted(wards) if COLLATOR.compare(w, "Phường Đ") >= 0 and COLLATOR.compare(w, "Phường G") < 0
    ]
    # text min and max
    answer = get_json(fresh, base, select="min(ward_name),max(ward_name)")
    assert answer["items"][0] == {"min_ward_name": vi_sorted(wards)[0], "max_ward_name": vi_sorted(wards)[-1]}
    # the catalog, by title
    catalog = get_json(fresh, "/api/v1/datasets", sort="title")
    titles = [d["title"] for d in catalog["items"]]
    assert titles == vi_sorted(titles)
    publishers = get_json(fresh, "/api/v1/publishers")
    names = [p["name"] for p in publishers["items"]]
    assert names == vi_sorted(names)
