//! Sustained updates with If-Match from 8 concurrent clients, each editing
//! its own entry, against the real server on SQLite and on PostgreSQL.
//!
//! `cargo bench --bench updates` (duration: `KATALOG_BENCH_SECONDS`, default
//! 10; PostgreSQL server: `KATALOG_BENCH_POSTGRES`).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use support::{BIN, start_server};
const CLIENTS: usize = 8;
const SLUGS: [&str; CLIENTS] = [
    "personalausweis-beantragen",
    "reisepass-beantragen",
    "wohnsitz-anmelden",
    "wohnsitz-abmelden",
    "meldebescheinigung-beantragen",
    "fuehrungszeugnis-beantragen",
    "hundesteuer-anmelden",
    "gewerbe-anmelden",
];

async fn client(base: String, token: String, slug: &str, until: Instant) -> (u64, u64) {
    katalog::use_ring_for_tls();
    let http = reqwest::Client::new();
    let url = format!("{base}/api/v1/manage/service/{slug}");
    let entry: Value = http.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let mut version = entry["version"].as_i64().unwrap();
    let mut fields = entry["fields"].clone();
    let (mut ok, mut failed) = (0, 0);
    while Instant::now() < until {
        fields["teaser"] = json!(format!("Fassung {ok}"));
        let response = http.put(&url).bearer_auth(&token).header("If-Match", format!("\"{version}\"")).json(&json!({"fields": fields})).send().await.unwrap();
        if response.status() == 200 {
            let body: Value = response.json().await.unwrap();
            version = body["version"].as_i64().unwrap();
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

async fn run(name: &str, url: &str, seconds: u64) {
    let token = Command::new(BIN).args(["token", "create", "--role", "editor", "--name", "bench", "--database", url]).output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let (server, base) = start_server(url, concat!(env!("CARGO_MANIFEST_DIR"), "/content"));

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = SLUGS.iter().map(|slug| tokio::spawn(client(base.clone(), token.clone(), slug, until))).collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{name:>10} {CLIENTS:>8} {elapsed:>8.1} {ok:>10} {failed:>8} {:>10.0}", ok as f64 / elapsed);
    drop(server);
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("KATALOG_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let postgres = std::env::var("KATALOG_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    println!("{:>10} {:>8} {:>8} {:>10} {:>8} {:>10}", "database", "clients", "seconds", "updates", "failed", "updates/s");

    let dir = tempfile::tempdir().unwrap();
    run("sqlite", &format!("sqlite://{}", dir.path().join("bench.db").display()), seconds).await;

    let database = format!("katalog_bench_updates_{}", std::process::id());
    let admin = Database::connect(format!("{postgres}/postgres")).await.expect("PostgreSQL must be running");
    admin.execute_unprepared(&format!("CREATE DATABASE {database}")).await.unwrap();
    run("postgres", &format!("{postgres}/{database}"), seconds).await;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await.unwrap();
}
