//! The web site served at `/` from the live content: the pages of the
//! `web` export, made by the same renderer, current after each publish;
//! drafts previewed by token holders only.

use reqwest::Method;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{Client, Server, TestDb, katalog, repo_path, text, token};
use crate::on_both_databases;

const SERVICE_PAGE: &str = "/de/service/personalausweis-beantragen/";

async fn the_served_site_is_the_exported_site(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let out = tempfile::tempdir().unwrap();
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    let export = katalog(&[
        "export",
        "--channel",
        "web",
        "--out",
        out.path().to_str().unwrap(),
        "--database",
        &db.url,
        "--schemas",
        schemas.to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
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
        ("/favicon.ico", "image/vnd.microsoft.icon"),
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

/// What an editor might paste into any text: the start of an HTML comment
/// with a script tag in it, and the end of a script element.
const SCRIPT_LIKE: &str = " <!--<script> Amt </script ";

/// Free text of the schema (no choice, format or pattern), where `SCRIPT_LIKE` may go.
fn is_free_text(node: &serde_json::Value) -> bool {
    node.get("type").and_then(serde_json::Value::as_str) == Some("string")
        && ["enum", "const", "format", "pattern", "x-reference"].iter().all(|k| node.get(k).is_none())
}

/// `value` with `SCRIPT_LIKE` in every free text the schema declares: added
/// to each such text and list of texts, and filled into absent ones of
/// each group the entry has.
fn with_script_like_texts(walker: &katalog::content::schema::SchemaWalker<'_>, node: &serde_json::Value, value: &mut serde_json::Value) {
    use serde_json::Value;
    let node = walker.resolve(node);
    match value {
        Value::Object(map) => {
            for (key, child) in walker.properties(node) {
                match map.get_mut(key.as_str()) {
                    Some(inner) => with_script_like_texts(walker, child, inner),
                    None if is_free_text(walker.resolve(child)) => {
                        map.insert(key.clone(), json!(SCRIPT_LIKE.trim()));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let Some(item) = walker.items(node) else { return };
            items.iter_mut().for_each(|inner| with_script_like_texts(walker, item, inner));
            if is_free_text(item) {
                items.push(json!(SCRIPT_LIKE.trim()));
            }
        }
        Value::String(text) if is_free_text(node) => text.push_str(SCRIPT_LIKE),
        _ => {}
    }
}

/// An office and a service that lists it, with `<!--<script>` and
/// `</script` in every text: their pages (and the JSON-LD in them) still
/// show their content in Chromium.
#[test]
fn script_like_text_in_any_field_leaves_the_pages_readable() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new(crate::helpers::Backend::Sqlite));
    let server = Server::start(&db, &repo_path("content"));
    let registry = katalog::content::Registry::load_dir(&repo_path("schemas")).unwrap();
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let pages = [("office", "buergerbuero-mitte"), ("service", "personalausweis-beantragen")];
    runtime.block_on(async {
        for (content_type, slug) in pages {
            let path = format!("/api/v1/manage/{content_type}/{slug}");
            let (_, etag, entry) = publisher.send(Method::GET, &path, None, None).await;
            let mut fields = entry["fields"].clone();
            let content_type = registry.get(content_type).unwrap();
            with_script_like_texts(&content_type.walker(), &content_type.schema, &mut fields);
            let (status, _, saved) = publisher.send(Method::PUT, &path, etag.as_deref(), Some(json!({"fields": fields}))).await;
            assert_eq!(status, 200, "{saved}");
            let (status, _, published) = publisher.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
            assert_eq!(status, 200, "{published}");
        }
    });
    let browser = Browser::start();
    for (content_type, slug) in pages {
        let page = format!("/de/{content_type}/{slug}/");
        let html = runtime.block_on(async { server.get(&page).await.text().await.unwrap() });
        let json_ld = html.split("<script type=\"application/ld+json\">").nth(1).unwrap_or_else(|| panic!("{page} has JSON-LD: {html}"));
        assert!(json_ld.split("</script>").next().unwrap().contains("Amt"), "{page}: the texts are in the JSON-LD");
        browser.goto(&format!("{}{page}", server.base));
        let shown = browser.execute(
            "const h1 = document.querySelector('main h1'); return [h1 !== null && h1.checkVisibility(), document.querySelector('main')?.innerText ?? ''];",
            json!([]),
        );
        assert_eq!(shown[0], true, "{page}: the heading is shown");
        let main = shown[1].as_str().unwrap();
        assert!(main.contains("<!--<script> Amt </script"), "{page}: the texts are shown as written: {main}");
    }
}

/// People reach pages by the addresses they type: without the trailing
/// slash they are sent on to the page, and an address with nothing gets
/// the site's page saying so in the part's language; clients of the API
/// keep getting problem+json.
async fn people_find_their_way(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let not_following = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (typed, page) in [("/de", "/de/"), ("/en", "/en/"), ("/de/service/personalausweis-beantragen", SERVICE_PAGE), ("/de/a-z?x=1", "/de/a-z/?x=1")] {
        let response = not_following.get(server.url(typed)).send().await.unwrap();
        assert_eq!(response.status(), 301, "{typed}");
        assert_eq!(response.headers()["location"], page, "{typed}");
    }
    assert_eq!(not_following.get(server.url("/style.css")).send().await.unwrap().status(), 200, "files keep their address");
    assert_eq!(server.get("/de").await.url().path(), "/de/", "a browser lands on the start page");

    let browser = |path: &str| server.client.get(server.url(path)).header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8").send();
    for (path, says) in [
        ("/nowhere", "Seite nicht gefunden"),
        ("/de/service/gibt-es-nicht/", "Seite nicht gefunden"),
        ("/en/service/does-not-exist/", "Page not found"),
        ("/de-x-ls/nirgends/", "Diese Seite gibt es nicht"),
    ] {
        let response = browser(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(says) && html.contains("href=\"/"), "{path}: {html}");
    }
    for path in ["/nowhere", "/de/service/gibt-es-nicht/"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    let api = browser("/api/v1/service/gibt-es-nicht").await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
}
on_both_databases!(people_find_their_way);
