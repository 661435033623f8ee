//! Throttling, so that one client cannot take the server from everyone else: a rate limit per
//! client (its API key when it sends one, else its address) in three budgets, reads, heavy
//! reads (aggregates, whole-table answers, downloads) and writes, answering 429 with
//! `Retry-After` and `RateLimit` headers; and a bound on heavy queries running at once, with a
//! short queue, then 503 with `Retry-After`. The administrator is exempt. A client's address
//! is taken from `X-Forwarded-For` only when the request comes from a configured trusted proxy.
//!
//! The limiters are `governor`'s keyed GCRA token buckets.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::Principal;
use crate::error::ApiError;

/// The budgets, in requests a second per client; a client may burst to [`BURST_SECONDS`] of
/// its rate at once.
#[derive(Debug, Clone)]
pub struct Limits {
    pub reads_per_second: u32,
    pub heavy_per_second: u32,
    pub writes_per_second: u32,
    /// Heavy queries running at once, and waiting for a turn, before a 503.
    pub heavy_running: usize,
    pub heavy_waiting: usize,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

/// A client may spend this many seconds of its budget at once: a page of a portal that loads
/// a dozen answers, or a script's burst, passes; a sustained flood does not.
pub const BURST_SECONDS: u32 = 10;

impl Default for Limits {
    /// Budgets a person or a well-behaved script never meets: 50 reads, 5 heavy reads and 2
    /// writes a second, sustained.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            reads_per_second: 50,
            heavy_per_second: 5,
            writes_per_second: 2,
            heavy_running: 2 * cores,
            heavy_waiting: 16,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Budget {
    Read,
    Heavy,
    Write,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Self::Read => "reads",
            Self::Heavy => "heavy",
            Self::Write => "writes",
        }
    }

    /// Writes are what changes; heavy reads are whole-table answers and aggregates; the rest
    /// are pages and metadata.
    fn of(request: &Request) -> Self {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return Self::Write;
        }
        let path = request.uri().path();
        if path.ends_with("/download") {
            return Self::Heavy;
        }
        if path.ends_with("/records") {
            let heavy = form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).any(|(k, v)| {
                k == "group_by" || (k == "select" && v.contains('(')) || (k == "format" && v != "json") || k == "facet"
            });
            if heavy {
                return Self::Heavy;
            }
        }
        Self::Read
    }
}

/// Who is counted: a key, or an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Key(String),
    Address(IpAddr),
    Unknown,
}

/// The throttle's state, shared by every request.
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    reads: DefaultKeyedRateLimiter<Client>,
    heavy: DefaultKeyedRateLimiter<Client>,
    writes: DefaultKeyedRateLimiter<Client>,
    running: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    /// Requests counted, to sweep the buckets now and then.
    seen: AtomicUsize,
}

fn quota(per_second: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(BURST_SECONDS)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            reads: DefaultKeyedRateLimiter::dashmap(quota(limits.reads_per_second)),
            heavy: DefaultKeyedRateLimiter::dashmap(quota(limits.heavy_per_second)),
            writes: DefaultKeyedRateLimiter::dashmap(quota(limits.writes_per_second)),
            running: Arc::new(tokio::sync::Semaphore::new(limits.heavy_running.max(1))),
            waiting: AtomicUsize::new(0),
            seen: AtomicUsize::new(0),
            limits,
        }
    }

    fn limiter(&self, budget: Budget) -> (&DefaultKeyedRateLimiter<Client>, u32) {
        match budget {
            Budget::Read => (&self.reads, self.limits.reads_per_second),
            Budget::Heavy => (&self.heavy, self.limits.heavy_per_second),
            Budget::Write => (&self.writes, self.limits.writes_per_second),
        }
    }

    fn client(&self, request: &Request) -> Client {
        if let Some(Principal::Publisher(key)) = request.extensions().get::<Principal>() {
            return Client::Key(key.id.clone());
        }
        let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
            return Client::Unknown;
        };
        if self.limits.trusted_proxies.contains(&peer) {
            // The last address a trusted proxy added is the one it saw: the client (or an
            // untrusted hop, which is as far as we can trust the list).
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .rev()
                .find(|a| !self.limits.trusted_proxies.contains(a));
            if let Some(client) = forwarded {
                return Client::Address(client);
            }
        }
        Client::Address(peer)
    }

    /// Every 4,096 requests, forget clients that have their whole budget back (the maps would
    /// otherwise grow with every address ever seen).
    fn sweep(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) % 4096 != 0 {
            return;
        }
        for limiter in [&self.reads, &self.heavy, &self.writes] {
            if limiter.len() > 10_000 {
                limiter.retain_recent();
            }
        }
    }
}

