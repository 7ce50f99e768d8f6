//! The management API: tokens and roles, If-Match, drafts, revisions and
//! the workflow, on both databases.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Client, Server, TestDb, eventually, katalog, repo_path, sample_content, text, token};
use crate::on_both_databases;

async fn published_name(server: &Server, slug: &str) -> Option<String> {
    let response = server.get(&format!("/api/v1/service/{slug}")).await;
    if response.status() == 404 {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    body["fields"]["name"].as_str().map(str::to_owned)
}

async fn tokens_and_roles(db: TestDb) {
    let made = katalog(&["token", "create", "--role", "editor", "--name", "Test", "--database", &db.url]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let editor = text(&made.stdout).trim().to_owned();
    let expired = token(&db, "admin", &["--expires-in-days", "0"]);
    let revoked = token(&db, "admin", &[]);
    let id = revoked.strip_prefix("kat_").unwrap().split('_').next().unwrap().to_owned();
    assert!(katalog(&["token", "revoke", &id, "--database", &db.url]).status.success());
    let server = Server::start(&db, &repo_path("content"));
    let path = "/api/v1/manage/service/personalausweis-beantragen";

    let anonymous = server.get(path).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["content-type"], "application/problem+json");
    for (name, bad) in [("garbage", "nonsense"), ("forged", "kat_000000000000_secret"), ("expired", expired.as_str()), ("revoked", revoked.as_str())] {
        let response = server.client.get(server.url(path)).bearer_auth(bad).send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 401, "{name}");
        if name == "expired" || name == "revoked" {
            assert!(problem["detail"].as_str().unwrap().contains(name), "{name}: {problem}");
        }
    }
    let client = Client { server: &server, token: editor };
    let (status, _, body) = client.send(Method::GET, path, None, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, problem) = client.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "unpublish"}))).await;
    assert_eq!(status, 403, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("publisher"));
    // The delivery API stays public.
    assert_eq!(server.get("/api/v1/service/personalausweis-beantragen").await.status(), 200);
}
on_both_databases!(tokens_and_roles);

async fn updates_need_the_current_version(db: TestDb) {
    let editor = token(&db, "editor", &[]);
    let server = Server::start(&db, &repo_path("content"));
    let client = Client { server: &server, token: editor };
    let path = "/api/v1/manage/service/reisepass-beantragen";
    let (_, etag, entry) = client.send(Method::GET, path, None, None).await;
    let etag = etag.unwrap();
    assert_eq!(etag, format!("\"{}\"", entry["version"]));
    let mut fields = entry["fields"].clone();
    fields["name"] = json!("Reisepass beantragen (neu)");

    let (status, _, problem) = client.send(Method::PUT, path, None, Some(json!({"fields": fields}))).await;
    assert_eq!(status, 428, "{problem}");
    let (status, _, _) = client.send(Method::PUT, path, Some("*"), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 428);
    let (status, new_etag, updated) = client.send(Method::PUT, path, Some(&etag), Some(json!({"fields": fields, "message": "Name geschärft"}))).await;
    assert_eq!(status, 200, "{updated}");
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    assert_eq!(updated["fields"]["name"], "Reisepass beantragen (neu)");
    assert_eq!(updated["locales"][0]["state"], "draft");

    // The old version is stale now: 412 with the current one.
    let (status, _, problem) = client.send(Method::PUT, path, Some(&etag), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["current_version"], updated["version"]);

    // The published revision keeps being served while the draft exists.
    assert_ne!(published_name(&server, "reisepass-beantragen").await.as_deref(), Some("Reisepass beantragen (neu)"));

    let (status, _, revisions) = client.send(Method::GET, &format!("{path}/revisions"), None, None).await;
    assert_eq!(status, 200);
    let items = revisions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["message"], "Name geschärft");
    assert!(items[0]["author"].as_str().unwrap().contains("Test"));
    let (status, _, first) = client.send(Method::GET, &format!("{path}/revisions/1"), None, None).await;
    assert_eq!(status, 200);
    assert_ne!(first["fields"]["name"], "Reisepass beantragen (neu)");
}
on_both_databases!(updates_need_the_current_version);

