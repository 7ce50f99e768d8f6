//! Delivery read throughput with wrk (Debian package `wrk`) on loopback:
//! 10,000 generated services imported into SQLite, then 2 threads, 32
//! connections, for a single service, a service with `expand=offices`, and
//! a filtered list page of 50. Prints requests/s, p99 latency and the
//! server's resident memory.
//!
//! `cargo bench --bench delivery` (`KATALOG_BENCH_SECONDS`, default 20;
//! `KATALOG_BENCH_SERVICES`, default 10000).

mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use support::{BIN, start_server};

fn wrk(url: &str, seconds: u64) -> (String, String) {
    let output = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", url])
        .output()
        .expect("wrk is needed: apt-get install wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rate = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).unwrap_or("?").trim().to_owned();
    let p99 = text.lines().find_map(|l| l.trim().strip_prefix("99%")).unwrap_or("?").trim().to_owned();
    (rate, p99)
}

fn resident_mb(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let seconds: u64 = std::env::var("KATALOG_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let services: usize = std::env::var("KATALOG_BENCH_SERVICES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
    let run = |args: &[&str]| {
        let status = Command::new(BIN).args(args).env("RUST_LOG", "warn").stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "katalog {args:?}");
    };
    run(&["generate", "--services", &services.to_string(), "--out", content.to_str().unwrap()]);
    run(&["import", content.to_str().unwrap(), "--publish", "--database", &database, "--schemas", schemas]);

    let (mut server, base) = start_server(&database, content.to_str().unwrap());

    let single = format!("{base}/api/v1/service/leistung-004242");
    let started = Instant::now();
    let cold = Command::new("curl").args(["-s", "-o", "/dev/null", &single]).status().unwrap();
    assert!(cold.success());
    println!("cold read (first request, with process start of curl): {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);

    println!("{:<40} {:>12} {:>10}", "scenario", "requests/s", "p99");
    for (name, url) in [
        ("single service by slug", single.clone()),
        ("service with expand=offices", format!("{single}?expand=offices")),
        ("list of 50, filtered by office", format!("{base}/api/v1/service?limit=50&office=standort-00001")),
    ] {
        let (rate, p99) = wrk(&url, seconds);
        println!("{name:<40} {rate:>12} {p99:>10}");
    }
    println!("server resident memory: {}", resident_mb(server.id()));
    let _ = server.kill();
    let _ = server.wait();
}
