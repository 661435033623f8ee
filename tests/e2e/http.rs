//! The API over HTTP, as a developer or researcher meets it.

use std::sync::OnceLock;

use opendata_e2e::Server;
use serde_json::Value;

const ADMIN_UNITS: &str = "/api/v1/datasets/don-vi-hanh-chinh-ha-noi";
/// In Vietnamese dictionary order: `Đ` comes after `D` and before `E`, so `Nghĩa Đô` before
/// `Nghĩa Tân` (in code points `Đ`, U+0110, would come after every ASCII letter).
const CAU_GIAY_WARDS: [&str; 8] = [
    "Phường Dịch Vọng",
    "Phường Dịch Vọng Hậu",
    "Phường Mai Dịch",
    "Phường Nghĩa Đô",
    "Phường Nghĩa Tân",
    "Phường Quan Hoa",
    "Phường Trung Hoà",
    "Phường Yên Hoà",
];

/// One server for the whole file: publishing takes a moment, and every test here only reads.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(Server::start_with_datasets)
}

async fn get(path: &str) -> reqwest::Response {
    reqwest::get(server().url(path)).await.expect("request")
}

async fn get_json(path: &str) -> (u16, Value) {
    let r = get(path).await;
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn catalog_lists_the_bundled_datasets_with_metadata() {
    let (status, body) = get_json("/api/v1/datasets").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 3);
    let mut ids: Vec<&str> = body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["chi-tieu-chuyen-doi-so-ha-noi", "don-vi-hanh-chinh-ha-noi", "ho-so-tthc-mau"]);
    let admin = body["items"].as_array().unwrap().iter().find(|d| d["id"] == "don-vi-hanh-chinh-ha-noi").unwrap();
    assert_eq!(admin["publisher"]["name"], "Sở Nội vụ thành phố Hà Nội");
    assert_eq!(admin["license"], "CC-BY-4.0");
    assert_eq!(admin["rows"], 526);
    assert_eq!(admin["version"], 1);
}

#[tokio::test]
async fn catalog_search_ignores_diacritics() {
    let (_, body) = get_json("/api/v1/datasets?q=chuyen%20doi%20so").await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["id"], "chi-tieu-chuyen-doi-so-ha-noi");
    let (_, body) = get_json("/api/v1/datasets?q=DON%20VI%20HANH%20CHINH").await;
    assert_eq!(body["items"][0]["id"], "don-vi-hanh-chinh-ha-noi");
    // Words match word starts: `hanh` is in `thành phố` of the third, which must not match.
    let (_, body) = get_json("/api/v1/datasets?q=hanh%20chinh").await;
    assert_eq!(body["total"], 2);
}

#[tokio::test]
async fn dataset_has_schema_and_versions() {
    let (status, body) = get_json(ADMIN_UNITS).await;
    assert_eq!(status, 200);
    let fields: Vec<(&str, &str)> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("district_code", "string"),
            ("district_name", "string"),
            ("district_type", "string"),
            ("ward_code", "string"),
            ("ward_name", "string"),
            ("ward_type", "string")
        ]
    );
    assert_eq!(body["fields"][0]["distinct_count"], 30);
    assert_eq!(body["fields"][3]["null_count"], 0);
    assert_eq!(body["fields"][3]["min"], "00001");
    assert_eq!(body["versions"][0]["version"], 1);
    assert_eq!(body["versions"][0]["rows"], 526);
    assert_eq!(body["versions"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(body["links"]["download"]["parquet"], format!("{ADMIN_UNITS}/download?format=parquet"));
}

#[tokio::test]
async fn cau_giay_has_its_eight_wards_in_order() {
    let (status, body) = get_json(&format!(
        "{ADMIN_UNITS}/records?district_name=Qu%E1%BA%ADn%20C%E1%BA%A7u%20Gi%E1%BA%A5y&sort=ward_name"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 8);
    assert_eq!(body["dataset"], "don-vi-hanh-chinh-ha-noi");
    assert_eq!(body["version"], 1);
    assert_eq!(body["limit"], 100);
    assert_eq!(body["offset"], 0);
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["ward_name"].as_str().unwrap()).collect();
    assert_eq!(names, CAU_GIAY_WARDS);
    assert_eq!(body["items"][0]["ward_code"], "00166");
    assert_eq!(body["links"]["next"], Value::Null);
}

#[tokio::test]
async fn csv_has_the_same_rows() {
    let r = get(&format!(
        "{ADMIN_UNITS}/records?district_name=Qu%E1%BA%ADn%20C%E1%BA%A7u%20Gi%E1%BA%A5y&sort=ward_name&format=csv"
    ))
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "district_code,district_name,district_type,ward_code,ward_name,ward_type");
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[1], "005,Quận Cầu Giấy,Quận,00166,Phường Dịch Vọng,Phường");
    let names: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(4).unwrap()).collect();
    assert_eq!(names, CAU_GIAY_WARDS);
}

