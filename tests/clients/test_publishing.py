"""An agency's script publishing with curl, as the README shows it: multipart and raw uploads,
the job, a refused file, and the download read back with pyarrow."""

import csv
import io
import json
import shutil
import subprocess
import tempfile

import geojson
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, serve

ADMIN = "client-test-admin-token"
FIXTURES = ROOT.parent / "shared" / "fixtures"


def curl(*args):
    """Run curl; return (status, parsed JSON body)."""
    assert shutil.which("curl"), "curl is needed for the client checks (make test installs it)"
    out = subprocess.run(
        ["curl", "-sS", "-w", "\\n%{http_code}", *args], check=True, capture_output=True, text=True
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), (json.loads(body) if body.strip() else None)


@pytest.fixture(scope="module")
def agency(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("agency")
    with serve(data_dir, OPENDATA_ADMIN_TOKEN=ADMIN) as api:
        h = api.base
        admin = ["-H", f"Authorization: Bearer {ADMIN}", "-H", "Content-Type: application/json"]
        status, _ = curl("-X", "POST", f"{h}/api/v1/publishers", *admin,
                         "-d", '{"id": "so-tnmt-ha-noi", "name": "Sở Tài nguyên và Môi trường thành phố Hà Nội"}')
        assert status == 201
        status, key = curl("-X", "POST", f"{h}/api/v1/publishers/so-tnmt-ha-noi/keys", *admin, "-d", '{"label": "script"}')
        assert status == 201
        auth = ["-H", f"Authorization: Bearer {key['key_secret']}"]
        status, dataset = curl("-X", "POST", f"{h}/api/v1/datasets", *auth, "-H", "Content-Type: application/json",
                               "-d", '{"id": "quan-trac-khong-khi", "title": "Quan trắc không khí", "license": "CC-BY-4.0"}')
        assert status == 201, dataset
        yield api, auth


def test_multipart_upload_then_job_then_parquet(agency):
    api, auth = agency
    h = api.base
    status, job = curl("-X", "POST", f"{h}/api/v1/datasets/quan-trac-khong-khi/versions", *auth,
                       "-F", f"file=@{FIXTURES / 'agency' / 'quan-trac-khong-khi-10-2023.txt'}")
    assert status == 202, job
    for _ in range(600):
        status, job = curl(f"{h}{job['links']['self']}", *auth)
        if job["state"] in ("succeeded", "failed"):
            break
        subprocess.run(["sleep", "0.05"], check=True)
    assert job["state"] == "succeeded", job
    assert job["rows"] == 5952
    assert job["report"]["encoding"]["name"] == "utf-16le"
    status, _, body = api.get(f"/api/v1/datasets/quan-trac-khong-khi/download?format=parquet&version={job['version']}")
    assert status == 200
    assert pq.read_table(io.BytesIO(body)).num_rows == 5952


def test_raw_upload_waits_and_refusal_changes_nothing(agency):
    api, auth = agency
    h = api.base
    csv = FIXTURES / "agency" / "ten-duong-nfd.csv"
    status, version = curl("-X", "POST", f"{h}/api/v1/datasets/quan-trac-khong-khi/versions?wait=true&filename=ten-duong.csv",
                           *auth, "-H", "Content-Type: text/csv", "--data-binary", f"@{csv}")
    assert status == 201, version
    assert version["rows"] == 300
    before = api.get("/api/v1/datasets/quan-trac-khong-khi/records?limit=20")
    status, refused = curl("-X", "POST", f"{h}/api/v1/datasets/quan-trac-khong-khi/versions?wait=true", *auth,
                           "-F", f"file=@{FIXTURES / 'bad' / 'header-only.csv'}")
    assert status == 422
    assert refused["error"]["code"] == "no_data_rows"
    assert api.get("/api/v1/datasets/quan-trac-khong-khi/records?limit=20")[2] == before[2]
    status, unauthorized = curl("-X", "POST", f"{h}/api/v1/datasets/quan-trac-khong-khi/versions",
                                "--data-binary", f"@{csv}")
    assert status == 401
    assert unauthorized["error"]["code"] == "unauthorized"


def upload(api, auth, dataset, path, name):
    status, body = curl("-X", "POST", f"{api.base}/api/v1/datasets/{dataset}/versions?wait=true&filename={name}", *auth,
                        "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{path}")
    assert status == 201, body
    return body


def create(api, auth, dataset, title):
    status, body = curl("-X", "POST", f"{api.base}/api/v1/datasets", *auth, "-H", "Content-Type: application/json",
                        "-d", json.dumps({"id": dataset, "title": title, "license": "CC0-1.0"}))
    assert status == 201, body


def test_geojson_of_the_wifi_points_is_valid_geojson(agency):
    api, auth = agency
    create(api, auth, "diem-wifi", "Điểm Wi-Fi công cộng")
    upload(api, auth, "diem-wifi", FIXTURES / "agency" / "diem-wifi-cong-cong.geojson", "diem-wifi-cong-cong.geojson")
    status, headers, body = api.get("/api/v1/datasets/diem-wifi/records?format=geojson")
    assert status == 200
    assert headers["content-type"] == "application/geo+json"
    collection = geojson.loads(body.decode())
    assert collection.is_valid, collection.errors()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 60
    source = json.loads((FIXTURES / "agency" / "diem-wifi-cong-cong.geojson").read_text(encoding="utf-8"))
    assert [f["geometry"]["coordinates"] for f in collection["features"]] == [
        f["geometry"]["coordinates"] for f in source["features"]
    ]
    assert "longitude" not in collection["features"][0]["properties"]
    # Filters apply as anywhere else.
    status, _, body = api.get("/api/v1/datasets/diem-wifi/records?format=geojson&limit=3")
    assert len(geojson.loads(body.decode())["features"]) == 3


def test_csv_neutralises_formulas_in_text_but_not_numbers(agency):
    api, auth = agency
    create(api, auth, "cong-thuc", "Công thức")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as f:
        f.write("ma,ghi_chu,so_tien\n01,=HYPERLINK(\"http://x\"),-5\n02,+84 912 345 678,12\n03,@SUM(A1),-7\n04,bình thường,0\n")
    upload(api, auth, "cong-thuc", f.name, "cong-thuc.csv")
    status, _, body = api.get("/api/v1/datasets/cong-thuc/records?format=csv&bom=true")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1] == ["01", "'=HYPERLINK(\"http://x\")", "-5"]
    assert rows[2] == ["02", "'+84 912 345 678", "12"]
    assert rows[3] == ["03", "'@SUM(A1)", "-7"]
    assert rows[4] == ["04", "bình thường", "0"]
