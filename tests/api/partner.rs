//! The partner bundle: a manifest whose checksums match the files, every
//! entry in every published locale with provenance per module, deletions
//! that reach the next bundle, and services and offices as CPSV-AP 3.2.0
//! JSON-LD that conforms to the official SHACL shapes.
//!
//! pySHACL is installed on first use into a virtualenv under the target
//! directory (`KATALOG_PYSHACL_PYTHON` names the Python of an installed one
//! instead; `KATALOG_PYTHON` the interpreter for the virtualenv).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Client, Server, TestDb, files, import, katalog, python_tool, repo_path, sample_content, text, token};
use crate::on_both_databases;

const PYSHACL: &str = "0.40.1";

pub fn export_partner(db: &TestDb, out: &Path) -> String {
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    let output = katalog(&[
        "export",
        "--channel",
        "partner",
        "--out",
        out.to_str().unwrap(),
        "--database",
        &db.url,
        "--schemas",
        schemas.to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The locales of each entry of a content folder, by `type/slug`.
fn content_locales(content: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut locales: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, _) in files(content) {
        let Some((content_type, name)) = path.split_once('/') else { continue };
        let name = name.rsplit('/').next().unwrap().trim_end_matches(".md");
        let (slug, locale) = match name.split_once('.') {
            Some((slug, locale)) => (slug, locale),
            None => (name, "de"),
        };
        locales.entry(format!("{content_type}/{slug}")).or_default().insert(locale.to_owned());
    }
    locales
}

fn entry<'a>(manifest: &'a Value, content_type: &str, slug: &str) -> Option<&'a Value> {
    manifest["entries"].as_array().unwrap().iter().find(|e| e["type"] == content_type && e["slug"] == slug)
}

async fn the_manifest_vouches_for_every_file(db: TestDb) {
    assert!(import(&db, &repo_path("content")).status.success());
    let out = tempfile::tempdir().unwrap();
    let report = export_partner(&db, out.path());
    assert!(report.contains("partner: ") && !report.contains("left out"), "{report}");
    let bundle = out.path().join("partner");
    let manifest = read_json(&bundle.join("manifest.json"));
    assert_eq!(manifest["format"], "katalog-partner-bundle");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["source"]["municipality"], "Stuttgart");
    let store = katalog::store::Store::connect(&db.url).await.unwrap();
    assert_eq!(manifest["content_version"], store.latest_change_seq().await.unwrap(), "the content version is the change-log position");

    // Every file but the manifest is listed with its checksum, and nothing else is.
    let mut on_disk = files(&bundle);
    on_disk.remove("manifest.json");
    let listed: BTreeMap<String, String> =
        manifest["files"].as_array().unwrap().iter().map(|f| (f["path"].as_str().unwrap().to_owned(), f["sha256"].as_str().unwrap().to_owned())).collect();
    assert_eq!(listed.keys().collect::<Vec<_>>(), on_disk.keys().collect::<Vec<_>>());
    for (path, bytes) in &on_disk {
        assert_eq!(listed[path], katalog::digest::sha256_hex(bytes), "{path}");
    }
    for content_type in ["article", "office", "service", "topic"] {
        let path = manifest["schemas"][content_type].as_str().unwrap();
        assert_eq!(read_json(&bundle.join(path)), read_json(&repo_path(&format!("schemas/{content_type}.schema.json"))));
    }

    // Every entry, in every locale it has in the content, with provenance per module.
    let expected = content_locales(&repo_path("content"));
    let entries = manifest["entries"].as_array().unwrap();
    assert_eq!(entries.len(), expected.len());
    for indexed in entries {
        let key = format!("{}/{}", indexed["type"].as_str().unwrap(), indexed["slug"].as_str().unwrap());
        let file = read_json(&bundle.join(indexed["path"].as_str().unwrap()));
        assert_eq!(file["id"], indexed["id"]);
        let locales: BTreeSet<String> = file["locales"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(locales, expected[&key], "{key}");
        assert_eq!(indexed["locales"].as_array().unwrap().len(), locales.len(), "{key}");
        for (locale, published) in file["locales"].as_object().unwrap() {
            let modules: BTreeSet<&String> = published["fields"].as_object().unwrap().keys().collect();
            let provenance: BTreeSet<&String> = published["provenance"].as_object().unwrap().keys().collect();
            assert_eq!(modules, provenance, "{key} ({locale}): provenance for each module");
        }
    }
    let service = read_json(&bundle.join("entries/service/personalausweis-beantragen.json"));
    let approved = service["locales"]["de"]["fields"]["approval"]["date"].clone();
    assert!(approved.is_string());
    assert_eq!(service["locales"]["de"]["provenance"]["fees"], json!({"revision": 1, "author": "import", "approved": approved}));
    assert_eq!(service["locales"]["en"]["translated_from"], 1);
    assert_eq!(service["locales"]["en"]["provenance"]["name"], json!({"revision": 1, "author": "import"}));
    assert!(service["locales"]["en"]["fields"].get("leika").is_none(), "a translation carries only what it translates");
    for indexed in entries.iter().filter(|e| e["type"] == "service" || e["type"] == "office") {
        let path = format!("cpsv-ap/{}/{}.jsonld", indexed["type"].as_str().unwrap(), indexed["slug"].as_str().unwrap());
        assert!(listed.contains_key(&path), "{path}");
    }
    assert_eq!(read_json(&bundle.join("deletions.json")), json!({"deletions": []}));

    let again = export_partner(&db, out.path());
    assert!(again.contains("partner: 0 written, 0 deleted"), "a second run writes nothing: {again}");
}
on_both_databases!(the_manifest_vouches_for_every_file);

