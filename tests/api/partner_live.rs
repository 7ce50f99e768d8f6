//! Two katalog instances on loopback: the city serves the partner bundle
//! of its live published content at `/partner/`, and a town subscribes to
//! it, syncs, overrides modules and resolves conflicts through its
//! management API. A bundle spoilt on the way (one byte changed, a file
//! missing, a manifest of a newer format) is refused over HTTP with
//! nothing applied.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Client, LOOPBACK, Server, TestDb, copy_dir, files, repo_path, token};
use crate::on_both_databases;
use crate::partner::export_partner;
use crate::partner_sync::{StaticServer, refused_bundles, state};

const PASSPORT: &str = "personalausweis-beantragen";
const GONE: &str = "kirchenaustritt-erklaeren";

/// The town's own content: an office and a topic of its own.
pub fn town_content() -> tempfile::TempDir {
    let own = tempfile::tempdir().unwrap();
    for (content_type, from, to) in [("topic", "umzug-wohnen", "hafenfest"), ("office", "buergerbuero-mitte", "buergerbuero-hafen")] {
        std::fs::create_dir_all(own.path().join(content_type)).unwrap();
        let text = std::fs::read_to_string(repo_path(&format!("content/{content_type}/{from}.md"))).unwrap();
        std::fs::write(own.path().join(format!("{content_type}/{to}.md")), text).unwrap();
    }
    own
}

/// Edits the newest revision of an entry through the management API and publishes it.
async fn edit_and_publish(client: &Client<'_>, path: &str, message: &str, change: impl FnOnce(&mut Value)) {
    let (status, etag, current) = client.send(Method::GET, path, None, None).await;
    assert_eq!(status, 200, "{current}");
    let mut fields = current["fields"].clone();
    change(&mut fields);
    let saved = client.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields, "message": message}))).await;
    assert_eq!(saved.0, 200, "{}", saved.2);
    let published = client.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(published.0, 200, "{}", published.2);
}

async fn fields_of(client: &Client<'_>, path: &str) -> Value {
    let (status, _, current) = client.send(Method::GET, path, None, None).await;
    assert_eq!(status, 200, "{current}");
    current["fields"].clone()
}

