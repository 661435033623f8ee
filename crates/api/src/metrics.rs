//! Prometheus metrics at `GET /metrics` (text exposition format): requests by route, method
//! and status, their latency, requests in flight, rate-limited requests by budget, bytes
//! uploaded for ingest, the table cache's bytes, hits and misses, and jobs by state with the
//! seconds they ran. Counters live in one process-wide registry (`prometheus-client`); the
//! cache's and the jobs' figures are read when scraped.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::state::AppState;

type Labels = Vec<(String, String)>;

struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    rate_limited: Family<Labels, Counter>,
    ingest_bytes: Counter,
    cache_bytes: Gauge,
    cache_hits: Gauge,
    cache_misses: Gauge,
    answer_bytes: Gauge,
    jobs: Family<Labels, Gauge>,
    job_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to 8 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("opendata");
    let requests = Family::<Labels, Counter>::default();
    registry.register("http_requests", "HTTP requests answered, by route, method and status", requests.clone());
    let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
    registry.register("http_request_duration_seconds", "Time to the answer's head, by route", latency.clone());
    let in_flight = Gauge::default();
    registry.register("http_requests_in_flight", "Requests being answered", in_flight.clone());
    let rate_limited = Family::<Labels, Counter>::default();
    registry.register("rate_limited", "Requests refused with 429, by budget", rate_limited.clone());
    let ingest_bytes = Counter::default();
    registry.register("ingest_bytes", "Bytes of files uploaded for ingest", ingest_bytes.clone());
    let cache_bytes = Gauge::default();
    registry.register("table_cache_bytes", "Bytes of the tables held in memory", cache_bytes.clone());
    let cache_hits = Gauge::default();
    registry.register("table_cache_hits", "Reads that found their table in memory", cache_hits.clone());
    let cache_misses = Gauge::default();
    registry.register("table_cache_misses", "Reads that loaded their table", cache_misses.clone());
    let answer_bytes = Gauge::default();
    registry.register("answer_files_bytes", "Bytes of answers kept as files", answer_bytes.clone());
    let jobs = Family::<Labels, Gauge>::default();
    registry.register("jobs", "Upload jobs, by state", jobs.clone());
    let job_seconds = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    registry.register("job_seconds", "Seconds that finished jobs ran, by state", job_seconds.clone());
    Metrics {
        registry,
        requests,
        latency,
        in_flight,
        rate_limited,
        ingest_bytes,
        cache_bytes,
        cache_hits,
        cache_misses,
        answer_bytes,
        jobs,
        job_seconds,
    }
});

/// Count a request refused by the throttle.
pub fn rate_limited(budget: &str) {
    METRICS.rate_limited.get_or_create(&vec![("budget".into(), budget.into())]).inc();
}

/// Count bytes received for ingest.
pub fn ingest_bytes(n: u64) {
    METRICS.ingest_bytes.inc_by(n);
}

/// The middleware: every request, by the route it matched.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = request.method().to_string();
    let started = Instant::now();
    METRICS.in_flight.inc();
    let response = next.run(request).await;
    METRICS.in_flight.dec();
    let status = response.status().as_u16().to_string();
    METRICS.latency.get_or_create(&vec![("route".into(), route.clone())]).observe(started.elapsed().as_secs_f64());
    METRICS
        .requests
        .get_or_create(&vec![("route".into(), route), ("method".into(), method), ("status".into(), status)])
        .inc();
    response
}

/// `GET /metrics`.
pub async fn handler(State(app): State<AppState>) -> Result<Response, ApiError> {
    let m = &*METRICS;
    m.cache_bytes.set(app.tables.bytes() as i64);
    let (hits, misses) = app.tables.hits();
    m.cache_hits.set(hits as i64);
    m.cache_misses.set(misses as i64);
    m.answer_bytes.set(app.answers.bytes() as i64);
    for (state, n, seconds) in app.catalog.job_stats().await? {
        m.jobs.get_or_create(&vec![("state".into(), state.clone())]).set(n);
        m.job_seconds.get_or_create(&vec![("state".into(), state)]).set(seconds);
    }
    let mut text = String::new();
    encode(&mut text, &m.registry).map_err(ApiError::internal)?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}
