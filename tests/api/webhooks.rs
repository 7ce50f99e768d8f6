//! Webhooks: subscriptions, signed deliveries to a receiver on loopback,
//! retries while it is down, order per entry, debounced bursts, and no
//! loss when the server dies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use poem::listener::{Listener, TcpListener};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Client, LOOPBACK, Server, TestDb, eventually, import, katalog, sample_content, text, token};
use crate::on_both_databases;

/// Timing that lets a test watch several retries in a few seconds.
const FAST: [&str; 6] = ["--webhook-debounce-ms", "100", "--webhook-backoff-ms", "200", "--webhook-max-backoff-ms", "500"];

#[derive(Clone, Debug)]
pub struct Received {
    signature: String,
    event: String,
    body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP receiver on loopback that records every delivery.
pub struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start(port: u16) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorded = received.clone();
        let hook = poem::endpoint::make(move |mut request: poem::Request| {
            let recorded = recorded.clone();
            async move {
                let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let (signature, event) = (header("katalog-signature"), header("katalog-event"));
                let body = request.take_body().into_vec().await.unwrap_or_default();
                recorded.lock().unwrap().push(Received { signature, event, body });
                poem::http::StatusCode::NO_CONTENT
            }
        });
        let app = poem::Route::new().at("/hook", poem::post(hook));
        let acceptor = TcpListener::bind(format!("127.0.0.1:{port}")).into_acceptor().await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app,
            async {
                let _ = stopped.await;
            },
            None,
        ));
        Receiver { received, stop: Some(stop) }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A port nothing listens on (until a test starts a receiver there).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn subscribe(admin: &Client<'_>, port: u16, extra: Value) -> (String, String) {
    let mut body = json!({"url": format!("http://127.0.0.1:{port}/hook")});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, _, created) = admin.send(Method::POST, "/api/v1/manage/webhooks", None, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

/// Saves a new German name and publishes it.
pub async fn rename_and_publish(publisher: &Client<'_>, slug: &str, name: &str) {
    let path = format!("/api/v1/manage/service/{slug}");
    let (status, etag, entry) = publisher.send(Method::GET, &path, None, None).await;
    assert_eq!(status, 200, "{entry}");
    let mut fields = entry["fields"].clone();
    fields["name"] = json!(name);
    let (status, _, saved) = publisher.send(Method::PUT, &path, etag.as_deref(), Some(json!({"fields": fields}))).await;
    assert_eq!(status, 200, "{saved}");
    let (status, _, published) = publisher.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish"}))).await;
    assert_eq!(status, 200, "{published}");
}

pub async fn delivery_log(admin: &Client<'_>, id: &str) -> Vec<Value> {
    let (status, _, log) = admin.send(Method::GET, &format!("/api/v1/manage/webhooks/{id}/deliveries"), None, None).await;
    assert_eq!(status, 200, "{log}");
    log["items"].as_array().unwrap().clone()
}

async fn subscriptions_are_managed_by_admins(db: TestDb) {
    let server = Server::start(&db, &crate::helpers::repo_path("content"));
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let editor = Client { server: &server, token: token(&db, "editor", &[]) };
    let url = "/api/v1/manage/webhooks";
    let (status, _, _) = editor.send(Method::POST, url, None, Some(json!({"url": "http://127.0.0.1:9/hook"}))).await;
    assert_eq!(status, 403);
    let (status, _, _) = editor.send(Method::GET, url, None, None).await;
    assert_eq!(status, 403);

    let (status, _, problem) = admin
        .send(
            Method::POST,
            url,
            None,
            Some(json!({"url": "ftp://example.org/", "events": ["entry.exploded"], "content_types": ["unicorn"], "secret": "short"})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/url", "/content_types/0", "/events/0", "/secret"], "{problem}");

    let (status, _, created) = admin
        .send(Method::POST, url, None, Some(json!({"url": "https://receiver.example/hook", "events": ["entry.published"], "content_types": ["service"]})))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(created["secret"].as_str().unwrap().len() >= 32, "a strong secret is generated");
    let (status, _, listed) = admin.send(Method::GET, url, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["id"], id);
    assert!(listed["items"][0].get("secret").is_none(), "the secret is shown once");
    let (status, _, one) = admin.send(Method::GET, &format!("{url}/{id}"), None, None).await;
    assert_eq!((status.as_u16(), &one["events"]), (200, &json!(["entry.published"])));
    assert!(delivery_log(&admin, id).await.is_empty());
    let (status, _, _) = admin.send(Method::DELETE, &format!("{url}/{id}"), None, None).await;
    assert_eq!(status, 204);
    let (status, _, problem) = admin.send(Method::GET, &format!("{url}/{id}"), None, None).await;
    assert_eq!(status, 404, "{problem}");
    let (status, _, audit) = admin.send(Method::GET, "/api/v1/manage/audit?limit=2", None, None).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["webhook.delete", "webhook.create"]);
}
on_both_databases!(subscriptions_are_managed_by_admins);

async fn a_receiver_that_was_down_gets_every_event_in_order(db: TestDb) {
    let port = free_port();
    let content = sample_content();
    let mut first = Server::start_process(&db, content.path(), &[&FAST[..], &LOOPBACK].concat());
    let admin_token = token(&db, "admin", &[]);
    let publisher_token = token(&db, "publisher", &[]);
    let (id, secret) = {
        let admin = Client { server: &first, token: admin_token.clone() };
        let publisher = Client { server: &first, token: publisher_token.clone() };
        let (id, secret) = subscribe(&admin, port, json!({"content_types": ["service"]})).await;
        rename_and_publish(&publisher, "wohngeld-beantragen", "Wohngeld beantragen (1)").await;
        eventually("a failed attempt is logged", async || {
            let log = delivery_log(&admin, &id).await;
            log.first().is_some_and(|d| d["attempts"].as_i64() >= Some(2) && d["status"] == "pending")
        })
        .await;
        let log = delivery_log(&admin, &id).await;
        assert!(log[0]["last_error"].as_str().unwrap().to_lowercase().contains("connect"), "{}", log[0]);
        let (status, _, _) =
            publisher.send(Method::POST, "/api/v1/manage/service/wohngeld-beantragen/transitions", None, Some(json!({"action": "unpublish"}))).await;
        assert_eq!(status, 200);
        rename_and_publish(&publisher, "fundsache-melden", "Fundsache melden (1)").await;
        // Not a service: the subscription does not want it.
        let path = "/api/v1/manage/office/standesamt/transitions";
        let (status, _, _) = publisher.send(Method::POST, path, None, Some(json!({"action": "unpublish"}))).await;
        assert_eq!(status, 200);
        (id, secret)
    };
    // The server dies with the events unsent; another one takes over.
    first.kill_hard();
    let receiver = Receiver::start(port).await;
    let second = Server::start_with(&db, content.path(), &[&FAST[..], &LOOPBACK].concat());
    let admin = Client { server: &second, token: admin_token };
    eventually("every event arrives", async || receiver.received().len() >= 3).await;
    outbox_drained(&second).await;
    let received = receiver.received();
    let mut per_entry: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for delivery in &received {
        assert!(katalog::webhooks::signature::verify(&secret, &delivery.signature, &delivery.body), "bad signature: {}", delivery.signature);
        let payload = delivery.json();
        assert_eq!(payload["event"], delivery.event);
        assert_eq!(payload["entry"]["type"], "service");
        per_entry.entry(payload["entry"]["slug"].as_str().unwrap().to_owned()).or_default().push(delivery.event.clone());
    }
    assert_eq!(received.len(), 3, "{per_entry:?}");
    assert_eq!(per_entry["wohngeld-beantragen"], ["entry.published", "entry.unpublished"]);
    assert_eq!(per_entry["fundsache-melden"], ["entry.published"]);
    let log = delivery_log(&admin, &id).await;
    assert!(log.iter().all(|d| d["status"] == "delivered" && d["last_status"] == 204), "{log:?}");
    assert!(log.last().unwrap()["attempts"].as_i64().unwrap() >= 3, "the first was retried: {}", log.last().unwrap());
}
on_both_databases!(a_receiver_that_was_down_gets_every_event_in_order);

async fn a_burst_of_changes_fires_one_event_per_entry(db: TestDb) {
    const SERVICES: usize = 500;
    let generated = tempfile::tempdir().unwrap();
    let content = generated.path().join("content");
    let output = katalog(&["generate", "--services", &SERVICES.to_string(), "--out", content.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let server = Server::start_with(&db, &content, &["--webhook-debounce-ms", "3000", LOOPBACK[0], LOOPBACK[1]]);
    let port = free_port();
    let receiver = Receiver::start(port).await;
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    let (id, _) = subscribe(&admin, port, json!({})).await;
    // Two imports in quick succession: two new revisions of every service.
    for round in 1..=2 {
        for file in walk(&content.join("service")) {
            let text = std::fs::read_to_string(&file).unwrap();
            let text = text.replacen("\nname = \"", &format!("\nname = \"R{round} "), 1);
            std::fs::write(&file, text).unwrap();
        }
        let imported = import(&db, &content);
        assert!(imported.status.success(), "{}", text(&imported.stderr));
    }
    eventually("an event for every service arrives", async || receiver.received().len() >= SERVICES).await;
    outbox_drained(&server).await;
    let received = receiver.received();
    let mut entries: Vec<String> = received.iter().map(|d| d.json()["entry"]["id"].as_str().unwrap().to_owned()).collect();
    entries.sort();
    entries.dedup();
    assert_eq!((received.len(), entries.len()), (SERVICES, SERVICES), "one event per entry, not one per revision");
    let log = delivery_log(&admin, &id).await;
    assert!(log.iter().all(|d| d["event"] == "entry.published" && d["status"] == "delivered"));
}
on_both_databases!(a_burst_of_changes_fires_one_event_per_entry);

/// A stopping server delivers the events of its last writes before it
/// exits, instead of leaving them until the next start.
async fn shutdown_flushes_the_outbox(db: TestDb) {
    let content = sample_content();
    // Without the flush, the event would wait a minute for further changes.
    let mut server = Server::start_process(&db, content.path(), &["--webhook-debounce-ms", "60000", LOOPBACK[0], LOOPBACK[1]]);
    let port = free_port();
    let receiver = Receiver::start(port).await;
    let admin = Client { server: &server, token: token(&db, "admin", &[]) };
    subscribe(&admin, port, json!({})).await;
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    rename_and_publish(&publisher, "personalausweis-beantragen", "Personalausweis (neu)").await;
    assert!(receiver.received().is_empty(), "debounced: nothing is sent yet");

    let exit = server.terminate().await;
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit}");
    let received = receiver.received();
    assert_eq!(received.len(), 1, "the pending event is delivered before exit");
    assert_eq!(received[0].json()["entry"]["slug"], "personalausweis-beantragen");
}
on_both_databases!(shutdown_flushes_the_outbox);

/// Returns once every change is queued and no delivery waits: nothing
/// more will be sent.
async fn outbox_drained(server: &Server) {
    eventually("the outbox drains", async || {
        let exposition = server.get("/metrics").await.text().await.unwrap();
        exposition.contains("katalog_change_log_lag{consumer=\"webhooks\"} 0\n") && exposition.contains("katalog_webhook_deliveries_pending 0\n")
    })
    .await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
