//! What operators see and set: rate limits, the bound on query strings, and `/metrics`.

use std::sync::Arc;

use axum::http::StatusCode;
use opendata_api::throttle::{Limits, Throttle};
use serde_json::Value;

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn a_client_past_its_budget_gets_429_then_recovers() {
    let limits = Limits { reads_per_second: 2, heavy_per_second: 1, ..Limits::default() };
    let app = TestApp::configured(|app| app.throttle = Some(Arc::new(Throttle::new(limits))))
        .await
        .with_dataset("chi-tieu-chuyen-doi-so-ha-noi")
        .await;
    // A burst of ten seconds' worth passes: 20 reads.
    for i in 0..20 {
        let (status, _, _) = app.get_with("/api/v1/datasets", &[]).await;
        assert_eq!(status, StatusCode::OK, "read {i}");
    }
    let (status, headers, body) = app.get_with("/api/v1/datasets", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(headers["ratelimit-policy"], "\"reads\";q=20;w=10");
    assert!(headers["ratelimit"].to_str().unwrap().starts_with("\"reads\";r=0;t="));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["details"]["budget"], "reads");
    // Heavy reads have a budget of their own, spent apart from pages.
    for _ in 0..10 {
        let (status, _, _) =
            app.get_with("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?group_by=nhom", &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, _) =
        app.get_with("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?group_by=nhom", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // After the wait, reads pass again.
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 100)).await;
    let (status, _, _) = app.get_with("/api/v1/datasets", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_string_past_the_limit_is_414() {
    let app = TestApp::new().await;
    let long = format!("/api/v1/datasets?q={}", "a".repeat(20_000));
    let (status, body) = app.get_json(&long).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(body["error"]["code"], "uri_too_long");
}

/// The value of the sample of `name` whose labels hold every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_and_report_the_cache() {
    let app = TestApp::new().await.with_dataset("chi-tieu-chuyen-doi-so-ha-noi").await;
    let metrics = || async {
        let (status, headers, body) = app.get_with("/metrics", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        String::from_utf8(body).unwrap()
    };
    let route = "route=\"/api/v1/datasets/{id}/records\"";
    let before = metrics().await;
    for _ in 0..3 {
        app.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?limit=1").await;
    }
    app.get("/api/v1/datasets/chi-tieu-chuyen-doi-so-ha-noi/records?no_such=1").await;
    let after = metrics().await;
    let counted = |text: &str, status: &str| {
        sample(text, "opendata_http_requests_total", &[route, &format!("status=\"{status}\"")])
    };
    // The registry is the process's: tests running beside this one count on it too.
    assert!(counted(&after, "200") - counted(&before, "200") >= 3.0, "{after}");
    assert!(counted(&after, "400") - counted(&before, "400") >= 1.0, "{after}");
    let latency = |text: &str| sample(text, "opendata_http_request_duration_seconds_count", &[route]);
    assert!(latency(&after) - latency(&before) >= 4.0);
    assert!(sample(&after, "opendata_table_cache_bytes", &[]) > 0.0, "{after}");
    assert!(sample(&after, "opendata_table_cache_hits", &[]) >= 2.0);
    assert!(after.contains("# TYPE opendata_http_requests_in_flight gauge"));
}