async fn a_later_bundle_carries_changes_and_withdrawals(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    let out = tempfile::tempdir().unwrap();
    export_partner(&db, out.path());
    let bundle = out.path().join("partner");
    let first = read_json(&bundle.join("manifest.json"));
    let first_version = first["content_version"].as_i64().unwrap();

    // A new fee, written by someone else: that module's provenance moves on,
    // and the approval no longer covers it.
    let service = content.path().join("service/personalausweis-beantragen.md");
    let source = std::fs::read_to_string(&service).unwrap();
    let changed = source.replacen("amount = 46.0\n", "amount = 48.0\n", 1);
    assert!(changed != source, "the sample fee moved; change another one");
    std::fs::write(&service, changed).unwrap();
    let schemas = repo_path("schemas");
    let imported = katalog(&[
        "import",
        content.path().to_str().unwrap(),
        "--publish",
        "--author",
        "Sachgebiet Pass",
        "--database",
        &db.url,
        "--schemas",
        schemas.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));

    let server = Server::start(&db, content.path());
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let gone = "/api/v1/manage/service/kirchenaustritt-erklaeren";
    assert_eq!(admin.send(Method::POST, &format!("{gone}/trash"), None, None).await.0, 200);
    assert_eq!(admin.send(Method::DELETE, gone, None, None).await.0, 204);
    let withdrawn = "/api/v1/manage/article/frist-nach-umzug/transitions";
    assert_eq!(admin.send(Method::POST, withdrawn, None, Some(json!({"action": "unpublish"}))).await.0, 200);
    // Withdrawn and published again: an entry, not a deletion.
    let back = "/api/v1/manage/article/oeffnungszeiten-feiertage/transitions";
    assert_eq!(admin.send(Method::POST, back, None, Some(json!({"action": "unpublish"}))).await.0, 200);
    assert_eq!(admin.send(Method::POST, back, None, Some(json!({"action": "publish"}))).await.0, 200);
    drop(server);

    let report = export_partner(&db, out.path());
    let second = read_json(&bundle.join("manifest.json"));
    let second_version = second["content_version"].as_i64().unwrap();
    assert!(second_version > first_version, "{second_version} > {first_version}");

    let passport = read_json(&bundle.join("entries/service/personalausweis-beantragen.json"));
    let german = &passport["locales"]["de"];
    assert_eq!(german["revision"], 2);
    assert_eq!(german["provenance"]["fees"], json!({"revision": 2, "author": "Sachgebiet Pass"}), "changed after the approval");
    assert_eq!(german["provenance"]["name"]["revision"], 1);
    assert!(german["provenance"]["name"]["approved"].is_string());
    assert!(passport["version"].as_i64().unwrap() > first_version);
    assert_eq!(passport["locales"]["en"]["translated_from"], 1, "the translation was made from the first revision");

    let deletions = read_json(&bundle.join("deletions.json"));
    let listed: Vec<(String, String, String)> = deletions["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert!(d["version"].as_i64().unwrap() > first_version && d["version"].as_i64().unwrap() <= second_version, "{d}");
            assert!(d["id"].as_str().is_some_and(|id| id.len() == 36), "{d}");
            (d["type"].as_str().unwrap().to_owned(), d["slug"].as_str().unwrap().to_owned(), d["action"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [("service", "kirchenaustritt-erklaeren", "delete"), ("article", "frist-nach-umzug", "unpublish")];
    let expected: Vec<(String, String, String)> = expected.iter().map(|(t, s, a)| (t.to_string(), s.to_string(), a.to_string())).collect();
    assert_eq!(listed, expected, "in change-log order");
    assert!(entry(&second, "service", "kirchenaustritt-erklaeren").is_none() && entry(&first, "service", "kirchenaustritt-erklaeren").is_some());
    assert!(entry(&second, "article", "oeffnungszeiten-feiertage").is_some());
    for path in ["entries/service/kirchenaustritt-erklaeren.json", "cpsv-ap/service/kirchenaustritt-erklaeren.jsonld", "entries/article/frist-nach-umzug.json"]
    {
        assert!(!bundle.join(path).exists(), "{path} is gone: {report}");
    }
    assert!(report.contains("partner: ") && report.contains(" 3 deleted"), "{report}");

    // Deletions stay listed for partners that skip a bundle.
    for file in std::fs::read_dir(content.path().join("service")).unwrap().map(|f| f.unwrap().path()) {
        if file.file_name().unwrap().to_string_lossy().starts_with("kirchenaustritt-erklaeren.") {
            std::fs::remove_file(file).unwrap();
        }
    }
    let office = content.path().join("office/fundbuero.md");
    let source = std::fs::read_to_string(&office).unwrap();
    std::fs::write(&office, source.replacen("phone = \"", "phone = \"+49 711 999-0000\"\n# was: \"", 1)).unwrap();
    assert!(import(&db, content.path()).status.success());
    let third = export_partner(&db, out.path());
    assert!(read_json(&bundle.join("manifest.json"))["content_version"].as_i64().unwrap() > second_version, "{third}");
    assert_eq!(read_json(&bundle.join("deletions.json")), deletions);
    let again = export_partner(&db, out.path());
    assert!(again.contains("partner: 0 written, 0 deleted"), "a second run writes nothing: {again}");
}
on_both_databases!(a_later_bundle_carries_changes_and_withdrawals);

/// The Python of a virtualenv with pySHACL, installed if need be (one
/// installer at a time).
fn pyshacl_python() -> PathBuf {
    if let Ok(path) = std::env::var("KATALOG_PYSHACL_PYTHON") {
        return PathBuf::from(path);
    }
    let works = |root: &Path| Command::new(root.join("bin/python")).args(["-c", "import pyshacl"]).output().is_ok_and(|o| o.status.success());
    python_tool(&format!("pyshacl-{PYSHACL}"), &format!("pyshacl=={PYSHACL}"), works).join("bin/python")
}

fn validate(documents: &[PathBuf]) -> Output {
    Command::new(pyshacl_python())
        .arg(repo_path("tests/cpsv-ap/validate.py"))
        .arg(repo_path("tests/cpsv-ap/cpsv-ap-SHACL.ttl"))
        .args(documents)
        .output()
        .unwrap()
}

/// One database is enough: the checked-in exports show that both give the
/// same bytes.
#[tokio::test]
async fn the_cpsv_ap_documents_conform_to_the_shapes() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await;
    assert!(import(&db, &repo_path("content")).status.success());
    let out = tempfile::tempdir().unwrap();
    export_partner(&db, out.path());
    let folder = out.path().join("partner/cpsv-ap");
    let documents: Vec<PathBuf> = files(&folder).into_keys().map(|path| folder.join(path)).collect();
    assert!(documents.len() > 40, "{} documents", documents.len());
    let checked = validate(&documents);
    assert!(checked.status.success(), "the CPSV-AP export does not conform:\n{}\n{}", text(&checked.stdout), text(&checked.stderr));
    assert!(text(&checked.stdout).contains("Conforms: True"), "{}", text(&checked.stdout));

    // The check can fail: a public service without title and competent authority does not conform.
    let broken_path = folder.join("service/personalausweis-beantragen.jsonld");
    let mut broken = read_json(&broken_path);
    let service = broken["@graph"][0].as_object_mut().unwrap();
    assert_eq!(service["@type"], "cpsv:PublicService");
    service.remove("dct:title");
    service.remove("cv:hasCompetentAuthority");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let checked = validate(&documents);
    let report = text(&checked.stdout);
    assert!(!checked.status.success(), "a broken service passed:\n{report}");
    assert!(
        report.contains("Conforms: False") && report.contains("Results (2)") && report.contains("hasCompetentAuthority") && report.contains("title"),
        "{report}"
    );
}
