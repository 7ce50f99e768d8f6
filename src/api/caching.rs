//! HTTP caching of delivered content: strong ETags computed from the exact
//! body, `If-None-Match` → 304, `Last-Modified`, `Cache-Control`.

use chrono::{DateTime, Utc};
use poem::http::HeaderValue;
use poem::web::headers::{self, Header as _};
use poem_openapi::types::ToJSON;

/// Fresh for a minute; then served stale for five while revalidating, so
/// a CDN never makes a citizen wait for the origin.
pub const CACHE_CONTROL: &str = "public, max-age=60, stale-while-revalidate=300";

/// A strong ETag over the serialised body.
pub fn etag_of(body: &impl ToJSON) -> String {
    let text = body.to_json_string();
    format!("\"{}\"", &crate::digest::sha256_hex(&text)[..32])
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
    fn dates_are_imf_fixdate() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T08:05:09Z").unwrap().with_timezone(&Utc);
        assert_eq!(http_date(at), "Thu, 01 Jan 2026 08:05:09 GMT");
    }
}