/// A 429 for `budget`, retry after `wait`.
fn too_many(budget: Budget, per_second: u32, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        "rate_limited",
        format!(
            "too many requests: the {} budget is {per_second} a second (bursts of {}); retry in {seconds} s",
            budget.name(),
            per_second.saturating_mul(BURST_SECONDS)
        ),
    )
    .with_details(serde_json::json!({ "budget": budget.name(), "per_second": per_second, "retry_after": seconds }))
    .into_response();
    let h = response.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    let burst = per_second.saturating_mul(BURST_SECONDS);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";q={burst};w={BURST_SECONDS}", budget.name())) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r=0;t={seconds}", budget.name())) {
        h.insert("ratelimit", v);
    }
    response
}

/// The middleware: count the request against its client's budget, and hold heavy ones to
/// their slots.
pub async fn layer(State(throttle): State<Arc<Throttle>>, request: Request, next: Next) -> Response {
    if matches!(request.extensions().get::<Principal>(), Some(Principal::Admin)) {
        return next.run(request).await;
    }
    let budget = Budget::of(&request);
    let client = throttle.client(&request);
    let (limiter, per_second) = throttle.limiter(budget);
    throttle.sweep();
    if let Err(not_until) = limiter.check_key(&client) {
        crate::metrics::rate_limited(budget.name());
        return too_many(budget, per_second, not_until.wait_time_from(DefaultClock::default().now()));
    }
    if budget != Budget::Heavy {
        return next.run(request).await;
    }
    let permit = match throttle.running.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            if throttle.waiting.fetch_add(1, Ordering::AcqRel) >= throttle.limits.heavy_waiting {
                throttle.waiting.fetch_sub(1, Ordering::AcqRel);
                let mut busy = ApiError::new("unavailable", "the server is busy with heavy queries; retry in a second")
                    .into_response();
                busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
                return busy;
            }
            let acquired = throttle.running.clone().acquire_owned().await;
            throttle.waiting.fetch_sub(1, Ordering::AcqRel);
            match acquired {
                Ok(p) => p,
                Err(e) => return ApiError::internal(e).into_response(),
            }
        }
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str) -> Request {
        Request::builder().method(method).uri(uri).body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn budgets_of_requests() {
        assert_eq!(Budget::of(&request("GET", "/api/v1/datasets")), Budget::Read);
        assert_eq!(Budget::of(&request("GET", "/api/v1/datasets/x/records?quan=1&limit=5")), Budget::Read);
        assert_eq!(Budget::of(&request("GET", "/api/v1/datasets/x/records?group_by=quan")), Budget::Heavy);
        assert_eq!(Budget::of(&request("GET", "/api/v1/datasets/x/records?select=sum(a)")), Budget::Heavy);
        assert_eq!(Budget::of(&request("GET", "/api/v1/datasets/x/records?format=csv")), Budget::Heavy);
        assert_eq!(Budget::of(&request("HEAD", "/api/v1/datasets/x/download")), Budget::Heavy);
        assert_eq!(Budget::of(&request("POST", "/api/v1/datasets")), Budget::Write);
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_others_do_not() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let throttle = Throttle::new(Limits { trusted_proxies: vec![proxy], ..Limits::default() });
        let with = |peer: &str, forwarded: &str| {
            let mut r = request("GET", "/");
            r.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1)));
            r.headers_mut().insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
            throttle.client(&r)
        };
        assert_eq!(with("127.0.0.1", "203.0.113.9"), Client::Address("203.0.113.9".parse().unwrap()));
        assert_eq!(with("127.0.0.1", "1.2.3.4, 203.0.113.9"), Client::Address("203.0.113.9".parse().unwrap()));
        assert_eq!(with("192.0.2.7", "203.0.113.9"), Client::Address("192.0.2.7".parse().unwrap()));
    }
}
