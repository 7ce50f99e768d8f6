//! Shedding abuse: per-client rate limits on the management API and the
//! editor UI, on search, and on the delivery lists and the sync feed (the
//! endpoints that guard the most or cost the most), and a bound on
//! request headers. Refusals are problem+json.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, header};
use poem::{Endpoint, IntoResponse, Request, Response};

use super::AppState;
use super::problem::{Problem, ProblemKind};

/// Request headers beyond this many bytes in all get 431: real clients
/// send a few hundred bytes, a bearer token included.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Clients remembered per limiter. A client whose bucket has refilled is
/// forgotten first; past this, memory stays bounded by forgetting everyone
/// (a flood of addresses must not exhaust memory).
const MAX_CLIENTS: usize = 100_000;

/// Requests per minute and client; 0 turns a limit off.
#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    pub manage_per_minute: u32,
    pub search_per_minute: u32,
    /// Lists of entries and the sync feed.
    pub read_per_minute: u32,
    /// One reverse proxy stands in front: the client is the address it
    /// appended to `X-Forwarded-For`, not the TCP peer (the proxy itself).
    pub behind_proxy: bool,
}

/// The limiters of one server.
pub struct Limiters {
    manage: RateLimiter,
    search: RateLimiter,
    read: RateLimiter,
    behind_proxy: bool,
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Limiters {
        Limiters {
            manage: RateLimiter::new(limits.manage_per_minute),
            search: RateLimiter::new(limits.search_per_minute),
            read: RateLimiter::new(limits.read_per_minute),
            behind_proxy: limits.behind_proxy,
        }
    }

    /// Whom a request counts against.
    fn client(&self, request: &Request) -> Option<IpAddr> {
        // A listener without an IP (a Unix socket) has a single client: nothing to tell apart.
        let peer = request.remote_addr().as_socket_addr().map(|addr| addr.ip());
        if !self.behind_proxy {
            return peer;
        }
        // The proxy appends the address it saw; whatever stands before it,
        // the client may have written itself.
        let forwarded = request.headers().get_all("x-forwarded-for").iter().next_back();
        forwarded.and_then(|value| value.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()).or(peer)
    }

    /// The limiter of the endpoint group `path` belongs to, if any.
    fn for_path(&self, path: &str) -> Option<&RateLimiter> {
        let under = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if under("/api/v1/manage") || under("/admin") {
            Some(&self.manage)
        } else if path == "/api/v1/search" || path == "/api/v1/suggest" {
            Some(&self.search)
        } else if path.strip_prefix("/api/v1/").is_some_and(|rest| !rest.is_empty() && !rest.contains('/')) {
            // The sync feed, and a type's list (`/api/v1/service`); not single entries.
            Some(&self.read)
        } else {
            None
        }
    }
}

/// A token bucket per client address: a minute's allowance may be spent
/// at once, and refills evenly over the minute.
struct RateLimiter {
    per_minute: u32,
    clients: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, clients: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `client`'s allowance; when it is spent, how
    /// long until the next request is allowed.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let refilled = |bucket: &Bucket| (bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second).min(capacity);
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, bucket| refilled(bucket) < capacity);
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let bucket = clients.entry(client).or_insert(Bucket { tokens: capacity, updated: now });
        let tokens = refilled(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, updated: now };
            Ok(())
        } else {
            *bucket = Bucket { tokens, updated: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

/// Refuses oversized headers with 431 and requests over a client's rate
/// limit with 429 and `Retry-After`, before any handler runs.
pub async fn guard<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        let detail = format!("request headers are limited to {MAX_HEADER_BYTES} bytes in all; these have {header_bytes}");
        return Ok(Problem::new(ProblemKind::HeadersTooLarge, detail).into_response());
    }
    let limiters = request.data::<AppState>().map(|state| state.limiters.clone());
    let limiter = limiters.as_ref().and_then(|limiters| Some((limiters.for_path(request.uri().path())?, limiters.client(&request)?)));
    if let Some((limiter, client)) = limiter
        && let Err(wait) = limiter.take(client, Instant::now())
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let detail = format!("more than {} requests a minute from {client}; retry in {seconds} s", limiter.per_minute);
        let mut response = Problem::new(ProblemKind::TooManyRequests, detail).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    next.call(request).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minutes_allowance_then_waits_for_the_refill() {
        let limiter = RateLimiter::new(60);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.take(client, start).is_ok());
        }
        let wait = limiter.take(client, start).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.take(client, start + Duration::from_secs(1)).is_ok(), "one request a second refills");
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.take(other, start).is_ok(), "each client has its own allowance");
    }

    #[test]
    fn lists_and_the_sync_feed_share_the_read_limit() {
        let limiters = Limiters::new(RateLimits { manage_per_minute: 1, search_per_minute: 1, read_per_minute: 1, behind_proxy: false });
        let read = |path: &str| limiters.for_path(path).is_some_and(|limiter| std::ptr::eq(limiter, &limiters.read));
        assert!(read("/api/v1/sync") && read("/api/v1/service"));
        assert!(!read("/api/v1/service/personalausweis-beantragen"), "single entries are cheap and cached");
        assert!(!read("/api/v1/search") && !read("/api/v1/manage") && !read("/api/v1/") && !read("/healthz"));
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..10_000).all(|_| limiter.take(client, Instant::now()).is_ok()));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_addresses() {
        let limiter = RateLimiter::new(10);
        let now = Instant::now();
        for n in 0..(MAX_CLIENTS as u32 + 10) {
            let _ = limiter.take(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(limiter.clients.lock().unwrap().len() <= MAX_CLIENTS);
    }
}
