//! Operations: the configuration file and its precedence, readiness,
//! Prometheus metrics and structured logs with request ids.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{BIN, Backend, Client, Server, TestDb, katalog, repo_path, text, token};
use crate::on_both_databases;
use crate::webhooks::rename_and_publish;

/// Runs `katalog` in `dir` with only the environment given (none of the
/// test runner's own `KATALOG_*` or `DATABASE_URL`).
fn katalog_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_clear().envs(env.iter().copied()).output().unwrap()
}

fn shown_settings(output: &Output) -> toml::Table {
    assert!(output.status.success(), "config show failed: {}", text(&output.stderr));
    toml::from_str(&text(&output.stdout)).unwrap_or_else(|error| panic!("config show printed no configuration file: {error}\n{}", text(&output.stdout)))
}

#[test]
fn flags_beat_environment_beats_file_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(
        &file,
        "database = \"sqlite://from-file.db\"\ncontent = \"from-file\"\n\n[serve]\naddr = \"127.0.0.1:1111\"\ncache_mb = 7\n\n[webhooks]\nretry_hours = 2\n\n[retention]\naudit_days = 400\nrevision_days = 90\n",
    )
    .unwrap();
    let output = katalog_in(
        dir.path(),
        &["config", "show", "--config", file.to_str().unwrap(), "--database", "sqlite://from-flag.db"],
        &[
            ("DATABASE_URL", "sqlite://from-env.db"),
            ("KATALOG_CACHE_MB", "9"),
            ("KATALOG_WEBHOOK_RETRY_HOURS", "5"),
            ("KATALOG_KEEP_REVISION_DAYS", "30"),
            ("KATALOG_CORS_ORIGINS", "https://a.example,https://b.example"),
        ],
    );
    let settings = shown_settings(&output);
    assert_eq!(settings["database"].as_str(), Some("sqlite://from-flag.db"), "a flag beats the environment and the file");
    assert_eq!(settings["serve"]["cache_mb"].as_integer(), Some(9), "the environment beats the file");
    assert_eq!(settings["webhooks"]["retry_hours"].as_integer(), Some(5), "the environment beats the file");
    assert_eq!(settings["retention"]["revision_days"].as_integer(), Some(30), "the environment beats the file");
    assert_eq!(settings["serve"]["addr"].as_str(), Some("127.0.0.1:1111"), "the file beats the default");
    assert_eq!(settings["retention"]["audit_days"].as_integer(), Some(400), "the file beats the default");
    assert_eq!(settings["content"].as_str(), Some("from-file"), "the file beats the default");
    assert_eq!(settings["schemas"].as_str(), Some("schemas"), "the default when nothing else says");
    assert_eq!(settings["webhooks"]["debounce_ms"].as_integer(), Some(1000), "the default when nothing else says");
    let origins: Vec<&str> = settings["serve"]["cors_origins"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert_eq!(origins, ["https://a.example", "https://b.example"], "a list from the environment, comma-separated");
}

#[test]
fn katalog_toml_in_the_working_directory_is_read_without_being_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("katalog.toml"), "[serve]\ncache_mb = 64\n").unwrap();
    let settings = shown_settings(&katalog_in(dir.path(), &["config", "show"], &[]));
    assert_eq!(settings["serve"]["cache_mb"].as_integer(), Some(64));

    let check = katalog_in(dir.path(), &["config", "check"], &[]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("katalog.toml: valid"), "{}", text(&check.stdout));
}

#[test]
fn config_check_names_file_and_line_of_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("katalog.toml");
    std::fs::write(&file, "database = \"sqlite://k.db\"\n\n[serve]\ncache_mbb = 64\n").unwrap();
    let output = katalog_in(dir.path(), &["config", "check", "--config", file.to_str().unwrap()], &[]);
    assert!(!output.status.success(), "an unknown key must fail the check");
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("{}:4:", file.display())), "file and line 4 expected: {stderr}");
    assert!(stderr.contains("unknown field `cache_mbb`"), "the key expected: {stderr}");
    assert!(stderr.contains("cache_mb"), "the known keys expected: {stderr}");
}

