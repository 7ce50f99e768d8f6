//! One publishing rule through every door: the management API, `validate`,
//! `import --publish` and partner syncs refuse what a channel would drop.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Client, Server, TestDb, katalog, repo_path, sample_content, text, token};
use crate::on_both_databases;

/// Takes the `[processing_time]` table out of an editorial file: the 115
/// knowledge base requires it (`x-required-by` beside a `$ref`).
fn without_processing_time(file: &std::path::Path) {
    let original = std::fs::read_to_string(file).unwrap();
    let start = original.find("[processing_time]").expect("the sample names a processing time");
    let end = original[start..].find("\n\n").map_or(original.len(), |n| start + n + 2);
    std::fs::write(file, format!("{}{}", &original[..start], &original[end..])).unwrap();
}

async fn the_api_refuses_what_a_channel_requires_behind_a_ref(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let path = "/api/v1/manage/service/hundesteuer-anmelden";
    let (_, etag, entry) = publisher.send(Method::GET, path, None, None).await;
    let mut fields = entry["fields"].clone();
    fields.as_object_mut().unwrap().remove("processing_time");
    let (status, _, saved) = publisher.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200, "a draft may lack it: {saved}");
    let (status, _, problem) = publisher.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 422, "{problem}");
    let said = problem.to_string();
    assert!(said.contains("/processing_time") && said.contains("kb115"), "{problem}");
    // The validate endpoint in publish mode says the same.
    let (status, _, checked) = publisher.send(Method::POST, "/api/v1/manage/service/validate?mode=publish", None, Some(json!({"fields": fields}))).await;
    assert!(checked.to_string().contains("/processing_time"), "{status} {checked}");
    // The live revision still has it, in every channel.
    let live = server.get_json("/api/v1/service/hundesteuer-anmelden").await;
    assert!(live["fields"]["processing_time"].is_object(), "{live}");
}
on_both_databases!(the_api_refuses_what_a_channel_requires_behind_a_ref);

#[test]
fn validate_reports_what_each_channel_would_refuse() {
    let content = sample_content();
    without_processing_time(&content.path().join("service/hundesteuer-anmelden.md"));
    let dir = content.path().to_str().unwrap();
    let schemas = repo_path("schemas");
    let checked = katalog(&["validate", dir, "--schemas", schemas.to_str().unwrap()]);
    assert!(!checked.status.success(), "{}", text(&checked.stdout));
    let said = text(&checked.stderr);
    assert!(said.contains("hundesteuer-anmelden.md") && said.contains("/processing_time") && said.contains("kb115"), "{said}");
    let drafts = katalog(&["validate", dir, "--drafts", "--schemas", schemas.to_str().unwrap()]);
    assert!(drafts.status.success(), "{}", text(&drafts.stderr));
}

async fn import_publish_refuses_all_or_nothing(db: TestDb) {
    let content = sample_content();
    without_processing_time(&content.path().join("service/hundesteuer-anmelden.md"));
    // A second entry that cannot go live: it refers to a draft.
    let schemas = repo_path("schemas");
    let (dir, schemas) = (content.path().to_str().unwrap(), schemas.to_str().unwrap());
    let refused = katalog(&["import", dir, "--publish", "--database", &db.url, "--schemas", schemas]);
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    let said = text(&refused.stderr);
    assert!(said.contains("hundesteuer-anmelden.md") && said.contains("/processing_time"), "{said}");
    assert!(said.contains("nothing was imported"), "{said}");
    // Nothing was written: mended, the folder imports whole, every entry new.
    std::fs::copy(repo_path("content/service/hundesteuer-anmelden.md"), content.path().join("service/hundesteuer-anmelden.md")).unwrap();
    let published = katalog(&["import", dir, "--publish", "--database", &db.url, "--schemas", schemas]);
    assert!(published.status.success(), "{}", text(&published.stderr));
    assert!(text(&published.stdout).contains("67 new entries"), "{}", text(&published.stdout));

    // Drafts do not count as published: a changed service that refers to
    // entries imported only as drafts cannot go live with an import that
    // leaves them unchanged.
    let other = TestDb::new(match db.backend() {
        crate::helpers::Backend::Sqlite => crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres => crate::helpers::Backend::Postgres,
    })
    .await;
    let drafts = katalog(&["import", dir, "--database", &other.url, "--schemas", schemas]);
    assert!(drafts.status.success(), "{}", text(&drafts.stderr));
    let file = content.path().join("service/hundesteuer-anmelden.md");
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("Hundesteuermarke.", "Hundesteuermarke (neu).")).unwrap();
    let refused = katalog(&["import", dir, "--publish", "--database", &other.url, "--schemas", schemas]);
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    let said = text(&refused.stderr);
    assert!(said.contains("service/hundesteuer-anmelden.md") && said.contains("which is not published"), "{said}");
}
on_both_databases!(import_publish_refuses_all_or_nothing);

