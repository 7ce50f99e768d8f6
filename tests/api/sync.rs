//! The sync feed: a client that applies it ends with the published state.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{Server, TestDb, katalog, repo_path, response_cache_hits, sample_content, text};
use crate::on_both_databases;

/// Everything the delivery API publishes, by id, in one locale.
async fn published_state(server: &Server, locale: &str) -> BTreeMap<String, Value> {
    let mut state = BTreeMap::new();
    for content_type in ["article", "office", "service", "topic"] {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/{content_type}?limit=100&locale={locale}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = server.get_json(&path).await;
            for item in page["items"].as_array().unwrap() {
                state.insert(item["id"].as_str().unwrap().to_owned(), item["fields"].clone());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    state
}

struct Replica {
    documents: BTreeMap<String, Value>,
    cursor: Option<String>,
}

impl Replica {
    /// Applies one page; returns whether more are waiting.
    async fn pull(&mut self, server: &Server, locale: &str, limit: u32) -> bool {
        let mut path = format!("/api/v1/sync?limit={limit}&locale={locale}");
        if let Some(c) = &self.cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.get_json(&path).await;
        for item in page["items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap().to_owned();
            match item["op"].as_str().unwrap() {
                "upsert" => {
                    self.documents.insert(id, item["entry"]["fields"].clone());
                }
                "delete" => {
                    self.documents.remove(&id);
                }
                other => panic!("unknown op {other}"),
            }
        }
        self.cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        page["has_more"].as_bool().unwrap()
    }
}

fn token(db: &TestDb, role: &str) -> String {
    crate::helpers::named_token(db, role, "Sync", &[])
}

async fn a_replica_ends_with_the_published_state(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher = token(&db, "publisher");
    let send = |method: reqwest::Method, path: &str, if_match: Option<String>, body: Value| {
        let mut request = server.client.request(method, server.url(path)).bearer_auth(&publisher).json(&body);
        if let Some(version) = if_match {
            request = request.header("If-Match", version);
        }
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned())
        }
    };
    let mut german = Replica { documents: BTreeMap::new(), cursor: None };
    let mut english = Replica { documents: BTreeMap::new(), cursor: None };
    german.pull(&server, "de", 7).await;
    english.pull(&server, "en", 7).await;

    // Publishing goes on while the replicas page through the feed.
    let entry = server.client.get(server.url("/api/v1/manage/service/reisepass-beantragen")).bearer_auth(&publisher).send().await.unwrap();
    let etag = entry.headers()["etag"].to_str().unwrap().to_owned();
    let mut fields = entry.json::<Value>().await.unwrap()["fields"].clone();
    fields["name"] = json!("Reisepass beantragen – neu");
    send(reqwest::Method::PUT, "/api/v1/manage/service/reisepass-beantragen", Some(etag), json!({"fields": fields})).await;
    send(reqwest::Method::POST, "/api/v1/manage/service/reisepass-beantragen/transitions", None, json!({"action": "publish"})).await;
    german.pull(&server, "de", 7).await;
    send(reqwest::Method::POST, "/api/v1/manage/service/wunschkennzeichen-reservieren/transitions", None, json!({"action": "unpublish"})).await;
    send(reqwest::Method::POST, "/api/v1/manage/article/oeffnungszeiten-feiertage/trash", None, json!({})).await;
    send(reqwest::Method::POST, "/api/v1/manage/service/einbuergerung-beantragen/transitions", None, json!({"action": "unpublish", "locale": "en"})).await;

    while german.pull(&server, "de", 7).await {}
    while english.pull(&server, "en", 7).await {}
    assert_eq!(german.documents, published_state(&server, "de").await);
    assert_eq!(english.documents, published_state(&server, "en").await);
    assert!(german.documents.values().any(|d| d["name"] == "Reisepass beantragen – neu"));

    // A replica that is up to date gets an empty page and keeps its cursor.
    let cursor = german.cursor.clone();
    assert!(!german.pull(&server, "de", 7).await);
    assert_eq!(german.cursor, cursor);

    let bad = server.get("/api/v1/sync?cursor=nonsense").await;
    assert_eq!(bad.status(), 400);
    let only_offices = server.get_json("/api/v1/sync?type=office&limit=1000").await;
    assert!(only_offices["items"].as_array().unwrap().iter().all(|i| i["type"] == "office"));
    assert_eq!(only_offices["items"].as_array().unwrap().len(), 18);
}
on_both_databases!(a_replica_ends_with_the_published_state);

/// More changes than a page holds: 250 generated services with their offices and topics.
fn generated_content() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let generated = katalog(&["generate", "--services", "250", "--out", dir.path().join("content").to_str().unwrap()]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    dir
}