async fn concurrent_updates_lose_nothing(db: TestDb) {
    let editor = token(&db, "editor", &[]);
    let server = Server::start(&db, &repo_path("content"));
    let client = Client { server: &server, token: editor };
    let path = "/api/v1/manage/service/meldebescheinigung-beantragen";
    let (_, etag, entry) = client.send(Method::GET, path, None, None).await;
    let etag = etag.unwrap();
    let edits: Vec<Value> = (0..2)
        .map(|i| {
            let mut fields = entry["fields"].clone();
            fields["name"] = json!(format!("Meldebescheinigung, Fassung {i}"));
            fields
        })
        .collect();
    let (a, b) = tokio::join!(
        client.send(Method::PUT, path, Some(&etag), Some(json!({"fields": edits[0]}))),
        client.send(Method::PUT, path, Some(&etag), Some(json!({"fields": edits[1]}))),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "exactly one wins: {a:?} {b:?}");
    let winner = if a.0 == 200 { &a.2 } else { &b.2 };
    let (_, _, revisions) = client.send(Method::GET, &format!("{path}/revisions"), None, None).await;
    assert_eq!(revisions["items"].as_array().unwrap().len(), 2, "one new revision, the loser's edit stays with its client");
    let (_, _, newest) = client.send(Method::GET, &format!("{path}/revisions/2"), None, None).await;
    assert_eq!(newest["fields"]["name"], winner["fields"]["name"]);
}
on_both_databases!(concurrent_updates_lose_nothing);

async fn review_and_publish(db: TestDb) {
    let editor = Client { server: &Server::start(&db, &repo_path("content")), token: token(&db, "editor", &[]) };
    let server = editor.server;
    let publisher = Client { server, token: token(&db, "publisher", &[]) };
    let path = "/api/v1/manage/service/hundesteuer-anmelden";
    let (_, etag, entry) = editor.send(Method::GET, path, None, None).await;
    let mut fields = entry["fields"].clone();
    fields["name"] = json!("Hund anmelden (Hundesteuer)");
    let (status, _, _) = editor.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200);

    let transition = |body: Value| async move { (body.clone(), format!("{path}/transitions")) };
    let (body, url) = transition(json!({"action": "submit"})).await;
    let (status, _, submitted) = editor.send(Method::POST, &url, None, Some(body)).await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["locales"][0]["state"], "in_review");

    let (status, _, problem) = publisher.send(Method::POST, &url, None, Some(json!({"action": "request_changes"}))).await;
    assert_eq!(status, 422, "a comment is required: {problem}");
    let (status, _, sent_back) = publisher.send(Method::POST, &url, None, Some(json!({"action": "request_changes", "comment": "Bitte Gebühr prüfen"}))).await;
    assert_eq!(status, 200);
    assert_eq!(sent_back["locales"][0]["state"], "draft");
    assert_eq!(sent_back["locales"][0]["review_comment"], "Bitte Gebühr prüfen");

    let (status, _, problem) = publisher.send(Method::POST, &url, None, Some(json!({"action": "request_changes", "comment": "nochmal"}))).await;
    assert_eq!(status, 409, "{problem}");
    let allowed: Vec<&str> = problem["allowed_actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(allowed.contains(&"submit") && allowed.contains(&"publish"), "{allowed:?}");

    let (status, _, problem) = publisher.send(Method::POST, &url, None, Some(json!({"action": "publish", "revision": 1}))).await;
    assert_eq!(status, 409, "a stale revision is not published: {problem}");
    assert_eq!(published_name(server, "hundesteuer-anmelden").await.as_deref().map(|n| n == "Hund anmelden (Hundesteuer)"), Some(false));
    let (status, _, published) = publisher.send(Method::POST, &url, None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["locales"][0]["state"], "published");
    assert_eq!(published["locales"][0]["published_revision"], 2);
    assert_eq!(published_name(server, "hundesteuer-anmelden").await.as_deref(), Some("Hund anmelden (Hundesteuer)"));

    let (status, _, _) = publisher.send(Method::POST, &url, None, Some(json!({"action": "unpublish"}))).await;
    assert_eq!(status, 200);
    assert_eq!(published_name(server, "hundesteuer-anmelden").await, None);
    let (status, _, archived) = publisher.send(Method::POST, &url, None, Some(json!({"action": "archive"}))).await;
    assert_eq!(status, 200);
    assert_eq!(archived["locales"][0]["state"], "archived");
    assert_eq!(archived["locales"][0]["allowed_actions"], json!([]));

    // The change log recorded publish, unpublish in order.
    let store = katalog::store::Store::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let rows = store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            store.backend(),
            "SELECT action FROM changes WHERE slug = 'hundesteuer-anmelden' AND locale = 'de' ORDER BY seq".to_owned(),
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.try_get("", "action").unwrap()).collect();
    assert_eq!(actions, ["publish", "publish", "unpublish"]);
}
on_both_databases!(review_and_publish);