/// Every file of the bundle a server serves, written into `folder`.
async fn download_bundle(server: &Server, folder: &Path) {
    let manifest = server.get("/partner/manifest.json").await.bytes().await.unwrap();
    std::fs::write(folder.join("manifest.json"), &manifest).unwrap();
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        let response = server.get(&format!("/partner/{path}")).await;
        assert_eq!(response.status(), 200, "{path}");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(katalog::digest::sha256_hex(&bytes), file["sha256"].as_str().unwrap(), "{path} as served matches the manifest");
        let target = folder.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

async fn two_katalogs_keep_a_partner_in_step_over_http(city: TestDb) {
    let town = TestDb::new(city.backend()).await;
    let city_server = Server::start(&city, &repo_path("content"));
    let town_content = town_content();
    // The city and the forged bundle's server listen on loopback.
    let town_server = Server::start_with(&town, town_content.path(), &LOOPBACK);
    let city_editor = Client { server: &city_server, token: token(&city, "admin", &[]) };
    let town_admin = Client { server: &town_server, token: token(&town, "admin", &[]) };
    let town_publisher = Client { server: &town_server, token: token(&town, "publisher", &[]) };
    let town_editor = Client { server: &town_server, token: token(&town, "editor", &[]) };

    // The city serves its bundle, made from what is published now.
    let response = city_server.get("/partner/manifest.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let manifest: Value = response.json().await.unwrap();
    let indexed = manifest["entries"].as_array().unwrap().len();
    assert!(indexed > 50, "{indexed} entries");
    assert_eq!(city_server.get("/partner/entries/service/no-such-service.json").await.status(), 404);
    // What an interrupted export left beside the bundle's files is not served.
    std::fs::write(city_server.partner_bundle.path().join("partner/.manifest.json.katalog-new"), "{}").unwrap();
    assert_eq!(city_server.get("/partner/.manifest.json.katalog-new").await.status(), 404);

    // A bundle spoilt on the way is refused, naming the file, and nothing is applied.
    let forged = tempfile::tempdir().unwrap();
    let pristine = tempfile::tempdir().unwrap();
    download_bundle(&city_server, pristine.path()).await;
    let exported = tempfile::tempdir().unwrap();
    export_partner(&city, exported.path());
    assert!(files(pristine.path()) == files(&exported.path().join("partner")), "the served bundle is the exported one");
    let static_server = StaticServer::start(forged.path());
    let subscription = json!({"name": "forged", "source": format!("{}/", static_server.base)});
    let (status, _, added) = town_admin.send(Method::POST, "/api/v1/manage/partners", None, Some(subscription)).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["auto_publish"], json!(false));
    let before = state(&town).await;
    let passport_file = format!("entries/service/{PASSPORT}.json");
    let tampers = refused_bundles(&passport_file);
    for (what, message, tamper) in &tampers {
        std::fs::remove_dir_all(forged.path()).unwrap();
        copy_dir(pristine.path(), forged.path());
        tamper(forged.path());
        let (status, _, problem) = town_publisher.send(Method::POST, "/api/v1/manage/partners/forged/sync", None, None).await;
        assert_eq!(status, 422, "{what}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(message) && detail.contains("nothing was applied"), "{what}: {detail}");
        assert_eq!(state(&town).await, before, "{what}: something was applied");
    }
    drop(static_server);
    let (status, _, problem) = town_publisher.send(Method::POST, "/api/v1/manage/partners/forged/sync", None, None).await;
    assert_eq!(status, 502, "an unreachable source: {problem}");

    // Subscribing is for admins, syncing for publishers.
    let subscription = json!({"name": "stuttgart", "source": city_server.url("/partner/"), "auto_publish": true});
    let (status, _, _) = town_publisher.send(Method::POST, "/api/v1/manage/partners", None, Some(subscription.clone())).await;
    assert_eq!(status, 403);
    let (status, _, added) = town_admin.send(Method::POST, "/api/v1/manage/partners", None, Some(subscription.clone())).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!((added["name"].as_str(), added["auto_publish"].as_bool(), added["content_version"].as_i64()), (Some("stuttgart"), Some(true), Some(0)));
    assert_eq!(town_admin.send(Method::POST, "/api/v1/manage/partners", None, Some(subscription)).await.0, 409);
    let folder = json!({"name": "local", "source": "/srv/bundles"});
    assert_eq!(town_admin.send(Method::POST, "/api/v1/manage/partners", None, Some(folder)).await.0, 422, "folders only from the command line");
    assert_eq!(town_editor.send(Method::POST, "/api/v1/manage/partners/stuttgart/sync", None, None).await.0, 403);
    assert_eq!(town_publisher.send(Method::POST, "/api/v1/manage/partners/nowhere/sync", None, None).await.0, 404);

    let sync = async || {
        let (status, _, report) = town_publisher.send(Method::POST, "/api/v1/manage/partners/stuttgart/sync", None, None).await;
        assert_eq!(status, 200, "{report}");
        report
    };
    let first = sync().await;
    assert_eq!((first["new"].as_array().unwrap().len(), first["published"].as_bool()), (indexed, Some(true)), "{first}");
    assert_eq!(town_server.get(&format!("/api/v1/service/{PASSPORT}")).await.status(), 200, "auto-published");
    let listed = manifest["files"].as_array().unwrap().len() as u64;
    assert_eq!(first["files_read"].as_u64(), Some(listed), "the first sync reads every file");
    let again = sync().await;
    assert_eq!((again["new"].clone(), again["changed"].clone(), again["unchanged"].as_u64()), (json!([]), json!([]), Some(indexed as u64)), "{again}");
    assert_eq!(again["files_read"].as_u64(), Some(0), "an unchanged bundle: the manifest alone");

    // The town sets its own fee and its own office for the ID card.
    let passport = format!("/api/v1/manage/service/{PASSPORT}");
    let town_office = json!([{"office": "buergerbuero-hafen", "role": "responsible"}]);
    edit_and_publish(&town_publisher, &passport, "Gebühr und Bürgerbüro der Stadt", |fields| {
        fields["fees"][0]["amount"] = json!(39.0);
        fields["responsible_offices"] = town_office.clone();
    })
    .await;

    // The city changes the prerequisites and the fee.
    let old_fee = fields_of(&city_editor, &passport).await["fees"][0]["amount"].clone();
    edit_and_publish(&city_editor, &passport, "Nebenwohnsitz genügt, neue Gebühr", |fields| {
        let prerequisites = fields["prerequisites"].as_str().unwrap().to_owned();
        fields["prerequisites"] = json!(format!("{prerequisites}\n\nEin Nebenwohnsitz genügt."));
        fields["fees"][0]["amount"] = json!(48.0);
    })
    .await;

    let second = sync().await;
    assert_eq!(second["changed"], json!([format!("service/{PASSPORT}")]), "{second}");
    // The entry file and its CPSV-AP document; nothing else changed.
    assert_eq!(second["files_read"].as_u64(), Some(2), "only what changed is fetched: {second}");
    assert_eq!(second["conflicts"], json!([format!("service/{PASSPORT} fees (de)")]), "{second}");
    let fields = fields_of(&town_publisher, &passport).await;
    assert!(fields["prerequisites"].as_str().unwrap().ends_with("Ein Nebenwohnsitz genügt."), "an untouched module follows upstream");
    assert_eq!(fields["responsible_offices"], town_office, "an override is kept");
    assert_eq!(fields["fees"][0]["amount"], json!(39.0), "an override in conflict is kept until resolved");
    let (status, _, stuttgart) = town_editor.send(Method::GET, "/api/v1/manage/partners/stuttgart", None, None).await;
    assert_eq!(status, 200, "{stuttgart}");
    let conflict = &stuttgart["conflicts"][0];
    assert_eq!((conflict["slug"].as_str(), conflict["module"].as_str(), conflict["locale"].as_str()), (Some(PASSPORT), Some("fees"), Some("de")));
    assert_eq!(
        (conflict["here"][0]["amount"].clone(), conflict["upstream"][0]["amount"].clone(), conflict["base"][0]["amount"].clone()),
        (json!(39.0), json!(48.0), old_fee)
    );
    assert_eq!(conflict["diff"], json!([{"pointer": "/0/amount", "here": 39.0, "upstream": 48.0}]));

    // The town takes the city's fee.
    let decision = json!({"type": "service", "slug": PASSPORT, "module": "fees", "resolution": "take_upstream"});
    let (status, _, resolved) = town_editor.send(Method::POST, "/api/v1/manage/partners/stuttgart/conflicts/resolve", None, Some(decision)).await;
    assert_eq!(status, 200, "{resolved}");
    assert!(resolved["revision"].is_i64(), "{resolved}");
    let fields = fields_of(&town_publisher, &passport).await;
    assert_eq!((fields["fees"][0]["amount"].clone(), fields["responsible_offices"].clone()), (json!(48.0), town_office));
    let (_, _, stuttgart) = town_editor.send(Method::GET, "/api/v1/manage/partners/stuttgart", None, None).await;
    assert_eq!(stuttgart["conflicts"], json!([]));

    // The city deletes a service: the town keeps it, marked and taken off its channels.
    let gone = format!("/api/v1/manage/service/{GONE}");
    assert_eq!(city_editor.send(Method::POST, &format!("{gone}/trash"), None, None).await.0, 200);
    assert_eq!(city_editor.send(Method::DELETE, &gone, None, None).await.0, 204);
    let third = sync().await;
    assert_eq!(third["withdrawn"], json!([format!("service/{GONE}")]), "{third}");
    let (_, _, stuttgart) = town_editor.send(Method::GET, "/api/v1/manage/partners/stuttgart", None, None).await;
    assert_eq!(stuttgart["withdrawn"], json!([{"type": "service", "slug": GONE, "action": "delete", "content_version": third["content_version"]}]));
    assert_eq!(town_server.get(&format!("/api/v1/service/{GONE}")).await.status(), StatusCode::NOT_FOUND, "unpublished like upstream");
    assert_eq!(town_publisher.send(Method::GET, &gone, None, None).await.0, 200, "and kept");

    // An upstream entry the town deleted comes back with the next sync,
    // as from the whole bundle, although its file did not change.
    let article = "/api/v1/manage/article/oeffnungszeiten-feiertage";
    assert_eq!(town_admin.send(Method::POST, &format!("{article}/trash"), None, None).await.0, 200);
    assert_eq!(town_admin.send(Method::DELETE, article, None, None).await.0, 204);
    let fourth = sync().await;
    assert_eq!((fourth["new"].clone(), fourth["files_read"].as_u64()), (json!(["article/oeffnungszeiten-feiertage"]), Some(1)), "{fourth}");
}
on_both_databases!(two_katalogs_keep_a_partner_in_step_over_http);
