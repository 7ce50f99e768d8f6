//! Browser-facing protection: security headers on every response (a
//! Content-Security-Policy without inline scripts on HTML), and CORS for
//! the delivery API, limited to the configured origins.

use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::problem::{Problem, ProblemKind};

/// The web site's and the editor UI's policy: their scripts and styles are
/// files of their own (JSON-LD blocks are data, not scripts), and no one
/// may frame them. Images may come from elsewhere over HTTPS: entries'
/// Markdown may show them (the sanitiser keeps `<img>`).
const SITE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers a cross-origin reader of the delivery API may send and see.
const CORS_REQUEST_HEADERS: &str = "accept, accept-language, if-none-match, x-request-id";
const CORS_EXPOSED_HEADERS: &str = "etag, content-language, last-modified, x-request-id";
/// How long a browser may reuse a preflight answer, in seconds.
const CORS_MAX_AGE: &str = "600";

/// Adds the security headers: `nosniff` everywhere; on HTML, a CSP (unless
/// the page brought its own), no framing and a restrained referrer.
pub async fn headers<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let mut response = next.call(request).await.map(IntoResponse::into_response)?;
    let is_html = response.content_type().is_some_and(|kind| kind.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_html {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SITE_POLICY));
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    }
    Ok(response)
}

/// The policy of a page whose inline `<script>` elements (the API docs
/// bundle Swagger UI inline) are allowed by their hashes, and no other.
pub fn policy_for_inline(html: &str) -> String {
    let hashes: String = inline_scripts(html).map(|script| format!(" 'sha256-{}'", base64_sha256(script))).collect();
    // Swagger UI also sets style attributes from its scripts: styles stay open.
    format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The text of every `<script …>…</script>` of `html`, ending where a
/// browser ends it: at the first `</script>`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        let start = rest.find("<script")?;
        let body = rest[start..].find('>').map(|end| start + end + 1)?;
        let end = rest[body..].find("</script>").map(|end| body + end)?;
        let script = &rest[body..end];
        rest = &rest[end + "</script>".len()..];
        Some(script)
    })
}

fn base64_sha256(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

/// The origins allowed to read the delivery API from a browser.
#[derive(Debug, Default)]
pub struct CorsOrigins {
    any: bool,
    listed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an origin: write scheme://host[:port] (no path), or * for any")]
pub struct BadOrigin(pub String);

impl CorsOrigins {
    pub fn new(origins: &[String]) -> Result<CorsOrigins, BadOrigin> {
        let mut allowed = CorsOrigins::default();
        for origin in origins {
            check_origin(origin)?;
            if origin == "*" {
                allowed.any = true;
            } else {
                allowed.listed.push(origin.trim_end_matches('/').to_ascii_lowercase());
            }
        }
        Ok(allowed)
    }

    fn is_empty(&self) -> bool {
        !self.any && self.listed.is_empty()
    }

    fn allows(&self, origin: &str) -> bool {
        self.any || self.listed.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// Whether `origin` can be configured: `*`, or `http(s)://host[:port]`.
pub fn check_origin(origin: &str) -> Result<(), BadOrigin> {
    let bad = || BadOrigin(origin.to_owned());
    if origin == "*" {
        return Ok(());
    }
    let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")).ok_or_else(bad)?;
    let host = host.strip_suffix('/').unwrap_or(host);
    let well_formed = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if well_formed { Ok(()) } else { Err(bad()) }
}

/// The delivery API: published content, search and the sync feed; not
/// the management API, which browsers of other sites have no business with.
fn is_delivery(path: &str) -> bool {
    path.starts_with("/api/v1/") && !path.starts_with("/api/v1/manage")
}

/// Answers CORS preflights of the delivery API and marks its responses
/// readable by allowed origins. Every other preflight (another origin, none
/// configured, another method, or outside the delivery API) is 403.
pub async fn cors<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let origins = request.data::<AppState>().map(|state| state.cors.clone()).unwrap_or_default();
    let delivery = is_delivery(request.uri().path());
    let origin = request.headers().get(header::ORIGIN).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let preflight = request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &origin) {
        let method_allowed = request.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD).is_some_and(|method| method == "GET" || method == "HEAD");
        let refusal = if !delivery {
            Some("only the delivery API may be read from other sites".to_owned())
        } else if !origins.allows(origin) {
            Some(format!("the origin {origin} may not read this API"))
        } else if !method_allowed {
            Some("the delivery API is read-only: GET and HEAD".to_owned())
        } else {
            None
        };
        if let Some(detail) = refusal {
            return Ok(Problem::new(ProblemKind::CorsRefused, detail).into_response());
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        allow(headers, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(CORS_REQUEST_HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(CORS_MAX_AGE));
        return Ok(response);
    }
    if origins.is_empty() || !delivery {
        return next.call(request).await.map(IntoResponse::into_response);
    }
    let mut response = next.call(request).await.map(IntoResponse::into_response)?;
    match origin {
        Some(origin) if origins.allows(&origin) => {
            allow(response.headers_mut(), &origin);
            response.headers_mut().insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSED_HEADERS));
        }
        // Same-origin, not a browser, or another origin; still, a cache must
        // not give this answer (without CORS headers) to a page of an allowed origin.
        _ => vary_by_origin(response.headers_mut()),
    }
    Ok(response)
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    vary_by_origin(headers);
}

/// Caches must not hand the answer given to one origin to another.
fn vary_by_origin(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_allowed_by_their_hash_only() {
        let page = "<html><script charset=\"UTF-8\">alert(1)</script><style>p{}</style><script>go()</script></html>";
        let policy = policy_for_inline(page);
        assert!(policy.contains(&format!("'sha256-{}'", base64_sha256("alert(1)"))), "{policy}");
        assert!(policy.contains(&format!("'sha256-{}'", base64_sha256("go()"))), "{policy}");
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"), "{policy}");
    }

    #[test]
    fn origins_are_scheme_and_host() {
        for good in ["*", "https://www.example.org", "http://localhost:3000", "https://portal.example.org/"] {
            assert!(check_origin(good).is_ok(), "{good}");
        }
        for bad in ["www.example.org", "https://", "https://example.org/path", "ftp://example.org", "https://exa mple.org"] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listed_origins_match_case_insensitively() {
        let origins = CorsOrigins::new(&["https://Portal.example.org/".to_owned()]).unwrap();
        assert!(origins.allows("https://portal.example.org"));
        assert!(!origins.allows("https://evil.example"));
    }
}
