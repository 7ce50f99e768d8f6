//! A partner municipality subscribes to the city's partner bundle: the
//! first sync brings every entry with its upstream identity and provenance,
//! a repeated sync changes nothing, the partner overrides modules, a later
//! bundle brings upstream changes as drafts (overrides kept, an overridden
//! module changed upstream in conflict until resolved) and marks
//! withdrawals, and a tampered bundle is rejected with nothing applied.

use std::path::Path;
use std::process::Output;

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, LOOPBACK, Server, TestDb, copy_dir, import, katalog, repo_path, sample_content, text, token};
use crate::on_both_databases;
use crate::partner::export_partner;
use katalog::content::Locale;
use katalog::store::Store;
use katalog::workflow::State;

const PASSPORT: &str = "personalausweis-beantragen";

/// Spoils a copy of a bundle.
pub type Tamper<'a> = Box<dyn Fn(&Path) + 'a>;

/// Bundles damaged on the way or too new, which every sync refuses before
/// applying anything: what is wrong, how it is reported, how it is made.
pub fn refused_bundles(entry_file: &str) -> Vec<(&'static str, &'static str, Tamper<'_>)> {
    vec![
        (
            "one byte changed",
            "entries/service/personalausweis-beantragen.json: checksum",
            Box::new(move |bundle: &Path| {
                let path = bundle.join(entry_file);
                let mut bytes = std::fs::read(&path).unwrap();
                let at = bytes.iter().position(|b| *b == b'8').unwrap();
                bytes[at] = b'9';
                std::fs::write(path, bytes).unwrap();
            }),
        ),
        (
            "a file missing",
            "entries/office/fundbuero.json: listed in the manifest but missing",
            Box::new(|bundle: &Path| std::fs::remove_file(bundle.join("entries/office/fundbuero.json")).unwrap()),
        ),
        (
            "a newer format",
            "manifest.json: the bundle has format version 99",
            Box::new(|bundle: &Path| {
                let mut manifest = read_json(&bundle.join("manifest.json"));
                manifest["format_version"] = json!(99);
                std::fs::write(bundle.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
            }),
        ),
    ]
}

/// `katalog partner ARGS` on `db`; `add` and `sync` may reach loopback,
/// where the tests serve bundles.
fn partner(db: &TestDb, args: &[&str]) -> Output {
    let schemas = repo_path("schemas");
    let mut all = vec!["partner"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database", &db.url]);
    if args[0] == "sync" {
        all.extend_from_slice(&["--schemas", schemas.to_str().unwrap()]);
    }
    if matches!(args[0], "add" | "sync") {
        all.extend_from_slice(&LOOPBACK);
    }
    katalog(&all)
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn same_backend(db: &TestDb) -> Backend {
    if db.url.starts_with("sqlite") { Backend::Sqlite } else { Backend::Postgres }
}

/// Everything a sync could write, counted.
pub async fn state(db: &TestDb) -> Vec<i64> {
    let connection = Database::connect(&db.url).await.unwrap();
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) AS n FROM entries",
        "SELECT COUNT(*) AS n FROM revisions",
        "SELECT COUNT(*) AS n FROM publications WHERE published_number IS NOT NULL",
        "SELECT COUNT(*) AS n FROM changes",
        "SELECT COUNT(*) AS n FROM upstream_entries WHERE withdrawn_in IS NOT NULL",
        "SELECT COUNT(*) AS n FROM upstream_revisions",
        "SELECT COALESCE(MAX(content_version), 0) AS n FROM partners",
    ] {
        let row = connection.query_one_raw(Statement::from_string(connection.get_database_backend(), sql)).await.unwrap().unwrap();
        counts.push(row.try_get::<i64>("", "n").unwrap());
    }
    connection.close().await.ok();
    counts
}

async fn a_partner_syncs_changes_and_withdrawals(city: TestDb) {
    let town = TestDb::new(same_backend(&city)).await;
    let content = sample_content();
    assert!(import(&city, content.path()).status.success());
    let server = Server::start(&city, content.path());
    let admin = Client { server: &server, token: token(&city, "admin", &[]) };
    // Withdrawn before the partner ever had it: its deletion is ignored.
    let early = "/api/v1/manage/article/oeffnungszeiten-feiertage/transitions";
    assert_eq!(admin.send(Method::POST, early, None, Some(json!({"action": "unpublish"}))).await.0, 200);

    // Something of the town's own, which no sync may touch.
    let own = tempfile::tempdir().unwrap();
    for (content_type, from, to) in [("topic", "umzug-wohnen", "hafenfest"), ("office", "buergerbuero-mitte", "buergerbuero-hafen")] {
        std::fs::create_dir_all(own.path().join(content_type)).unwrap();
        let text = std::fs::read_to_string(repo_path(&format!("content/{content_type}/{from}.md"))).unwrap();
        std::fs::write(own.path().join(format!("{content_type}/{to}.md")), text).unwrap();
    }
    assert!(import(&town, own.path()).status.success());

    let out = tempfile::tempdir().unwrap();
    export_partner(&city, out.path());
    let bundle = out.path().join("partner");
    let manifest = read_json(&bundle.join("manifest.json"));
    assert_eq!(read_json(&bundle.join("deletions.json"))["deletions"].as_array().unwrap().len(), 1);
    let indexed = manifest["entries"].as_array().unwrap().len();

    succeeded(&partner(&town, &["add", "stuttgart", "--source", bundle.to_str().unwrap()]));
    let first = succeeded(&partner(&town, &["sync", "stuttgart", "--publish"]));
    assert!(first.contains(&format!("{indexed} new, 0 changed, 0 withdrawn, 0 unchanged")), "{first}");

    // Upstream identity: the same id, type and slug; version and provenance kept.
    let store = Store::connect(&town.url).await.unwrap();
    let upstream = store.upstream_entries("stuttgart").await.unwrap();
    assert_eq!(upstream.len(), indexed);
    let passport_file = read_json(&bundle.join(format!("entries/service/{PASSPORT}.json")));
    let id = passport_file["id"].as_str().unwrap();
    let known = &upstream[id];
    assert_eq!((known.entry_id.as_str(), known.content_type.as_str(), known.slug.as_str()), (id, "service", PASSPORT));
    assert_eq!(known.upstream_version, passport_file["version"].as_i64().unwrap());
    let record = store.entry_record("service", PASSPORT).await.unwrap().unwrap();
    assert_eq!(record.id, id);
    let german = store.revision(id, Locale::SOURCE, 1).await.unwrap().unwrap();
    assert_eq!(german.document, passport_file["locales"]["de"]["fields"]);
    assert_eq!(german.author, "partner:stuttgart");
    let english = store.revision(id, Locale::parse("en").unwrap(), 1).await.unwrap().unwrap();
    assert_eq!(english.source_number, Some(1), "the translation is current, as upstream");
    let connection = store.connection();
    let provenance = connection
        .query_one_raw(store_statement(&store, &format!("SELECT provenance FROM upstream_revisions WHERE entry_id = '{id}' AND locale = 'de'")))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "provenance")
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&provenance).unwrap(), passport_file["locales"]["de"]["provenance"]);
    // References between imported entries hold: the offices came along, published.
    for office in german.document["responsible_offices"].as_array().unwrap() {
        let slug = office["office"].as_str().unwrap();
        assert!(store.published_entry("office", slug, Locale::SOURCE).await.unwrap().is_some(), "{slug}");
    }
    assert!(store.entry_record("article", "oeffnungszeiten-feiertage").await.unwrap().is_none());

    let again = succeeded(&partner(&town, &["sync", "stuttgart"]));
    assert!(again.contains(&format!("0 new, 0 changed, 0 withdrawn, {indexed} unchanged, 0 conflicts; 0 new revisions")), "{again}");

    // The town sets its own fee and its own office for the ID card, and publishes.
    let town_server = Server::start(&town, content.path());
    let editor = Client { server: &town_server, token: token(&town, "publisher", &[]) };
    let path = format!("/api/v1/manage/service/{PASSPORT}");
    let (_, etag, current) = editor.send(Method::GET, &path, None, None).await;
    let mut fields = current["fields"].clone();
    fields["fees"][0]["amount"] = json!(39.0);
    let town_office = json!([{"office": "buergerbuero-hafen", "role": "responsible"}]);
    fields["responsible_offices"] = town_office.clone();
    let saved = editor.send(Method::PUT, &path, etag.as_deref(), Some(json!({"fields": fields, "message": "Gebühr und Bürgerbüro der Stadt"}))).await;
    assert_eq!(saved.0, 200, "{}", saved.2);
    let published = editor.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(published.0, 200, "{}", published.2);
    drop(town_server);
    let synced = state(&town).await;

    // The city changes the prerequisites and the fee and deletes a service.
    let service = content.path().join(format!("service/{PASSPORT}.md"));
    let source = std::fs::read_to_string(&service).unwrap();
    let changed = source.replacen("amount = 46.0\n", "amount = 48.0\n", 1).replacen("mit Hauptwohnsitz gemeldet", "mit Haupt- oder Nebenwohnsitz gemeldet", 1);
    assert!(changed.contains("48.0") && changed.contains("Nebenwohnsitz"), "the sample service changed; adjust the edit");
    std::fs::write(&service, changed).unwrap();
    assert!(import(&city, content.path()).status.success());
    let gone = "/api/v1/manage/service/kirchenaustritt-erklaeren";
    assert_eq!(admin.send(Method::POST, &format!("{gone}/trash"), None, None).await.0, 200);
    assert_eq!(admin.send(Method::DELETE, gone, None, None).await.0, 204);
    drop(server);
    export_partner(&city, out.path());
    let pristine = tempfile::tempdir().unwrap();
    copy_dir(&bundle, pristine.path());

    // Tampered and incompatible bundles are rejected, naming the file, and
    // nothing is applied.
    let passport_path = format!("entries/service/{PASSPORT}.json");
    let mut tampers = refused_bundles(&passport_path);
    tampers.extend::<[(&str, &str, Tamper); 3]>([
        (
            "an entry that breaks our schema, with a matching checksum",
            "entries/service/personalausweis-beantragen.json: de: /fees/0/amount:",
            Box::new(|bundle: &Path| {
                let mut file = read_json(&bundle.join(&passport_path));
                file["locales"]["de"]["fields"]["fees"][0]["amount"] = json!("achtundvierzig");
                rewrite_listed(bundle, &passport_path, &serde_json::to_vec_pretty(&file).unwrap());
            }),
        ),
        (
            "a content type unknown here",
            "schemas/event.schema.json: content type `event` does not exist here",
            Box::new(|bundle: &Path| {
                rewrite_listed(bundle, "schemas/event.schema.json", b"{}");
                let mut manifest = read_json(&bundle.join("manifest.json"));
                manifest["schemas"]["event"] = json!("schemas/event.schema.json");
                std::fs::write(bundle.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
            }),
        ),
        ("an unlisted file", "notes.txt: not listed in the manifest", Box::new(|bundle: &Path| std::fs::write(bundle.join("notes.txt"), "hello").unwrap())),
    ]);
    for (what, message, tamper) in &tampers {
        std::fs::remove_dir_all(&bundle).unwrap();
        copy_dir(pristine.path(), &bundle);
        tamper(&bundle);
        let rejected = partner(&town, &["sync", "stuttgart", "--publish"]);
        let said = text(&rejected.stderr);
        assert!(!rejected.status.success(), "{what}: accepted\n{}", text(&rejected.stdout));
        assert!(said.contains(message) && said.contains("nothing was applied"), "{what}: {said}");
        assert_eq!(state(&town).await, synced, "{what}: something was applied");
    }
    std::fs::remove_dir_all(&bundle).unwrap();
    copy_dir(pristine.path(), &bundle);

    // The intact bundle: upstream's changes arrive as a draft, the town's
    // office stays, its fee is in conflict, the deletion is marked.
    let second = succeeded(&partner(&town, &["sync", "stuttgart"]));
    assert!(second.contains("0 new, 1 changed, 1 withdrawn") && second.contains("1 conflicts"), "{second}");
    assert!(second.contains(&format!("changed: service/{PASSPORT}")) && second.contains("withdrawn upstream: service/kirchenaustritt-erklaeren"), "{second}");
    assert!(second.contains(&format!("in conflict: service/{PASSPORT} fees (de)")), "{second}");
    let record = store.entry_record("service", PASSPORT).await.unwrap().unwrap();
    let german = record.locale(Locale::SOURCE).unwrap();
    assert_eq!((german.state, german.published_number, german.latest_number), (State::Draft, Some(2), 3), "a draft for review; the town's revision stays live");
    let draft = store.revision(id, Locale::SOURCE, 3).await.unwrap().unwrap();
    assert!(draft.document["prerequisites"].as_str().unwrap().contains("Haupt- oder Nebenwohnsitz"), "an untouched module follows upstream");
    assert_eq!(draft.document["responsible_offices"], town_office, "an override is kept");
    assert_eq!(draft.document["fees"][0]["amount"], json!(39.0), "an override in conflict is kept until resolved");
    assert_eq!(draft.author, "partner:stuttgart");
    let live = store.published_entry("service", PASSPORT, Locale::SOURCE).await.unwrap().unwrap();
    assert_eq!(live.source.document["fees"][0]["amount"], json!(39.0));

    let status = succeeded(&partner(&town, &["status", "stuttgart"]));
    assert!(status.contains("syncs keep upstream changes as drafts"), "{status}");
    assert!(status.contains(&format!("in conflict: service/{PASSPORT} fees (de), upstream revision 2")), "{status}");
    assert!(status.contains("fees/0/amount: 39.0 -> 48.0"), "both versions and the difference: {status}");
    // The same through the management API.
    let town_server = Server::start(&town, content.path());
    let editor = Client { server: &town_server, token: token(&town, "editor", &[]) };
    let (listed, _, partners) = editor.send(Method::GET, "/api/v1/manage/partners", None, None).await;
    assert_eq!(listed, 200, "{partners}");
    let stuttgart = &partners["items"][0];
    assert_eq!((stuttgart["name"].as_str(), stuttgart["municipality"].as_str()), (Some("stuttgart"), Some("Stuttgart")));
    assert_eq!(
        stuttgart["withdrawn"],
        json!([{"type": "service", "slug": "kirchenaustritt-erklaeren", "action": "delete", "content_version": stuttgart["content_version"]}])
    );
    let conflict = &stuttgart["conflicts"][0];
    assert_eq!((conflict["slug"].as_str(), conflict["module"].as_str(), conflict["locale"].as_str()), (Some(PASSPORT), Some("fees"), Some("de")));
    assert_eq!(
        (conflict["here"][0]["amount"].clone(), conflict["upstream"][0]["amount"].clone(), conflict["base"][0]["amount"].clone()),
        (json!(39.0), json!(48.0), json!(46.0))
    );
    assert_eq!(conflict["diff"], json!([{"pointer": "/0/amount", "here": 39.0, "upstream": 48.0}]));

    let resolved = succeeded(&partner(&town, &["resolve", "stuttgart", &format!("service/{PASSPORT}"), "fees", "--take-upstream"]));
    assert!(resolved.contains("taken from upstream as draft revision 4"), "{resolved}");
    let taken = store.revision(id, Locale::SOURCE, 4).await.unwrap().unwrap();
    assert_eq!((taken.document["fees"][0]["amount"].clone(), taken.document["responsible_offices"].clone()), (json!(48.0), town_office.clone()));
    let again = partner(&town, &["resolve", "stuttgart", &format!("service/{PASSPORT}"), "fees", "--keep-mine"]);
    assert!(!again.status.success() && text(&again.stderr).contains("no open conflict"), "{}", text(&again.stderr));
    let decision = json!({"type": "service", "slug": PASSPORT, "module": "fees", "resolution": "keep_mine"});
    let (status, _, problem) = editor.send(Method::POST, "/api/v1/manage/partners/stuttgart/conflicts/resolve", None, Some(decision)).await;
    assert_eq!(status, 404, "{problem}");
    let (_, _, partners) = editor.send(Method::GET, "/api/v1/manage/partners", None, None).await;
    assert_eq!(partners["items"][0]["conflicts"], json!([]));
    drop(town_server);

    let english = store.entry_record("service", PASSPORT).await.unwrap().unwrap();
    assert_eq!(english.locale(Locale::parse("en").unwrap()).unwrap().source_number, Some(1), "made from the previous German revision: outdated");

    let withdrawn = store.entry_record("service", "kirchenaustritt-erklaeren").await.unwrap().expect("a withdrawn entry is kept");
    assert!(withdrawn.locale(Locale::SOURCE).unwrap().published_number.is_some(), "without --publish, unpublishing is the partner's decision");
    let content_version = read_json(&bundle.join("manifest.json"))["content_version"].as_i64().unwrap();
    let upstream = store.upstream_entries("stuttgart").await.unwrap();
    let marked = upstream.values().find(|e| e.slug == "kirchenaustritt-erklaeren").unwrap();
    assert_eq!((marked.withdrawn_in, marked.withdrawn_action.as_deref()), (Some(content_version), Some("delete")));

    let status = succeeded(&partner(&town, &["status", "stuttgart"]));
    assert!(status.contains(&format!("changed in the last sync: service/{PASSPORT}")), "{status}");
    assert!(status.contains(&format!("withdrawn upstream (delete, content version {content_version}): service/kirchenaustritt-erklaeren")), "{status}");
    assert!(!status.contains("new in the last sync") && !status.contains("in conflict"), "{status}");

    let third = succeeded(&partner(&town, &["sync", "stuttgart"]));
    assert!(third.contains("0 new, 0 changed, 0 withdrawn") && third.contains("0 conflicts; 0 new revisions"), "{third}");

    // With --publish what arrives goes live, and what upstream withdraws comes off.
    let office = content.path().join("office/fundbuero.md");
    let source = std::fs::read_to_string(&office).unwrap();
    std::fs::write(&office, source.replacen("phone = \"", "phone = \"+49 711 999-0000\"\n# was: \"", 1)).unwrap();
    let source = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, source.replacen("muss sofort gemeldet", "muss unverzüglich gemeldet", 1)).unwrap();
    assert!(import(&city, content.path()).status.success());
    let server = Server::start(&city, content.path());
    let admin = Client { server: &server, token: token(&city, "admin", &[]) };
    let unpublish = "/api/v1/manage/article/frist-nach-umzug/transitions";
    assert_eq!(admin.send(Method::POST, unpublish, None, Some(json!({"action": "unpublish"}))).await.0, 200);
    drop(server);
    export_partner(&city, out.path());
    // The deleted service's file is still in the city's folder, so the
    // import brought it back upstream: here it is no longer withdrawn.
    // The ID card service has the town's resolved fee waiting for review:
    // upstream's new hint joins it as a draft instead of going live.
    let fourth = succeeded(&partner(&town, &["sync", "stuttgart", "--publish"]));
    assert!(fourth.contains("0 new, 3 changed, 1 withdrawn") && fourth.contains("(published)"), "{fourth}");
    assert!(fourth.contains(&format!("kept as a draft: service/{PASSPORT} (de)")), "{fourth}");
    let record = store.entry_record("service", PASSPORT).await.unwrap().unwrap();
    let german = record.locale(Locale::SOURCE).unwrap();
    assert_eq!((german.published_number, german.latest_number), (Some(2), 5));
    let draft = store.revision(id, Locale::SOURCE, 5).await.unwrap().unwrap();
    assert!(draft.document["hints"].as_str().unwrap().contains("unverzüglich"));
    assert_eq!((draft.document["fees"][0]["amount"].clone(), draft.document["responsible_offices"].clone()), (json!(48.0), town_office.clone()));
    assert!(fourth.contains("changed: service/kirchenaustritt-erklaeren") && fourth.contains("withdrawn upstream: article/frist-nach-umzug"), "{fourth}");
    let upstream = store.upstream_entries("stuttgart").await.unwrap();
    assert!(upstream.values().filter(|e| e.withdrawn_in.is_some()).map(|e| e.slug.as_str()).eq(["frist-nach-umzug"]));
    let live = store.published_entry("office", "fundbuero", Locale::SOURCE).await.unwrap().unwrap();
    assert_eq!(live.source.document["phone"], "+49 711 999-0000");
    assert!(store.published_entry("article", "frist-nach-umzug", Locale::SOURCE).await.unwrap().is_none(), "unpublished like upstream");
    assert!(store.entry_record("article", "frist-nach-umzug").await.unwrap().is_some(), "and kept");

    // The town's own topic was never touched.
    let own = store.entry_record("topic", "hafenfest").await.unwrap().unwrap();
    assert_eq!(own.version, 1);
    assert!(upstream.values().all(|e| e.slug != "hafenfest"));
}
on_both_databases!(a_partner_syncs_changes_and_withdrawals);

