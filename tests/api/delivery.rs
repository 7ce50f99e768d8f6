//! The read API over the sample content.

use katalog::content::file_format;
use katalog::content::{Locale, Registry};
use serde_json::Value;

use crate::helpers::{Backend, Server, TestDb, repo_path, response_cache_hits, sample_content};
use crate::on_both_databases;

/// What the editorial file says, parsed by the same code the import uses.
fn document_of(file: &str, locale: Locale) -> Value {
    let registry = Registry::load_dir(&repo_path("schemas")).unwrap();
    let content_type = registry.get(file.split('/').next().unwrap()).unwrap();
    let bytes = std::fs::read(repo_path("content").join(file)).unwrap();
    file_format::parse(&bytes, content_type, locale).unwrap().document
}

async fn serves_the_id_card_service_with_every_field(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let response = server.get("/api/v1/service/personalausweis-beantragen").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-language"], "de");
    assert_eq!(response.headers()["vary"], "Accept-Language, Accept-Encoding");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "service");
    assert_eq!(body["slug"], "personalausweis-beantragen");
    assert_eq!(body["locale"], "de");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["fields"], document_of("service/personalausweis-beantragen.md", Locale::De));
    for field in ["leika", "name", "full_text", "prerequisites", "procedure", "fees", "responsible_offices", "keywords"] {
        assert!(body["fields"].get(field).is_some(), "{field} missing");
    }
    let by_id = server.get_json(&format!("/api/v1/service/{}", body["id"].as_str().unwrap())).await;
    assert_eq!(by_id, body);
}
on_both_databases!(serves_the_id_card_service_with_every_field);

async fn translations_fall_back_to_german(db: TestDb) {
    let content = sample_content();
    // A partial translation: only the name of an office is translated.
    std::fs::write(content.path().join("office/fundbuero.en.md"), "+++\nname = \"Lost property office\"\n+++\n").unwrap();
    let server = Server::start(&db, content.path());

    let english = server.get_json("/api/v1/service/personalausweis-beantragen?locale=en").await;
    assert_eq!(english["locale"], "en");
    assert_eq!(english["requested_locale"], "en");
    let source = document_of("service/personalausweis-beantragen.md", Locale::De);
    let translation = document_of("service/personalausweis-beantragen.en.md", Locale::En);
    assert_eq!(english["fields"]["name"], translation["name"]);
    // Structured values come from the German source.
    assert_eq!(english["fields"]["leika"], source["leika"]);
    assert_eq!(english["fields"]["fees"][0]["amount"], source["fees"][0]["amount"]);
    assert_eq!(english["fields"]["fees"][0]["label"], translation["fees"][0]["label"]);

    let partial = server.get_json("/api/v1/office/fundbuero?locale=en").await;
    assert_eq!(partial["locale"], "en");
    assert_eq!(partial["fields"]["name"], "Lost property office");
    let fallbacks: Vec<&str> = partial["fallback_fields"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(fallbacks.contains(&"/description"), "{fallbacks:?}");
    assert!(!fallbacks.contains(&"/name"), "{fallbacks:?}");
    let german = document_of("office/fundbuero.md", Locale::De);
    assert_eq!(partial["fields"]["description"], german["description"]);

    // No Leichte Sprache version of this service: German is served, and says so.
    let easy = server.get("/api/v1/service/reisepass-beantragen?locale=de-x-ls").await;
    assert_eq!(easy.headers()["content-language"], "de");
    let easy: Value = easy.json().await.unwrap();
    assert_eq!((easy["locale"].as_str(), easy["requested_locale"].as_str()), (Some("de"), Some("de-x-ls")));

    let by_header = server.client.get(server.url("/api/v1/service/wohnsitz-anmelden")).header("Accept-Language", "de-x-ls, de;q=0.5").send().await.unwrap();
    let by_header: Value = by_header.json().await.unwrap();
    assert_eq!(by_header["locale"], "de-x-ls");
    assert_eq!(by_header["fields"]["name"], document_of("service/wohnsitz-anmelden.de-x-ls.md", Locale::DeEasy)["name"]);

    let unknown = server.get("/api/v1/service/wohnsitz-anmelden?locale=fr").await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.headers()["content-type"], "application/problem+json");
}
on_both_databases!(translations_fall_back_to_german);

