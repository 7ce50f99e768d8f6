//! Import benchmark: generated services imported into a fresh SQLite file
//! and a fresh PostgreSQL database by the real binary.
//!
//! `cargo bench --bench import` (sizes: `KATALOG_BENCH_SIZES=10000,50000`;
//! PostgreSQL server: `KATALOG_BENCH_POSTGRES`, default
//! postgres://postgres@127.0.0.1:5432). Prints entries per second and the
//! peak resident memory the import reported.

use std::process::Command;
use std::time::Instant;

use sea_orm::{ConnectionTrait, Database};

const BIN: &str = env!("CARGO_BIN_EXE_katalog");

fn katalog(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).env("RUST_LOG", "warn").output().expect("run katalog");
    assert!(output.status.success(), "katalog {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn peak_memory(summary: &str) -> String {
    summary.split("peak memory ").nth(1).map(|s| s.trim().to_owned()).unwrap_or_else(|| "n/a".into())
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> =
        std::env::var("KATALOG_BENCH_SIZES").unwrap_or_else(|_| "10000,50000".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let postgres = std::env::var("KATALOG_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");

    println!("{:>8} {:>10} {:>8} {:>10} {:>12} {:>10}", "services", "database", "files", "seconds", "entries/s", "peak RSS");
    for size in sizes {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        let generated = katalog(&["generate", "--services", &size.to_string(), "--out", content.to_str().unwrap()]);
        let files: usize = generated.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);

        let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let database = format!("katalog_bench_{size}_{}", std::process::id());
        let admin = Database::connect(format!("{postgres}/postgres")).await.expect("PostgreSQL must be running");
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database}")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {database}")).await.unwrap();
        let postgres_url = format!("{postgres}/{database}");

        for (name, url) in [("sqlite", sqlite_url.as_str()), ("postgres", postgres_url.as_str())] {
            katalog(&["migrate", "--database", url]);
            let started = Instant::now();
            let summary = katalog(&["import", content.to_str().unwrap(), "--publish", "--database", url, "--schemas", schemas]);
            let seconds = started.elapsed().as_secs_f64();
            println!("{size:>8} {name:>10} {files:>8} {seconds:>10.2} {:>12.0} {:>10}", files as f64 / seconds, peak_memory(&summary));
        }
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await.unwrap();
    }
}
