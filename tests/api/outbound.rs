//! Outbound requests are fenced: partner sources and webhook URLs that are,
//! resolve to or redirect to loopback and other internal addresses are
//! refused unless allowed by name; a partner's files are bounded in size
//! and a sync in time; errors never repeat what the remote side answered.

use std::time::Duration;

use futures_util::stream;
use poem::listener::{Listener, TcpListener};
use poem::{Body, Response};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Client, LOOPBACK, Server, TestDb, eventually, katalog, repo_path, sample_content, text, token};
use crate::on_both_databases;
use crate::partner_live::town_content;
use crate::partner_sync::{StaticServer, state};
use crate::webhooks::{Receiver, delivery_log, free_port, rename_and_publish};

/// What an internal service would not want repeated to whoever asked.
const SECRET: &str = "internal-secret-7f3a";

/// A server on loopback that answers every partner fetch badly: with a
/// redirect to an internal address, an error whose body holds a secret,
/// JSON that is no bundle, a manifest over the size limit (streamed, with
/// no length announced) or one that trickles in a byte at a time.
struct Hostile {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Hostile {
    async fn start() -> Hostile {
        let port = free_port();
        let endpoint = poem::endpoint::make(move |request: poem::Request| async move {
            let redirect = |to: String| Response::builder().status(poem::http::StatusCode::FOUND).header("location", to).finish();
            match request.uri().path() {
                "/to-localhost/manifest.json" => redirect(format!("http://localhost:{port}/other/manifest.json")),
                "/to-private/manifest.json" => redirect("http://10.0.0.1/manifest.json".into()),
                "/error/manifest.json" => {
                    Response::builder().status(poem::http::StatusCode::INTERNAL_SERVER_ERROR).body(format!("database password: {SECRET}"))
                }
                "/other/manifest.json" => Response::builder().content_type("application/json").body(json!({"format": SECRET, "token": SECRET}).to_string()),
                "/big/manifest.json" => {
                    let chunks = stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 32 * 1024])));
                    Response::builder().content_type("application/json").body(Body::from_bytes_stream(chunks))
                }
                "/slow/manifest.json" => {
                    let trickle = stream::unfold(0, |sent| async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        (sent < 10_000).then_some((Ok::<_, std::io::Error>(vec![b' ']), sent + 1))
                    });
                    Response::builder().content_type("application/json").body(Body::from_bytes_stream(trickle))
                }
                _ => Response::builder().status(poem::http::StatusCode::NOT_FOUND).finish(),
            }
        });
        let acceptor = TcpListener::bind(format!("127.0.0.1:{port}")).into_acceptor().await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            endpoint,
            async {
                let _ = stopped.await;
            },
            Some(Duration::from_secs(1)),
        ));
        Hostile { port, stop: Some(stop) }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Adds a partner through the API; its status and answer.
async fn add(admin: &Client<'_>, name: &str, source: &str) -> (u16, Value) {
    let (status, _, body) = admin.send(Method::POST, "/api/v1/manage/partners", None, Some(json!({"name": name, "source": source}))).await;
    (status.as_u16(), body)
}

async fn sync(publisher: &Client<'_>, name: &str) -> (u16, Value) {
    let (status, _, body) = publisher.send(Method::POST, &format!("/api/v1/manage/partners/{name}/sync"), None, None).await;
    (status.as_u16(), body)
}

/// Through the management API: internal sources are refused when added
/// (a literal address) or synced (a name resolving to one, a redirect to
/// one); with loopback allowed, a file over the limit, a sync past its
/// deadline and a server answering errors or other JSON are refused,
/// naming the URL and a short cause but nothing the server sent. Nothing
/// here is stored, so one database is enough.
#[tokio::test]
async fn partner_sources_are_fenced_and_bounded() {
    let hostile = Hostile::start().await;
    let port = hostile.port;
    let town = TestDb::new(Backend::Sqlite).await;
    let content = town_content();
    let closed = Server::start(&town, content.path());
    let before = state(&town).await;
    let admin = Client { server: &closed, token: token(&town, "admin", &[]) };
    let publisher = Client { server: &closed, token: token(&town, "publisher", &[]) };
    for (source, address) in [
        (format!("http://127.0.0.1:{port}/other/"), "127.0.0.1"),
        ("http://[::1]:8080/partner/".into(), "::1"),
        ("http://169.254.169.254/latest/meta-data/".into(), "169.254.169.254"),
        ("https://10.20.30.40/partner/".into(), "10.20.30.40"),
        ("http://[::ffff:192.168.0.1]/partner/".into(), "::ffff:192.168.0.1"),
        ("http://2130706433/partner/".into(), "127.0.0.1"),
    ] {
        let (status, problem) = add(&admin, "internal", &source).await;
        assert_eq!(status, 422, "{source}: {problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/source", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains(&format!("address {address} is not public")), "{source}: {problem}");
    }
    // A name is judged by the addresses it resolves to, when it is fetched.
    let (status, added) = add(&admin, "by-name", &format!("http://localhost:{port}/other/")).await;
    assert_eq!(status, 201, "{added}");
    let (status, problem) = sync(&publisher, "by-name").await;
    assert_eq!(status, 502, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("cannot fetch http://localhost:{port}/other/manifest.json: address")) && detail.contains("is not public"), "{detail}");
    drop(closed);

    let bounded = ["--partner-max-file-mb", "1", "--partner-sync-timeout-secs", "2"];
    let open = Server::start_with(&town, content.path(), &[&LOOPBACK[..], &bounded].concat());
    let admin = Client { server: &open, token: token(&town, "admin", &[]) };
    let publisher = Client { server: &open, token: token(&town, "publisher", &[]) };
    for (name, status, said) in [
        ("to-localhost", 502, "is not public"),
        ("to-private", 502, "address 10.0.0.1 is not public"),
        ("error", 502, "answered HTTP 500"),
        ("other", 422, "manifest.json: the format is not `katalog-partner-bundle`: this is not a partner bundle"),
        ("big", 422, "manifest.json is larger than the 1 MiB a bundle file may have"),
        ("slow", 502, "took longer than 2 s"),
    ] {
        let source = format!("http://user:password@127.0.0.1:{port}/{name}/");
        let (added, body) = add(&admin, name, &source).await;
        assert_eq!(added, 201, "{name}: {body}");
        let (answered, problem) = sync(&publisher, name).await;
        assert_eq!(answered, status, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(said), "{name}: {detail}");
        let whole = problem.to_string();
        assert!(!whole.contains(SECRET) && !whole.contains("password"), "{name}: the answer or the credentials are repeated: {whole}");
    }
    assert_eq!(state(&town).await, before, "nothing was applied");
}

