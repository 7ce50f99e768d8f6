//! Channel exports: the checked-in `exports/` is what the sample content
//! gives, on either database; exports are deterministic and incremental.

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::{TestDb, files, import, katalog, paths_below, repo_path, sample_content, text};
use crate::on_both_databases;

/// The channels exported into `exports/`.
const CHANNELS: [&str; 4] = ["web", "app", "kb115", "partner"];

fn export(db: &TestDb, out: &Path) -> String {
    export_with(db, out, &[])
}

fn export_with(db: &TestDb, out: &Path, options: &[&str]) -> String {
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    let mut args = vec!["export", "--all", "--out", out.to_str().unwrap(), "--database", &db.url];
    args.extend(["--schemas", schemas.to_str().unwrap(), "--content", content.to_str().unwrap()]);
    args.extend(options);
    let output = katalog(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

fn differences(expected: &BTreeMap<String, Vec<u8>>, actual: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut paths: Vec<&String> = expected.keys().chain(actual.keys()).collect();
    paths.sort();
    paths.dedup();
    paths.into_iter().filter(|p| expected.get(*p) != actual.get(*p)).cloned().collect()
}

async fn the_checked_in_exports_are_what_the_content_gives(db: TestDb) {
    assert!(import(&db, &repo_path("content")).status.success());
    let out = tempfile::tempdir().unwrap();
    export(&db, out.path());
    for channel in CHANNELS {
        let expected = files(&repo_path("exports").join(channel));
        let actual = files(&out.path().join(channel));
        let changed = differences(&expected, &actual);
        assert!(
            changed.is_empty(),
            "exports/{channel} differs from a fresh export in {changed:?}; review and update with `katalog export --all --out exports`"
        );
    }
}
on_both_databases!(the_checked_in_exports_are_what_the_content_gives);

async fn exports_rewrite_only_what_changed(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    let out = tempfile::tempdir().unwrap();
    let first = export(&db, out.path());
    assert!(first.contains("kb115: 77 written, 0 deleted"), "{first}");
    assert!(first.contains("web: ") && !first.contains("web: 0 written"), "{first}");
    let again = export(&db, out.path());
    for channel in CHANNELS {
        let line = again.lines().find(|l| l.starts_with(&format!("{channel}: "))).unwrap_or_default();
        assert!(line.starts_with(&format!("{channel}: 0 written, 0 deleted")), "a second run writes nothing: {again}");
        assert!(line.ends_with("; 0 entries remade"), "nothing changed in the change log, so nothing is remade: {again}");
    }
    let before = files(out.path());

    // A new phone number at the lost-property office: the records of the
    // services it serves change (they inline it), and nothing else.
    let office = content.path().join("office/fundbuero.md");
    let source = std::fs::read_to_string(&office).unwrap();
    let phone_changed = source.replacen("phone = \"", "phone = \"+49 711 999-0000\"\n# was: \"", 1);
    std::fs::write(&office, &phone_changed).unwrap();
    assert!(import(&db, content.path()).status.success());
    let report = export(&db, out.path());
    let after = files(out.path());
    let changed = differences(&before, &after);
    let served: Vec<String> = std::fs::read_dir(content.path().join("service"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("office = \"fundbuero\""))
        .map(|p| p.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(!served.is_empty());
    let mut expected: Vec<String> = served.iter().flat_map(|slug| [format!("kb115/{slug}.html"), format!("kb115/{slug}.json")]).collect();
    // The 115 records of the articles that name the office show its phone too.
    let naming: Vec<String> = std::fs::read_dir(content.path().join("article"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.to_string_lossy().contains(".en.")
                && std::fs::read_to_string(p).unwrap().lines().any(|l| l.starts_with("related_offices") && l.contains("\"fundbuero\""))
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().trim_end_matches(".md").to_owned())
        .collect();
    assert!(!naming.is_empty(), "the sample has an article naming the lost-property office");
    expected.extend(naming.iter().flat_map(|slug| [format!("kb115/article/{slug}.html"), format!("kb115/article/{slug}.json")]));
    // The web pages that show the office: its own, and those of the services it serves.
    for path in changed.iter().filter(|p| p.starts_with("web/")) {
        let page = path.split('/').nth(2).unwrap_or_default();
        assert!(
            path.contains("/office/fundbuero/") || (page == "service" && served.iter().any(|slug| path.contains(&format!("/service/{slug}/")))),
            "{path} changed"
        );
    }
    expected.extend(changed.iter().filter(|p| p.starts_with("web/")).cloned());
    expected.extend(["app/index.json".to_owned(), "app/office/fundbuero.de.json".to_owned()]);
    // The partner bundle names offices instead of inlining them: only the office and the manifest change.
    expected.extend(["partner/cpsv-ap/office/fundbuero.jsonld", "partner/entries/office/fundbuero.json", "partner/manifest.json"].map(str::to_owned));
    expected.sort();
    // The overview lists each service's first office only.
    let changed_except_overview: Vec<String> = changed.iter().filter(|p| *p != "kb115/services.csv").cloned().collect();
    assert_eq!(changed_except_overview, expected, "{report}");
    let kb115_changed = changed.iter().filter(|p| p.starts_with("kb115/")).count();
    assert!(report.contains(&format!("kb115: {kb115_changed} written, 0 deleted")), "{report}");
    assert!(report.contains("app: 2 written, 0 deleted"), "{report}");
    assert!(report.contains("partner: 3 written, 0 deleted"), "{report}");
    // Following the change log, only the office and the entries that show
    // it are remade: the services it serves and the article linking to it.
    let article = std::fs::read_to_string(content.path().join("article/fundbuero-wo-finde-ich.md")).unwrap();
    assert!(article.contains("\"fundbuero\""));
    assert!(report.contains(&format!("; {} entries remade", served.len() + 2)), "{report}");
    let web_changed = changed.iter().filter(|p| p.starts_with("web/")).count();
    assert!(report.contains(&format!("web: {web_changed} written, 0 deleted")), "{report}");

    // A service that loses a field the 115 knowledge base needs cannot be
    // published: the import refuses it, and every channel keeps the live revision.
    let services = content.path().join("service");
    let mut untranslated: Vec<String> = std::fs::read_dir(&services)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.contains(".en.") && !name.contains(".de-x-ls."))
        .map(|name| name.trim_end_matches(".md").to_owned())
        .filter(|slug| !services.join(format!("{slug}.en.md")).exists() && !services.join(format!("{slug}.de-x-ls.md")).exists())
        .collect();
    untranslated.sort();
    let slug = &untranslated[0];
    let service = services.join(format!("{slug}.md"));
    let source = std::fs::read_to_string(&service).unwrap();
    let without_time: String = {
        let start = source.find("[processing_time]").expect("the service has a processing time");
        let end = source[start..].find("\n\n").map_or(source.len(), |e| start + e + 2);
        format!("{}{}", &source[..start], &source[end..])
    };
    std::fs::write(&service, without_time).unwrap();
    let refused = import(&db, content.path());
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains(&format!("service/{slug}.md")) && text(&refused.stderr).contains("/processing_time"), "{}", text(&refused.stderr));
    let report = export(&db, out.path());
    assert!(!report.contains("left out"), "{report}");
    assert!(out.path().join(format!("kb115/{slug}.json")).exists());
}
on_both_databases!(exports_rewrite_only_what_changed);

/// The text between `start` and the next `end`, every time.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    text.split(start).skip(1).filter_map(|rest| rest.split(end).next()).collect()
}

async fn the_web_site_is_linked_described_and_safe(db: TestDb) {
    let content = sample_content();
    let hints = content.path().join("service/personalausweis-beantragen.md");
    let source = std::fs::read_to_string(&hints).unwrap();
    let attack = "\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[Hier klicken](javascript:alert(3))\n";
    let attacked = source.replacen("## Hinweise\n", &format!("## Hinweise\n{attack}"), 1);
    assert_ne!(attacked, source);
    std::fs::write(&hints, attacked).unwrap();
    assert!(import(&db, content.path()).status.success());
    let out = tempfile::tempdir().unwrap();
    export(&db, out.path());
    let site = files(&out.path().join("web"));
    let pages: Vec<(&String, String)> = site.iter().filter(|(p, _)| p.ends_with("index.html") && p.contains('/')).map(|(p, b)| (p, text(b))).collect();
    assert!(pages.len() > 60, "{} pages", pages.len());
    for (path, html) in &pages {
        assert_eq!(html.matches("<h1").count(), 1, "{path}: one h1");
        assert!(html.contains("<html lang=\"") && html.contains("<main id=\"main\">") && html.contains("href=\"#main\""), "{path}: lang, landmark, skip link");
        assert!(!html.contains("<script>") && !html.contains("onerror") && !html.contains("javascript:"), "{path}: nothing executable");
        for script in between(html, "<script type=\"application/ld+json\">", "</script>") {
            let data: serde_json::Value = serde_json::from_str(script).unwrap_or_else(|e| panic!("{path}: JSON-LD: {e}"));
            assert_eq!(data["@context"], "https://schema.org", "{path}");
        }
        // Every link inside the site leads to a page of the export.
        for target in between(html, "href=\"/", "\"").into_iter().filter(|t| !t.starts_with('/') && t.ends_with('/')) {
            assert!(site.contains_key(&format!("{target}index.html")), "{path} links to /{target}, which is not exported");
        }
    }

    let service = text(&site["de/service/personalausweis-beantragen/index.html"]);
    assert!(service.contains("Hier klicken"), "the link text stays, its script goes");
    assert!(service.contains("hreflang=\"en\" href=\"https://service.stuttgart.example/en/service/personalausweis-beantragen/\""), "{service}");
    let json_ld: serde_json::Value = serde_json::from_str(between(&service, "<script type=\"application/ld+json\">", "</script>")[0]).unwrap();
    assert_eq!(json_ld["@type"], "GovernmentService");
    assert_eq!(json_ld["identifier"][0]["propertyID"], "LeiKa");
    let provider = &json_ld["provider"][0];
    assert_eq!(provider["@type"], "GovernmentOffice");
    assert!(provider["openingHoursSpecification"][0]["dayOfWeek"][0].as_str().unwrap().starts_with("https://schema.org/"));
    assert!(json_ld["availableChannel"].as_array().unwrap().iter().any(|c| c["@type"] == "ServiceChannel" && c["servicePhone"]["telephone"] == "115"));
    let office = text(&site["de/office/buergerbuero-mitte/index.html"]);
    assert!(office.contains("\"@type\":\"GovernmentOffice\""), "{office}");
    assert!(office.contains("href=\"/de/service/personalausweis-beantragen/\""), "an office lists the services it is responsible for");
    let english = text(&site["en/service/personalausweis-beantragen/index.html"]);
    assert!(english.contains("<html lang=\"en\">"));

    let sitemap = text(&site["sitemap.xml"]);
    let listed = between(&sitemap, "<loc>", "</loc>");
    assert_eq!(listed.len(), pages.len(), "every page is in the sitemap once");
    assert!(listed.contains(&"https://service.stuttgart.example/en/a-z/"));

    // A partner restyles with templates of its own; the rest stays built in.
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(templates.path().join("service.html"), "{% extends \"base.html\" %}{% block main %}<h1>Partner: {{ service.name }}</h1>{% endblock %}")
        .unwrap();
    std::fs::write(templates.path().join("style.css"), "body { color: #000; }\n").unwrap();
    let report = export_with(&db, out.path(), &["--templates", templates.path().to_str().unwrap()]);
    assert!(report.contains("web: "), "{report}");
    let restyled = std::fs::read_to_string(out.path().join("web/de/service/personalausweis-beantragen/index.html")).unwrap();
    assert!(restyled.contains("<h1>Partner: Personalausweis beantragen</h1>") && restyled.contains("Zum Inhalt springen"), "{restyled}");
    assert_eq!(std::fs::read_to_string(out.path().join("web/style.css")).unwrap(), "body { color: #000; }\n");
}
on_both_databases!(the_web_site_is_linked_described_and_safe);

/// An export state that cannot be trusted — damaged, or from another
/// database — makes the next export start from the beginning, and the
/// result is what a fresh export gives.
async fn a_damaged_or_foreign_export_state_starts_over(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    let out = tempfile::tempdir().unwrap();
    export(&db, out.path());
    let remade = |report: &str, channel: &str| -> String {
        report.lines().find(|l| l.starts_with(&format!("{channel}: "))).and_then(|l| l.split("; ").nth(1)).unwrap_or_default().to_owned()
    };

    // A damaged catalogue: the change of one office remakes everything.
    std::fs::write(out.path().join(".web.catalogue.json"), "{ not json").unwrap();
    let office = content.path().join("office/fundbuero.md");
    let source = std::fs::read_to_string(&office).unwrap();
    std::fs::write(&office, source.replacen("phone = \"", "phone = \"+49 711 999-0000\"\n# was: \"", 1)).unwrap();
    assert!(import(&db, content.path()).status.success());
    let report = export(&db, out.path());
    assert_eq!(remade(&report, "web"), "67 entries remade", "{report}");
    assert_ne!(remade(&report, "app"), "67 entries remade", "the other channels' states are intact: {report}");

    // Another database with the same content has the same change-log
    // positions, but not the same log.
    let other = TestDb::new(db.backend()).await;
    assert!(import(&other, content.path()).status.success());
    let report = export(&other, out.path());
    for channel in CHANNELS {
        assert_eq!(remade(&report, channel), "67 entries remade", "{report}");
    }
    // The pages are the same; the app and the bundle name revision numbers, which differ.
    assert!(report.contains("web: 0 written, 0 deleted"), "{report}");
    let again = export(&other, out.path());
    assert_eq!(remade(&again, "web"), "0 entries remade", "{again}");
}
on_both_databases!(a_damaged_or_foreign_export_state_starts_over);

/// Hidden files an export leaves beside the pages it is replacing.
fn pending_files(dir: &Path) -> Vec<std::path::PathBuf> {
    paths_below(dir, |_| true).into_iter().filter(|path| path.to_string_lossy().ends_with(".katalog-new")).collect()
}

/// An export killed while it writes leaves every page of the previous
/// export as it was; the next export clears away what the killed one
/// left and gives what a fresh export gives.
async fn a_killed_export_leaves_the_previous_one_intact(db: TestDb) {
    let generated = tempfile::tempdir().unwrap();
    let content = generated.path().join("content");
    assert!(katalog(&["generate", "--services", "2000", "--out", content.to_str().unwrap()]).status.success());
    assert!(import(&db, &content).status.success());
    let out = tempfile::tempdir().unwrap();
    let schemas = repo_path("schemas");
    // Restyled: every page made from the templates changes.
    let templates = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo_path("src/channels/templates/web/base.html")).unwrap();
    std::fs::write(templates.path().join("base.html"), format!("<!-- restyled -->\n{base}")).unwrap();
    let web_export = |out: &Path, restyled: bool| -> std::process::Command {
        let mut command = std::process::Command::new(crate::helpers::BIN);
        command.args(["export", "--channel", "web", "--out", out.to_str().unwrap(), "--database", &db.url, "--schemas", schemas.to_str().unwrap()]);
        if restyled {
            command.args(["--templates", templates.path().to_str().unwrap()]);
        }
        command.env("RUST_LOG", "warn");
        command
    };
    assert!(web_export(out.path(), false).output().unwrap().status.success());
    let folder = out.path().join("web");
    let before = files(&folder);

    let mut export = web_export(out.path(), true).spawn().unwrap();
    let marker = out.path().join(".web.pending");
    // Killed once new pages wait beside the old ones (looked for now and
    // then: every look reads the whole tree).
    let started = std::time::Instant::now();
    while pending_files(&folder).is_empty() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(export.try_wait().unwrap().is_none(), "the export ended before it could be killed");
    export.kill().unwrap();
    export.wait().unwrap();
    assert!(!out.path().join(".web.journal").exists(), "killed while writing, before moving anything in");
    assert!(!pending_files(&folder).is_empty(), "killed while pages were waiting beside the old ones");
    assert!(files(&folder) == before, "every page is still the previous export's");

    let finished = web_export(out.path(), true).output().unwrap();
    assert!(finished.status.success(), "{}", text(&finished.stderr));
    let fresh = tempfile::tempdir().unwrap();
    assert!(web_export(fresh.path(), true).output().unwrap().status.success());
    let after = files(&folder);
    assert!(after == files(&fresh.path().join("web")), "the next export gives what a fresh one gives");
    let pages: Vec<&String> = after.keys().filter(|path| path.ends_with("/index.html")).collect();
    assert!(pages.len() > 2000, "{} pages", pages.len());
    assert!(pages.iter().all(|path| after[*path].starts_with(b"<!-- restyled -->")), "every page is restyled");
    assert!(pending_files(&folder).is_empty(), "nothing is left waiting");
    assert!(!marker.exists());
}
on_both_databases!(a_killed_export_leaves_the_previous_one_intact);

/// A schema that renames a field the channels read stops the export
/// before anything is written, naming the file and the field, instead of
/// printing pages without it.
async fn an_export_refuses_schemas_that_rename_a_field_the_channels_read(db: TestDb) {
    assert!(import(&db, &repo_path("content")).status.success());
    let schemas = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&repo_path("schemas"), schemas.path());
    let office = schemas.path().join("office.schema.json");
    std::fs::write(&office, std::fs::read_to_string(&office).unwrap().replace("\"opening_hours\"", "\"hours\"")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let content = repo_path("content");
    let args = [
        "export",
        "--all",
        "--out",
        out.path().to_str().unwrap(),
        "--database",
        &db.url,
        "--schemas",
        schemas.path().to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
    ];
    let output = katalog(&args);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "the export must not run: {stderr}");
    assert!(stderr.contains("office.schema.json") && stderr.contains("`opening_hours`"), "{stderr}");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none(), "nothing is written");
}
on_both_databases!(an_export_refuses_schemas_that_rename_a_field_the_channels_read);

/// The 115 overview opens as a table in German spreadsheet programs
/// (semicolons, UTF-8 marked as such) and names every responsible office.
#[test]
fn the_115_overview_opens_in_german_spreadsheets() {
    let bytes = std::fs::read(repo_path("exports/kb115/services.csv")).unwrap();
    let text = std::str::from_utf8(bytes.strip_prefix("\u{feff}".as_bytes()).expect("a UTF-8 byte-order mark")).unwrap();
    let mut lines = text.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    assert_eq!(header.len(), 8, "{header:?}");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(repo_path("exports/kb115/personalausweis-beantragen.json")).unwrap()).unwrap();
    let offices: Vec<&str> = record["included"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.starts_with("office/"))
        .map(|(_, office)| office["name"].as_str().unwrap())
        .collect();
    assert!(offices.len() > 1, "the sample service has several offices");
    let row = lines.find(|line| line.contains(";personalausweis-beantragen;")).unwrap();
    assert!(offices.iter().all(|office| row.contains(office)), "every office of {row}: {offices:?}");
}