async fn creating_and_publishing_checks_everything(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let odd = "O'Brien; DROP TABLE entries;-- 🐕 \u{202e}مرحبا\u{202c} \"quoted\" \\ back";
    let (status, etag, created) =
        editor.send(Method::POST, "/api/v1/manage/service", None, Some(json!({"slug": "hausboot-anmelden", "fields": {"name": odd}}))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(created["fields"]["name"], odd, "stored and returned byte for byte");
    assert_eq!(created["locales"][0]["state"], "draft");
    assert_eq!(server.get("/api/v1/service/hausboot-anmelden").await.status(), 404, "drafts are not delivered");
    let (status, _, _) = editor.send(Method::POST, "/api/v1/manage/service", None, Some(json!({"slug": "hausboot-anmelden", "fields": {}}))).await;
    assert_eq!(status, 409, "slug taken");

    for (fields, pointer) in [(json!({"name": 3}), "/fields/name"), (json!({"colour": "blue"}), "/fields/colour"), (json!({"leika": "12"}), "/fields/leika")] {
        let (status, _, problem) = editor.send(Method::PUT, "/api/v1/manage/service/hausboot-anmelden", Some("1"), Some(json!({"fields": fields}))).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let (status, _, problem) =
        editor.send(Method::POST, "/api/v1/manage/service/validate?mode=publish", None, Some(json!({"fields": {"name": "Hausboot"}}))).await;
    assert_eq!(status, 200);
    assert_eq!(problem["valid"], false);
    assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["pointer"] == "/fields/leika"));

    // A complete document whose office is still a draft cannot go live.
    let mut complete: Value = {
        let reply = editor.send(Method::GET, "/api/v1/manage/service/personalausweis-beantragen", None, None).await;
        reply.2["fields"].clone()
    };
    let (status, _, _) = editor.send(Method::POST, "/api/v1/manage/office", None, Some(json!({"slug": "hafenamt", "fields": {"name": "Hafenamt"}}))).await;
    assert_eq!(status, 201);
    complete["name"] = json!(odd);
    complete["responsible_offices"] = json!([{"office": "hafenamt", "role": "responsible"}]);
    let (status, _, saved) = editor.send(Method::PUT, "/api/v1/manage/service/hausboot-anmelden", Some("1"), Some(json!({"fields": complete}))).await;
    assert_eq!(status, 200, "{saved}");
    let (status, _, problem) =
        publisher.send(Method::POST, "/api/v1/manage/service/hausboot-anmelden/transitions", None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/fields/responsible_offices/0/office", "{problem}");
    assert!(problem["errors"][0]["detail"].as_str().unwrap().contains("not published"));

    complete["responsible_offices"] = json!([{"office": "standesamt", "role": "responsible"}]);
    // Every free-text field carries the awkward text; all must come back unchanged.
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(repo_path("schemas/service.schema.json")).unwrap()).unwrap();
    let mut odd_fields = Vec::new();
    for (field, definition) in schema["properties"].as_object().unwrap() {
        if definition["type"] == "string" && definition.get("x-localized").is_some() {
            complete[field] = json!(format!("{odd} ({field})"));
            odd_fields.push(field.clone());
        }
    }
    assert!(odd_fields.len() > 10);
    let (status, _, _) = editor.send(Method::PUT, "/api/v1/manage/service/hausboot-anmelden", Some("2"), Some(json!({"fields": complete}))).await;
    assert_eq!(status, 200);
    let (status, _, published) =
        publisher.send(Method::POST, "/api/v1/manage/service/hausboot-anmelden/transitions", None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 200, "{published}");
    let delivered = server.get_json("/api/v1/service/hausboot-anmelden").await;
    for field in &odd_fields {
        assert_eq!(delivered["fields"][field], json!(format!("{odd} ({field})")), "{field}");
    }
}
on_both_databases!(creating_and_publishing_checks_everything);

