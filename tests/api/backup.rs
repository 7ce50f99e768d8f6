//! `katalog backup` and `katalog restore`: a snapshot taken while the server
//! writes restores to the same content, revisions, workflow states and
//! change log, on SQLite, on PostgreSQL and from SQLite to PostgreSQL; and
//! broken or foreign files are refused with nothing restored.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, Server, TestDb, katalog, repo_path, text, token};

/// A backup's tables with their rows in a fixed order: two backups of the
/// same data compare equal whatever order each database returned rows in.
fn contents(file: &Path) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap()));
    let mut tables: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut current = None;
    for line in reader.lines().skip(1) {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if let Some(table) = line.get("table").and_then(Value::as_str) {
            let columns = line["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
            tables.insert(table.to_owned(), (columns, Vec::new()));
            current = Some(table.to_owned());
        } else if line.is_array() {
            tables.get_mut(current.as_ref().unwrap()).unwrap().1.push(line.to_string());
        }
    }
    for (_, rows) in tables.values_mut() {
        rows.sort();
    }
    tables
}

fn backup(db: &TestDb, file: &Path) {
    let output = katalog(&["backup", file.to_str().unwrap(), "--database", &db.url]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn restore(db: &TestDb, file: &Path) -> std::process::Output {
    katalog(&["restore", file.to_str().unwrap(), "--database", &db.url])
}

/// Edits the ID card's German text through the API, `times` times.
async fn edit(server: &Server, db: &TestDb, times: usize) {
    let client = Client { server, token: token(db, "publisher", &[]) };
    let path = "/api/v1/manage/service/personalausweis-beantragen";
    for round in 0..times {
        let (_, etag, entry) = client.send(Method::GET, path, None, None).await;
        let mut fields = entry["fields"].clone();
        fields["teaser"] = json!(format!("Stand {round}: persönlich im Bürgerbüro beantragen."));
        let (status, _, body) = client.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _, body) = client.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn round_trip(from: Backend, to: Backend) {
    let (source, target) = (TestDb::new(from).await, TestDb::new(to).await);
    let work = tempfile::tempdir().unwrap();
    let (first, again) = (work.path().join("first.kbk"), work.path().join("again.kbk"));
    {
        let server = Server::start(&source, &repo_path("content"));
        edit(&server, &source, 3).await;
        // The snapshot is taken while the server keeps writing.
        let writer = edit(&server, &source, 10);
        let url = source.url.clone();
        let path = first.clone();
        let snapshot = tokio::task::spawn_blocking(move || katalog(&["backup", path.to_str().unwrap(), "--database", &url]));
        let (_, taken) = tokio::join!(writer, snapshot);
        let taken = taken.unwrap();
        assert!(taken.status.success(), "{}", text(&taken.stderr));
    }
    let restored = restore(&target, &first);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    backup(&target, &again);
    let (before, after) = (contents(&first), contents(&again));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "the table {table} differs after the round trip");
    }
    for table in ["entries", "revisions", "publications", "changes", "audit_events", "tokens"] {
        assert!(!before[table].1.is_empty(), "the backup holds {table}");
    }

    // The restored database serves; search and caches build themselves; new
    // changes continue the change log.
    let server = Server::start(&target, &repo_path("content"));
    let entry = server.get_json("/api/v1/service/personalausweis-beantragen").await;
    assert!(entry["fields"]["teaser"].as_str().unwrap().starts_with("Stand "), "{entry}");
    let found = server.get_json("/api/v1/search?q=personalausweis").await;
    assert!(found["items"].as_array().is_some_and(|items| !items.is_empty()), "{found}");
    let feed = server.get_json("/api/v1/sync?limit=1000").await;
    assert_eq!(feed["has_more"], false, "{feed}");
    let cursor = feed["next_cursor"].as_str().unwrap().to_owned();
    // New rows continue the restored numbering (PostgreSQL's sequences moved on).
    edit(&server, &target, 1).await;
    let later = server.get_json(&format!("/api/v1/sync?cursor={cursor}")).await;
    assert!(later["items"].as_array().is_some_and(|items| !items.is_empty()), "a new change follows the restored ones: {later}");
}

#[tokio::test]
async fn sqlite_round_trip() {
    round_trip(Backend::Sqlite, Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_round_trip() {
    round_trip(Backend::Postgres, Backend::Postgres).await
}

#[tokio::test]
async fn sqlite_to_postgres() {
    round_trip(Backend::Sqlite, Backend::Postgres).await
}

#[tokio::test]
async fn broken_or_foreign_backups_restore_nothing() {
    let source = TestDb::new(Backend::Sqlite).await;
    let imported = crate::helpers::import(&source, &repo_path("content"));
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.kbk");
    backup(&source, &good);
    let bytes = std::fs::read(&good).unwrap();

    refused(&work, &good, "cut.kbk", &bytes[..bytes.len() / 2], "cut off").await;
    refused(&work, &good, "foreign.kbk", b"this is not a backup", "not a katalog backup").await;
    let mut newer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    newer.write_all(br#"{"format":"katalog-backup","format_version":99,"katalog":"9.0.0","taken_at":"2030-01-01T00:00:00Z","migrations":[]}"#).unwrap();
    newer.write_all(b"\n").unwrap();
    refused(&work, &good, "newer.kbk", &newer.finish().unwrap(), "format version 99").await;

    // Never into a database that has content.
    let output = restore(&source, &good);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("needs an empty database"), "{}", text(&output.stderr));
}

/// Restoring `content` fails with `expected`, and restores nothing: the
/// good backup then restores into the same database.
async fn refused(work: &tempfile::TempDir, good: &Path, name: &str, content: &[u8], expected: &str) {
    let file = work.path().join(name);
    std::fs::write(&file, content).unwrap();
    let target = TestDb::new(Backend::Sqlite).await;
    let output = restore(&target, &file);
    assert!(!output.status.success(), "{name} was restored");
    assert!(text(&output.stderr).contains(expected), "{name}: {}", text(&output.stderr));
    let again = restore(&target, good);
    assert!(again.status.success(), "after the refused {name}: {}", text(&again.stderr));
}
