//! Delivery read throughput with wrk (Debian package `wrk`) on loopback:
//! 10,000 generated services imported into SQLite, then 2 threads, 32
//! connections, for a single service, a service with `expand=offices`, and
//! a filtered list page of 50, each without and with `Accept-Encoding`. Prints requests/s, p99 latency and the
//! server's resident memory; then the latency of cold reads (the response
//! not cached yet) against warm ones, and the time from a publish to the
//! first fresh read, on the same server and on a second one sharing the
//! database.
//!
//! `cargo bench --bench delivery` (`KATALOG_BENCH_SECONDS`, default 20;
//! `KATALOG_BENCH_SERVICES`, default 10000).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{BIN, generated_site, start_server};

fn wrk(url: &str, seconds: u64, headers: &[&str]) -> (String, String) {
    let output = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency", url])
        .args(headers.iter().flat_map(|h| ["-H", h]))
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
    let (database, content) = generated_site(dir.path(), "bench", services);

    let (server, base) = start_server(&database, &content);
    let single = format!("{base}/api/v1/service/leistung-004242");
    println!("{:<40} {:<22} {:>12} {:>10}", "scenario", "Accept-Encoding", "requests/s", "p99");
    for (name, url) in [
        ("single service by slug", single.clone()),
        ("service with expand=offices", format!("{single}?expand=offices")),
        ("list of 50, filtered by office", format!("{base}/api/v1/service?limit=50&office=standort-00001")),
    ] {
        // Without the header, and as browsers, CDNs and HTTP libraries ask.
        for (accepted, headers) in [("(none)", &[][..]), ("gzip, deflate, br", &["Accept-Encoding: gzip, deflate, br"][..])] {
            let (rate, p99) = wrk(&url, seconds, headers);
            println!("{name:<40} {accepted:<22} {rate:>12} {p99:>10}");
        }
    }
    println!("server resident memory: {}", resident_mb(server.0.id()));

    katalog::use_ring_for_tls();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(latencies(&base, services));
    let token = String::from_utf8(
        Command::new(BIN).args(["token", "create", "--role", "publisher", "--name", "bench", "--database", &database]).output().unwrap().stdout,
    )
    .unwrap();
    let (second, second_base) = start_server(&database, &content);
    runtime.block_on(publish_to_fresh_read(&base, &second_base, token.trim()));
    drop((server, second));
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median and maximum in milliseconds.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!("median {:.2} ms, max {:.2} ms ({} reads)", millis(samples[samples.len() / 2]), millis(samples[samples.len() - 1]), samples.len())
}

async fn latencies(base: &str, services: usize) {
    let http = reqwest::Client::new();
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for index in (0..services).step_by((services / 200).max(1)).take(200) {
        let url = format!("{base}/api/v1/service/leistung-{index:06}?expand=offices");
        for samples in [&mut cold, &mut warm] {
            let started = Instant::now();
            let response = http.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
            response.bytes().await.unwrap();
            samples.push(started.elapsed());
        }
    }
    println!("cold read (not cached), expand=offices: {}", summary(cold));
    println!("warm read (cached), expand=offices:     {}", summary(warm));
}

/// Publishes new names and polls both servers until they serve them.
async fn publish_to_fresh_read(first: &str, second: &str, token: &str) {
    let http = reqwest::Client::new();
    let (mut same, mut other) = (Vec::new(), Vec::new());
    for round in 0..20 {
        let slug = format!("leistung-{:06}", 100 + round);
        let manage = format!("{first}/api/v1/manage/service/{slug}");
        // Both servers have the old version cached.
        for base in [first, second] {
            http.get(format!("{base}/api/v1/service/{slug}")).send().await.unwrap().bytes().await.unwrap();
        }
        let entry = http.get(&manage).bearer_auth(token).send().await.unwrap();
        let etag = entry.headers()["etag"].to_str().unwrap().to_owned();
        let mut fields = entry.json::<Value>().await.unwrap()["fields"].clone();
        let name = format!("Neu {round}");
        fields["name"] = json!(name);
        let saved = http.put(&manage).bearer_auth(token).header("If-Match", etag).json(&json!({"fields": fields})).send().await.unwrap();
        assert_eq!(saved.status(), 200);
        let published = http.post(format!("{manage}/transitions")).bearer_auth(token).json(&json!({"action": "publish"})).send().await.unwrap();
        assert_eq!(published.status(), 200);
        let at = Instant::now();
        for (base, samples) in [(first, &mut same), (second, &mut other)] {
            loop {
                let body: Value = http.get(format!("{base}/api/v1/service/{slug}")).send().await.unwrap().json().await.unwrap();
                if body["fields"]["name"] == name.as_str() {
                    samples.push(at.elapsed());
                    break;
                }
                assert!(at.elapsed() < Duration::from_secs(5), "{base} still serves the old name");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    println!("publish → first fresh read, same server:  {}", summary(same));
    println!("publish → first fresh read, other server: {}", summary(other));
}
