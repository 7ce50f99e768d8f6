//! Request ids: taken from `X-Request-Id` when the caller sends a sane one,
//! made up otherwise, echoed in the response and recorded in the audit log.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument as _;

pub const HEADER: &str = "x-request-id";

#[derive(Clone, Debug)]
struct RequestId(String);

/// The id of a request that went through [`assign`].
pub fn of(request: &Request) -> String {
    request.extensions().get::<RequestId>().map(|id| id.0.clone()).unwrap_or_default()
}

pub async fn assign<E: Endpoint>(next: E, mut request: Request) -> poem::Result<Response> {
    let given = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        .map(str::to_owned);
    let id = given.unwrap_or_else(fresh);
    request.extensions_mut().insert(RequestId(id.clone()));
    // Everything logged while answering carries the id.
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path(), remote = %request.remote_addr());
    let answered = next.call(request).instrument(span).await;
    let mut response = answered.map(IntoResponse::into_response).unwrap_or_else(|error| error.into_response());
    if let Ok(value) = id.parse() {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

/// A random prefix per process and a counter: unique across processes
/// without a system call per request.
fn fresh() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 6];
        // Without randomness the start time still tells processes apart.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            bytes.copy_from_slice(&nanos.to_le_bytes()[..6]);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}