#[test]
fn config_check_names_file_and_line_of_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    for (content, line, says) in [
        ("[serve]\naddr = \"0.0.0.0:80\"\ncache_mb = \"lots\"\n", 3, "invalid type"),
        ("schemas = \"schemas\"\ndatabase = \"mysql://db\"\n", 2, "mysql://db"),
        ("[serve]\ncors_origins = [\n  \"https://ok.example\",\n  \"portal.example\",\n]\n", 4, "portal.example"),
        ("[limits]\nsearch_per_minute = -1\n", 2, ""),
        ("[serve\n", 1, ""),
    ] {
        let file = dir.path().join("katalog.toml");
        std::fs::write(&file, content).unwrap();
        let output = katalog_in(dir.path(), &["config", "check"], &[]);
        assert!(!output.status.success(), "{content:?} must fail the check");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("katalog.toml:{line}:")), "line {line} of {content:?} expected: {stderr}");
        assert!(stderr.contains(says), "{says:?} expected for {content:?}: {stderr}");
    }
}

#[test]
fn a_named_configuration_file_must_exist_and_serve_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = katalog_in(dir.path(), &["config", "check"], &[("KATALOG_CONFIG", "nowhere.toml")]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("nowhere.toml"), "{}", text(&missing.stderr));

    std::fs::write(dir.path().join("katalog.toml"), "[serve]\nport = 8080\n").unwrap();
    let serve = katalog_in(dir.path(), &["serve"], &[]);
    assert!(!serve.status.success(), "serve must not start with a bad configuration file");
    assert!(text(&serve.stderr).contains("katalog.toml:2:"), "{}", text(&serve.stderr));
}

/// `serve` from `dir` as it would start there, on the repository's schemas and content.
fn serve_in(dir: &Path, env: &[(&str, &str)]) -> Output {
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    katalog_in(dir, &["serve", "--schemas", schemas.to_str().unwrap(), "--content", content.to_str().unwrap()], env)
}

/// The names in `dir`, to see that nothing was written.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn config_check_and_serve_refuse_the_same_unusable_values_before_writing_anything() {
    for (content, line, says) in [
        ("database = \"sqlite://k.db\"\n[serve]\naddr = \"127.0.0.1:80800\"\n", 3, "serve.addr: `80800` in `127.0.0.1:80800` is not a port"),
        ("database = \"postgres://katalog@db.internal:99999/katalog\"\n", 1, "database: `postgres://katalog@db.internal:99999/katalog` is not a URL"),
        ("database = \"sqlite://k.db\"\n[serve]\ncache_mb = 99999999\n", 3, "serve.cache_mb: 99999999 is more than the largest allowed"),
        ("database = \"sqlite://k.db\"\n[serve]\nmetrics_token = \"\"\n", 3, "serve.metrics_token: is empty"),
        ("database = \"sqlite://k.db\"\n[serve]\ncors_origins = [\"https://ok.example\", \"portal.example\"]\n", 3, "portal.example"),
        ("database = \"sqlite://k.db\"\n[partner]\nmax_file_mb = 0\n", 3, "partner.max_file_mb: must be at least 1"),
        ("database = \"sqlite://k.db\"\n[partner]\nsync_timeout_secs = 0\n", 3, "partner.sync_timeout_secs: must be at least 1"),
        ("database = \"sqlite://k.db\"\n[webhooks]\nbackoff_ms = 0\n", 3, "webhooks.backoff_ms: must be at least 1"),
        ("database = \"sqlite://k.db\"\n[webhooks]\nretry_hours = 9999999999999999\n", 3, "webhooks.retry_hours: 9999999999999999 is more than"),
        ("database = \"sqlite://k.db\"\n[retention]\naudit_days = 0\n", 3, "retention.audit_days: 0 would delete all of it"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("katalog.toml"), content).unwrap();
        let check = katalog_in(dir.path(), &["config", "check"], &[]);
        assert!(!check.status.success(), "{content:?} must fail the check");
        let message = text(&check.stderr).trim().to_owned();
        assert!(message.contains(&format!("katalog.toml:{line}:")), "line {line} of {content:?} expected: {message}");
        assert!(message.contains(says), "{says:?} expected for {content:?}: {message}");

        let serve = serve_in(dir.path(), &[]);
        assert!(!serve.status.success(), "serve must refuse {content:?}");
        assert!(text(&serve.stderr).contains(&message), "serve must say what the check said ({message}): {}", text(&serve.stderr));
        assert_eq!(names_in(dir.path()), ["katalog.toml"], "serve must write nothing for {content:?}");
    }
}

