//! The web site served at `/` from the live content: the pages of the
//! `web` export, made by the same renderer, current after each publish;
//! drafts previewed by token holders only.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Client, Server, TestDb, katalog, repo_path, text, token};
use crate::on_both_databases;

const SERVICE_PAGE: &str = "/de/service/personalausweis-beantragen/";

async fn the_served_site_is_the_exported_site(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let out = tempfile::tempdir().unwrap();
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    let export = katalog(&[
        "export", "--channel", "web", "--out", out.path().to_str().unwrap(), "--database", &db.url,
        "--schemas", schemas.to_str().unwrap(), "--content", content.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let pages = [
        ("/", "text/html"),
        ("/de/", "text/html"),
        ("/en/", "text/html"),
        ("/de/a-z/", "text/html"),
        (SERVICE_PAGE, "text/html"),
        ("/en/service/personalausweis-beantragen/", "text/html"),
        ("/de/office/buergerbuero-mitte/", "text/html"),
        ("/de/topic/umzug-wohnen/", "text/html"),
        ("/en/topic/umzug-wohnen/", "text/html"),
        ("/de/article/fundbuero-wo-finde-ich/", "text/html"),
        ("/sitemap.xml", "application/xml"),
        ("/style.css", "text/css"),
    ];
    for (path, media_type) in pages {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(media_type), "{path}: {:?}", headers["content-type"]);
        let file = if path.ends_with('/') { format!("{}index.html", &path[1..]) } else { path[1..].to_owned() };
        let exported = std::fs::read(out.path().join("web").join(&file)).unwrap();
        assert!(response.bytes().await.unwrap() == exported, "{path} differs from the exported web/{file}");

        // A client that has the page gets 304.
        let etag = headers["etag"].to_str().unwrap();
        let again = server.client.get(server.url(path)).header("If-None-Match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    for missing in ["/de/service/gibt-es-nicht/", "/de/nirgends/", "/en/service/personalausweis-beantragen/extra/"] {
        assert_eq!(server.get(missing).await.status(), 404, "{missing}");
    }
    // The API and its documents live beside the site.
    for path in ["/api/v1/service/personalausweis-beantragen", "/openapi.json", "/docs", "/healthz"] {
        assert_eq!(server.get(path).await.status(), 200, "{path}");
    }
}
on_both_databases!(the_served_site_is_the_exported_site);

async fn drafts_are_previewed_to_token_holders_only(db: TestDb) {
    let (editor, publisher) = (token(&db, "editor", &[]), token(&db, "publisher", &[]));
    let server = Server::start(&db, &repo_path("content"));
    let editing = Client { server: &server, token: editor.clone() };
    let path = "/api/v1/manage/service/personalausweis-beantragen";
    let (_, etag, entry) = editing.send(Method::GET, path, None, None).await;
    let mut fields = entry["fields"].clone();
    fields["name"] = json!("Personalausweis beantragen (Entwurf)");
    let (status, _, saved) = editing.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200, "{saved}");

    let preview = "/preview/de/service/personalausweis-beantragen/";
    assert_eq!(server.get(preview).await.status(), 401, "no token, no preview");
    let forged = server.client.get(server.url(preview)).bearer_auth("kat_0123456789ab_forged").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let by_link = server.get(&format!("{preview}?token={editor}")).await;
    assert_eq!(by_link.status(), 200);
    assert_eq!(by_link.headers()["cache-control"], "no-store");
    assert_eq!(by_link.headers()["x-robots-tag"], "noindex");
    assert!(by_link.text().await.unwrap().contains("<h1>Personalausweis beantragen (Entwurf)</h1>"), "the draft is shown");
    let by_header = server.client.get(server.url(preview)).bearer_auth(&editor).send().await.unwrap();
    assert!(by_header.text().await.unwrap().contains("(Entwurf)"));
    assert_eq!(server.get(&format!("/preview/de/service/gibt-es-nicht/?token={editor}")).await.status(), 404);

    let published = server.get(SERVICE_PAGE).await.text().await.unwrap();
    assert!(!published.contains("(Entwurf)"), "the public page shows the published revision");

    let publishing = Client { server: &server, token: publisher };
    let (status, _, body) = publishing.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 200, "{body}");
    let published = server.get(SERVICE_PAGE).await.text().await.unwrap();
    assert!(published.contains("<h1>Personalausweis beantragen (Entwurf)</h1>"), "a publish shows at once");
    let a_z = server.get("/de/a-z/").await.text().await.unwrap();
    assert!(a_z.contains("Personalausweis beantragen (Entwurf)"), "and in the A–Z");
}
on_both_databases!(drafts_are_previewed_to_token_holders_only);
