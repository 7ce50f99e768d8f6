//! Retention: `katalog prune` and `serve` delete old audit events and old
//! superseded revisions, and never a revision something still points to.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value};
use serde_json::json;

use crate::helpers::{Client, Server, TestDb, eventually, katalog, repo_path, text, token};
use crate::on_both_databases;

async fn execute(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> u64 {
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap().rows_affected()
}

async fn count(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> i64 {
    let row = db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

/// The revision numbers of an entry's locale, oldest first.
async fn revisions(db: &DatabaseConnection, entry_id: &str, locale: &str) -> Vec<i32> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT number FROM revisions WHERE entry_id = $1 AND locale = $2 ORDER BY number",
            [entry_id.into(), locale.into()],
        ))
        .await
        .unwrap();
    rows.iter().map(|row| row.try_get("", "number").unwrap()).collect()
}

/// Saves `times` new revisions of the entry's German text; publishes the
/// one numbered `publish` when it is reached. Returns the entry's id.
async fn save(client: &Client<'_>, path: &str, times: usize, publish: Option<i64>) -> String {
    let mut id = String::new();
    for round in 0..times {
        let (_, etag, entry) = client.send(Method::GET, path, None, None).await;
        id = entry["id"].as_str().unwrap().to_owned();
        let mut fields = entry["fields"].clone();
        fields["phone"] = json!(format!("+49 711 216-{round:04}"));
        let (status, _, saved) = client.send(Method::PUT, path, etag.as_deref(), Some(json!({"fields": fields}))).await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        if saved["revision"].as_i64() == publish {
            let (status, _, body) = client.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    id
}

fn prune(db: &TestDb, settings: &[&str]) -> String {
    let mut args = vec!["prune", "--database", &db.url];
    args.extend_from_slice(settings);
    let output = katalog(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

async fn old_history_goes_and_what_is_pointed_to_stays(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let client = Client { server: &server, token: token(&db, "publisher", &[]) };
    // Fundbüro: 1 imported, 2 published, 3 to be scheduled, 4 partner
    // bookkeeping's, 5 superseded, 6 the newest.
    let found_property = save(&client, "/api/v1/manage/office/fundbuero", 5, Some(2)).await;
    // Bürgerbüro Mitte: its English text was made from German revision 1.
    let citizens_office = save(&client, "/api/v1/manage/office/buergerbuero-mitte", 2, None).await;
    // Wahlamt: superseded only now, so younger than any retention.
    let elections = save(&client, "/api/v1/manage/office/wahlamt", 2, None).await;

    let connection = Database::connect(&db.url).await.unwrap();
    execute(&connection, "UPDATE publications SET scheduled_number = 3 WHERE entry_id = $1 AND locale = 'de'", vec![found_property.clone().into()]).await;
    execute(
        &connection,
        "INSERT INTO upstream_revisions (entry_id, locale, upstream_revision, number, document, content_hash, provenance, received_in) \
         VALUES ($1, 'de', 1, 4, '{}', 'hash', '{}', 1)",
        vec![found_property.clone().into()],
    )
    .await;
    let long_ago = Utc::now() - Duration::days(100);
    let aged = execute(
        &connection,
        "UPDATE revisions SET created_at = $1 WHERE entry_id IN ($2, $3)",
        vec![long_ago.into(), found_property.clone().into(), citizens_office.clone().into()],
    )
    .await;
    assert!(aged >= 10, "{aged}");
    let audit_events = count(&connection, "SELECT COUNT(*) FROM audit_events", vec![]).await;
    let old_audit_events =
        execute(&connection, "UPDATE audit_events SET at = $1 WHERE entry_id = $2", vec![long_ago.into(), found_property.clone().into()]).await;
    assert!(old_audit_events > 0);

    // Unset, retention keeps everything.
    assert!(prune(&db, &[]).contains("nothing to prune"));
    let before = count(&connection, "SELECT COUNT(*) FROM revisions", vec![]).await;
    let output = prune(&db, &["--keep-revision-days", "30", "--keep-audit-days", "30"]);
    assert_eq!(output.trim(), format!("removed 3 superseded revisions and {old_audit_events} audit events"));
    assert_eq!(count(&connection, "SELECT COUNT(*) FROM revisions", vec![]).await, before - 3);
    assert_eq!(revisions(&connection, &found_property, "de").await, [2, 3, 4, 6], "published, scheduled, partner's and newest stay");
    assert_eq!(revisions(&connection, &citizens_office, "de").await, [1, 3], "the translation's source and the newest stay");
    assert_eq!(revisions(&connection, &citizens_office, "en").await, [1]);
    assert_eq!(revisions(&connection, &elections, "de").await, [1, 2, 3], "recent history stays");
    assert_eq!(count(&connection, "SELECT COUNT(*) FROM audit_events", vec![]).await, audit_events - old_audit_events as i64);
    assert!(prune(&db, &["--keep-revision-days", "30", "--keep-audit-days", "30"]).contains("removed 0 superseded revisions and 0 audit events"));

    // What is left reads and takes new revisions.
    let (status, _, entry) = client.send(Method::GET, "/api/v1/manage/office/fundbuero", None, None).await;
    assert_eq!((status, entry["revision"].as_i64()), (StatusCode::OK, Some(6)), "{entry}");
    assert_eq!(server.get("/api/v1/office/fundbuero").await.status(), StatusCode::OK);
    save(&client, "/api/v1/manage/office/fundbuero", 1, Some(7)).await;

    // serve applies the retention on its own.
    let aged = execute(&connection, "UPDATE audit_events SET at = $1", vec![long_ago.into()]).await;
    assert!(aged > 0);
    let no_import = tempfile::tempdir().unwrap();
    let pruning = Server::start_with(&db, no_import.path(), &["--keep-audit-days", "30"]);
    let cutoff = Utc::now() - Duration::days(30);
    eventually("serve pruned the old audit events", async || {
        count(&connection, "SELECT COUNT(*) FROM audit_events WHERE at < $1", vec![cutoff.into()]).await == 0
    })
    .await;
    drop(pruning);
}
on_both_databases!(old_history_goes_and_what_is_pointed_to_stays);