#[test]
fn unusable_values_from_flags_and_the_environment_are_named_by_them() {
    let dir = tempfile::tempdir().unwrap();
    let flag = katalog_in(dir.path(), &["config", "check", "--addr", "localhost:80800"], &[]);
    assert!(!flag.status.success(), "a bad port in a flag must fail the check");
    assert!(text(&flag.stderr).contains("--addr: `80800` in `localhost:80800` is not a port"), "{}", text(&flag.stderr));

    let env = [("KATALOG_WEBHOOK_BACKOFF_MS", "0"), ("DATABASE_URL", "sqlite://k.db")];
    let check = katalog_in(dir.path(), &["config", "check"], &env);
    assert!(!check.status.success(), "a zero backoff in the environment must fail the check");
    let message = text(&check.stderr).trim().to_owned();
    assert!(message.contains("KATALOG_WEBHOOK_BACKOFF_MS: must be at least 1"), "{message}");
    let serve = serve_in(dir.path(), &env);
    assert!(!serve.status.success());
    assert!(text(&serve.stderr).contains(&message), "serve must say what the check said ({message}): {}", text(&serve.stderr));
    assert!(names_in(dir.path()).is_empty(), "serve must write nothing: {:?}", names_in(dir.path()));
}

#[test]
fn every_command_refuses_an_unusable_value_from_the_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("katalog.toml"), "database = \"postgres://katalog@db.internal:99999/katalog\"\n\n[retention]\naudit_days = 0\n").unwrap();
    for args in [&["migrate"][..], &["prune"], &["token", "create", "--role", "admin", "--name", "Erste Admin"], &["reindex"]] {
        let output = katalog_in(dir.path(), args, &[]);
        assert!(!output.status.success(), "{args:?} must refuse the file");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("katalog.toml:1:12: database: `postgres://katalog@db.internal:99999/katalog` is not a URL"), "{args:?}: {stderr}");
    }
    let prune = text(&katalog_in(dir.path(), &["prune"], &[]).stderr);
    assert!(prune.contains("katalog.toml:4:14: retention.audit_days: 0 would delete all of it"), "{prune}");
}

/// What follows the name of the value's source in a refusal: its reason.
fn reason_after(stderr: &str, named: &str) -> String {
    let line = stderr.lines().find(|line| line.contains(named)).unwrap_or_else(|| panic!("{named} expected: {stderr}"));
    line[line.find(named).unwrap() + named.len()..].to_owned()
}

#[test]
fn a_value_is_refused_alike_from_a_flag_the_environment_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, env, section, key, value, says) in [
        ("--webhook-debounce-ms", "KATALOG_WEBHOOK_DEBOUNCE_MS", "webhooks", "debounce_ms", "-5", "`-5` is not a whole number"),
        ("--addr", "KATALOG_ADDR", "serve", "addr", "\"127.0.0.1:99999\"", "`99999` in `127.0.0.1:99999` is not a port"),
        ("--rate-limit-search", "KATALOG_RATE_LIMIT_SEARCH", "limits", "search_per_minute", "-1", "-1 is not in 0..=4294967295"),
        ("--keep-audit-days", "KATALOG_KEEP_AUDIT_DAYS", "retention", "audit_days", "0", "0 would delete all of it"),
    ] {
        let given = value.trim_matches('"');
        let by_flag = katalog_in(dir.path(), &["config", "check", &format!("{flag}={given}")], &[]);
        let by_env = katalog_in(dir.path(), &["config", "check"], &[(env, given)]);
        std::fs::write(dir.path().join("katalog.toml"), format!("database = \"sqlite://k.db\"\n\n[{section}]\n{key} = {value}\n")).unwrap();
        let by_file = katalog_in(dir.path(), &["config", "check"], &[]);
        std::fs::remove_file(dir.path().join("katalog.toml")).unwrap();
        for output in [&by_flag, &by_env, &by_file] {
            assert!(!output.status.success(), "{key} = {value} must be refused");
        }
        let from_flag = reason_after(&text(&by_flag.stderr), &format!("{flag}: "));
        let from_env = reason_after(&text(&by_env.stderr), &format!("{env}: "));
        let at = format!("katalog.toml:4:{}: {section}.{key}: ", key.len() + 4);
        let from_file = reason_after(&text(&by_file.stderr), &at);
        assert!(from_flag.contains(says), "{says:?} expected: {from_flag}");
        assert_eq!(from_env, from_flag, "the environment's value is refused as the flag's");
        assert_eq!(from_file, from_flag, "the file's value is refused as the flag's, at its line");
    }
}

