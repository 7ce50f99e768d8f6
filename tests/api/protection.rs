//! Abuse and browser security: per-client rate limits, header limits,
//! security headers on HTML, CORS for the delivery API.

use base64::Engine as _;
use sha2::Digest as _;

use crate::helpers::{Backend, Server, TestDb, repo_path, token};

const SERVICE_PAGE: &str = "/de/service/personalausweis-beantragen/";

async fn server_with(options: &[&str]) -> (TestDb, Server) {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &repo_path("content"), options);
    (db, server)
}

#[tokio::test]
async fn search_and_management_over_their_rate_limit_get_429_with_retry_after() {
    let (db, server) = server_with(&["--rate-limit-search", "3", "--rate-limit-manage", "2"]).await;
    for _ in 0..3 {
        assert_eq!(server.get("/api/v1/search?q=ausweis").await.status(), 200);
    }
    let refused = server.get("/api/v1/suggest?q=aus").await;
    assert_eq!(refused.status(), 429, "search and suggestions share one allowance");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!((1..=20).contains(&retry_after), "a third of a minute at most for one request: {retry_after}");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 429);

    for _ in 0..10 {
        assert_eq!(server.get("/api/v1/service/personalausweis-beantragen").await.status(), 200, "reading entries is not limited");
    }

    let editor = token(&db, "editor", &[]);
    let manage = || server.client.get(server.url("/api/v1/manage/service/personalausweis-beantragen")).bearer_auth(&editor).send();
    assert_eq!(manage().await.unwrap().status(), 200);
    assert_eq!(manage().await.unwrap().status(), 200);
    let refused = manage().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(server.get("/admin/signin").await.status(), 429, "the editor UI shares the management allowance");

    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("route=\"unmatched\",method=\"GET\",status=\"429\"} 3"), "refusals are counted: {metrics}");
}

#[tokio::test]
async fn behind_a_proxy_the_address_it_forwarded_is_the_client() {
    let (_db, server) = server_with(&["--rate-limit-search", "2", "--behind-proxy"]).await;
    let search = |forwarded: &'static str| server.client.get(server.url("/api/v1/search?q=ausweis")).header("x-forwarded-for", forwarded).send();
    assert_eq!(search("203.0.113.7").await.unwrap().status(), 200);
    // A client's own claim before the proxy's entry changes nothing.
    assert_eq!(search("198.51.100.1, 203.0.113.7").await.unwrap().status(), 200);
    assert_eq!(search("198.51.100.2, 203.0.113.7").await.unwrap().status(), 429);
    assert_eq!(search("203.0.113.8").await.unwrap().status(), 200, "another client has its own allowance");
}

#[tokio::test]
async fn oversized_request_headers_get_431() {
    let (_db, server) = server_with(&[]).await;
    let huge = "x".repeat(40 * 1024);
    let response = server.client.get(server.url("/api/v1/service/personalausweis-beantragen")).header("x-padding", huge).send().await.unwrap();
    assert_eq!(response.status(), 431);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn html_pages_carry_a_csp_without_inline_scripts_and_no_framing() {
    let (_db, server) = server_with(&[]).await;
    for path in ["/", SERVICE_PAGE, "/admin/signin"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        let script_src = directive(policy, "script-src");
        assert!(!script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        let page = response.text().await.unwrap();
        // Every executable script is a file: an inline one would be blocked.
        for (tag, _) in scripts(&page) {
            assert!(tag.contains("src=") || tag.contains("application/ld+json"), "{path} has an inline script: <script{tag}>");
        }
    }
    let api = server.get("/api/v1/service/personalausweis-beantragen").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_api_docs_allow_exactly_their_own_inline_scripts() {
    let (_db, server) = server_with(&[]).await;
    let response = server.get("/docs").await;
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let script_src = directive(&policy, "script-src");
    assert!(!script_src.contains("'unsafe-inline'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let page = response.text().await.unwrap();
    let inline = scripts(&page);
    assert!(inline.len() >= 2, "Swagger UI's bundle and its start script");
    for (_, body) in inline {
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()));
        assert!(script_src.contains(&format!("'sha256-{hash}'")), "an inline script of /docs is not allowed by the policy");
    }
}

#[tokio::test]
async fn cors_preflight_is_allowed_for_a_configured_origin_and_refused_for_another() {
    let (_db, server) = server_with(&["--cors-origin", "https://portal.example.org"]).await;
    let preflight = |origin: &'static str, path: &str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "if-none-match")
            .send()
    };
    let allowed = preflight("https://portal.example.org", "/api/v1/service").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://portal.example.org");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));
    assert!(allowed.headers()["access-control-allow-headers"].to_str().unwrap().contains("if-none-match"));

    let refused = preflight("https://elsewhere.example", "/api/v1/service").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(!refused.headers().contains_key("access-control-allow-origin"));

    let read = server.client.get(server.url("/api/v1/service/personalausweis-beantragen")).header("origin", "https://portal.example.org").send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["access-control-allow-origin"], "https://portal.example.org");
    assert!(read.headers()["access-control-expose-headers"].to_str().unwrap().contains("etag"));

    let other = server.client.get(server.url("/api/v1/service/personalausweis-beantragen")).header("origin", "https://elsewhere.example").send().await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"), "no access for other origins");
    let plain = server.get("/api/v1/service/personalausweis-beantragen").await;
    let varies: Vec<&str> = plain.headers().get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(varies.iter().any(|v| v.eq_ignore_ascii_case("origin")), "caches keep answers apart by origin: {varies:?}");

    let manage = preflight("https://portal.example.org", "/api/v1/manage/service").await.unwrap();
    assert_eq!(manage.status(), 403);
    assert!(!manage.headers().contains_key("access-control-allow-origin"), "the management API is not for other sites");
}

#[tokio::test]
async fn without_configured_origins_every_preflight_is_refused() {
    let (_db, server) = server_with(&[]).await;
    let refused = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/service"))
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "as for any origin not configured");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    assert!(!refused.headers().contains_key("access-control-allow-origin"));
}

/// The attributes and the text of every `<script>` element, read as a
/// browser does: an element ends at the first `</script>`.
fn scripts(page: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start + "<script".len()..];
        let tag_end = after.find('>').expect("an unclosed <script> tag");
        let body_end = after.find("</script>").expect("a <script> without </script>");
        found.push((&after[..tag_end], &after[tag_end + 1..body_end]));
        rest = &after[body_end + "</script>".len()..];
    }
    found
}

/// The sources of one CSP directive.
fn directive<'a>(policy: &'a str, name: &str) -> &'a str {
    policy.split(';').map(str::trim).find(|d| d.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {policy}"))
}