async fn a_page_holds_at_most_the_maximum(db: TestDb) {
    let generated = generated_content();
    let server = Server::start(&db, &generated.path().join("content"));
    let asked_for_more = server.get_json("/api/v1/sync?limit=1000").await;
    assert_eq!(asked_for_more["has_more"], true, "a page of 1000 changes is not served at once");
    assert_eq!(asked_for_more, server.get_json("/api/v1/sync?limit=200").await, "a larger limit is served as the maximum, 200");
    assert_eq!(server.get("/api/v1/sync?limit=0").await.status(), 400);
}
on_both_databases!(a_page_holds_at_most_the_maximum);

async fn a_page_asked_for_again_comes_from_the_cache(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let first = server.get_json("/api/v1/sync?limit=20&locale=en").await;
    let hits = response_cache_hits(&server).await;
    // The same page, spelt differently: a parameter the feed does not know.
    let again = server.get_json("/api/v1/sync?locale=en&limit=20&utm_source=app").await;
    assert_eq!(again, first);
    assert_eq!(response_cache_hits(&server).await, hits + 1, "the second request is answered from the cache");

    // The last page grows with the next change, cached or not.
    let cursor = first["next_cursor"].as_str().unwrap();
    let mut last = server.get_json(&format!("/api/v1/sync?cursor={cursor}&limit=200")).await;
    while last["has_more"] == true {
        last = server.get_json(&format!("/api/v1/sync?cursor={}&limit=200", last["next_cursor"].as_str().unwrap())).await;
    }
    let end = last["next_cursor"].as_str().unwrap().to_owned();
    let tail = format!("/api/v1/sync?cursor={end}");
    assert!(server.get_json(&tail).await["items"].as_array().unwrap().is_empty());
    let publisher = token(&db, "publisher");
    let unpublished = server
        .client
        .post(server.url("/api/v1/manage/service/reisepass-beantragen/transitions"))
        .bearer_auth(&publisher)
        .json(&json!({"action": "unpublish"}))
        .send()
        .await
        .unwrap();
    assert!(unpublished.status().is_success(), "{}", unpublished.status());
    let after = server.get_json(&tail).await;
    assert_eq!(after["items"][0]["op"], "delete", "{after}");
}
on_both_databases!(a_page_asked_for_again_comes_from_the_cache);

/// An app that starts from the app export continues with the sync feed
/// from the position the export's index names, and ends with the
/// published state.
async fn an_app_continues_from_its_export(db: TestDb) {
    let content = sample_content();
    let server = Server::start(&db, content.path());
    let out = tempfile::tempdir().unwrap();
    let schemas = repo_path("schemas");
    let exported = katalog(&[
        "export",
        "--channel",
        "app",
        "--out",
        out.path().to_str().unwrap(),
        "--database",
        &db.url,
        "--schemas",
        schemas.to_str().unwrap(),
        "--content",
        content.path().to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let app = out.path().join("app");
    let index: Value = serde_json::from_slice(&std::fs::read(app.join("index.json")).unwrap()).unwrap();
    assert!(index["change_seq"].as_i64().unwrap() > 0, "{}", index["change_seq"]);
    let mut replica = Replica { documents: BTreeMap::new(), cursor: Some(index["sync_cursor"].as_str().unwrap().to_owned()) };
    for file in index["files"].as_array().unwrap().iter().filter(|f| f["locale"] == "de") {
        let document: Value = serde_json::from_slice(&std::fs::read(app.join(file["path"].as_str().unwrap())).unwrap()).unwrap();
        replica.documents.insert(document["id"].as_str().unwrap().to_owned(), document["fields"].clone());
    }
    assert_eq!(replica.documents, published_state(&server, "de").await, "the export is the published state");

    // Changes after the export: the app takes them from the feed.
    let publisher = token(&db, "publisher");
    let manage = |path: &str, body: Value| server.client.post(server.url(path)).bearer_auth(&publisher).json(&body).send();
    assert!(manage("/api/v1/manage/service/wunschkennzeichen-reservieren/transitions", json!({"action": "unpublish"})).await.unwrap().status().is_success());
    let entry = server.client.get(server.url("/api/v1/manage/service/reisepass-beantragen")).bearer_auth(&publisher).send().await.unwrap();
    let etag = entry.headers()["etag"].to_str().unwrap().to_owned();
    let mut fields = entry.json::<Value>().await.unwrap()["fields"].clone();
    fields["name"] = json!("Reisepass beantragen (nach dem Export)");
    let saved = server
        .client
        .put(server.url("/api/v1/manage/service/reisepass-beantragen"))
        .bearer_auth(&publisher)
        .header("If-Match", etag)
        .json(&json!({"fields": fields}))
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "{}", saved.status());
    assert!(manage("/api/v1/manage/service/reisepass-beantragen/transitions", json!({"action": "publish"})).await.unwrap().status().is_success());

    while replica.pull(&server, "de", 5).await {}
    let published = published_state(&server, "de").await;
    assert_eq!(replica.documents, published);
    assert!(!published.values().any(|d| d["name"] == "Wunschkennzeichen reservieren"), "the withdrawn service is gone");
    assert!(published.values().any(|d| d["name"] == "Reisepass beantragen (nach dem Export)"));
}
on_both_databases!(an_app_continues_from_its_export);