#[test]
fn unknown_keys_and_sections_are_refused_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("katalog.toml"),
        "database = \"sqlite://k.db\"\ncontents = \"c\"\n\n[serv]\naddr = \"127.0.0.1:1\"\n\n[limits]\nread_per_minute = 5\nwrite_per_minute = 5\n",
    )
    .unwrap();
    let output = katalog_in(dir.path(), &["migrate"], &[]);
    assert!(!output.status.success(), "unknown keys must stop every command");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("katalog.toml:2:12: unknown field `contents`, expected one of"), "{stderr}");
    assert!(stderr.contains("`content`") && stderr.contains("`serve`"), "the keys and sections known expected: {stderr}");
    assert!(stderr.contains("katalog.toml:4:1: unknown field `serv`"), "{stderr}");
    assert!(
        stderr.contains("katalog.toml:9:20: unknown field `write_per_minute` in [limits], expected one of `behind_proxy`, `manage_per_minute`"),
        "{stderr}"
    );
    assert!(names_in(dir.path()) == ["katalog.toml"], "nothing is opened: {:?}", names_in(dir.path()));
}

#[test]
fn file_values_must_have_the_type_of_their_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (content, says) in [
        ("[serve]\ncors_origins = \"https://a.example\"\n", "2:16: serve.cors_origins: invalid type: expected a list of strings, found string"),
        ("[serve]\ncache_mb = 1.5\n", "2:12: serve.cache_mb: invalid type: expected a whole number, found float"),
        ("[limits]\nbehind_proxy = \"yes\"\n", "2:16: limits.behind_proxy: invalid type: expected true or false, found string"),
        ("[outbound]\nallow_hosts = [\"a.example\", 7]\n", "2:15: outbound.allow_hosts: invalid type: expected a list of strings, found array"),
    ] {
        std::fs::write(dir.path().join("katalog.toml"), content).unwrap();
        // `migrate` takes none of these settings, and still refuses a file that gets one wrong.
        for command in ["config check", "migrate"] {
            let output = katalog_in(dir.path(), &command.split(' ').collect::<Vec<_>>(), &[]);
            assert!(!output.status.success(), "{command}: {content:?} must be refused");
            assert!(text(&output.stderr).contains(&format!("katalog.toml:{says}")), "{command}: {says:?} expected for {content:?}: {}", text(&output.stderr));
        }
    }
    assert_eq!(names_in(dir.path()), ["katalog.toml"], "nothing is opened");
}

