//! Test harness: a fresh database per test (a SQLite file or a PostgreSQL
//! database of its own) and the server, built in the test's process and
//! serving on a free port, or the `katalog` binary where a test needs a
//! process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};
use katalog::clock::ManualClock;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_katalog");

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

fn postgres_server() -> String {
    std::env::var("KATALOG_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        if self.postgres.is_some() { Backend::Postgres } else { Backend::Sqlite }
    }

    /// Drops the PostgreSQL database now, under a running server, as an
    /// outage would take it away.
    pub async fn take_away(&self) {
        let (server, name) = self.postgres.as_ref().expect("only a PostgreSQL test database can be taken away");
        let admin = Database::connect(format!("{server}/postgres")).await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
        admin.close().await.ok();
    }

    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("katalog.db").display());
                TestDb { url, _dir: Some(dir), postgres: None }
            }
            Backend::Postgres => {
                let server = postgres_server();
                let name = format!("katalog_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(format!("{server}/postgres")).await.expect("PostgreSQL must be running for the tests");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                admin.close().await.ok();
                TestDb { url: format!("{server}/{name}"), _dir: None, postgres: Some((server, name)) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime: use a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server: the application built in this process (the usual
/// case), or the `katalog serve` binary where a test needs a process of its
/// own (signals, logs). Stopped at once when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    /// The clock its schedules fall due by; it moves only when advanced.
    /// (A server started as a process keeps the system's.)
    pub clock: ManualClock,
    running: Running,
    /// The server's own search index folder.
    search_index: tempfile::TempDir,
    /// The folder the server keeps its partner bundle in.
    pub partner_bundle: tempfile::TempDir,
}

enum Running {
    /// On a runtime of its own: tests make blocking calls (`katalog`
    /// commands) that must not stall the server.
    InProcess {
        runtime: Option<tokio::runtime::Runtime>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        served: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
    },
    Process {
        child: Child,
        /// What it logged, when started with [`Server::start_logging`].
        logs: Option<std::sync::Arc<std::sync::Mutex<String>>>,
    },
}

impl Server {
    pub fn start(db: &TestDb, content: &Path) -> Server {
        Server::start_with(db, content, &[])
    }

    /// Starts with further `serve` options.
    pub fn start_with(db: &TestDb, content: &Path, options: &[&str]) -> Server {
        Server::start_at(db, content, options, ManualClock::starting_at(chrono::Utc::now()))
    }

    /// Starts with its clock at a time of the test's choosing.
    pub fn start_at(db: &TestDb, content: &Path, options: &[&str], clock: ManualClock) -> Server {
        let (search_index, partner_bundle) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut command_line = vec!["katalog".to_owned(), "serve".to_owned()];
        command_line.extend(serve_options(db, content, &search_index, &partner_bundle));
        // Tests drive the API far faster than people do; the tests of the
        // limits turn them on again with options of their own, which come later.
        command_line.extend(["--rate-limit-manage", "0", "--rate-limit-search", "0"].map(str::to_owned));
        command_line.extend(options.iter().map(|option| option.to_string()));
        let matches = katalog::cli::Cli::command().args_override_self(true).try_get_matches_from(&command_line).unwrap_or_else(|e| panic!("{e}"));
        let katalog::cli::Command::Serve(args) = katalog::cli::Cli::from_arg_matches(&matches).unwrap().command else { unreachable!("parsed as serve") };

        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("katalog-serve").enable_all().build().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, bound_at) = std::sync::mpsc::channel();
        let (served_sender, served) = tokio::sync::oneshot::channel();
        let app_clock = katalog::clock::Clock::from(clock.clone());
        runtime.spawn(async move {
            match katalog::app::App::build(&args, app_clock).await {
                Ok(app) => {
                    let _ = bound.send(Ok(app.addr()));
                    let outcome = app.serve(async move { drop(stopped.await) }).await;
                    let _ = served_sender.send(outcome.map_err(|error| format!("{error:#}")));
                }
                Err(error) => drop(bound.send(Err(format!("{error:#}")))),
            }
        });
        let addr = bound_at.recv().unwrap().unwrap_or_else(|error| panic!("the server did not start: {error}"));
        Server {
            base: format!("http://{addr}"),
            client: http_client(),
            clock,
            running: Running::InProcess { runtime: Some(runtime), stop: Some(stop), served: Some(served) },
            search_index,
            partner_bundle,
        }
    }

    /// Starts the `katalog serve` binary, for tests of what only a process
    /// shows: signals, SIGKILL, its exit.
    pub fn start_process(db: &TestDb, content: &Path, options: &[&str]) -> Server {
        Server::spawn(db, content, options, None)
    }

    /// Starts the binary logging at `level` into a buffer that
    /// [`Server::logs`] reads (not a terminal: one JSON object per line).
    pub fn start_logging(db: &TestDb, content: &Path, level: &str) -> Server {
        Server::spawn(db, content, &[], Some(level))
    }

    fn spawn(db: &TestDb, content: &Path, options: &[&str], log_level: Option<&str>) -> Server {
        let search_index = tempfile::tempdir().unwrap();
        let partner_bundle = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(serve_options(db, content, &search_index, &partner_bundle))
            .args(options)
            .env("RUST_LOG", log_level.unwrap_or("warn"))
            // As for servers in the test's process; options beat the environment.
            .env("KATALOG_RATE_LIMIT_MANAGE", "0")
            .env("KATALOG_RATE_LIMIT_SEARCH", "0")
            .stdout(Stdio::piped())
            .stderr(if log_level.is_some() { Stdio::piped() } else { Stdio::inherit() })
            .spawn()
            .unwrap();
        // Drained as it comes, so the server never blocks on a full pipe.
        let logs = child.stderr.take().map(|mut stderr| {
            let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = logs.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&mut stderr);
                while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                    sink.lock().unwrap().push_str(&std::mem::take(&mut line));
                }
            });
            logs
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // Keep draining, so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let base = line
            .trim()
            .strip_prefix("katalog is serving ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Server {
            base,
            client: http_client(),
            clock: ManualClock::starting_at(chrono::Utc::now()),
            running: Running::Process { child, logs },
            search_index,
            partner_bundle,
        }
    }

    /// The folder of the server's search index.
    pub fn search_index(&self) -> &Path {
        self.search_index.path()
    }

    /// What the server logged so far (empty unless started logging).
    pub fn logs(&self) -> String {
        match &self.running {
            Running::Process { logs: Some(logs), .. } => logs.lock().unwrap().clone(),
            _ => String::new(),
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.running {
            Running::Process { child, .. } => child,
            Running::InProcess { .. } => panic!("only a server started as a process has one: start it with Server::start_process"),
        }
    }

    /// Stops as at SIGTERM: requests in flight are answered, the webhook
    /// outbox flushed; returns once it has stopped.
    pub async fn stop(&mut self) {
        match &mut self.running {
            Running::InProcess { stop, served, .. } => {
                drop(stop.take());
                let outcome = served.take().expect("stopped once").await.unwrap_or_else(|_| Err("its task ended without an outcome".into()));
                if let Err(error) = outcome {
                    panic!("serve failed: {error}");
                }
            }
            Running::Process { .. } => assert!(self.terminate().await.success(), "serve exits cleanly on SIGTERM"),
        }
    }

    /// SIGTERM, as a service manager stops it; returns once it has exited.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.send_sigterm();
        self.exited().await
    }

    pub fn send_sigterm(&mut self) {
        let sent = Command::new("kill").args(["-TERM", &self.child().id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits for the process to end without blocking, so that whatever
    /// else the test serves (webhook receivers) still answers.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child().try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flushing; what was acknowledged must be stored.
    pub fn kill_hard(&mut self) {
        let child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Moves the server's clock on, and returns once its scheduler has
    /// looked at the new time.
    pub async fn advance_clock(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.scheduler_looked().await;
    }

    /// Returns once the scheduler has finished a round that started after
    /// the call (the one running may have read the time before).
    pub async fn scheduler_looked(&self) {
        let rounds = self.scheduler_rounds().await;
        eventually("two more rounds of the scheduler", async || self.scheduler_rounds().await >= rounds + 2).await;
    }

    async fn scheduler_rounds(&self) -> u64 {
        let exposition = self.get("/metrics").await.text().await.unwrap();
        exposition
            .lines()
            .find_map(|line| line.strip_prefix("katalog_scheduler_rounds_total "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no scheduler round counter in {exposition}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.running {
            // At once, as the process would be killed; the runtime's
            // threads end on their own.
            Running::InProcess { runtime, .. } => runtime.take().expect("dropped once").shutdown_background(),
            Running::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The options of every test server: its database, content and folders.
fn serve_options(db: &TestDb, content: &Path, search_index: &tempfile::TempDir, partner_bundle: &tempfile::TempDir) -> Vec<String> {
    let path = |path: &Path| path.to_str().unwrap().to_owned();
    vec![
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--database".into(),
        db.url.clone(),
        "--content".into(),
        path(content),
        "--schemas".into(),
        path(&repo_path("schemas")),
        "--search-index".into(),
        path(search_index.path()),
        "--partner-bundle".into(),
        path(partner_bundle.path()),
    ]
}

/// Test servers (webhook receivers, partners) listen on loopback, which
/// outbound requests reach only when it is allowed.
pub const LOOPBACK: [&str; 2] = ["--outbound-allow-host", "127.0.0.1"];

pub fn http_client() -> reqwest::Client {
    katalog::use_ring_for_tls();
    reqwest::Client::new()
}

/// Runs a `katalog` command to completion.
pub fn katalog(args: &[&str]) -> Output {
    let output = Command::new(BIN).args(args).env("RUST_LOG", "warn").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "katalog panicked: {stderr}");
    output
}

pub fn import(db: &TestDb, dir: &Path) -> Output {
    import_url(&db.url, dir)
}

pub fn import_url(url: &str, dir: &Path) -> Output {
    let schemas = repo_path("schemas");
    katalog(&["import", dir.to_str().unwrap(), "--publish", "--database", url, "--schemas", schemas.to_str().unwrap()])
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the sample content in a temporary folder, to change freely.
pub fn sample_content() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("content"), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs a test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite).await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::TestDb::new($crate::helpers::Backend::Postgres).await).await
            }
        }
    };
}

/// A new token of `role` (with further `token create` options), made as
/// `katalog token create` makes it.
pub fn token(db: &TestDb, role: &str, extra: &[&str]) -> String {
    named_token(db, role, "Test", extra)
}

/// A token of someone called `name`, who shows as its author.
pub fn named_token(db: &TestDb, role: &str, name: &str, extra: &[&str]) -> String {
    let mut command_line = vec!["katalog", "token", "create", "--role", role, "--name", name, "--database", &db.url];
    command_line.extend_from_slice(extra);
    let katalog::cli::Command::Token(katalog::cli::TokenCommand::Create { role, name, expires_in_days, database }) =
        katalog::cli::Cli::try_parse_from(command_line).unwrap_or_else(|e| panic!("{e}")).command
    else {
        unreachable!("parsed as token create")
    };
    // Called from tests' async code, which may not block on a runtime.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let store = katalog::store::Store::connect(&database.database).await.unwrap();
            store.migrate().await.unwrap();
            let expires_at = expires_in_days.map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let issued = katalog::auth::create_token(&store, &name, role, expires_at).await.unwrap();
            issued.token
        })
    })
    .join()
    .unwrap()
}

