//! HTTP caching of delivered content: strong ETags computed from the exact
//! body, `If-None-Match` → 304, `Last-Modified`, `Cache-Control`, and a
//! gzip variant for clients that accept it.

use crate::http::grouped::{Found, Member, ParamGroup};
use crate::http::params::ParamError;
use std::marker::PhantomData;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use poem::http::HeaderValue;
use poem::web::headers::{self, Header as _};
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

/// Fresh for a minute; then served stale for five while revalidating, so
/// a CDN never makes a citizen wait for the origin.
pub const CACHE_CONTROL: &str = "public, max-age=60, stale-while-revalidate=300";

/// A strong ETag over the serialised body.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &crate::digest::sha256_hex(body)[..32])
}

const JSON: &str = "application/json; charset=utf-8";

/// A JSON body serialised once and sent as is (possibly gzipped),
/// documented in the OpenAPI document with the schema of `T`.
pub struct SerializedJson<T> {
    body: Bytes,
    content_encoding: Option<&'static str>,
    schema: PhantomData<fn() -> T>,
}

impl<T> SerializedJson<T> {
    pub fn new(body: Bytes, content_encoding: Option<&'static str>) -> SerializedJson<T> {
        SerializedJson { body, content_encoding, schema: PhantomData }
    }
}

impl<T: Type> Payload for SerializedJson<T> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for SerializedJson<T> {
    fn into_response(self) -> Response {
        let response = Response::builder().content_type(JSON);
        match self.content_encoding {
            Some(coding) => response.header(poem::http::header::CONTENT_ENCODING, coding).body(self.body),
            None => response.body(self.body),
        }
    }
}

/// Whether `Accept-Encoding` admits gzip (RFC 9110 §12.5.3): named, or
/// covered by `*`, with a non-zero quality.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else { return false };
    let mut wildcard = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality =
            parts.filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q="))).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return quality > 0.0,
            "*" => wildcard = quality > 0.0,
            _ => {}
        }
    }
    wildcard
}

/// Whether `If-None-Match` already names this representation (weak
/// comparison, as RFC 9110 prescribes for GET).
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    let (Some(raw), Ok(current)) = (if_none_match, etag.parse::<headers::ETag>()) else { return false };
    let Ok(value) = HeaderValue::from_str(raw) else { return false };
    headers::IfNoneMatch::decode(&mut std::iter::once(&value)).is_ok_and(|condition| !condition.precondition_passes(&current))
}

/// An HTTP date for `Last-Modified`.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The conditional-request and encoding headers of a cached read.
pub struct Conditional {
    pub if_none_match: Option<String>,
    /// Whether the body may come gzipped (bodies of a kilobyte or more are).
    pub gzip: bool,
}

impl ParamGroup for Conditional {
    fn members() -> Vec<Member> {
        vec![
            Member::header("If-None-Match", "ETags of representations the client holds: 304 when one is current."),
            Member::header("Accept-Encoding", "`gzip` gets bodies of a kilobyte or more gzipped."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        Ok(Conditional { if_none_match: found.header("If-None-Match").map(str::to_owned), gzip: accepts_gzip(found.header("Accept-Encoding")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_comparison() {
        let etag = "\"abc\"";
        assert!(not_modified(Some("\"abc\""), etag));
        assert!(not_modified(Some("W/\"abc\""), etag), "weak comparison");
        assert!(not_modified(Some("\"x\", \"abc\""), etag));
        assert!(not_modified(Some("*"), etag));
        assert!(!not_modified(Some("\"other\""), etag));
        assert!(!not_modified(Some("garbage"), etag));
        assert!(!not_modified(None, etag));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("deflate, *")));
        assert!(accepts_gzip(Some("x-gzip")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("*;q=1, gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T08:05:09Z").unwrap().with_timezone(&Utc);
        assert_eq!(http_date(at), "Thu, 01 Jan 2026 08:05:09 GMT");
    }
}