#[test]
fn config_show_says_where_every_value_comes_from_and_hides_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("katalog.toml"),
        "content = \"from-file\"\n\n[serve]\ncache_mb = 7\nmetrics_token = \"file-secret\"\n\n[limits]\nbehind_proxy = true\n",
    )
    .unwrap();
    let output = katalog_in(
        dir.path(),
        &["config", "show", "--addr", "127.0.0.1:2222"],
        &[("KATALOG_CACHE_MB", "9"), ("KATALOG_METRICS_TOKEN", "env-secret"), ("KATALOG_OUTBOUND_ALLOW_HOSTS", "a.internal,b.internal")],
    );
    let shown = text(&output.stdout);
    let settings = shown_settings(&output);
    assert!(!shown.contains("secret"), "a secret is never shown: {shown}");
    let lines: Vec<&str> = shown.lines().collect();
    for expected in [
        "addr = \"127.0.0.1:2222\"  # --addr",
        "cache_mb = 9  # KATALOG_CACHE_MB",
        "# metrics_token: set, hidden  # KATALOG_METRICS_TOKEN",
        "content = \"from-file\"  # katalog.toml:1:11",
        "behind_proxy = true  # katalog.toml:8:16",
        "allow_hosts = [\"a.internal\", \"b.internal\"]  # KATALOG_OUTBOUND_ALLOW_HOSTS",
        "schemas = \"schemas\"  # default",
        "debounce_ms = 1000  # default",
        "cors_origins = []  # default",
        "# search_index: not set (beside a SQLite database; data/search-NAME for a PostgreSQL database NAME)",
        "# audit_days: not set (kept forever)",
    ] {
        assert!(lines.contains(&expected), "{expected:?} expected in:\n{shown}");
    }
    assert_eq!(settings["limits"]["behind_proxy"].as_bool(), Some(true), "the output is a configuration file");
    assert!(settings["serve"].get("metrics_token").is_none(), "the hidden secret is not a value: {shown}");
}

on_both_databases!(reindex_refuses_while_a_server_holds_the_index);
async fn reindex_refuses_while_a_server_holds_the_index(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let (schemas, content) = (repo_path("schemas"), repo_path("content"));
    let index = server.search_index().to_str().unwrap();
    let output =
        katalog(&["reindex", "--database", &db.url, "--schemas", schemas.to_str().unwrap(), "--content", content.to_str().unwrap(), "--search-index", index]);
    assert!(!output.status.success(), "reindex must not report success for an index nobody uses: {}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(index) && stderr.contains("running `katalog serve`"), "the folder and the server expected: {stderr}");
    let hits = server.get_json("/api/v1/search?q=personalausweis").await;
    assert!(hits["total"].as_u64().is_some_and(|total| total > 0), "the server's index still answers: {hits}");
}

on_both_databases!(ready_when_healthy);
async fn ready_when_healthy(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let consumers: Vec<(&str, bool)> =
        body["lag"].as_array().unwrap().iter().map(|lag| (lag["consumer"].as_str().unwrap(), lag["on_request"].as_bool().unwrap())).collect();
    assert_eq!(
        consumers,
        [("search", false), ("response_cache", false), ("webhooks", false), ("web_site", true), ("partner_bundle", true)],
        "every consumer of the change feed; the exports serve keeps catch up on request"
    );
}

on_both_databases!(a_write_reaches_every_consumer_before_it_is_answered);
async fn a_write_reaches_every_consumer_before_it_is_answered(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher = Client { server: &server, token: token(&db, "publisher", &[]) };
    rename_and_publish(&publisher, "personalausweis-beantragen", "Personalausweis neu beantragen").await;
    let body: serde_json::Value = server.get("/readyz").await.json().await.unwrap();
    for lag in body["lag"].as_array().unwrap().iter().filter(|lag| lag["on_request"] == false) {
        assert_eq!(lag["behind"], 0, "the publish was applied before it was answered: {body}");
    }
    let exposition = server.get("/metrics").await.text().await.unwrap();
    let reads = parse_exposition(&exposition).into_iter().find(|s| s.name == "katalog_change_log_reads_total").map(|s| s.value);
    assert!(reads.is_some_and(|reads| reads >= 1.0), "{exposition}");
}

#[tokio::test]
async fn not_ready_without_its_database() {
    let db = TestDb::new(Backend::Postgres).await;
    let server = Server::start(&db, &repo_path("content"));
    assert_eq!(server.get("/readyz").await.status(), 200);
    db.take_away().await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["detail"], "the database does not answer", "{problem}");
}

