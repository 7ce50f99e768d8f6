//! The limit of request bodies.

use poem::{Endpoint, IntoResponse, Response};

use super::problem::{Problem, ProblemKind};

/// Request bodies above this get 413: an entry is a page of text.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413, whether they announce
/// their length or not (chunked), before any handler parses them.
pub async fn limit<E: Endpoint>(next: E, mut request: poem::Request) -> poem::Result<Response> {
    let announced = request.headers().get(poem::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let too_large = || Problem::new(ProblemKind::PayloadTooLarge, format!("request bodies are limited to {MAX_BODY_BYTES} bytes")).into_response();
    match announced {
        Some(length) if length > MAX_BODY_BYTES => return Ok(too_large()),
        Some(_) => {}
        None => {
            let body = request.take_body();
            match body.into_bytes_limit(MAX_BODY_BYTES).await {
                Ok(bytes) => request.set_body(bytes),
                Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
                Err(error) => return Err(error.into()),
            }
        }
    }
    next.call(request).await.map(IntoResponse::into_response)
}
