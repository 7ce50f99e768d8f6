//! What the benchmarks share: the real server on a free port.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_katalog");

/// A running `katalog serve`, stopped when dropped (also when a benchmark
/// panics, so no server outlives it).
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `katalog serve` on a free port; returns the server and its base URL.
pub fn start_server(database: &str, content: &str) -> (Server, String) {
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--database", database, "--content", content])
        .args(["--schemas", concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start katalog serve");
    let mut stdout = BufReader::new(server.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the serving line");
    // Keep draining so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let base = line.trim().trim_start_matches("katalog is serving ").trim_end_matches('/').to_owned();
    (Server(server), base)
}

/// `katalog generate` with `services` services into `dir/content`, imported
/// and published into the SQLite database `dir/<name>.db`; returns the
/// database URL and the content folder.
#[allow(dead_code, reason = "the benchmarks of the sample content do not generate any")]
pub fn generated_site(dir: &std::path::Path, name: &str, services: usize) -> (String, String) {
    let content = dir.join("content").display().to_string();
    let database = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
    let run = |args: &[&str]| {
        let status = Command::new(BIN).args(args).env("RUST_LOG", "warn").stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "katalog {args:?}");
    };
    run(&["generate", "--services", &services.to_string(), "--out", &content]);
    run(&["import", &content, "--publish", "--database", &database, "--schemas", schemas]);
    (database, content)
}