async fn lists_page_with_keyset_cursors(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut slugs = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/service?limit=7&cursor={c}"),
            None => "/api/v1/service?limit=7".to_owned(),
        };
        let page = server.get_json(&path).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        slugs.extend(items.iter().map(|i| i["slug"].as_str().unwrap().to_owned()));
        assert!(page.get("total").is_none(), "no total counts");
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let files = std::fs::read_dir(repo_path("content/service"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|name| name.ends_with(".md") && name.matches('.').count() == 1)
        .count();
    assert_eq!(slugs.len(), files, "every service exactly once");
    let mut sorted = slugs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, slugs, "slug order without duplicates");
    assert_eq!(pages, files.div_ceil(7));

    let english = server.get_json("/api/v1/service?limit=100&locale=en").await;
    let items = english["items"].as_array().unwrap();
    let id_card = items.iter().find(|i| i["slug"] == "personalausweis-beantragen").unwrap();
    assert_eq!(id_card["locale"], "en");
    let passport_child = items.iter().find(|i| i["slug"] == "kinderreisepass-beantragen").unwrap();
    assert_eq!(passport_child["locale"], "de");

    // A cursor of one type's list is refused by another's.
    let services = server.get_json("/api/v1/service?limit=1").await;
    let service_cursor = services["next_cursor"].as_str().unwrap();
    assert_eq!(server.get(&format!("/api/v1/office?cursor={service_cursor}")).await.status(), 400);

    // More than a page holds is served as the most it holds.
    assert_eq!(server.get_json("/api/v1/service?limit=101").await, server.get_json("/api/v1/service?limit=100").await);
    for bad in ["/api/v1/service?limit=0", "/api/v1/service?cursor=not-a-cursor", "/api/v1/service?limit=abc"] {
        let response = server.get(bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 400);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{bad}: {problem}");
    }
}
on_both_databases!(lists_page_with_keyset_cursors);

async fn errors_are_problem_json(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    for (path, status) in [("/api/v1/service/does-not-exist", 404), ("/api/v1/unicorn/x", 404), ("/api/v1/unicorn", 404), ("/no/such/route/at/all", 404)] {
        let response = server.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status, "{path}");
        assert!(problem["type"].as_str().is_some() && problem["title"].as_str().is_some(), "{path}: {problem}");
    }
    let wrong_method = server.client.delete(server.url("/api/v1/service/x")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
}
on_both_databases!(errors_are_problem_json);

/// Every problem `type` is a page that explains it, and the types of real
/// answers lead there.
#[tokio::test]
async fn every_problem_type_explains_itself() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &repo_path("content"));
    for kind in katalog::http::problem::ProblemKind::ALL {
        let response = server.get(&format!("/problems/{}", kind.slug())).await;
        assert_eq!(response.status(), 200, "{kind:?}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "{kind:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&format!("<h1>{}</h1>", kind.title())), "{kind:?}: {page}");
    }
    let wrong_method = server.client.delete(server.url("/api/v1/service")).send().await.unwrap();
    let mut answers = vec![wrong_method];
    for path in [
        "/api/v1/service/does-not-exist",
        "/api/v1/service?locale=fr",
        "/api/v1/service?cursor=x",
        "/api/v1/service?limit=0",
        "/api/v1/search?q=a&type=unicorn",
    ] {
        answers.push(server.get(path).await);
    }
    for answer in answers {
        let problem: Value = answer.json().await.unwrap();
        let explained = server.get(problem["type"].as_str().unwrap()).await;
        assert_eq!(explained.status(), 200, "{problem}");
        assert!(explained.text().await.unwrap().contains(problem["title"].as_str().unwrap()), "{problem}");
    }
    let unknown = server.get("/problems/unicorn").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["content-type"], "application/problem+json");
}