#[tokio::test]
async fn a_token_check_without_its_database_is_503_without_internals() {
    let db = TestDb::new(Backend::Postgres).await;
    let server = Server::start(&db, &repo_path("content"));
    let editor = crate::helpers::token(&db, "editor", &[]);
    let manage = || server.client.get(server.url("/api/v1/manage/service/personalausweis-beantragen")).bearer_auth(&editor).send();
    assert_eq!(manage().await.unwrap().status(), 200);
    db.take_away().await;
    let response = manage().await.unwrap();
    assert_eq!(response.status(), 503, "the token may be fine: the database is not");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains("database error") && !detail.contains(&db.url) && !detail.to_lowercase().contains("sqlx"), "internal text leaks: {detail}");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let db = TestDb::new(Backend::Sqlite).await;
    let open = Server::start(&db, &repo_path("content"));
    assert_eq!(open.get("/metrics").await.status(), 200, "without a metrics token, /metrics is open");
    drop(open);

    let server = Server::start_with(&db, &repo_path("content"), &["--metrics-token", "scrape-me-7f3a"]);
    let scrape = |token: Option<&'static str>| {
        let request = server.client.get(server.url("/metrics"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    for refused in [None, Some("scrape-me"), Some("scrape-me-7f3a-and-more")] {
        let response = scrape(refused).await.unwrap();
        assert_eq!(response.status(), 401, "{refused:?}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let allowed = scrape(Some("scrape-me-7f3a")).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert!(allowed.text().await.unwrap().contains("katalog_http_requests_total"));
    assert_eq!(server.get("/healthz").await.status(), 200, "only /metrics needs the token");
}

/// A request whose body is still arriving when SIGTERM comes is answered
/// before the server exits.
#[tokio::test]
async fn a_request_in_flight_at_shutdown_is_answered() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let db = TestDb::new(Backend::Sqlite).await;
    let mut server = Server::start_process(&db, &repo_path("content"), &[]);
    let editor = crate::helpers::token(&db, "editor", &[]);
    let body = br#"{"fields": {"name": "Halb gesendet"}}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::io::BufReader::new(tokio::net::TcpStream::connect(&address).await.unwrap());
    // Asked to, the server says when the handler starts reading the body.
    let head = format!(
        "POST /api/v1/manage/service/validate HTTP/1.1\r\nHost: katalog\r\nAuthorization: Bearer {editor}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = String::new();
    while interim.trim().is_empty() || !interim.ends_with("\r\n\r\n") {
        assert!(stream.read_line(&mut interim).await.unwrap() > 0, "closed before 100 Continue: {interim}");
    }
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    stream.write_all(first).await.unwrap();

    server.send_sigterm();
    // Shutting down, it takes no new connections.
    crate::helpers::eventually("the listener is closed", async || tokio::net::TcpStream::connect(&address).await.is_err()).await;
    stream.write_all(rest).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert!(status == "200" || status == "422", "the request is answered, not dropped: {answer}");
    assert!(server.exited().await.success(), "and then serve exits cleanly");
}

on_both_databases!(metrics_count_requests_per_route_template);
async fn metrics_count_requests_per_route_template(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    for _ in 0..3 {
        assert_eq!(server.get("/api/v1/service/personalausweis-beantragen").await.status(), 200);
    }
    assert_eq!(server.get("/api/v1/service/no-such-service").await.status(), 404);
    assert_eq!(server.get("/de/").await.status(), 200);
    assert_eq!(server.get("/no-such-page").await.status(), 404);

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let exposition = response.text().await.unwrap();
    let samples = parse_exposition(&exposition);

    assert!(!exposition.contains("personalausweis") && !exposition.contains("no-such"), "routes are operations, not paths: {exposition}");
    let counted = |route: &str, status: &str| {
        samples
            .iter()
            .filter(|s| s.name == "katalog_http_requests_total" && s.labels["route"] == route && s.labels["method"] == "GET" && s.labels["status"] == status)
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert_eq!(counted("getEntry", "200"), 3.0, "{exposition}");
    assert_eq!(counted("getEntry", "404"), 1.0, "{exposition}");
    assert_eq!(counted("/de/*rest", "200"), 1.0, "{exposition}");
    assert_eq!(counted("unmatched", "404"), 1.0, "{exposition}");
    let timed = samples.iter().find(|s| s.name == "katalog_http_request_duration_seconds_count" && s.labels["route"] == "getEntry");
    assert_eq!(timed.map(|s| s.value), Some(4.0), "{exposition}");

    let value = |name: &str| samples.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} missing: {exposition}")).value;
    assert!(value("katalog_response_cache_hits_total") >= 1.0, "the repeated request is a cache hit: {exposition}");
    assert!(value("katalog_response_cache_hit_ratio") > 0.0);
    assert_eq!(value("katalog_webhook_deliveries_pending"), 0.0);
    assert_eq!(value("katalog_schedules_due"), 0.0);
    value("katalog_schedules_pending");
    value("katalog_scheduler_last_run_timestamp_seconds");
    value("katalog_scheduler_rounds_total");
    let consumers: Vec<&str> = samples.iter().filter(|s| s.name == "katalog_change_log_lag").map(|s| s.labels["consumer"].as_str()).collect();
    assert_eq!(consumers, ["search", "response_cache", "webhooks", "web_site", "partner_bundle"]);
    // The exports serve keeps follow on request: asked for, they are current.
    let lag =
        |samples: &[Sample], consumer: &str| samples.iter().find(|s| s.name == "katalog_change_log_lag" && s.labels["consumer"] == consumer).unwrap().value;
    assert!(lag(&samples, "partner_bundle") > 0.0, "nothing asked for the bundle yet: {exposition}");
    assert_eq!(server.get("/").await.status(), 200);
    assert_eq!(server.get("/partner/manifest.json").await.status(), 200);
    let exposition = server.get("/metrics").await.text().await.unwrap();
    let samples = parse_exposition(&exposition);
    assert_eq!(lag(&samples, "web_site"), 0.0, "{exposition}");
    assert_eq!(lag(&samples, "partner_bundle"), 0.0, "{exposition}");
}

on_both_databases!(logs_are_json_lines_carrying_the_request_id);
async fn logs_are_json_lines_carrying_the_request_id(db: TestDb) {
    let server = Server::start_logging(&db, &repo_path("content"), "info,sqlx=warn,sea_orm=warn");
    let response = server.client.get(server.url("/api/v1/service/personalausweis-beantragen")).header("X-Request-Id", "trace-me-42").send().await.unwrap();
    assert_eq!(response.status(), 200);
    crate::helpers::eventually("the response is logged", async || server.logs().contains("trace-me-42")).await;
    let logs = server.logs();
    // Besides logs, `serve` reports its first-start import on stderr in plain words.
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|line| !line.starts_with("imported "))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("a log line that is not JSON ({error}): {line}")))
        .collect();
    let answered = lines
        .iter()
        .find(|line| line["spans"].as_array().is_some_and(|spans| spans.iter().any(|span| span["request_id"] == "trace-me-42")))
        .unwrap_or_else(|| panic!("no log line carries the request id: {logs}"));
    assert_eq!(answered["fields"]["status"], 200, "{answered}");
}

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format strictly enough to catch what a
/// scraper would refuse: every sample belongs to a family declared by a
/// `# TYPE` line, names and labels are well-formed, values are numbers,
/// histogram buckets never decrease.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let is_name = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (kind, name, rest) = (words.next().unwrap(), words.next().unwrap_or(""), words.next().unwrap_or(""));
            assert!(is_name(name), "bad metric name in {line:?}");
            if kind == "TYPE" {
                assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest), "bad type in {line:?}");
                assert!(families.insert(name.to_owned(), rest.to_owned()).is_none(), "family {name} declared twice");
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "empty line in the exposition");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}")))),
            None => (series, BTreeMap::new()),
        };
        assert!(is_name(name), "bad metric name in {line:?}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|base| families.get(*base).is_some_and(|kind| kind == "histogram")));
        let family = family.unwrap_or(name);
        assert!(families.contains_key(family), "sample {name} without a # TYPE line");
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    // Cumulative buckets per series.
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let series: Vec<String> = sample.labels.iter().filter(|(k, _)| *k != "le").map(|(k, v)| format!("{k}={v}")).collect();
        let key = format!("{}{series:?}", sample.name);
        let previous = last.insert(key, sample.value).unwrap_or(0.0);
        assert!(sample.value >= previous, "histogram buckets must not decrease: {}", sample.name);
    }
    samples
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label in {text:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape in {text:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unclosed label value in {text:?}"),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
    }
    labels
}
