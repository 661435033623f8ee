//! One behaviour for every endpoint: unknown and malformed parameters, conditional requests on
//! metadata, exact sums, Vietnamese order, faithful CSV, and answers served as files.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::TestApp;

/// Districts whose order differs between code points and the dictionary.
const DISTRICTS: &str = "ten,so,ma\n\
Quận Tây Hồ,1,a\n\
Hoàng Mai,2,b\n\
Huyện Ứng Hòa,3,c\n\
Quận Đống Đa,4,d\n\
Hà Đông,5,e\n\
Quận Ba Đình,6,f\n\
Hoàng Mai,7,g\n";

const DICTIONARY: [&str; 6] = ["Hà Đông", "Hoàng Mai", "Huyện Ứng Hòa", "Quận Ba Đình", "Quận Đống Đa", "Quận Tây Hồ"];

fn names(body: &Value, key: &str) -> Vec<String> {
    body["items"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_parameters_are_400_on_every_endpoint() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    for uri in [
        "/api/v1/datasets?foo=bar",
        "/api/v1/publishers?x=1",
        "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi?expand=all",
        "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/versions?page=2",
        "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/download?fromat=csv",
    ] {
        let (status, body) = app.get_json(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{uri}");
        let name = uri.split('?').nth(1).unwrap().split('=').next().unwrap();
        assert_eq!(body["error"]["details"]["parameter"], name, "{uri}");
        assert!(body["error"]["message"].as_str().unwrap().contains(&format!("`{name}`")), "{uri}: {body}");
    }
    let (status, body) = app.get_json("/api/v1/datasets?sort=-modified_at").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_sort")), "{body}");
    assert_eq!(body["error"]["details"]["valid"], json!(["relevance", "title", "-title", "modified", "-modified"]));
    let (status, body) = app.get_json("/api/v1/datasets?offset=18446744073709551615").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let base = "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records";
    let (status, body) = app.get_json(&format!("{base}?nhom__in=%5B%22a%22%2C")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_parameter")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("not a JSON array"), "{body}");
    let (status, body) = app.get_json(&format!("{base}?sort=stt,-stt")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_sort")), "{body}");
    let (status, body) = app.get_json(&format!("{base}?collation=fr")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"]["parameter"], "collation");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_sorts_by_relevance_title_and_date() {
    let app = TestApp::new()
        .await
        .with_csv("b-dan-so", "Dân số các phường", "a,b\n1,x\n")
        .await
        .with_csv("a-truong", "Trường học và dân số", "a,b\n1,x\n")
        .await
        .with_csv("c-duong", "Đường phố", "a,b\n1,x\n")
        .await;
    let ids = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
    };
    let (_, body) = app.get_json("/api/v1/datasets?sort=title").await;
    assert_eq!(ids(&body), ["b-dan-so", "c-duong", "a-truong"], "Dân < Đường < Trường");
    let (_, body) = app.get_json("/api/v1/datasets?sort=-title").await;
    assert_eq!(ids(&body), ["a-truong", "c-duong", "b-dan-so"]);
    // `dan so` starts the title of one and ends the other's: both match, the first ranks higher
    // only by words; equal scores fall back to the newest first.
    let (_, body) = app.get_json("/api/v1/datasets?q=dan%20so").await;
    assert_eq!(ids(&body).len(), 2);
    let (_, body) = app.get_json("/api/v1/datasets?q=truong").await;
    assert_eq!(ids(&body), ["a-truong"]);
    let times = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|d| d["modified_at"].as_str().unwrap().to_string()).collect()
    };
    let (_, newest) = app.get_json("/api/v1/datasets?sort=-modified").await;
    assert!(times(&newest).windows(2).all(|w| w[0] >= w[1]), "{newest}");
    let (_, oldest) = app.get_json("/api/v1/datasets?sort=modified").await;
    assert!(times(&oldest).windows(2).all(|w| w[0] <= w[1]), "{oldest}");
    assert!(body["links"]["self"].as_str().unwrap().contains("q=truong"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_answers_are_conditional() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    for uri in [
        "/api/v1/datasets",
        "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi",
        "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/versions",
        "/api/v1/publishers",
    ] {
        let (status, headers, _) = app.get_with(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let etag = headers["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() > 10, "{uri}: {etag}");
        assert_eq!(headers["cache-control"], "public, max-age=60", "{uri}");
        let (status, again, body) = app.get_with(uri, &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body.is_empty());
        assert_eq!(again["etag"].to_str().unwrap(), etag);
        let (status, _, _) = app.get_with(uri, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_is_in_vietnamese_dictionary_order_everywhere() {
    let app = TestApp::new().await.with_csv("quan", "Quận", DISTRICTS).await;
    let base = "/api/v1/datasets/quan/records";
    let (_, body) = app.get_json(&format!("{base}?sort=ten,so&select=ten")).await;
    let mut expected: Vec<&str> = DICTIONARY.to_vec();
    expected.insert(2, "Hoàng Mai");
    assert_eq!(names(&body, "ten"), expected);
    let (_, body) = app.get_json(&format!("{base}?sort=-ten,so&select=ten")).await;
    expected.reverse();
    assert_eq!(names(&body, "ten"), expected);
    let (_, body) = app.get_json(&format!("{base}?group_by=ten")).await;
    assert_eq!(names(&body, "ten"), DICTIONARY);
    // Facet ties (every count 1 but Hoàng Mai's 2) in dictionary order.
    let (_, body) = app.get_json(&format!("{base}?facet=ten&limit=0")).await;
    let facet: Vec<&str> =
        body["facets"]["ten"].as_array().unwrap().iter().map(|v| v["value"].as_str().unwrap()).collect();
    assert_eq!(facet, ["Hoàng Mai", "Hà Đông", "Huyện Ứng Hòa", "Quận Ba Đình", "Quận Đống Đa", "Quận Tây Hồ"]);
    // Ranges and `where` agree with `sort`.
    let (_, body) = app.get_json(&format!("{base}?ten__gte=Ho&sort=ten&group_by=ten")).await;
    assert_eq!(names(&body, "ten"), &DICTIONARY[1..]);
    let (_, body) = app.get_json(&format!("{base}?where=ten%20%3C%20%27Qu%27&group_by=ten")).await;
    assert_eq!(names(&body, "ten"), &DICTIONARY[..3]);
    let (_, body) =
        app.get_json(&format!("{base}?where=ten%20between%20%27Hoa%27%20and%20%27Quz%27&group_by=ten")).await;
    assert_eq!(names(&body, "ten"), &DICTIONARY[1..]);
    let (_, body) = app.get_json(&format!("{base}?select=min(ten),max(ten)")).await;
    assert_eq!(body["items"][0], json!({"min_ten": "Hà Đông", "max_ten": "Quận Tây Hồ"}));
    // Code point order on request.
    let (_, body) = app.get_json(&format!("{base}?group_by=ten&collation=codepoint")).await;
    assert_eq!(
        names(&body, "ten"),
        ["Hoàng Mai", "Huyện Ứng Hòa", "Hà Đông", "Quận Ba Đình", "Quận Tây Hồ", "Quận Đống Đa"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn integer_sums_are_exact_or_refused() {
    // 2⁵³ + 1 is the first integer an f64 cannot hold.
    let csv = "quan,tien\nA,9007199254740993\nA,2\nB,4611686018427387904\nB,4611686018427387904\n";
    let app = TestApp::new().await.with_csv("tien", "Tiền", csv).await;
    let base = "/api/v1/datasets/tien/records";
    let (status, body) = app.get_json(&format!("{base}?quan=A&group_by=quan&select=quan,sum(tien)")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["sum_tien"].as_i64(), Some(9_007_199_254_740_995));
    let (status, body) = app.get_json(&format!("{base}?where=quan%3D%27A%27&select=sum(tien)")).await;
    assert_eq!(
        (status, body["items"][0]["sum_tien"].as_i64()),
        (StatusCode::OK, Some(9_007_199_254_740_995)),
        "{body}"
    );
    for query in [
        "group_by=quan&select=quan,sum(tien)",
        "select=sum(tien)",
        "where=tien%3E0&group_by=quan&select=quan,sum(tien)",
    ] {
        let (status, body) = app.get_json(&format!("{base}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_select", "{query}");
        assert!(body["error"]["message"].as_str().unwrap().contains("sum_tien"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plain_csv_is_the_data_and_excel_variants_are_neutralised() {
    let csv = "ma,dien_thoai\n01,+84901234567\n02,=1+1\n03,-5 độ\n04,@abc\n";
    let app = TestApp::new().await.with_csv("csv", "CSV", csv).await;
    for uri in ["/api/v1/datasets/csv/records?format=csv", "/api/v1/datasets/csv/download?format=csv"] {
        let (status, body) = app.get(uri).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(String::from_utf8(body).unwrap(), csv.replace('\n', "\r\n"), "{uri}");
    }
    let (_, body) = app.get("/api/v1/datasets/csv/download?format=csv&bom=true").await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with('\u{feff}') && text.contains("\"'+84901234567\"") && text.contains("\"'=1+1\""), "{text}");
    let (_, body) = app.get("/api/v1/datasets/csv/records?format=csv&delimiter=tab").await;
    assert!(String::from_utf8(body).unwrap().contains("01\t+84901234567\r\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_and_file_answers_have_a_length_and_ranges_from_the_first_request() {
    let app = TestApp::new().await.with_dataset("don-vi-hanh-chinh-ha-noi").await;
    for uri in [
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/download?format=csv",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/download?format=json",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/download?format=xlsx",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/download?format=csv&delimiter=%3B",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?format=csv&district_code=001",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?format=parquet&sort=-ward_name",
        "/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?format=xlsx&limit=20",
    ] {
        let (status, head, body) = app.request("HEAD", uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(body.is_empty());
        assert_eq!(head["accept-ranges"], "bytes", "{uri}");
        let length: usize = head["content-length"].to_str().unwrap().parse().unwrap();
        assert!(length > 100, "{uri}");
        let etag = head["etag"].to_str().unwrap().to_string();
        let (status, headers, whole) = app.get_with(uri, &[]).await;
        assert_eq!((status, whole.len()), (StatusCode::OK, length), "{uri}");
        assert_eq!(headers["etag"].to_str().unwrap(), etag);
        let (status, headers, part) = app.get_with(uri, &[("range", "bytes=10-49"), ("if-range", etag.as_str())]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{uri}");
        assert_eq!(part, whole[10..50], "{uri}");
        assert_eq!(headers["content-range"].to_str().unwrap(), format!("bytes 10-49/{length}"));
        // Another version's tag: the whole file, never a mix.
        let (status, _, again) = app.get_with(uri, &[("range", "bytes=10-49"), ("if-range", "\"old\"")]).await;
        assert_eq!((status, again.len()), (StatusCode::OK, length), "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_405_and_a_416_answer_in_the_error_envelope() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let (status, headers, body) =
        app.request("PUT", "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers["allow"].to_str().unwrap().contains("GET"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let uri = "/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/download?format=csv";
    let (_, _, whole) = app.get_with(uri, &[]).await;
    let (status, headers, body) = app.get_with(uri, &[("range", "bytes=999999-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"].to_str().unwrap(), format!("bytes */{}", whole.len()));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (&body["error"]["code"], &body["error"]["details"]["length"]),
        (&json!("range_not_satisfiable"), &json!(whole.len()))
    );
}