async fn translations_are_checked_and_marked_outdated(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let path = "/api/v1/manage/service/wohnsitz-abmelden";
    let (_, etag, english) = editor.send(Method::GET, &format!("{path}?locale=en"), None, None).await;
    assert_eq!(english["locale"], "en");
    assert!(english["fields"].get("leika").is_none(), "editors see the raw translation");
    let (status, _, problem) =
        editor.send(Method::PUT, &format!("{path}?locale=en"), etag.as_deref(), Some(json!({"fields": {"leika": "99999999999999"}}))).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/fields/leika");

    let (_, etag, german) = editor.send(Method::GET, path, None, None).await;
    let mut fields = german["fields"].clone();
    fields["teaser"] = json!("Neuer Teaser");
    let (status, _, saved) = editor.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200);
    let english = saved["locales"].as_array().unwrap().iter().find(|l| l["locale"] == "en").unwrap();
    assert_eq!(english["outdated"], true, "{english}");
}
on_both_databases!(translations_are_checked_and_marked_outdated);

async fn malformed_requests(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = token(&db, "editor", &[]);
    let path = server.url("/api/v1/manage/service");
    let malformed = server.client.post(&path).bearer_auth(&editor).header("content-type", "application/json").body("{\"slug\": ").send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.headers()["content-type"], "application/problem+json");
    // A 10 MB body is refused from its announced length, before it is
    // read: the answer comes while the client would still be sending.
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /api/v1/manage/service HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {editor}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{{\"slug\": \"gross\", ",
        10 * 1024 * 1024
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}
on_both_databases!(malformed_requests);

async fn imports_make_drafts_unless_told_to_publish(db: TestDb) {
    let content = sample_content();
    assert!(crate::helpers::import(&db, content.path()).status.success());
    let file = content.path().join("service/sperrmuell-anmelden.md");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replacen("name = \"", "name = \"Entwurf: ", 1)).unwrap();
    let schemas = repo_path("schemas");
    let draft = katalog(&["import", content.path().to_str().unwrap(), "--database", &db.url, "--schemas", schemas.to_str().unwrap()]);
    assert!(draft.status.success(), "{}", text(&draft.stderr));
    assert!(text(&draft.stdout).contains("1 new revisions (drafts)"), "{}", text(&draft.stdout));
    let server = Server::start(&db, content.path());
    let live = published_name(&server, "sperrmuell-anmelden").await.unwrap();
    assert!(!live.starts_with("Entwurf: "), "the draft is not live");
    let reader = Client { server: &server, token: token(&db, "reader", &[]) };
    let (_, _, entry) = reader.send(Method::GET, "/api/v1/manage/service/sperrmuell-anmelden", None, None).await;
    assert!(entry["fields"]["name"].as_str().unwrap().starts_with("Entwurf: "));
    assert_eq!(entry["locales"][0]["state"], "draft");
    assert_eq!(entry["locales"][0]["published_revision"], 1);
}
on_both_databases!(imports_make_drafts_unless_told_to_publish);

async fn diff_and_restore_revisions(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let path = "/api/v1/manage/service/wohngeld-beantragen";
    let (_, etag, entry) = editor.send(Method::GET, path, None, None).await;
    let mut fields = entry["fields"].clone();
    let original_prerequisites = fields["prerequisites"].as_str().unwrap().to_owned();
    fields["prerequisites"] = json!(format!("{original_prerequisites}\n- Neue Zeile für 2027."));
    fields["fees"][0]["label"] = json!("Neue Gebühr");
    let (status, etag, _) = editor.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200);

    let (status, _, diff) = editor.send(Method::GET, &format!("{path}/diff?from=1"), None, None).await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!((diff["from"].as_i64(), diff["to"].as_i64()), (Some(1), Some(2)));
    let changes = diff["changes"].as_array().unwrap();
    let pointers: Vec<&str> = changes.iter().map(|c| c["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/fees/0/label", "/prerequisites"]);
    let lines = changes[1]["line_diff"].as_str().unwrap();
    assert!(lines.contains("+- Neue Zeile für 2027."), "{lines}");

    let (status, _, problem) = editor.send(Method::POST, &format!("{path}/revisions/1/restore"), None, None).await;
    assert_eq!(status, 428, "{problem}");
    let (status, _, restored) = editor.send(Method::POST, &format!("{path}/revisions/1/restore"), etag.as_deref(), None).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["revision"], 3, "a restore appends");
    assert_eq!(restored["fields"]["prerequisites"], original_prerequisites);
    let (_, _, revisions) = editor.send(Method::GET, &format!("{path}/revisions"), None, None).await;
    assert_eq!(revisions["items"][0]["message"], "restored revision 1");
    assert_eq!(revisions["items"].as_array().unwrap().len(), 3);
}
on_both_databases!(diff_and_restore_revisions);

