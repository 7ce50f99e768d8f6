//! Every kind of bad editorial input: a clear message naming file, line and
//! field; nothing imported; a non-zero exit; no panic.

use std::path::Path;

use katalog::store::Store;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{Backend, TestDb, import, katalog, repo_path, sample_content, text};

const ID_CARD: &str = "service/personalausweis-beantragen.md";

/// Applies `break_it` to a copy of the sample content, then checks that
/// both `validate` and `import` reject it with every `expected` fragment in
/// their error output and that the database stays empty.
async fn rejected(break_it: impl FnOnce(&Path), expected: &[String]) {
    let content = sample_content();
    break_it(content.path());

    let schemas = repo_path("schemas");
    let validate = katalog(&["validate", content.path().to_str().unwrap(), "--schemas", schemas.to_str().unwrap()]);
    assert!(!validate.status.success(), "validate accepted it");
    let db = TestDb::new(Backend::Sqlite).await;
    let output = import(&db, content.path());
    assert!(!output.status.success(), "import accepted it");
    for stderr in [text(&validate.stderr), text(&output.stderr)] {
        for fragment in expected {
            assert!(stderr.contains(fragment.as_str()), "expected `{fragment}` in:\n{stderr}");
        }
    }
    assert!(text(&output.stderr).contains("nothing was imported"));
    let store = Store::connect(&db.url).await.unwrap();
    let row = store.connection().query_one_raw(Statement::from_string(store.backend(), "SELECT COUNT(*) FROM revisions".to_owned())).await.unwrap().unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0, "nothing may be imported");
}

/// Replaces the first occurrence in a file; returns the 1-based line of it.
fn edit(root: &Path, file: &str, from: &str, to: &str) -> usize {
    let path = root.join(file);
    let original = std::fs::read_to_string(&path).unwrap();
    let at = original.find(from).unwrap_or_else(|| panic!("`{from}` not in {file}"));
    std::fs::write(&path, original.replacen(from, to, 1)).unwrap();
    original[..at].matches('\n').count() + 1
}

fn line_of(file: &str, needle: &str) -> usize {
    let original = std::fs::read_to_string(repo_path("content").join(file)).unwrap();
    original[..original.find(needle).unwrap()].matches('\n').count() + 1
}

#[tokio::test]
async fn invalid_toml() {
    let line = line_of(ID_CARD, "name = \"Personalausweis beantragen\"");
    rejected(
        |root| {
            edit(root, ID_CARD, "name = \"Personalausweis beantragen\"", "name = \"Personalausweis beantragen");
        },
        &[format!("{ID_CARD}:{line}:"), "invalid TOML".into()],
    )
    .await;
}

#[tokio::test]
async fn unknown_front_matter_key() {
    let line = line_of(ID_CARD, "leika = ") + 1;
    rejected(
        |root| {
            let leika_line = std::fs::read_to_string(root.join(ID_CARD)).unwrap().lines().find(|l| l.starts_with("leika")).unwrap().to_owned();
            edit(root, ID_CARD, &leika_line, &format!("{leika_line}\ncolour = \"blue\""));
        },
        &[format!("{ID_CARD}:{line}: /colour: unknown field `colour`")],
    )
    .await;
}

#[tokio::test]
async fn heading_the_schema_does_not_declare() {
    rejected(
        |root| {
            edit(root, ID_CARD, "## Voraussetzungen", "## Öffnungszeiten\n\nMo–Fr\n\n## Voraussetzungen");
        },
        &[format!("{ID_CARD}:{}:", line_of(ID_CARD, "## Voraussetzungen")), "`## Öffnungszeiten` is not a section".into()],
    )
    .await;
}

#[tokio::test]
async fn wrong_type() {
    let line = line_of(ID_CARD, "amount = ");
    rejected(
        |root| {
            edit(root, ID_CARD, "amount = ", "amount = \"viel\" # ");
        },
        &[format!("{ID_CARD}:{line}: /fees/0/amount:"), "is not of type \"number\"".into()],
    )
    .await;
}

#[tokio::test]
async fn missing_required_field() {
    rejected(
        |root| {
            let keywords = std::fs::read_to_string(root.join(ID_CARD)).unwrap().lines().find(|l| l.starts_with("keywords")).unwrap().to_owned();
            edit(root, ID_CARD, &keywords, "");
        },
        &[format!("{ID_CARD}:1: /keywords: required field `keywords` is missing")],
    )
    .await;
}

