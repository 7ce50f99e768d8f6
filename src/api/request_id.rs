//! Request ids: taken from `X-Request-Id` when the caller sends a sane one,
//! made up otherwise, echoed in the response and recorded in the audit log.

use poem::{Endpoint, IntoResponse, Request, Response};

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
    let mut response = next.call(request).await.map(IntoResponse::into_response).unwrap_or_else(|error| error.into_response());
    if let Ok(value) = id.parse() {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

fn fresh() -> String {
    let mut bytes = [0u8; 12];
    // Without randomness the id is still unique enough per process.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
