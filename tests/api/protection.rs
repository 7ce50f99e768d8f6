//! Abuse: per-client rate limits, header limits.

use crate::helpers::{Backend, Server, TestDb, repo_path, token};

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

    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("route=\"unmatched\",method=\"GET\",status=\"429\"} 2"), "refusals are counted: {metrics}");
}

#[tokio::test]
async fn oversized_request_headers_get_431() {
    let (_db, server) = server_with(&[]).await;
    let huge = "x".repeat(40 * 1024);
    let response = server.client.get(server.url("/api/v1/service/personalausweis-beantragen")).header("x-padding", huge).send().await.unwrap();
    assert_eq!(response.status(), 431);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}
