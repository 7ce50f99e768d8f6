//! `/metrics` in the Prometheus text exposition format (0.0.4). A few
//! counters, one histogram and some gauges read at scrape time are written
//! by hand rather than through a metrics library.
//!
//! Requests are counted per route (the API operation, `getEntry`, or the
//! path pattern, `/de/*rest`; never the path asked for), so that the
//! number of series stays bounded whatever clients request.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use poem::http::Method;
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};
use poem_openapi::OperationId;

use super::AppState;
use crate::feed::Lag;
use crate::store::StoreError;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The route of requests answered without one: unknown paths, and
/// requests refused before routing (413, 429, 431).
const UNMATCHED: &str = "unmatched";

/// What the server counts while it runs.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(Method, Arc<str>), RouteStats>>,
    /// Unix time in milliseconds of the scheduler's last finished round; 0 for never.
    scheduler_last_run_ms: AtomicI64,
    /// Rounds the scheduler finished: who moved the clock waits for one more.
    scheduler_rounds: AtomicU64,
}

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    /// Count of requests per bucket (not cumulative; summed when written).
    buckets: [u64; LATENCY_BUCKETS.len()],
    seconds: f64,
    count: u64,
}

impl Metrics {
    fn record(&self, method: &Method, route: Arc<str>, status: u16, elapsed: Duration) {
        let method = match *method {
            Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE | Method::OPTIONS => method.clone(),
            // Any other method is a client's invention: one series for all.
            _ => Method::from_bytes(b"OTHER").unwrap_or_default(),
        };
        let seconds = elapsed.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stats = requests.entry((method, route)).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            stats.buckets[bucket] += 1;
        }
        stats.seconds += seconds;
        stats.count += 1;
    }

    /// Notes that the scheduler finished a round now.
    pub fn scheduler_ran(&self) {
        self.scheduler_last_run_ms.store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        self.scheduler_rounds.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts and times every request under its route template, and logs it.
pub async fn record<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = request.method().clone();
    let state = request.data::<AppState>().cloned();
    let result = next.call(request).await.map(IntoResponse::into_response);
    let elapsed = started.elapsed();
    let (status, operation, pattern) = match &result {
        Ok(response) => (response.status(), response.data::<OperationId>(), response.data::<PathPattern>()),
        Err(error) => (error.status(), error.data::<OperationId>(), error.data::<PathPattern>()),
    };
    // API operations by their documented id (their path patterns all read
    // `/api/v1/:param0/…`); the web site and docs by their path pattern.
    let route: Arc<str> = match (operation, pattern) {
        (Some(operation), _) => Arc::from(operation.0),
        (None, Some(pattern)) if !pattern.0.is_empty() => pattern.0.clone(),
        _ => Arc::from(UNMATCHED),
    };
    tracing::info!(status = status.as_u16(), route = %route, duration_ms = elapsed.as_secs_f64() * 1000.0, "response");
    if let Some(state) = state {
        state.metrics.record(&method, route, status.as_u16(), elapsed);
    }
    result
}

/// How far each consumer of the change feed is behind the head of the log.
pub async fn consumer_lags(state: &AppState) -> Result<Vec<Lag>, StoreError> {
    Ok(state.feed.lags(state.store.latest_change_seq().await?))
}