/// Requests with a bearer token.
pub struct Client<'a> {
    pub server: &'a Server,
    pub token: String,
}

impl Client<'_> {
    pub async fn send(&self, method: Method, path: &str, if_match: Option<&str>, body: Option<Value>) -> (StatusCode, Option<String>, Value) {
        let mut request = self.server.client.request(method, self.server.url(path)).bearer_auth(&self.token);
        if let Some(version) = if_match {
            request = request.header("If-Match", version);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, etag, body)
    }
}

/// Polls until `check` holds; the bound is generous because machines are
/// shared, and the behaviour is asserted, not the speed.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen");
}

/// Every file below `dir`, by relative path; not the export's own
/// bookkeeping beside the channel folders (hidden files).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let visible = |path: &Path| !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'));
    paths_below(dir, visible).into_iter().map(|path| (path.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())).collect()
}

/// The files below `dir` whose path, and every folder's on the way, `keep` accepts.
pub fn paths_below(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for item in std::fs::read_dir(&folder).unwrap() {
            let path = item.unwrap().path();
            if !keep(&path) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// A virtualenv under the target directory with `requirement` installed
/// (pip), made on first use, one installer at a time; `works` tells
/// whether an existing one is usable. Returns the virtualenv's folder.
/// `KATALOG_PYTHON` names the interpreter that makes it.
pub fn python_tool(folder: &str, requirement: &str, works: impl Fn(&Path) -> bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(root.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !works(&root) {
        let _ = std::fs::remove_dir_all(&root);
        let python = std::env::var("KATALOG_PYTHON").unwrap_or_else(|_| "python3".into());
        let venv =
            Command::new(&python).args(["-m", "venv"]).arg(&root).output().unwrap_or_else(|e| panic!("{python} is needed to install {requirement}: {e}"));
        assert!(venv.status.success(), "{python} -m venv: {}", text(&venv.stderr));
        let pip = Command::new(root.join("bin/pip")).args(["install", "--quiet", requirement]).output().unwrap();
        assert!(pip.status.success(), "pip install {requirement}: {}", text(&pip.stderr));
        assert!(works(&root), "{requirement} does not work after installing it");
    }
    root
}

/// How often the server's response cache answered so far.
pub async fn response_cache_hits(server: &Server) -> u64 {
    let exposition = server.get("/metrics").await.text().await.unwrap();
    exposition
        .lines()
        .find_map(|line| line.strip_prefix("katalog_response_cache_hits_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cache hit counter in {exposition}"))
}
