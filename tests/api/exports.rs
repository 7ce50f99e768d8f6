//! Channel exports: the checked-in `exports/` is what the sample content
//! gives, on either database; exports are deterministic and incremental.

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::{TestDb, import, katalog, repo_path, sample_content, text};
use crate::on_both_databases;

/// The channels exported into `exports/`.
const CHANNELS: [&str; 2] = ["app", "kb115"];

fn export(db: &TestDb, out: &Path) -> String {
    let schemas = repo_path("schemas");
    let output = katalog(&["export", "--all", "--out", out.to_str().unwrap(), "--database", &db.url, "--schemas", schemas.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// Every file below `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for item in std::fs::read_dir(&folder).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap());
            }
        }
    }
    found
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
    assert!(first.contains("kb115: 65 written, 0 deleted"), "{first}");
    let again = export(&db, out.path());
    assert!(again.contains("app: 0 written, 0 deleted") && again.contains("kb115: 0 written, 0 deleted"), "a second run writes nothing: {again}");
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
    expected.extend(["app/index.json".to_owned(), "app/office/fundbuero.de.json".to_owned()]);
    expected.sort();
    // The overview lists each service's first office only.
    let changed_except_overview: Vec<String> = changed.iter().filter(|p| *p != "kb115/services.csv").cloned().collect();
    assert_eq!(changed_except_overview, expected, "{report}");
    let kb115_changed = changed.iter().filter(|p| p.starts_with("kb115/")).count();
    assert!(report.contains(&format!("kb115: {kb115_changed} written, 0 deleted")), "{report}");
    assert!(report.contains("app: 2 written, 0 deleted"), "{report}");

    // A service that loses a field the 115 knowledge base needs is left out, and its old record goes.
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
    assert!(import(&db, content.path()).status.success());
    let report = export(&db, out.path());
    assert!(report.contains(&format!("left out of kb115: service/{slug}: missing processing_time (required for kb115)")), "{report}");
    assert!(!out.path().join(format!("kb115/{slug}.json")).exists());
    assert!(out.path().join(format!("app/service/{slug}.de.json")).exists(), "other channels still carry it");
}
on_both_databases!(exports_rewrite_only_what_changed);