#[tokio::test]
async fn malformed_leika_key() {
    let line = line_of(ID_CARD, "leika = ");
    rejected(
        |root| {
            let leika_line = std::fs::read_to_string(root.join(ID_CARD)).unwrap().lines().find(|l| l.starts_with("leika")).unwrap().to_owned();
            edit(root, ID_CARD, &leika_line, "leika = \"9910201310400X\"");
        },
        &[format!("{ID_CARD}:{line}: /leika:"), "^[0-9]{14}$".into()],
    )
    .await;
}

#[tokio::test]
async fn reference_to_a_missing_office() {
    let line = line_of(ID_CARD, "office = \"buergerbuero-mitte\"");
    rejected(
        |root| {
            edit(root, ID_CARD, "office = \"buergerbuero-mitte\"", "office = \"buergerbuero-atlantis\"");
        },
        &[format!("{ID_CARD}:{line}: /responsible_offices/0/office: refers to the office `buergerbuero-atlantis`, which does not exist")],
    )
    .await;
}

#[tokio::test]
async fn duplicate_slug() {
    rejected(
        |root| {
            std::fs::create_dir_all(root.join("service/archiv")).unwrap();
            std::fs::copy(root.join(ID_CARD), root.join("service/archiv/personalausweis-beantragen.md")).unwrap();
        },
        &["duplicate slug `personalausweis-beantragen`".into()],
    )
    .await;
}

#[tokio::test]
async fn translation_without_german_source() {
    rejected(
        |root| {
            std::fs::write(root.join("service/hausboot-anmelden.en.md"), "+++\nname = \"Register a houseboat\"\n+++\n").unwrap();
        },
        &["service/hausboot-anmelden.en.md".into(), "translation without its German source".into()],
    )
    .await;
}

#[tokio::test]
async fn file_that_is_not_utf8() {
    rejected(
        |root| {
            let mut bytes = std::fs::read(root.join(ID_CARD)).unwrap();
            let third_line = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1;
            bytes.splice(third_line..third_line, [b'K', 0xF6, b'l', b'n', b'\n']);
            std::fs::write(root.join(ID_CARD), bytes).unwrap();
        },
        &[format!("{ID_CARD}:3: file is not valid UTF-8")],
    )
    .await;
}

#[tokio::test]
async fn empty_file() {
    rejected(|root| std::fs::write(root.join("service/leer.md"), "").unwrap(), &["service/leer.md:1: file is empty".into()]).await;
}

#[tokio::test]
async fn twenty_megabyte_file() {
    rejected(
        |root| {
            let mut text = std::fs::read_to_string(root.join(ID_CARD)).unwrap();
            text.push_str(&"Lorem ipsum dolor sit amet. ".repeat(20 * 1024 * 1024 / 28));
            std::fs::write(root.join("service/riesig.md"), text).unwrap();
        },
        &["service/riesig.md: file is 20.0 MiB; the limit is 1 MiB per file".into()],
    )
    .await;
}

#[tokio::test]
async fn every_problem_is_listed_at_once() {
    rejected(
        |root| {
            std::fs::write(root.join("service/leer.md"), "").unwrap();
            edit(root, "office/standesamt.md", "kind = \"", "kind = \"nonsense-");
            std::fs::write(root.join("topic/README.txt"), "notes").unwrap();
        },
        &["service/leer.md".into(), "office/standesamt.md".into(), "topic/README.txt".into()],
    )
    .await;
}

#[tokio::test]
async fn the_sample_content_is_valid() {
    let schemas = repo_path("schemas");
    let output = katalog(&["validate", repo_path("content").to_str().unwrap(), "--schemas", schemas.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[tokio::test]
async fn symbolic_links_are_refused() {
    rejected(
        |root| {
            std::os::unix::fs::symlink(root.join("service"), root.join("service/loop")).unwrap();
            std::os::unix::fs::symlink("/etc", root.join("article")).unwrap_or_else(|_| {
                std::os::unix::fs::symlink("/etc", root.join("topic/etc")).unwrap();
            });
        },
        &["service/loop: symbolic links are not followed".into()],
    )
    .await;
}
