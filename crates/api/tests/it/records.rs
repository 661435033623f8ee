//! `/records` and friends through the router, on the bundled datasets.

use axum::http::StatusCode;
use serde_json::json;

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn envelope_shape_and_typed_values() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let (status, body) = app.get_json("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?stt=14").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "dataset": "chi-tieu-chuyen-doi-so-ha-noi",
            "version": 1,
            "total": 1,
            "limit": 100,
            "offset": 0,
            "fields": [
                {"name": "stt", "type": "integer"},
                {"name": "nhom", "type": "string"},
                {"name": "chi_tieu", "type": "string"},
                {"name": "don_vi_tinh", "type": "string"},
                {"name": "muc_tieu_2025", "type": "float"},
                {"name": "muc_tieu_2030", "type": "float"}
            ],
            "items": [{
                "stt": 14,
                "nhom": "Kinh tế số",
                "chi_tieu": "Tốc độ tăng năng suất lao động",
                "don_vi_tinh": "%/năm",
                "muc_tieu_2025": 7.5,
                "muc_tieu_2030": 7.5
            }],
            "links": {"self": "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?stt=14", "next": null}
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn operators() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let base = "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records";
    let stt = |body: &serde_json::Value| -> Vec<i64> {
        body["items"].as_array().unwrap().iter().map(|r| r["stt"].as_i64().unwrap()).collect()
    };
    let cases: &[(&str, Vec<i64>)] = &[
        ("stt__lt=3", vec![1, 2]),
        ("stt__lte=2&sort=-stt", vec![2, 1]),
        ("stt__gt=14", vec![15, 16]),
        ("stt__in=[1,16]", vec![1, 16]),
        ("stt__in=1&stt__in=2", vec![1, 2]),
        ("stt=1&stt=3", vec![1, 3]),
        ("muc_tieu_2030__isnull=false&muc_tieu_2025__gte=50&select=stt", vec![2, 3, 4, 8, 15, 16]),
        ("chi_tieu__icontains=GRDP", vec![13]),
        ("nhom__icontains=kinh%20te%20so&stt__ne=13", vec![14]),
        ("nhom__icontains=kinh%20te%20so&stt__ne=13&stt__ne=14", vec![]),
        ("nhom__startswith=X%C3%A3&stt__notin=[16]", vec![15]),
    ];
    for (query, expected) in cases {
        let (status, body) = app.get_json(&format!("{base}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(&stt(&body), expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn full_text_q_ignores_case_and_diacritics() {
    let app = TestApp::new().await.with_dataset("don-vi-hanh-chinh-ha-noi").await;
    let (_, body) = app.get_json("/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?q=DICH%20VONG%20hau").await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["ward_name"], "Phường Dịch Vọng Hậu");
    let (_, body) = app.get_json("/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?q=nghia%20do").await;
    assert_eq!(body["items"][0]["ward_name"], "Phường Nghĩa Đô");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_bodies() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let base = "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi";
    let cases = [
        (
            format!("{base}/records?stt__gt=abc"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_value", "message": "parameter `stt__gt`: `abc` is not a valid integer (e.g. 1500000)",
                   "details": {"parameter": "stt__gt", "value": "abc", "expected": "integer (e.g. 1500000)"}}}),
        ),
        (
            format!("{base}/records?stt__like=1"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "unknown_operator", "message": "parameter `stt__like`: unknown operator `like`; valid operators: eq, ne, gt, gte, lt, lte, contains, icontains, startswith, in, notin, isnull",
                   "details": {"parameter": "stt__like", "valid_operators": ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "icontains", "startswith", "in", "notin", "isnull"]}}}),
        ),
        (
            format!("{base}/records?limit=20000"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_limit", "message": "parameter `limit`: 20000 is above the maximum of 10000 for format json; page with `offset`, or use format=csv for the whole table",
                   "details": {"parameter": "limit", "max": 10000}}}),
        ),
        (
            format!("{base}/records?format=xml"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_format", "message": "parameter `format`: unsupported format `xml`; use one of: json, ndjson, csv, parquet, xlsx, geojson",
                   "details": {"parameter": "format"}}}),
        ),
        (
            format!("{base}/records?version=7"),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "version_not_found", "message": "dataset `chi-tieu-chuyen-doi-so-ha-noi` has no version 7; latest is 1",
                   "details": {"dataset": "chi-tieu-chuyen-doi-so-ha-noi", "version": 7, "latest": 1}}}),
        ),
        (
            "/api/v1/datasets/khong-co".to_string(),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "dataset_not_found", "message": "no dataset `khong-co`; see /api/v1/datasets for the list",
                   "details": {"dataset": "khong-co"}}}),
        ),
        (
            "/api/v1/datasets?limit=abc".to_string(),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_parameter", "message": "Failed to deserialize query string: limit: invalid digit found in string", "details": null}}),
        ),
        (
            format!("{base}/download?format=docx"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_format", "message": "parameter `format`: unsupported format `docx`; use one of: csv, parquet, ndjson, json, xlsx, geojson",
                   "details": {"parameter": "format"}}}),
        ),
    ];
    for (uri, status, expected) in cases {
        let (got_status, body) = app.get_json(&uri).await;
        assert_eq!(got_status, status, "{uri}");
        assert_eq!(body, expected, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_accept_header_and_bom() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let (status, body) =
        app.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?stt__lte=2&format=csv&bom=true").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        "\u{feff}stt,nhom,chi_tieu,don_vi_tinh,muc_tieu_2025,muc_tieu_2030\r\n\
         1,Chính quyền số,Thủ tục hành chính đủ điều kiện cung cấp trực tuyến mức độ 4,%,100,\r\n\
         2,Chính quyền số,Hồ sơ công việc cấp Thành phố xử lý trên môi trường mạng,%,90,100\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn q_matches_word_starts_only() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let base = "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records";
    // `hanh` starts `hành` in row 1 and is inside `Thành` in rows 2 and 9, which must not match.
    let (_, body) = app.get_json(&format!("{base}?q=hanh&select=stt")).await;
    assert_eq!(body["items"], json!([{"stt": 1}]));
    let (_, body) = app.get_json(&format!("{base}?q=thanh%20pho&select=stt")).await;
    assert_eq!(body["items"], json!([{"stt": 2}, {"stt": 9}]));
    let (_, body) = app.get_json(&format!("{base}?q=GRD&select=stt")).await;
    assert_eq!(body["items"], json!([{"stt": 13}]));
}
