"""Every output format read back by a real reader: openpyxl for XLSX, Python's csv for CSV
(with and without BOM, with `;`), json for NDJSON and the JSON download; and HTTP caching as
a client sees it."""

import csv
import datetime
import io
import json
import urllib.parse
import urllib.request

import openpyxl

DATASET = "ho-so-tthc-mau"
RECORDS = f"/api/v1/datasets/{DATASET}/records"


def query(**params):
    return RECORDS + "?" + urllib.parse.urlencode(params)


def reference(api, **params):
    status, _, body = api.get(query(**{"format": "json", "limit": "10000", **params}))
    assert status == 200
    return json.loads(body)["items"]


def test_xlsx_opens_in_openpyxl_with_types(api):
    params = dict(where="quan_huyen = 'Quận Ba Đình'", sort="ma_ho_so", select="ma_ho_so,quan_huyen,ngay_tiep_nhan,le_phi_vnd,dung_han")
    status, headers, body = api.get(query(format="xlsx", **params))
    assert status == 200
    assert headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert headers["content-disposition"] == f'attachment; filename="{DATASET}-v1.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("ma_ho_so", "quan_huyen", "ngay_tiep_nhan", "le_phi_vnd", "dung_han")
    expected = reference(api, **params)
    assert len(rows) - 1 == len(expected) > 0
    for got, want in zip(rows[1:], expected):
        assert got[0] == want["ma_ho_so"] and got[1] == "Quận Ba Đình"
        assert isinstance(got[2], datetime.datetime) and got[2].date().isoformat() == want["ngay_tiep_nhan"]
        assert got[3] == want["le_phi_vnd"] and isinstance(got[3], int)
        assert got[4] == want["dung_han"]


def test_csv_with_and_without_bom_and_with_semicolons(api):
    params = dict(select="ma_ho_so,ten_thu_tuc,le_phi_vnd", sort="ma_ho_so", limit="300")
    expected = reference(api, **params)
    plain = api.get(query(format="csv", **params))[2]
    assert not plain.startswith(b"\xef\xbb\xbf")
    with_bom = api.get(query(format="csv", bom="true", **params))[2]
    assert with_bom.startswith(b"\xef\xbb\xbf") and with_bom[3:] == plain
    semicolons = api.get(query(format="csv", delimiter=";", **params))[2]
    for text, delimiter in ((plain.decode("utf-8"), ","), (with_bom.decode("utf-8-sig"), ","), (semicolons.decode(), ";")):
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        assert rows[0] == ["ma_ho_so", "ten_thu_tuc", "le_phi_vnd"]
        assert [(r[0], r[1], int(r[2])) for r in rows[1:]] == [
            (e["ma_ho_so"], e["ten_thu_tuc"], e["le_phi_vnd"]) for e in expected
        ]


def test_ndjson_and_json_download_read_back(api):
    expected = reference(api, sort="ma_ho_so", where="le_phi_vnd > 0")
    status, headers, body = api.get(query(format="ndjson", sort="ma_ho_so", where="le_phi_vnd > 0"))
    assert status == 200 and headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in body.decode().splitlines()] == expected
    status, _, body = api.get(f"/api/v1/datasets/{DATASET}/download?format=json")
    rows = json.loads(body)
    assert len(rows) == 3000 and rows[0].keys() == expected[0].keys()
    status, _, body = api.get(f"/api/v1/datasets/{DATASET}/download?format=ndjson")
    assert len(body.decode().splitlines()) == 3000


def test_etag_answers_304_and_versioned_answers_are_immutable(api):
    status, headers, _ = api.get(query(quan_huyen="Quận Ba Đình"))
    etag = headers["etag"]
    assert headers["cache-control"] == "public, max-age=60"
    status, headers, body = api.get(query(quan_huyen="Quận Ba Đình"), headers={"If-None-Match": etag})
    assert status == 304 and body == b""
    status, _, _ = api.get(query(quan_huyen="Quận Tây Hồ"), headers={"If-None-Match": etag})
    assert status == 200, "another query has another ETag"
    status, headers, _ = api.get(query(quan_huyen="Quận Ba Đình", version="1"))
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    status, headers, _ = api.get(query(format="csv", quan_huyen="Quận Ba Đình"))
    assert headers["etag"] != etag, "formats differ"


def test_head_answers_headers_without_a_body(api):
    request = urllib.request.Request(api.base + query(format="csv", limit="5"), method="HEAD")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert r.read() == b""


def test_geojson_of_a_table_without_a_place_is_refused(api):
    status, _, body = api.get(query(format="geojson"))
    assert status == 400
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_format" and "longitude" in error["message"]