/// The whole exposition: request metrics, then the state read now.
pub async fn render(state: &AppState) -> Result<String, StoreError> {
    let mut out = String::new();
    render_requests(&state.metrics, &mut out);

    let cache = state.responses.hit_counts();
    let lookups = cache.hits + cache.misses;
    family(&mut out, "katalog_response_cache_hits_total", "counter", "Delivery responses served from the response cache.");
    let _ = writeln!(out, "katalog_response_cache_hits_total {}", cache.hits);
    family(&mut out, "katalog_response_cache_misses_total", "counter", "Delivery responses that had to be built.");
    let _ = writeln!(out, "katalog_response_cache_misses_total {}", cache.misses);
    family(&mut out, "katalog_response_cache_hit_ratio", "gauge", "Hits per lookup since the start (0 before the first lookup).");
    let ratio = if lookups == 0 { 0.0 } else { cache.hits as f64 / lookups as f64 };
    let _ = writeln!(out, "katalog_response_cache_hit_ratio {ratio}");

    family(&mut out, "katalog_change_log_lag", "gauge", "Change-log entries a consumer has not applied yet.");
    for lag in consumer_lags(state).await? {
        let _ = writeln!(out, "katalog_change_log_lag{{consumer=\"{}\"}} {}", lag.consumer, lag.behind);
    }
    family(&mut out, "katalog_change_log_reads_total", "counter", "Reads of the change log by the change feed, which follows it for every consumer.");
    let _ = writeln!(out, "katalog_change_log_reads_total {}", state.feed.reads());

    family(&mut out, "katalog_webhook_deliveries_pending", "gauge", "Webhook deliveries waiting for their first attempt or a retry.");
    let _ = writeln!(out, "katalog_webhook_deliveries_pending {}", state.store.pending_webhook_deliveries().await?);

    let schedules = state.store.schedule_counts(state.clock.now()).await?;
    family(&mut out, "katalog_schedules_pending", "gauge", "Scheduled publications and withdrawals not yet applied.");
    let _ = writeln!(out, "katalog_schedules_pending {}", schedules.pending);
    family(&mut out, "katalog_schedules_due", "gauge", "Of those, the ones whose time has come.");
    let _ = writeln!(out, "katalog_schedules_due {}", schedules.due);
    family(&mut out, "katalog_scheduler_last_run_timestamp_seconds", "gauge", "When the scheduler last finished a round (0: never).");
    let last_run = state.metrics.scheduler_last_run_ms.load(Ordering::Relaxed) as f64 / 1000.0;
    let _ = writeln!(out, "katalog_scheduler_last_run_timestamp_seconds {last_run}");
    family(&mut out, "katalog_scheduler_rounds_total", "counter", "Rounds the scheduler finished.");
    let _ = writeln!(out, "katalog_scheduler_rounds_total {}", state.metrics.scheduler_rounds.load(Ordering::Relaxed));
    Ok(out)
}

fn render_requests(metrics: &Metrics, out: &mut String) {
    let requests = metrics.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Sorted, so that scrapes list series in a stable order.
    let mut series: Vec<_> = requests.iter().collect();
    series.sort_by(|((m1, r1), _), ((m2, r2), _)| (r1, m1.as_str()).cmp(&(r2, m2.as_str())));

    family(out, "katalog_http_requests_total", "counter", "Requests answered, by route template, method and status.");
    for ((method, route), stats) in &series {
        for (status, count) in &stats.by_status {
            let _ = writeln!(out, "katalog_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}", escape(route));
        }
    }
    family(out, "katalog_http_request_duration_seconds", "histogram", "Time to answer, by route template and method.");
    for ((method, route), stats) in &series {
        let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(stats.buckets) {
            cumulative += count;
            let _ = writeln!(out, "katalog_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "katalog_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", stats.count);
        let _ = writeln!(out, "katalog_http_request_duration_seconds_sum{{{labels}}} {}", stats.seconds);
        let _ = writeln!(out, "katalog_http_request_duration_seconds_count{{{labels}}} {}", stats.count);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_its_bucket_and_every_larger_one() {
        let metrics = Metrics::default();
        metrics.record(&Method::GET, Arc::from("/a"), 200, Duration::from_millis(20));
        metrics.record(&Method::GET, Arc::from("/a"), 404, Duration::from_secs(60));
        let mut out = String::new();
        render_requests(&metrics, &mut out);
        assert!(out.contains("katalog_http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 1"), "{out}");
        assert!(out.contains("katalog_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",le=\"0.01\"} 0"), "{out}");
        assert!(out.contains("katalog_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",le=\"0.025\"} 1"), "{out}");
        assert!(out.contains("katalog_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",le=\"10\"} 1"), "{out}");
        assert!(out.contains("katalog_http_request_duration_seconds_bucket{route=\"/a\",method=\"GET\",le=\"+Inf\"} 2"), "{out}");
    }

    #[test]
    fn invented_methods_share_one_series() {
        let metrics = Metrics::default();
        for name in ["BREW", "WHEN"] {
            metrics.record(&Method::from_bytes(name.as_bytes()).unwrap(), Arc::from(UNMATCHED), 405, Duration::ZERO);
        }
        assert_eq!(metrics.requests.lock().unwrap().len(), 1);
    }
}