async fn openapi_docs_and_health(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let spec = server.get_json("/openapi.json").await;
    assert_eq!(spec["openapi"], "3.1.0");
    for path in ["/api/v1/{content_type}/{id_or_slug}", "/api/v1/service/{id_or_slug}", "/api/v1/office", "/healthz"] {
        assert!(spec["paths"].get(path).is_some(), "{path} not documented");
    }
    let service_fields = &spec["components"]["schemas"]["ServiceFields"];
    assert_eq!(service_fields["properties"]["leika"]["pattern"], "^[0-9]{14}$");
    assert_eq!(service_fields["properties"]["fees"]["items"]["$ref"], "#/components/schemas/Service_fee");
    assert!(spec["components"]["schemas"]["Service_fee"].is_object());
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    // The public reads no internal field, so its schema names none.
    let article_fields = &spec["components"]["schemas"]["ArticleFields"];
    assert!(article_fields["properties"].get("title").is_some() && article_fields["properties"].get("agent_notes").is_none(), "{article_fields}");
    // Lists are typed per content type through named components.
    let service_list = &spec["paths"]["/api/v1/service"]["get"]["responses"]["200"]["content"]["application/json; charset=utf-8"]["schema"];
    assert_eq!(service_list["$ref"], "#/components/schemas/ServiceEntryList");
    let list_items = &spec["components"]["schemas"]["ServiceEntryList"]["allOf"][1]["properties"]["items"]["items"];
    assert_eq!(list_items["$ref"], "#/components/schemas/ServiceEntry");
    // Parameters read together are still documented one by one.
    let parameters = |path: &str, method: &str| -> Vec<String> {
        spec["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p["in"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect()
    };
    let listed = parameters("/api/v1/service", "get");
    for expected in ["query limit", "query cursor", "query locale", "header Accept-Language", "header If-None-Match", "query topic", "query changed_since"] {
        assert!(listed.iter().any(|p| p == expected), "{expected} missing from {listed:?}");
    }
    assert!(parameters("/api/v1/manage/{content_type}/{id_or_slug}/diff", "get").contains(&"query from".to_owned()));
    assert!(!spec.to_string().contains("x-katalog-parameter-group"), "a parameter group was left unexpanded");
    // A described reference is a `$ref` with its description beside it, never wrapped in allOf.
    let resolution = &spec["components"]["schemas"]["ConflictResolution"]["properties"]["resolution"];
    assert_eq!(resolution["$ref"], "#/components/schemas/ResolutionChoice", "{resolution}");
    assert!(resolution["description"].is_string() && resolution.get("allOf").is_none(), "{resolution}");
    let not_found = &spec["paths"]["/api/v1/service/{id_or_slug}"]["get"]["responses"]["404"]["content"];
    assert!(not_found.get("application/problem+json").is_some(), "{not_found}");

    let docs = server.get("/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle") && html.contains("ServiceFields"));
    assert!(!html.contains("src=\"http"), "docs must work offline");

    let health = server.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
}
on_both_databases!(openapi_docs_and_health);

async fn conditional_requests(db: TestDb) {
    let content = sample_content();
    let server = Server::start(&db, content.path());
    let path = "/api/v1/service/personalausweis-beantragen";
    let first = server.get(path).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "strong ETag: {etag}");
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("stale-while-revalidate"));
    assert!(first.headers()["last-modified"].to_str().unwrap().ends_with(" GMT"));

    let conditional = |value: String| {
        let request = server.client.get(server.url(path)).header("If-None-Match", value);
        async move { request.send().await.unwrap() }
    };
    let again = conditional(etag.clone()).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    assert_eq!(conditional(format!("W/{etag}")).await.status(), 304);
    assert_eq!(conditional("\"something-else\"".into()).await.status(), 200);

    // Another locale is another representation.
    let english = server.get(&format!("{path}?locale=en")).await;
    assert_ne!(english.headers()["etag"], etag.as_str());

    // A publish changes the representation.
    let file = content.path().join("service/personalausweis-beantragen.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("name = \"", "name = \"Neu: ", 1)).unwrap();
    assert!(crate::helpers::import(&db, content.path()).status.success());
    // Another process published: this server learns of it from the change log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let changed = loop {
        let response = conditional(etag.clone()).await;
        if response.status() != 304 || std::time::Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"], etag.as_str());

    let list = server.get("/api/v1/office?limit=3").await;
    let list_etag = list.headers()["etag"].to_str().unwrap().to_owned();
    let list_again = server.client.get(server.url("/api/v1/office?limit=3")).header("If-None-Match", &list_etag).send().await.unwrap();
    assert_eq!(list_again.status(), 304);
}
on_both_databases!(conditional_requests);

