//! A crash: `serve` is killed with SIGKILL in the middle of saves,
//! publishes and webhook deliveries. Whatever it acknowledged is there
//! after a restart, with its change-log entry, and every webhook that was
//! due is delivered or still pending.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value as SqlValue};
use serde_json::{Value, json};

use crate::helpers::{LOOPBACK, Server, TestDb, eventually, http_client, sample_content, token};
use crate::on_both_databases;
use crate::webhooks::Receiver;

const FAST_WEBHOOKS: [&str; 8] = ["--webhook-debounce-ms", "50", "--webhook-backoff-ms", "200", "--webhook-max-backoff-ms", "500", LOOPBACK[0], LOOPBACK[1]];
/// Services written to at once, each by its own writer.
const SERVICES: [&str; 4] = ["wohngeld-beantragen", "fundsache-melden", "personalausweis-beantragen", "briefwahl-beantragen"];

/// A write the server answered with 200.
#[derive(Debug)]
enum Acknowledged {
    Saved { slug: &'static str, revision: i64, name: String },
    Published { slug: &'static str, revision: i64 },
}

/// Saves a new name and publishes it, again and again, until the server
/// stops answering; returns what it acknowledged.
/// `published` counts the publishes of every writer as they are acknowledged.
async fn write_until_gone(base: String, token: String, slug: &'static str, published: Arc<AtomicUsize>) -> Vec<Acknowledged> {
    let client = http_client();
    let path = format!("{base}/api/v1/manage/service/{slug}");
    let mut acknowledged = Vec::new();
    for round in 0.. {
        let Ok(response) = client.get(&path).bearer_auth(&token).send().await else { break };
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Ok(entry) = response.json::<Value>().await else { break };
        let mut fields = entry["fields"].clone();
        let name = format!("{slug} ({round})");
        fields["name"] = json!(name);
        let mut save = client.put(&path).bearer_auth(&token).json(&json!({"fields": fields}));
        if let Some(etag) = etag {
            save = save.header("If-Match", etag);
        }
        let Ok(response) = save.send().await else { break };
        if response.status() != StatusCode::OK {
            continue;
        }
        let Ok(saved) = response.json::<Value>().await else { break };
        let revision = saved["revision"].as_i64().unwrap();
        acknowledged.push(Acknowledged::Saved { slug, revision, name });
        let publish = client.post(format!("{path}/transitions")).bearer_auth(&token).json(&json!({"action": "publish"}));
        let Ok(response) = publish.send().await else { break };
        if response.status() == StatusCode::OK {
            acknowledged.push(Acknowledged::Published { slug, revision });
            published.fetch_add(1, Ordering::Relaxed);
        }
    }
    acknowledged
}

async fn number(db: &DatabaseConnection, sql: &str, values: Vec<SqlValue>) -> i64 {
    let row = db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

async fn acknowledged_writes_survive_a_kill(db: TestDb) {
    let content = sample_content();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let receiver = Receiver::start(port).await;
    let mut server = Server::start_process(&db, content.path(), &FAST_WEBHOOKS);
    let (admin, publisher) = (token(&db, "admin", &[]), token(&db, "publisher", &[]));
    let subscription = server
        .client
        .post(server.url("/api/v1/manage/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": format!("http://127.0.0.1:{port}/hook"), "content_types": ["service"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscription.status(), StatusCode::CREATED);

    let published = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = SERVICES.iter().map(|slug| tokio::spawn(write_until_gone(server.base.clone(), publisher.clone(), slug, published.clone()))).collect();
    // Killed in the middle of the writes, with webhooks under way.
    eventually("publishes by every writer", async || published.load(Ordering::Relaxed) >= 3 * SERVICES.len()).await;
    server.kill_hard();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let publishes = acknowledged.iter().filter(|ack| matches!(ack, Acknowledged::Published { .. })).count();
    assert!(publishes >= SERVICES.len(), "every writer got some publishes through before the kill: {acknowledged:?}");

    let server = Server::start_with(&db, content.path(), &FAST_WEBHOOKS);
    let connection = Database::connect(&db.url).await.unwrap();
    for ack in &acknowledged {
        match ack {
            Acknowledged::Saved { slug, revision, name } => {
                let stored = number(
                    &connection,
                    "SELECT COUNT(*) FROM revisions r JOIN entries e ON e.id = r.entry_id \
                     WHERE e.slug = $1 AND r.locale = 'de' AND r.number = $2 AND r.document LIKE $3",
                    vec![(*slug).into(), (*revision as i32).into(), format!("%{name}%").into()],
                )
                .await;
                assert_eq!(stored, 1, "the acknowledged save of {slug} revision {revision} is stored");
            }
            Acknowledged::Published { slug, revision } => {
                let logged = number(
                    &connection,
                    "SELECT COUNT(*) FROM changes WHERE slug = $1 AND locale = 'de' AND action = 'publish' AND revision_number = $2",
                    vec![(*slug).into(), (*revision as i32).into()],
                )
                .await;
                assert_eq!(logged, 1, "the acknowledged publish of {slug} revision {revision} is in the change log");
                let published = number(
                    &connection,
                    "SELECT CAST(p.published_number AS BIGINT) FROM publications p JOIN entries e ON e.id = p.entry_id WHERE e.slug = $1 AND p.locale = 'de'",
                    vec![(*slug).into()],
                )
                .await;
                assert!(published >= *revision, "{slug} is published at {published}, at least the acknowledged {revision}");
            }
        }
    }

    // Every publish was due for delivery: after the restart each has its
    // delivery (one per burst of an entry), pending or delivered, and the
    // receiver hears about every entry written to.
    for slug in SERVICES {
        let last_publish = number(&connection, "SELECT CAST(MAX(seq) AS BIGINT) FROM changes WHERE slug = $1 AND action = 'publish'", vec![slug.into()]).await;
        eventually(&format!("the newest publish of {slug} is queued for delivery"), async || {
            number(
                &connection,
                "SELECT COUNT(*) FROM webhook_deliveries d JOIN entries e ON e.id = d.entry_id \
                 WHERE e.slug = $1 AND d.change_seq >= $2 AND d.status IN ('pending', 'delivered')",
                vec![slug.into(), last_publish.into()],
            )
            .await
                > 0
        })
        .await;
        eventually(&format!("a webhook about {slug} arrived"), async || receiver.received().iter().any(|r| r.json()["entry"]["slug"] == slug)).await;
    }
    assert_eq!(number(&connection, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed'", vec![]).await, 0);
    drop(server);
}
on_both_databases!(acknowledged_writes_survive_a_kill);