/// Writes a file into a bundle and lists it in the manifest with its
/// checksum, as a forger who knows the format would.
fn rewrite_listed(bundle: &Path, path: &str, bytes: &[u8]) {
    std::fs::create_dir_all(bundle.join(path).parent().unwrap()).unwrap();
    std::fs::write(bundle.join(path), bytes).unwrap();
    let mut manifest = read_json(&bundle.join("manifest.json"));
    let files = manifest["files"].as_array_mut().unwrap();
    files.retain(|f| f["path"] != path);
    files.push(json!({"path": path, "sha256": katalog::digest::sha256_hex(bytes)}));
    std::fs::write(bundle.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

fn store_statement(store: &Store, sql: &str) -> Statement {
    Statement::from_string(store.backend(), sql)
}

/// A local entry is never overwritten: an upstream entry with its slug
/// stops the sync, naming both.
async fn a_local_entry_with_an_upstream_slug_stops_the_sync(town: TestDb) {
    let own = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(own.path().join("office")).unwrap();
    std::fs::copy(repo_path("content/office/fundbuero.md"), own.path().join("office/fundbuero.md")).unwrap();
    assert!(import(&town, own.path()).status.success());
    let before = state(&town).await;
    let bundle = repo_path("exports/partner");
    succeeded(&partner(&town, &["add", "stuttgart", "--source", bundle.to_str().unwrap()]));
    let refused = partner(&town, &["sync", "stuttgart"]);
    let said = text(&refused.stderr);
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    assert!(
        said.contains("entries/office/fundbuero.json: the office `fundbuero` exists here as a local entry") && said.contains("nothing was applied"),
        "{said}"
    );
    assert_eq!(state(&town).await, before);
}
on_both_databases!(a_local_entry_with_an_upstream_slug_stops_the_sync);

/// A Python static file server for a folder, stopped when dropped.
pub struct StaticServer {
    child: std::process::Child,
    pub base: String,
}

impl StaticServer {
    pub fn start(folder: &Path) -> StaticServer {
        use std::io::BufRead;
        let python = std::env::var("KATALOG_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = std::process::Command::new(python)
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(folder)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 serves the bundle");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line.split(" port ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap_or_else(|| panic!("{line}")).to_owned();
        StaticServer { child, base: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bundle can be fetched over HTTP; one database is enough, the rest is
/// the same as from a folder.
#[tokio::test]
async fn a_bundle_is_fetched_over_http() {
    let town = TestDb::new(Backend::Sqlite).await;
    let bundle = repo_path("exports/partner");
    let server = StaticServer::start(&bundle);
    let indexed = read_json(&bundle.join("manifest.json"))["entries"].as_array().unwrap().len();
    succeeded(&partner(&town, &["add", "stuttgart", "--source", &format!("{}/", server.base), "--auto-publish"]));
    let status = succeeded(&partner(&town, &["status", "stuttgart"]));
    assert!(status.contains("(never synced)") && status.contains("syncs publish upstream changes (auto-publish)"), "{status}");
    let synced = succeeded(&partner(&town, &["sync", "stuttgart"]));
    assert!(synced.contains(&format!("{indexed} new, 0 changed")), "{synced}");
    let again = succeeded(&partner(&town, &["sync", "stuttgart"]));
    assert!(again.contains(&format!("{indexed} unchanged")), "{again}");
    drop(server);
    let unreachable = partner(&town, &["sync", "stuttgart"]);
    assert!(!unreachable.status.success() && text(&unreachable.stderr).contains("cannot fetch"), "{}", text(&unreachable.stderr));
}

/// Sets the SHA-256 the manifest lists for `path` to that of `bytes`.
fn relist(manifest: &mut Value, path: &str, bytes: &[u8]) {
    let files = manifest["files"].as_array_mut().unwrap();
    files.retain(|f| f["path"] != path);
    files.push(json!({"path": path, "sha256": katalog::digest::sha256_hex(bytes)}));
}

/// Names the editorial import refuses are refused in a bundle too, all of
/// them listed, nothing applied, from a folder and over HTTP alike:
/// slugs that leave the bundle's folders, hold quotes or markup, are
/// upper-case or empty, a reference to such a slug, an unknown locale, a
/// file outside the bundle or away from where its entry belongs. Nothing reaches the database, so one
/// is enough.
#[tokio::test]
async fn hostile_names_refuse_the_bundle() {
    let town = TestDb::new(Backend::Sqlite).await;
    let bundle = tempfile::tempdir().unwrap();
    let forged = bundle.path().join("partner");
    std::fs::create_dir(&forged).unwrap();
    copy_dir(&repo_path("exports/partner"), &forged);
    let mut manifest = read_json(&forged.join("manifest.json"));
    let at = |manifest: &Value, content_type: &str| -> Vec<usize> {
        manifest["entries"].as_array().unwrap().iter().enumerate().filter(|(_, e)| e["type"] == content_type).map(|(i, _)| i).collect()
    };
    let (services, offices, articles) = (at(&manifest, "service"), at(&manifest, "office"), at(&manifest, "article"));
    let mut expected = Vec::new();
    // An entry's file and index agree, checksums match: only the names are wrong.
    for (slug, &index) in ["../../x", "a\"b", "<script>alert(1)</script>", "Personalausweis", ""].iter().zip(&services) {
        let path = manifest["entries"][index]["path"].as_str().unwrap().to_owned();
        let mut file = read_json(&forged.join(&path));
        file["slug"] = json!(slug);
        manifest["entries"][index]["slug"] = json!(slug);
        let bytes = serde_json::to_vec_pretty(&file).unwrap();
        std::fs::write(forged.join(&path), &bytes).unwrap();
        relist(&mut manifest, &path, &bytes);
        expected.push(format!("{path}: `{}` is not a valid slug", slug.escape_debug()));
    }
    let referring = manifest["entries"][services[5]]["path"].as_str().unwrap().to_owned();
    let mut file = read_json(&forged.join(&referring));
    file["locales"]["de"]["fields"]["responsible_offices"][0]["office"] = json!("../../etc");
    let bytes = serde_json::to_vec_pretty(&file).unwrap();
    std::fs::write(forged.join(&referring), &bytes).unwrap();
    relist(&mut manifest, &referring, &bytes);
    expected.push(format!("{referring}: de: /responsible_offices/0/office: a reference to an office: `../../etc` is not a valid slug"));
    let office = manifest["entries"][offices[0]]["path"].as_str().unwrap().to_owned();
    let mut file = read_json(&forged.join(&office));
    file["locales"]["fr"] = file["locales"]["de"].clone();
    let bytes = serde_json::to_vec_pretty(&file).unwrap();
    std::fs::write(forged.join(&office), &bytes).unwrap();
    relist(&mut manifest, &office, &bytes);
    expected.push(format!("{office}: unknown locale `fr`"));
    // One file leaves the bundle, another sits where its entry does not belong.
    for (index, to) in [(articles[0], "../outside.json"), (offices[1], "entries/office/elsewhere.json")] {
        let from = manifest["entries"][index]["path"].as_str().unwrap().to_owned();
        let bytes = std::fs::read(forged.join(&from)).unwrap();
        std::fs::write(forged.join(to), &bytes).unwrap();
        std::fs::remove_file(forged.join(&from)).unwrap();
        manifest["files"].as_array_mut().unwrap().retain(|f| f["path"] != from.as_str());
        relist(&mut manifest, to, &bytes);
        manifest["entries"][index]["path"] = json!(to);
        let slug = manifest["entries"][index]["slug"].as_str().unwrap();
        let content_type = manifest["entries"][index]["type"].as_str().unwrap();
        expected.push(format!("{to}: the file of the {content_type} `{slug}` is {from}, not this"));
    }
    expected.push("../outside.json: listed path leaves the bundle".into());
    std::fs::write(forged.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let server = StaticServer::start(bundle.path());
    for (name, source) in [("folder", forged.to_str().unwrap().to_owned()), ("web", format!("{}/partner/", server.base))] {
        succeeded(&partner(&town, &["add", name, "--source", &source]));
        let before = state(&town).await;
        let refused = partner(&town, &["sync", name, "--publish"]);
        let said = text(&refused.stderr);
        assert!(!refused.status.success(), "{name}: {}", text(&refused.stdout));
        for problem in &expected {
            assert!(said.contains(&format!("error: {problem}")), "{name}: {problem} is not reported:\n{said}");
        }
        assert_eq!(state(&town).await, before, "{name}: something was applied");
    }
}

/// Unpublishing, then trashing, offices that published services still
/// name leaves the bundle syncable for a new partner: the services arrive
/// with those references, which the sync lists as not received, and wait
/// as drafts, since nothing live may name an entry that is not.
async fn a_new_partner_syncs_after_referenced_entries_are_withdrawn(city: TestDb) {
    let content = sample_content();
    assert!(import(&city, content.path()).status.success());
    let server = Server::start(&city, content.path());
    let admin = Client { server: &server, token: token(&city, "admin", &[]) };
    let withdraw: [(&str, &str, &str, Option<Value>); 2] =
        [("fundbuero", "fundsache-melden", "transitions", Some(json!({"action": "unpublish"}))), ("wahlamt", "briefwahl-beantragen", "trash", None)];
    for (step, (office, service, how, body)) in withdraw.iter().cloned().enumerate() {
        let (status, _, answer) = admin.send(Method::POST, &format!("/api/v1/manage/office/{office}/{how}"), None, body).await;
        assert_eq!(status, 200, "{office} {how}: {answer}");
        let out = tempfile::tempdir().unwrap();
        export_partner(&city, out.path());
        let bundle = out.path().join("partner");
        let manifest = read_json(&bundle.join("manifest.json"));
        let carried = |content_type: &str, slug: &str| manifest["entries"].as_array().unwrap().iter().any(|e| e["type"] == content_type && e["slug"] == slug);
        assert!(carried("service", service) && !carried("office", office), "{office} {how}");

        let town = TestDb::new(same_backend(&city)).await;
        succeeded(&partner(&town, &["add", "stuttgart", "--source", bundle.to_str().unwrap()]));
        let synced = succeeded(&partner(&town, &["sync", "stuttgart", "--publish"]));
        let entries = manifest["entries"].as_array().unwrap().len();
        assert!(synced.contains(&format!("{entries} new, 0 changed")), "{office} {how}: {synced}");
        // What an earlier step withdrew is still withdrawn, and reported too.
        for (office, service, ..) in &withdraw[..=step] {
            assert!(
                synced.contains(&format!("refers to an entry not received: service/{service} /responsible_offices/0/office → office/{office}")),
                "{synced}"
            );
        }
        // It arrives, but nothing goes live that names an entry which is not:
        // the service waits as a draft until the reference is mended here.
        assert!(synced.contains(&format!("service/{service} (de): cannot be published")), "{synced}");
        let store = Store::connect(&town.url).await.unwrap();
        let arrived = store.entry_record("service", service).await.unwrap().unwrap_or_else(|| panic!("{service} arrived"));
        assert_eq!(arrived.locale(Locale::SOURCE).unwrap().state, State::Draft, "{service}");
        assert!(store.published_entry("service", service, Locale::SOURCE).await.unwrap().is_none(), "{service} is not live");
        assert!(store.published_entry("office", "buergerbuero-mitte", Locale::SOURCE).await.unwrap().is_some(), "what names nothing withdrawn is live");
        assert!(store.entry_record("office", office).await.unwrap().is_none(), "{office} did not");
    }
}
on_both_databases!(a_new_partner_syncs_after_referenced_entries_are_withdrawn);