#[tokio::test]
async fn paging_cursors_pin_the_version_and_refuse_tampering() {
    let (_, body) = get_json(&format!("{ADMIN_UNITS}/records?limit=2&select=ward_code")).await;
    assert_eq!(body["total"], 526);
    assert_eq!(body["items"], serde_json::json!([{"ward_code": "00001"}, {"ward_code": "00004"}]));
    let next = body["links"]["next"].as_str().unwrap();
    let prefix = format!("{ADMIN_UNITS}/records?limit=2&select=ward_code&cursor=");
    assert!(next.starts_with(&prefix), "{next}");
    let (status, page2) = get_json(next).await;
    assert_eq!(status, 200, "{page2}");
    assert_eq!((page2["offset"].as_u64(), page2["version"].as_i64()), (Some(2), Some(1)));
    assert_eq!(page2["items"][0]["ward_code"], "00006");
    let (_, page3) = get_json(page2["links"]["next"].as_str().unwrap()).await;
    assert_eq!(page3["offset"], 4);

    // A changed token, or the token with another query, is refused.
    let token = &next[prefix.len()..];
    let mut forged = token.to_string();
    forged.replace_range(0..1, if token.starts_with('M') { "N" } else { "M" });
    let (status, body) = get_json(&format!("{prefix}{forged}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")), "{body}");
    let (status, body) = get_json(&format!("{ADMIN_UNITS}/records?limit=2&select=ward_name&cursor={token}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_cursor")), "{body}");
    let (status, _) = get_json(&format!("{next}&offset=3")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn typed_filters_on_the_sample_applications() {
    let base = "/api/v1/datasets/ho-so-tthc-mau/records";
    let (status, body) =
        get_json(&format!("{base}?le_phi_vnd__gte=1000000&dung_han=false&sort=-le_phi_vnd&limit=5")).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for r in items {
        assert!(r["le_phi_vnd"].as_i64().unwrap() >= 1_000_000);
        assert_eq!(r["dung_han"], false);
    }
    let fees: Vec<i64> = items.iter().map(|r| r["le_phi_vnd"].as_i64().unwrap()).collect();
    assert!(fees.windows(2).all(|w| w[0] >= w[1]), "sorted descending: {fees:?}");
    // Dates come back as YYYY-MM-DD and filter as dates.
    let (_, body) = get_json(&format!("{base}?ngay_tiep_nhan=2023-07-01&limit=1")).await;
    assert_eq!(body["items"][0]["ngay_tiep_nhan"], "2023-07-01");
    let (_, body) = get_json(&format!("{base}?ngay_tra_ket_qua__isnull=true&limit=0")).await;
    assert!(body["total"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn unknown_field_lists_the_valid_ones() {
    let (status, body) = get_json(&format!("{ADMIN_UNITS}/records?no_such_field=1")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unknown_field");
    assert_eq!(
        body["error"]["message"],
        "unknown field `no_such_field` in parameter `no_such_field`; valid fields: district_code, district_name, district_type, ward_code, ward_name, ward_type"
    );
    assert_eq!(body["error"]["details"]["valid_fields"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn bad_values_and_limits_are_400_naming_the_parameter() {
    let (status, body) = get_json("/api/v1/datasets/ho-so-tthc-mau/records?le_phi_vnd__gt=nhieu").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_value");
    assert!(body["error"]["message"].as_str().unwrap().contains("`le_phi_vnd__gt`"));
    let (status, body) = get_json(&format!("{ADMIN_UNITS}/records?limit=10001")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_limit");
    let (status, body) = get_json(&format!("{ADMIN_UNITS}/records?sort=nope")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["parameter"], "sort");
}

#[tokio::test]
async fn unknown_dataset_and_route_are_404_json() {
    let (status, body) = get_json("/api/v1/datasets/khong-co/records").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "dataset_not_found");
    let (status, body) = get_json("/api/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn parquet_download_has_etag_length_and_ranges() {
    let r = get(&format!("{ADMIN_UNITS}/download?format=parquet")).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let length: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"don-vi-hanh-chinh-ha-noi-v1.parquet\"");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    let client = reqwest::Client::new();
    let url = server().url(&format!("{ADMIN_UNITS}/download?format=parquet"));
    let ranged = client.get(&url).header("range", "bytes=0-3").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"PAR1");
    let cached = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
}

#[tokio::test]
async fn csv_download_streams_the_whole_table() {
    let r = get("/api/v1/datasets/ho-so-tthc-mau/download?format=csv&bom=true").await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with("ma_ho_so,ten_thu_tuc,"));
    // 3000 records + the header; quoted fields may hold no newlines in this dataset.
    assert_eq!(text.lines().count(), 3001);
}

#[tokio::test]
async fn whole_table_downloads_are_kept_then_served_with_ranges() {
    let url = server().url(&format!("{ADMIN_UNITS}/download?format=ndjson"));
    let first = reqwest::get(&url).await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let streamed = first.bytes().await.unwrap();
    assert_eq!(streamed.iter().filter(|b| **b == b'\n').count(), 526);
    // The first download is encoded while it streams, and kept as a file in the background;
    // later ones are that file: the same bytes, with a length, resumable.
    let client = reqwest::Client::new();
    let mut kept = None;
    for _ in 0..100 {
        let r = client.get(&url).send().await.unwrap();
        if r.headers().contains_key("content-length") && r.headers().contains_key("accept-ranges") {
            kept = Some(r);
            break;
        }
        r.bytes().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let kept = kept.expect("the download is kept as a file within 10 s");
    assert_eq!(kept.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(kept.headers()["content-type"], "application/x-ndjson");
    assert_eq!(kept.headers()["content-disposition"], "attachment; filename=\"don-vi-hanh-chinh-ha-noi-v1.ndjson\"");
    assert_eq!(kept.bytes().await.unwrap(), streamed);
    let tail = client.get(&url).header("range", "bytes=-2").send().await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &streamed[streamed.len() - 2..]);
    // A resume of another version's bytes gets the whole file.
    let stale = client.get(&url).header("range", "bytes=0-9").header("if-range", "\"other\"").send().await.unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap(), streamed);
}

#[tokio::test]
async fn openapi_docs_and_probes() {
    let (status, spec) = get_json("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/datasets",
        "/api/v1/datasets/{id}",
        "/api/v1/datasets/{id}/records",
        "/api/v1/datasets/{id}/download",
        "/api/v1/datasets/{id}/versions",
        "/api/v1/publishers",
        "/healthz",
        "/readyz",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} missing from the spec");
    }
    let docs = get("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"), "Swagger UI page");
    assert_eq!(get_json("/healthz").await, (200, serde_json::json!({"status": "ok"})));
    assert_eq!(get_json("/readyz").await, (200, serde_json::json!({"status": "ok"})));
}

#[tokio::test]
async fn publishers_with_counts() {
    let (_, body) = get_json("/api/v1/publishers").await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|p| p["dataset_count"] == 1));
}

/// A client that trickles its headers (slow-loris) has its connection closed once the
/// header-read timeout passes, while other clients are answered meanwhile.
#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with_env(tempfile::tempdir().unwrap(), &[("OPENDATA_HEADER_READ_TIMEOUT", "1")]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    // Others are answered while it waits.
    let r = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was still open after 10 s");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(900) && elapsed < std::time::Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "{}", String::from_utf8_lossy(&rest));
}