async fn trash_restore_and_delete(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let path = "/api/v1/manage/service/kirchenaustritt-erklaeren";
    let (status, _, _) = editor.send(Method::POST, &format!("{path}/trash"), None, None).await;
    assert_eq!(status, 403);
    let (status, etag, trashed) = publisher.send(Method::POST, &format!("{path}/trash"), None, None).await;
    assert_eq!(status, 200, "{trashed}");
    assert!(trashed["trashed_at"].is_string());
    assert_eq!(server.get("/api/v1/service/kirchenaustritt-erklaeren").await.status(), 404, "off the channels");
    let (status, _, problem) = editor.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": trashed["fields"]}))).await;
    assert_eq!(status, 409, "no edits in the trash: {problem}");
    let (status, _, _) = admin.send(Method::DELETE, "/api/v1/manage/service/gewerbe-abmelden", None, None).await;
    assert_eq!(status, 409, "only trashed entries can be deleted");

    let (status, _, restored) = publisher.send(Method::DELETE, &format!("{path}/trash"), None, None).await;
    assert_eq!(status, 200);
    assert!(restored["trashed_at"].is_null());
    assert_eq!(restored["locales"][0]["state"], "draft");
    assert_eq!(restored["locales"][0]["published_revision"], Value::Null);

    let (status, _, _) = publisher.send(Method::POST, &format!("{path}/trash"), None, None).await;
    assert_eq!(status, 200);
    let (status, _, _) = publisher.send(Method::DELETE, path, None, None).await;
    assert_eq!(status, 403, "hard delete is for admins");
    let (status, _, _) = admin.send(Method::DELETE, path, None, None).await;
    assert_eq!(status, 204);
    let (status, _, _) = admin.send(Method::GET, path, None, None).await;
    assert_eq!(status, 404);

    let store = katalog::store::Store::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let rows = store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            store.backend(),
            "SELECT action FROM changes WHERE slug = 'kirchenaustritt-erklaeren' ORDER BY seq".to_owned(),
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.try_get("", "action").unwrap()).collect();
    assert_eq!(actions, ["publish", "unpublish", "delete"]);
}
on_both_databases!(trash_restore_and_delete);