/// On the command line: a partner source named `localhost` (loopback) is
/// refused until that name is allowed, and then syncs.
#[tokio::test]
async fn a_name_resolving_to_loopback_is_fetched_only_when_allowed() {
    let town = TestDb::new(Backend::Sqlite).await;
    let server = StaticServer::start(&repo_path("exports/partner"));
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let schemas = repo_path("schemas");
    let partner = |args: &[&str]| {
        let mut all = vec!["partner"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--database", &town.url]);
        if args[0] == "sync" {
            all.extend_from_slice(&["--schemas", schemas.to_str().unwrap()]);
        }
        katalog(&all)
    };
    let literal = partner(&["add", "direct", "--source", &format!("http://127.0.0.1:{port}/")]);
    assert!(!literal.status.success() && text(&literal.stderr).contains("address 127.0.0.1 is not public"), "{}", text(&literal.stderr));
    let added = partner(&["add", "stuttgart", "--source", &format!("http://localhost:{port}/")]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let before = state(&town).await;
    let refused = partner(&["sync", "stuttgart"]);
    let said = text(&refused.stderr);
    assert!(!refused.status.success() && said.contains("cannot fetch") && said.contains("is not public"), "{said}");
    assert_eq!(state(&town).await, before);
    let allowed = partner(&["sync", "stuttgart", "--outbound-allow-host", "localhost"]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert!(text(&allowed.stdout).contains(" new, 0 changed"), "{}", text(&allowed.stdout));
}

/// A webhook URL at a literal internal address is refused when
/// subscribed; one whose name resolves to loopback fails every delivery
/// at the fence, until the name is allowed.
async fn webhook_urls_are_fenced(db: TestDb) {
    let port = free_port();
    let receiver = Receiver::start(port).await;
    let content = sample_content();
    let fast = ["--webhook-debounce-ms", "100", "--webhook-backoff-ms", "200", "--webhook-max-backoff-ms", "500"];
    let mut closed = Server::start_with(&db, content.path(), &fast);
    let admin = Client { server: &closed, token: token(&db, "admin", &[]) };
    let url = "/api/v1/manage/webhooks";
    for (hook, address) in [
        (format!("http://127.0.0.1:{port}/hook"), "127.0.0.1"),
        (format!("http://[::1]:{port}/hook"), "::1"),
        ("http://169.254.169.254/latest/meta-data/".into(), "169.254.169.254"),
        ("http://192.168.178.1/hook".into(), "192.168.178.1"),
        ("http://[fd00::1]/hook".into(), "fd00::1"),
        ("http://100.64.0.1/hook".into(), "100.64.0.1"),
    ] {
        let (status, _, problem) = admin.send(Method::POST, url, None, Some(json!({"url": hook}))).await;
        assert_eq!(status, 422, "{hook}: {problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/url", "{problem}");
        assert!(problem["errors"][0]["detail"].as_str().unwrap().contains(&format!("address {address} is not public")), "{problem}");
    }
    let (status, _, created) = admin.send(Method::POST, url, None, Some(json!({"url": format!("http://localhost:{port}/hook")}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let publisher = Client { server: &closed, token: token(&db, "publisher", &[]) };
    rename_and_publish(&publisher, "personalausweis-beantragen", "Personalausweis beantragen (neu)").await;
    eventually("the delivery failed at the fence", async || {
        delivery_log(&admin, &id).await.first().and_then(|d| d["last_error"].as_str().map(|e| e.contains("is not public"))).unwrap_or(false)
    })
    .await;
    assert!(receiver.received().is_empty(), "nothing reached the receiver");
    closed.stop().await;

    let open = Server::start_with(&db, content.path(), &[&fast[..], &["--outbound-allow-host", "localhost"]].concat());
    let admin = Client { server: &open, token: token(&db, "admin", &[]) };
    eventually("the retry arrived", async || receiver.received().len() == 1).await;
    eventually("the delivery is recorded", async || delivery_log(&admin, &id).await.first().is_some_and(|d| d["status"] == "delivered")).await;
}
on_both_databases!(webhook_urls_are_fenced);
