"""The API read by real clients: Python's csv module, pyarrow, and json."""

import csv
import io
import urllib.parse

import icu
import pyarrow as pa
import pyarrow.parquet as pq

ADMIN = "/api/v1/datasets/don-vi-hanh-chinh-ha-noi"
CAU_GIAY = "district_name=" + urllib.parse.quote("Quận Cầu Giấy") + "&sort=ward_name"


def test_csv_reads_back_with_vietnamese_intact(api):
    _, body = api.json(f"{ADMIN}/records?{CAU_GIAY}")
    status, headers, raw = api.get(f"{ADMIN}/records?{CAU_GIAY}&format=csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(rows) == 8
    assert rows == [{k: str(v) for k, v in item.items()} for item in body["items"]]
    assert rows[0]["ward_name"] == "Phường Dịch Vọng"
    assert [r["ward_name"] for r in rows][-1] == "Phường Yên Hoà"


def test_csv_with_bom_opens_in_excel_style_readers(api):
    status, _, raw = api.get(f"{ADMIN}/records?{CAU_GIAY}&format=csv&bom=true")
    assert status == 200
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0]["district_name"] == "Quận Cầu Giấy"


def test_accept_header_chooses_csv(api):
    status, headers, raw = api.get(f"{ADMIN}/records?{CAU_GIAY}", headers={"Accept": "text/csv"})
    assert status == 200
    assert headers["content-type"].startswith("text/csv")
    assert raw.decode("utf-8").splitlines()[0].startswith("district_code,")


def test_parquet_download_matches_schema_and_rows(api):
    _, meta = api.json(ADMIN)
    status, headers, raw = api.get(f"{ADMIN}/download?format=parquet")
    assert status == 200
    table = pq.read_table(io.BytesIO(raw))
    assert table.num_rows == 526 == meta["rows"]
    assert table.schema.names == [f["name"] for f in meta["fields"]]
    assert all(t == pa.string() for t in table.schema.types)
    codes = table.column("ward_code").to_pylist()
    assert codes[:2] == ["00001", "00004"]
    cau_giay = [w for w, d in zip(table.column("ward_name").to_pylist(), table.column("district_name").to_pylist()) if d == "Quận Cầu Giấy"]
    # Our order is Vietnamese dictionary order: ICU's `vi` collation.
    vi = icu.Collator.createInstance(icu.Locale("vi"))
    assert sorted(cau_giay, key=vi.getSortKey) == [r["ward_name"] for r in api.json(f"{ADMIN}/records?{CAU_GIAY}")[1]["items"]]


def test_parquet_types_of_a_typed_dataset(api):
    status, _, raw = api.get("/api/v1/datasets/ho-so-tthc-mau/download?format=parquet")
    assert status == 200
    table = pq.read_table(io.BytesIO(raw))
    assert table.num_rows == 3000
    schema = table.schema
    assert schema.field("ngay_tiep_nhan").type == pa.date32()
    assert schema.field("le_phi_vnd").type == pa.int64()
    assert schema.field("dung_han").type == pa.bool_()
    assert schema.field("ma_ho_so").type == pa.string()


def test_whole_csv_download_equals_parquet(api):
    _, _, raw_csv = api.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/download?format=csv")
    _, _, raw_pq = api.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/download?format=parquet")
    rows = list(csv.DictReader(io.StringIO(raw_csv.decode("utf-8"), newline="")))
    table = pq.read_table(io.BytesIO(raw_pq)).to_pylist()
    assert len(rows) == len(table) == 16
    assert rows[13]["chi_tieu"] == table[13]["chi_tieu"] == "Tốc độ tăng năng suất lao động"
    assert float(rows[13]["muc_tieu_2025"]) == table[13]["muc_tieu_2025"] == 7.5
    assert rows[0]["muc_tieu_2030"] == "" and table[0]["muc_tieu_2030"] is None


def test_errors_are_json(api):
    status, body = api.json(f"{ADMIN}/records?no_such_field=1")
    assert status == 400
    assert body["error"]["code"] == "unknown_field"
    assert "ward_name" in body["error"]["details"]["valid_fields"]
    status, body = api.json("/api/v1/datasets/khong-ton-tai")
    assert status == 404
    assert body["error"]["code"] == "dataset_not_found"