async fn every_change_is_audited(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let path = "/api/v1/manage/service/fundsache-melden";
    let (_, etag, entry) = editor.send(Method::GET, path, None, None).await;
    let response = server
        .client
        .put(server.url(path))
        .bearer_auth(&editor.token)
        .header("If-Match", etag.unwrap())
        .header("X-Request-Id", "ticket-4711")
        .json(&json!({"fields": entry["fields"], "message": "Kontrolle"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "ticket-4711");
    let (status, _, _) = publisher.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 200);

    let (status, _, log) = editor.send(Method::GET, &format!("{path}/audit"), None, None).await;
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["entry.publish", "entry.update"]);
    assert_eq!(items[1]["request_id"], "ticket-4711");
    assert_eq!(items[1]["detail"]["message"], "Kontrolle");
    assert!(items[0]["actor"].as_str().unwrap().contains("token"));
    assert_eq!(items[0]["slug"], "fundsache-melden");

    let (status, _, _) = editor.send(Method::GET, "/api/v1/manage/audit", None, None).await;
    assert_eq!(status, 403);
    let (status, _, all) = admin.send(Method::GET, "/api/v1/manage/audit?limit=2", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let cursor = all["next_cursor"].as_str().unwrap();
    let (_, _, older) = admin.send(Method::GET, &format!("/api/v1/manage/audit?limit=2&cursor={cursor}"), None, None).await;
    assert_eq!(older["items"][0]["action"], "import", "the first start's import is audited too");
    let (status, _, refused) = admin.send(Method::GET, &format!("{path}/audit?cursor={cursor}"), None, None).await;
    assert_eq!(
        (status.as_u16(), refused["type"].as_str()),
        (400, Some("/problems/invalid-cursor")),
        "the whole log's cursor is not one of an entry's log: {refused}"
    );
}
on_both_databases!(every_change_is_audited);

/// Locale, page size and cursor are read by one parser each: the same
/// problem and message wherever they are wrong, whatever the list.
async fn parameters_are_read_the_same_everywhere(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let get = async |path: &str| {
        let (status, _, body) = admin.send(Method::GET, path, None, None).await;
        (status.as_u16(), body)
    };
    let entry = "/api/v1/manage/service/personalausweis-beantragen";
    // Two events in the entry's audit log, to page through.
    assert_eq!(admin.send(Method::POST, &format!("{entry}/trash"), None, None).await.0, 200);
    assert_eq!(admin.send(Method::DELETE, &format!("{entry}/trash"), None, None).await.0, 200);
    let unknown_locale = "unknown locale `fr`; supported: de, en, de-x-ls";
    for path in [
        "/api/v1/service?locale=fr",
        "/api/v1/service/personalausweis-beantragen?locale=fr",
        "/api/v1/search?q=pass&locale=fr",
        "/api/v1/suggest?q=pass&locale=fr",
        "/api/v1/sync?locale=fr",
        &format!("{entry}?locale=fr"),
        &format!("{entry}/revisions?locale=fr"),
    ] {
        let (status, problem) = get(path).await;
        assert_eq!((status, &problem["type"], &problem["detail"]), (400, &json!("/problems/unknown-locale"), &json!(unknown_locale)), "{path}");
    }
    for (path, body) in [
        (format!("{entry}/transitions"), json!({"action": "submit", "locale": "fr"})),
        (
            "/api/v1/manage/partners/nachbarstadt/conflicts/resolve".to_owned(),
            json!({"type": "service", "slug": "x", "module": "fees", "resolution": "keep_mine", "locale": "fr"}),
        ),
    ] {
        let (status, _, problem) = admin.send(Method::POST, &path, None, Some(body)).await;
        assert_eq!((status.as_u16(), &problem["type"], &problem["detail"]), (400, &json!("/problems/unknown-locale"), &json!(unknown_locale)), "{path}");
    }

    let lists =
        [("/api/v1/service?", 100), ("/api/v1/search?q=pass&", 50), ("/api/v1/sync?", 200), ("/api/v1/manage/audit?", 500), (&format!("{entry}/audit?"), 500)];
    for (list, max) in lists {
        let (status, problem) = get(&format!("{list}limit=0")).await;
        let expected = format!("limit must be at least 1; more than {max} are served as {max}");
        assert_eq!((status, &problem["type"], &problem["detail"]), (400, &json!("/problems/invalid-limit"), &json!(expected)), "{list}");
        assert_eq!(get(&format!("{list}limit={}", max + 1)).await, get(&format!("{list}limit={max}")).await, "{list}: more than {max} are served as {max}");
        let (status, problem) = get(&format!("{list}cursor=bm90IGEgY3Vyc29y")).await;
        assert_eq!((status, &problem["type"]), (400, &json!("/problems/invalid-cursor")), "{list}: {problem}");
    }
    let (_, suggestions) = get("/api/v1/suggest?q=a&limit=0").await;
    assert_eq!(suggestions["detail"], "limit must be at least 1; more than 20 are served as 20");

    // A cursor of one list is refused by every other.
    let mut cursors = Vec::new();
    for (list, _) in lists {
        let (status, page) = get(&format!("{list}limit=1")).await;
        assert_eq!(status, 200, "{list}: {page}");
        cursors.push(page["next_cursor"].as_str().unwrap_or_else(|| panic!("{list}: {page}")).to_owned());
    }
    for (i, (list, _)) in lists.iter().enumerate() {
        for (j, cursor) in cursors.iter().enumerate() {
            let (status, problem) = get(&format!("{list}limit=1&cursor={cursor}")).await;
            let expected = if i == j { 200 } else { 400 };
            assert_eq!(status, expected, "{list} with the cursor of {}: {problem}", lists[j].0);
        }
    }
}
on_both_databases!(parameters_are_read_the_same_everywhere);

/// A time `hours` after the server's clock shows.
fn in_hours(server: &Server, hours: i64) -> String {
    (server.clock.now() + chrono::Duration::hours(hours)).to_rfc3339()
}

async fn change_count(db: &TestDb, slug: &str, action: &str) -> i64 {
    let store = katalog::store::Store::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let row = store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            store.backend(),
            format!("SELECT COUNT(*) FROM changes WHERE slug = '{slug}' AND action = '{action}' AND locale = 'de'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn scheduled_publishing_happens_once(db: TestDb) {
    let first = Server::start(&db, &repo_path("content"));
    // A second server on the same database runs its own scheduler.
    let second = Server::start(&db, &repo_path("content"));
    let editor = Client { server: &first, token: token(&db, "editor", &[]) };
    let publisher = Client { server: &second, token: token(&db, "publisher", &[]) };
    let path = "/api/v1/manage/service/gewerbe-anmelden";
    let (_, etag, entry) = editor.send(Method::GET, path, None, None).await;
    let mut fields = entry["fields"].clone();
    fields["name"] = json!("Gewerbe anmelden (ab 1. Januar)");
    let (status, _, _) = editor.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200);
    let schedule = format!("{path}/schedule");
    let (status, _, problem) =
        publisher.send(Method::PUT, &schedule, None, Some(json!({"publish_at": in_hours(&second, 2), "unpublish_at": in_hours(&second, 1)}))).await;
    assert_eq!(status, 422, "{problem}");
    let (status, _, scheduled) = publisher.send(Method::PUT, &schedule, None, Some(json!({"publish_at": in_hours(&second, 1), "revision": 2}))).await;
    assert_eq!(status, 200, "{scheduled}");
    assert_eq!(scheduled["locales"][0]["scheduled_revision"], 2);
    assert!(scheduled["locales"][0]["publish_at"].is_string());
    first.scheduler_looked().await;
    second.scheduler_looked().await;
    assert_ne!(published_name(&first, "gewerbe-anmelden").await.as_deref(), Some("Gewerbe anmelden (ab 1. Januar)"), "not due yet");

    // Both servers look at the due schedule; the change happens once.
    first.clock.advance(chrono::Duration::hours(2));
    second.advance_clock(chrono::Duration::hours(2)).await;
    first.scheduler_looked().await;
    eventually("the scheduled publish", async || published_name(&first, "gewerbe-anmelden").await.as_deref() == Some("Gewerbe anmelden (ab 1. Januar)")).await;
    assert_eq!(change_count(&db, "gewerbe-anmelden", "publish").await, 2, "the import's publish and the scheduled one");
    let (_, _, entry) = editor.send(Method::GET, path, None, None).await;
    assert_eq!(entry["locales"][0]["state"], "published");
    assert!(entry["locales"][0]["publish_at"].is_null());
    let (_, _, log) = editor.send(Method::GET, &format!("{path}/audit"), None, None).await;
    let by_scheduler: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|i| i["actor"] == "scheduler").collect();
    assert_eq!(by_scheduler.len(), 1);

    let (status, _, _) = publisher.send(Method::PUT, &schedule, None, Some(json!({"unpublish_at": in_hours(&second, 1)}))).await;
    assert_eq!(status, 200);
    first.clock.advance(chrono::Duration::hours(2));
    second.advance_clock(chrono::Duration::hours(2)).await;
    first.scheduler_looked().await;
    eventually("the scheduled withdrawal", async || published_name(&second, "gewerbe-anmelden").await.is_none()).await;
    assert_eq!(change_count(&db, "gewerbe-anmelden", "unpublish").await, 1);
}
on_both_databases!(scheduled_publishing_happens_once);

