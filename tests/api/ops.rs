//! Operations: the configuration file and its precedence.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{BIN, text};

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
        "database = \"sqlite://from-file.db\"\ncontent = \"from-file\"\n\n[serve]\naddr = \"127.0.0.1:1111\"\ncache_mb = 7\n\n[webhooks]\nretry_hours = 2\n",
    )
    .unwrap();
    let output = katalog_in(
        dir.path(),
        &["config", "show", "--config", file.to_str().unwrap(), "--database", "sqlite://from-flag.db"],
        &[("DATABASE_URL", "sqlite://from-env.db"), ("KATALOG_CACHE_MB", "9"), ("KATALOG_WEBHOOK_RETRY_HOURS", "5")],
    );
    let settings = shown_settings(&output);
    assert_eq!(settings["database"].as_str(), Some("sqlite://from-flag.db"), "a flag beats the environment and the file");
    assert_eq!(settings["serve"]["cache_mb"].as_integer(), Some(9), "the environment beats the file");
    assert_eq!(settings["webhooks"]["retry_hours"].as_integer(), Some(5), "the environment beats the file");
    assert_eq!(settings["serve"]["addr"].as_str(), Some("127.0.0.1:1111"), "the file beats the default");
    assert_eq!(settings["content"].as_str(), Some("from-file"), "the file beats the default");
    assert_eq!(settings["schemas"].as_str(), Some("schemas"), "the default when nothing else says");
    assert_eq!(settings["webhooks"]["debounce_ms"].as_integer(), Some(1000), "the default when nothing else says");
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
