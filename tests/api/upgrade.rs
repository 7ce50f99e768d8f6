//! Upgrades: instances started at once do not race to migrate, and a
//! database of the previous release keeps its content when it is upgraded.

use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;

use crate::helpers::{BIN, Backend, Client, Server, TestDb, katalog, repo_path, text};
use crate::on_both_databases;

/// Every migration this release knows, in order.
const MIGRATIONS: [&str; 9] = [
    "m20261127_000001_create_content_tables",
    "m20261127_000002_tokens_reviews_trash",
    "m20261127_000003_audit_events",
    "m20261127_000004_entry_links",
    "m20261127_000005_webhooks",
    "m20261128_000006_partner_subscriptions",
    "m20261128_000007_partner_auto_publish",
    "m20261128_000008_partner_files",
    "m20261128_000009_editor_sessions",
];

async fn applied_migrations(db: &DatabaseConnection) -> Vec<String> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT version FROM seaql_migrations ORDER BY version")).await.unwrap();
    rows.iter().map(|row| row.try_get("", "version").unwrap()).collect()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}"))).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

async fn instances_migrating_at_once_do_not_race(db: TestDb) {
    let migrations: Vec<_> =
        (0..3).map(|_| Command::new(BIN).args(["migrate", "--database", &db.url]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    for migration in migrations {
        let output = migration.wait_with_output().unwrap();
        assert!(output.status.success(), "every instance succeeds: {}", text(&output.stderr));
    }
    let connection = Database::connect(&db.url).await.unwrap();
    assert_eq!(applied_migrations(&connection).await, MIGRATIONS, "each migration applied once");
    assert_eq!(count(&connection, "entries").await, 0, "the schema is usable");
    assert_eq!(count(&connection, "editor_sessions").await, 0, "the newest table exists");
}
on_both_databases!(instances_migrating_at_once_do_not_race);

/// The previous release's schema (migrations up to 000006) with three
/// entries, a published edit and a newer draft, as that release left it.
const PREVIOUS_RELEASE: &str = "tests/fixtures/release-000006";
/// The publisher token stored in the fixture.
const FIXTURE_TOKEN: &str = "kat_40d6243695b8_o9jVWSGMbvwyPPW2dRlYVIKYKn3u5zVq5L0WYRwbB_w";
const FOUND_PROPERTY_OFFICE: &str = "/api/v1/manage/office/fundbuero";

async fn the_previous_release_upgrades_with_nothing_lost(db: TestDb) {
    let script = match db.backend() {
        Backend::Sqlite => "sqlite.sql",
        Backend::Postgres => "postgres.sql",
    };
    let script = std::fs::read_to_string(repo_path(PREVIOUS_RELEASE).join(script)).unwrap();
    let connection = Database::connect(match db.backend() {
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    })
    .await
    .unwrap();
    connection.execute_unprepared(&script).await.unwrap();
    assert_eq!(applied_migrations(&connection).await, MIGRATIONS[..6], "the fixture is the previous release");
    let tables = ["entries", "revisions", "publications", "changes", "audit_events", "tokens"];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&connection, table).await);
    }

    let output = katalog(&["migrate", "--database", &db.url]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(applied_migrations(&connection).await, MIGRATIONS);
    for (table, rows) in tables.iter().zip(&before) {
        assert_eq!(count(&connection, table).await, *rows, "{table} kept every row");
    }

    // Content, revisions and the change log read as before; the old token
    // still signs requests in.
    let no_import = tempfile::tempdir().unwrap();
    let server = Server::start(&db, no_import.path());
    let published = server.get_json("/api/v1/office/fundbuero").await;
    assert_eq!(published["fields"]["phone"], "+49 711 216-1111", "{published}");
    let client = Client { server: &server, token: FIXTURE_TOKEN.to_owned() };
    let (status, etag, draft) = client.send(Method::GET, FOUND_PROPERTY_OFFICE, None, None).await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!((draft["revision"].as_i64(), draft["fields"]["phone"].as_str()), (Some(3), Some("+49 711 216-2222")), "{draft}");
    let feed = server.get_json("/api/v1/sync?limit=1000").await;
    assert_eq!(feed["items"].as_array().map(Vec::len), Some(3), "one change per entry in the feed: {feed}");

    // A new save and publish work on the upgraded database and continue
    // the revision numbers and the change log.
    let mut fields = draft["fields"].clone();
    fields["phone"] = json!("+49 711 216-3333");
    let (status, _, saved) = client.send(Method::PUT, FOUND_PROPERTY_OFFICE, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["revision"], 4, "{saved}");
    let (status, _, body) = client.send(Method::POST, &format!("{FOUND_PROPERTY_OFFICE}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.get_json("/api/v1/office/fundbuero").await["fields"]["phone"], "+49 711 216-3333");
    let (revisions, changes) = (before[1], before[3]);
    assert_eq!(count(&connection, "revisions").await, revisions + 1);
    assert!(count(&connection, "changes").await > changes, "the change log continues");
}
on_both_databases!(the_previous_release_upgrades_with_nothing_lost);