async fn schedules_survive_a_restart(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let path = "/api/v1/manage/service/gewerbe-abmelden";
    let (status, _, _) = publisher.send(Method::PUT, &format!("{path}/schedule"), None, Some(json!({"unpublish_at": in_hours(&server, 1)}))).await;
    assert_eq!(status, 200);
    server.scheduler_looked().await;
    let later = katalog::clock::ManualClock::starting_at(server.clock.now() + chrono::Duration::hours(2));
    drop(publisher);
    drop(server);
    assert_eq!(change_count(&db, "gewerbe-abmelden", "unpublish").await, 0, "not due while the server was up");
    // Started again after the time has passed: the overdue withdrawal happens.
    let server = Server::start_at(&db, &repo_path("content"), &[], later);
    eventually("the overdue withdrawal after a restart", async || server.get("/api/v1/service/gewerbe-abmelden").await.status() == 404).await;
    assert_eq!(change_count(&db, "gewerbe-abmelden", "unpublish").await, 1);
}
on_both_databases!(schedules_survive_a_restart);

async fn acknowledged_writes_survive_sigkill(db: TestDb) {
    let mut server = Server::start_process(&db, &repo_path("content"), &[]);
    let editor = token(&db, "editor", &[]);
    let base = server.base.clone();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let burst = |client: usize| {
        let (base, editor, written) = (base.clone(), editor.clone(), written.clone());
        tokio::spawn(async move {
            let http = crate::helpers::http_client();
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let slug = format!("burst-{client}-{n}");
                let reply = http
                    .post(format!("{base}/api/v1/manage/article"))
                    .bearer_auth(&editor)
                    .json(&json!({"slug": slug, "fields": {"title": format!("Schreiblast {client}/{n}")}}))
                    .send()
                    .await;
                match reply {
                    Ok(response) if response.status() == 201 => {
                        acknowledged.push(slug);
                        written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(response) => panic!("unexpected {}", response.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    let clients: Vec<_> = (0..4).map(burst).collect();
    eventually("a burst of writes", async || written.load(std::sync::atomic::Ordering::Relaxed) > 20).await;
    server.kill_hard();
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert!(acknowledged.len() > 4, "the burst wrote something before the kill");

    let server = Server::start(&db, &repo_path("content"));
    let reader = Client { server: &server, token: token(&db, "reader", &[]) };
    for slug in &acknowledged {
        let (status, _, entry) = reader.send(Method::GET, &format!("/api/v1/manage/article/{slug}"), None, None).await;
        assert_eq!(status, 200, "{slug} was acknowledged but is gone");
        assert!(entry["fields"]["title"].as_str().unwrap().starts_with("Schreiblast"));
    }
}
on_both_databases!(acknowledged_writes_survive_sigkill);

async fn admins_manage_tokens(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let (status, _, _) = editor.send(Method::POST, "/api/v1/manage/tokens", None, Some(json!({"name": "x", "role": "admin"}))).await;
    assert_eq!(status, 403, "only admins make tokens");
    let (status, _, problem) = admin.send(Method::POST, "/api/v1/manage/tokens", None, Some(json!({"name": "x", "role": "king"}))).await;
    assert_eq!(status, 422, "{problem}");
    let (status, _, issued) = admin.send(Method::POST, "/api/v1/manage/tokens", None, Some(json!({"name": "Redaktion Nord", "role": "publisher"}))).await;
    assert_eq!(status, 201, "{issued}");
    let fresh = Client { server: &server, token: issued["token"].as_str().unwrap().to_owned() };
    let (status, _, _) = fresh.send(Method::GET, "/api/v1/manage/service/personalausweis-beantragen", None, None).await;
    assert_eq!(status, 200);
    let (status, _, list) = admin.send(Method::GET, "/api/v1/manage/tokens", None, None).await;
    assert_eq!(status, 200);
    let listed = list["items"].as_array().unwrap();
    assert!(listed.iter().any(|t| t["name"] == "Redaktion Nord" && t["role"] == "publisher"));
    assert!(!list.to_string().contains(issued["token"].as_str().unwrap()), "secrets are never listed");
    let (status, _, _) = admin.send(Method::DELETE, &format!("/api/v1/manage/tokens/{}", issued["id"].as_str().unwrap()), None, None).await;
    assert_eq!(status, 204);
    let (status, _, _) = fresh.send(Method::GET, "/api/v1/manage/service/personalausweis-beantragen", None, None).await;
    assert_eq!(status, 401, "revoked at once");
}
on_both_databases!(admins_manage_tokens);