async fn a_partner_sync_publishes_only_what_passes_the_rule_here(city: TestDb) {
    let town = TestDb::new(match city.backend() {
        crate::helpers::Backend::Sqlite => crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres => crate::helpers::Backend::Postgres,
    })
    .await;
    assert!(crate::helpers::import(&city, &repo_path("content")).status.success());
    let out = tempfile::tempdir().unwrap();
    crate::partner::export_partner(&city, out.path());
    // The town's 115 centre needs topics on every service; the city's does not.
    let schemas = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&repo_path("schemas"), schemas.path());
    let service_schema = schemas.path().join("service.schema.json");
    let mut schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&service_schema).unwrap()).unwrap();
    schema["properties"]["topics"]["x-required-by"] = json!(["kb115"]);
    std::fs::write(&service_schema, serde_json::to_vec_pretty(&schema).unwrap()).unwrap();
    let (bundle, schemas) = (out.path().join("partner"), schemas.path().to_str().unwrap().to_owned());
    let added = katalog(&["partner", "add", "stuttgart", "--source", bundle.to_str().unwrap(), "--database", &town.url]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let synced = katalog(&["partner", "sync", "stuttgart", "--publish", "--database", &town.url, "--schemas", &schemas]);
    assert!(synced.status.success(), "{}", text(&synced.stderr));
    let report = text(&synced.stdout);
    // Without topics: kept as a draft, saying why; the article naming it, too.
    assert!(report.contains("service/fundsache-melden (de): cannot be published") && report.contains("/topics"), "{report}");
    assert!(
        report.contains("article/fundbuero-wo-finde-ich (de): cannot be published: related_services: refers to the service `fundsache-melden`"),
        "{report}"
    );

    let server = Server::start(&town, &repo_path("content"));
    assert_eq!(server.get("/api/v1/service/fundsache-melden").await.status(), 404);
    assert_eq!(server.get("/api/v1/article/fundbuero-wo-finde-ich").await.status(), 404);
    // What refers to nothing held back goes live.
    assert_eq!(server.get("/api/v1/office/buergerbuero-mitte").await.status(), 200, "{report}");
    assert_eq!(server.get("/api/v1/topic/umzug-wohnen").await.status(), 200, "{report}");
    let editor = Client { server: &server, token: token(&town, "editor", &[]) };
    let (status, _, held) = editor.send(Method::GET, "/api/v1/manage/service/fundsache-melden", None, None).await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["locales"][0]["state"], "draft", "{held}");
    // Nothing live refers to an entry that is not.
    let connection = sea_orm::Database::connect(&town.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let dangling = connection
        .query_all_raw(sea_orm::Statement::from_string(
            connection.get_database_backend(),
            "SELECT l.to_type, l.to_slug FROM entry_links l WHERE NOT EXISTS (SELECT 1 FROM entries e JOIN publications p ON p.entry_id = e.id \
             WHERE e.content_type = l.to_type AND e.slug = l.to_slug AND p.locale = 'de' AND p.published_number IS NOT NULL)",
        ))
        .await
        .unwrap();
    assert!(dangling.is_empty(), "{} live links point at entries that are not live", dangling.len());
}
on_both_databases!(a_partner_sync_publishes_only_what_passes_the_rule_here);

/// A translation is checked as readers will get it: laid over the German
/// source that is live, not over a newer German draft (which the scheduler
/// and the API once saw differently).
async fn a_translation_is_checked_over_the_live_source(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    let path = "/api/v1/manage/service/personalausweis-beantragen";
    let english = format!("{path}?locale=en");
    let (_, etag, translation) = publisher.send(Method::GET, &english, None, None).await;
    let mut fields = translation["fields"].clone();
    fields["name"] = json!("Apply for an identity card (revised)");
    let (status, _, saved) = publisher.send(Method::PUT, &english, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200, "{saved}");

    // Meanwhile a German draft drops a fee; the live German keeps all three.
    let (_, etag, german) = publisher.send(Method::GET, path, None, None).await;
    let mut fields = german["fields"].clone();
    let fees = fields["fees"].as_array_mut().unwrap();
    assert!(fees.len() > 1, "the sample has several fees");
    fees.pop();
    let (status, _, saved) = publisher.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200, "{saved}");

    let (status, _, published) = publisher.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish", "locale": "en"}))).await;
    assert_eq!(status, 200, "the translation fits the live German source: {published}");
    let served = server.get_json("/api/v1/service/personalausweis-beantragen?locale=en").await;
    assert_eq!(served["locale"], "en", "{served}");
    assert_eq!(served["fields"]["name"], "Apply for an identity card (revised)");
    assert_eq!(served["fields"]["fees"].as_array().unwrap().len(), german["fields"]["fees"].as_array().unwrap().len());
}
on_both_databases!(a_translation_is_checked_over_the_live_source);