async fn gzip_for_clients_that_accept_it(db: TestDb) {
    use std::io::Read;
    let server = Server::start(&db, &repo_path("content"));
    for path in ["/api/v1/service/personalausweis-beantragen?expand=offices", "/api/v1/service?limit=20"] {
        let plain = server.get(path).await;
        assert!(plain.headers().get("content-encoding").is_none());
        let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
        let plain_body = plain.bytes().await.unwrap();

        let request = |accept: &str| server.client.get(server.url(path)).header("Accept-Encoding", accept.to_owned()).send();
        let zipped = request("br;q=1, gzip;q=0.8").await.unwrap();
        assert_eq!(zipped.status(), 200);
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(zipped.headers()["vary"], "Accept-Language, Accept-Encoding");
        let zipped_etag = zipped.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(zipped_etag, plain_etag, "each encoding is its own representation");
        let compressed = zipped.bytes().await.unwrap();
        assert!(compressed.len() * 2 < plain_body.len(), "{path}: {} of {} bytes", compressed.len(), plain_body.len());
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, plain_body, "{path}");

        assert!(request("gzip;q=0").await.unwrap().headers().get("content-encoding").is_none());
        let revalidated = server.client.get(server.url(path)).header("Accept-Encoding", "gzip").header("If-None-Match", &zipped_etag).send().await.unwrap();
        assert_eq!(revalidated.status(), 304);
        assert_eq!(revalidated.headers()["etag"], zipped_etag.as_str());
    }
    // Small bodies are not worth compressing.
    let small = server.client.get(server.url("/api/v1/service?topic=gibt-es-nicht")).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());
}
on_both_databases!(gzip_for_clients_that_accept_it);

async fn expansion_filters_and_reverse_links(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let service = server.get_json("/api/v1/service/personalausweis-beantragen?expand=offices").await;
    let included = service["included"].as_object().unwrap();
    let mitte = &included["office/buergerbuero-mitte"];
    assert!(mitte["fields"]["address"].is_object() && mitte["fields"]["opening_hours"].is_array(), "{mitte}");
    assert!(mitte["fields"].get("description").is_none(), "only the fields an office shows when expanded");
    assert!(included.keys().all(|k| k.starts_with("office/")));
    let offices = service["fields"]["responsible_offices"].as_array().unwrap();
    assert_eq!(included.len(), offices.len());

    let everything = server.get_json("/api/v1/service/personalausweis-beantragen?expand=all&locale=en").await;
    let keys: Vec<&String> = everything["included"].as_object().unwrap().keys().collect();
    assert!(keys.iter().any(|k| k.starts_with("topic/")) && keys.iter().any(|k| k.starts_with("service/")), "{keys:?}");
    assert_eq!(everything["included"]["office/buergerbuero-mitte"]["locale"], "en", "expanded entries follow the locale");
    assert_eq!(server.get("/api/v1/service/personalausweis-beantragen?expand=unicorns").await.status(), 400);

    let office = server.get_json("/api/v1/office/standesamt?expand=referenced_by").await;
    let referring = office["referenced_by"].as_array().unwrap();
    assert!(referring.iter().any(|r| r["slug"] == "geburtsurkunde-beantragen" && r["via"] == "responsible_offices"), "{referring:?}");
    assert!(referring.iter().all(|r| r["fields"].get("full_text").is_none()));

    let at_registry = server.get_json("/api/v1/service?office=standesamt&limit=100").await;
    let items = at_registry["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        let offices = item["fields"]["responsible_offices"].as_array().unwrap();
        assert!(offices.iter().any(|o| o["office"] == "standesamt"), "{}", item["slug"]);
    }
    let moving = server.get_json("/api/v1/service?topic=umzug-wohnen&limit=100").await;
    assert!(moving["items"].as_array().unwrap().iter().any(|i| i["slug"] == "wohnsitz-anmelden"));
    let leika = service["fields"]["leika"].as_str().unwrap();
    let by_key = server.get_json(&format!("/api/v1/service?leika={leika}")).await;
    let found: Vec<&str> = by_key["items"].as_array().unwrap().iter().map(|i| i["slug"].as_str().unwrap()).collect();
    assert_eq!(found, ["personalausweis-beantragen"]);
    let future = server.get_json("/api/v1/service?changed_since=2100-01-01T00:00:00Z").await;
    assert!(future["items"].as_array().unwrap().is_empty());
    let listed = server.get_json("/api/v1/service?office=standesamt&expand=topics").await;
    assert!(listed["included"].as_object().unwrap().keys().all(|k| k.starts_with("topic/")));
}
on_both_databases!(expansion_filters_and_reverse_links);

async fn markdown_is_delivered_as_safe_html(db: TestDb) {
    let content = sample_content();
    let file = content.path().join("topic/todesfall.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let attack = "<script>alert(1)</script>\n\n[Termin](javascript:alert(1))\n\nText <img src=x onerror=alert(1)>";
    std::fs::write(&file, format!("{}\n\n{attack}\n", text.trim_end())).unwrap();
    let server = Server::start(&db, content.path());
    let topic = server.get_json("/api/v1/topic/todesfall").await;
    let source = topic["fields"]["description"].as_str().unwrap();
    assert!(source.contains("<script>"), "the source is delivered as written");
    let html = topic["html"]["description"].as_str().unwrap();
    assert!(html.contains("<p>"), "{html}");
    for forbidden in ["<script", "href=\"javascript:", "onerror"] {
        assert!(!html.to_lowercase().contains(forbidden), "{forbidden} survived: {html}");
    }
    let service = server.get_json("/api/v1/service/personalausweis-beantragen?locale=en").await;
    let prerequisites = service["html"]["prerequisites"].as_str().unwrap();
    assert!(prerequisites.contains("<li>"), "{prerequisites}");
}
on_both_databases!(markdown_is_delivered_as_safe_html);

async fn a_publish_through_one_server_is_served_by_another(db: TestDb) {
    let first = Server::start(&db, &repo_path("content"));
    let second = Server::start(&db, &repo_path("content"));
    let path = "/api/v1/service/wohngeld-beantragen";
    let before = second.get_json(path).await;
    let token = crate::helpers::named_token(&db, "publisher", "t", &[]);
    let manage = first.url("/api/v1/manage/service/wohngeld-beantragen");
    let entry = first.client.get(&manage).bearer_auth(&token).send().await.unwrap();
    let etag = entry.headers()["etag"].to_str().unwrap().to_owned();
    let mut fields = entry.json::<Value>().await.unwrap()["fields"].clone();
    fields["name"] = serde_json::json!("Wohngeld beantragen (neu)");
    let saved = first.client.put(&manage).bearer_auth(&token).header("If-Match", etag).json(&serde_json::json!({"fields": fields})).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let published =
        first.client.post(format!("{manage}/transitions")).bearer_auth(&token).json(&serde_json::json!({"action": "publish"})).send().await.unwrap();
    assert_eq!(published.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let now = second.get_json(path).await;
        if now["fields"]["name"] == "Wohngeld beantragen (neu)" {
            assert_ne!(now["revision"], before["revision"]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the other server still serves the old revision after a second");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
on_both_databases!(a_publish_through_one_server_is_served_by_another);

/// Polls `path` until `check` holds; fails after a second.
async fn within_a_second(server: &Server, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let body = server.get_json(path).await;
        if check(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "{path} is still stale after a second: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn cached_responses_follow_what_they_show(db: TestDb) {
    let content = sample_content();
    let server = Server::start(&db, content.path());
    let expanded = "/api/v1/service/personalausweis-beantragen?expand=offices";
    let listed = "/api/v1/service?office=buergerbuero-mitte&expand=offices&limit=100";
    let offices = "/api/v1/office?limit=100";
    let first = server.get(expanded).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = server.get(expanded).await;
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag, "the same representation is served again");
    let office_of = |body: &Value| body["included"]["office/buergerbuero-mitte"]["fields"]["name"].as_str().map(str::to_owned);
    assert_eq!(office_of(&server.get_json(listed).await).as_deref(), Some("Bürgerbüro Mitte"));
    assert!(server.get_json(offices).await.to_string().contains("Bürgerbüro Mitte"));

    // Another process publishes a new name of the office: every cached
    // response that shows the office goes.
    let file = content.path().join("office/buergerbuero-mitte.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("name = \"Bürgerbüro Mitte\"", "name = \"Bürgerbüro Stadtmitte\"", 1)).unwrap();
    assert!(crate::helpers::import(&db, content.path()).status.success());
    within_a_second(&server, expanded, |body| office_of(body).as_deref() == Some("Bürgerbüro Stadtmitte")).await;
    within_a_second(&server, listed, |body| office_of(body).as_deref() == Some("Bürgerbüro Stadtmitte")).await;
    within_a_second(&server, offices, |body| body.to_string().contains("Bürgerbüro Stadtmitte")).await;
    let changed = server.get(expanded).await;
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    // A service that starts to refer to an office shows up in the office's reverse links.
    let reverse = "/api/v1/office/standesamt?expand=referenced_by";
    let referring = |body: &Value| body["referenced_by"].as_array().unwrap().iter().any(|r| r["slug"] == "wohngeld-beantragen");
    assert!(!referring(&server.get_json(reverse).await));
    let file = content.path().join("service/wohngeld-beantragen.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let (front, _) = text.split_once("[[responsible_offices]]").expect("the service names its offices");
    let rest = &text[front.len()..];
    std::fs::write(&file, format!("{front}[[responsible_offices]]\noffice = \"standesamt\"\nrole = \"responsible\"\n\n{rest}")).unwrap();
    let imported = crate::helpers::import(&db, content.path());
    assert!(imported.status.success(), "{}", crate::helpers::text(&imported.stderr));
    within_a_second(&server, reverse, referring).await;
}
on_both_databases!(cached_responses_follow_what_they_show);

async fn changed_since_between_the_same_publications_names_one_cached_list(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let list = |since: &str| format!("/api/v1/service?expand=all&limit=100&changed_since={since}");
    // Before every publication: the whole list, whatever the time.
    let all = server.get_json(&list("2001-01-01T00:00:00Z")).await;
    assert!(!all["items"].as_array().unwrap().is_empty());
    let hits = response_cache_hits(&server).await;
    assert_eq!(server.get_json(&list("2011-06-15T12:30:00Z")).await, all);
    assert_eq!(server.get_json(&list("2024-12-31T23:59:59.999Z")).await, all);
    assert_eq!(response_cache_hits(&server).await, hits + 2, "each later time before the first publication is a cache hit");

    // After the last publication: nothing, whatever the time.
    let none = server.get_json(&list("2199-01-01T00:00:00Z")).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let hits = response_cache_hits(&server).await;
    assert_eq!(server.get_json(&list("2299-01-01T00:00:00%2B02:00")).await, none);
    assert_eq!(response_cache_hits(&server).await, hits + 1);

    // A publication after a time asked for joins that time's list.
    let now = chrono::Utc::now();
    let before = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // What is published from here on is later, at any precision the databases keep.
    while chrono::Utc::now() < now + chrono::Duration::milliseconds(1) {
        tokio::task::yield_now().await;
    }
    assert!(server.get_json(&list(&before)).await["items"].as_array().unwrap().is_empty());
    let publisher = crate::helpers::token(&db, "publisher", &[]);
    let client = crate::helpers::Client { server: &server, token: publisher };
    let manage = "/api/v1/manage/service/reisepass-beantragen";
    let (_, etag, entry) = client.send(reqwest::Method::GET, manage, None, None).await;
    let mut fields = entry["fields"].clone();
    fields["name"] = serde_json::json!("Reisepass beantragen – neu");
    let (saved, _, _) = client.send(reqwest::Method::PUT, manage, etag.as_deref(), Some(serde_json::json!({"fields": fields}))).await;
    assert_eq!(saved, 200);
    let (published, _, _) = client.send(reqwest::Method::POST, &format!("{manage}/transitions"), None, Some(serde_json::json!({"action": "publish"}))).await;
    assert_eq!(published, 200);
    let since_before = server.get_json(&list(&before)).await;
    let slugs: Vec<&str> = since_before["items"].as_array().unwrap().iter().map(|item| item["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["reisepass-beantragen"]);
}
on_both_databases!(changed_since_between_the_same_publications_names_one_cached_list);

#[tokio::test]
async fn lists_and_the_sync_feed_over_the_read_limit_get_429() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start_with(&db, &repo_path("content"), &["--rate-limit-read", "3"]);
    assert_eq!(server.get("/api/v1/service").await.status(), 200);
    assert_eq!(server.get("/api/v1/sync").await.status(), 200);
    assert_eq!(server.get("/api/v1/service?expand=all").await.status(), 200);
    let refused = server.get("/api/v1/sync?limit=1000").await;
    assert_eq!(refused.status(), 429, "lists and the sync feed share one allowance");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    assert_eq!(server.get("/api/v1/topic").await.status(), 429);
    assert_eq!(server.get("/api/v1/service/personalausweis-beantragen").await.status(), 200, "single entries are not limited");
    assert_eq!(server.get("/healthz").await.status(), 200);
}
