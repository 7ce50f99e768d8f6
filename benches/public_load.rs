//! The most expensive public reads under load, and what they leave for
//! everyone else: 10,000 generated services in SQLite; 16 clients as fast
//! as the server answers, in turn
//! - walking the sync feed from the start with the largest page (`limit=1000`),
//! - asking for sync pages at random cursors (no two alike: every page is built),
//! - paging lists of services with `expand=all` and a different
//!   `changed_since` each time,
//!
//! while `/healthz` is asked every 20 ms. Prints per scenario the
//! endpoint's throughput and errors, the median, p95 and p99 latency of
//! `/healthz`, and the wall and CPU time the server spent.
//!
//! `cargo bench --bench public_load` (`KATALOG_BENCH_SECONDS` per scenario,
//! default 20; `KATALOG_BENCH_SERVICES`, default 10000).

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use support::{generated_site, start_server};

const CLIENTS: usize = 16;
const HEALTH_EVERY: Duration = Duration::from_millis(20);

#[derive(Clone, Copy)]
enum Scenario {
    SyncFromTheStart,
    SyncAtRandomCursors,
    ListsChangedSince,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::SyncFromTheStart => "sync from the start, limit=1000",
            Scenario::SyncAtRandomCursors => "sync at random cursors, limit=1000",
            Scenario::ListsChangedSince => "lists, expand=all, changed_since varies",
        }
    }
}

/// A small xorshift generator: the load differs per client, reproducibly.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / ticks_per_second
}

fn clock_ticks() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(100.0)
}

fn percentile(sorted: &[Duration], per_cent: usize) -> f64 {
    sorted.get((sorted.len() * per_cent / 100).min(sorted.len().saturating_sub(1))).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// What a client reads of a page to ask for the next one (the entries
/// are skipped, not parsed: the client's work is not what is measured).
#[derive(serde::Deserialize)]
struct Page {
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

/// One client's requests until `running` ends; returns (answered, failed).
async fn client(http: reqwest::Client, base: String, scenario: Scenario, seed: u64, newest_seq: u64, running: Arc<AtomicBool>) -> (u64, u64) {
    let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut answered, mut failed) = (0, 0);
    let mut next: Option<String> = None;
    while running.load(Ordering::Relaxed) {
        let url = match scenario {
            Scenario::SyncFromTheStart => match &next {
                Some(cursor) => format!("{base}/api/v1/sync?limit=1000&cursor={cursor}"),
                None => format!("{base}/api/v1/sync?limit=1000"),
            },
            Scenario::SyncAtRandomCursors => {
                let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("seq:{}", random.below(newest_seq)));
                format!("{base}/api/v1/sync?limit=1000&cursor={cursor}")
            }
            Scenario::ListsChangedSince => {
                // The last sync of each client: some time in the last thirty days.
                let since = chrono::Utc::now() - chrono::Duration::seconds(3600 + random.below(30 * 86_400) as i64);
                let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                match &next {
                    Some(cursor) => format!("{base}/api/v1/service?expand=all&limit=100&changed_since={since}&cursor={cursor}"),
                    None => format!("{base}/api/v1/service?expand=all&limit=100&changed_since={since}"),
                }
            }
        };
        let body = match http.get(&url).send().await {
            Ok(response) if response.status().is_success() => response.bytes().await.ok().and_then(|bytes| serde_json::from_slice::<Page>(&bytes).ok()),
            _ => None,
        };
        let Some(body) = body else {
            failed += 1;
            next = None;
            continue;
        };
        answered += 1;
        next = match scenario {
            Scenario::SyncFromTheStart => body.next_cursor.filter(|_| body.has_more),
            // A few pages of a list, then a new client.
            Scenario::ListsChangedSince => body.next_cursor.filter(|_| random.below(5) > 0),
            Scenario::SyncAtRandomCursors => None,
        };
    }
    (answered, failed)
}

/// `/healthz` every [`HEALTH_EVERY`] until `running` ends; its latencies.
/// It runs on a thread of its own, so that the clients' work does not delay it.
async fn probe(base: String, running: Arc<AtomicBool>, failures: Arc<AtomicU64>) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    while running.load(Ordering::Relaxed) {
        let started = Instant::now();
        match http.get(format!("{base}/healthz")).send().await {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                latencies.push(started.elapsed());
            }
            _ => {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(HEALTH_EVERY.saturating_sub(started.elapsed())).await;
    }
    latencies
}

fn main() {
    let seconds: u64 = std::env::var("KATALOG_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let services: usize = std::env::var("KATALOG_BENCH_SERVICES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (database, content) = generated_site(dir.path(), "bench", services);
    let (server, base) = start_server(&database, &content);
    let pid = server.0.id();
    let ticks = clock_ticks();

    katalog::use_ring_for_tls();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let newest_seq = runtime.block_on(async {
        let mut cursor: Option<String> = None;
        let mut seq = 0;
        // Walks the feed once to find its length (and leaves it cached, as a first client would).
        loop {
            let url = match &cursor {
                Some(c) => format!("{base}/api/v1/sync?limit=1000&cursor={c}"),
                None => format!("{base}/api/v1/sync?limit=1000"),
            };
            let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            seq = page["items"].as_array().and_then(|items| items.last()).and_then(|item| item["seq"].as_u64()).unwrap_or(seq);
            if page["has_more"] != true {
                break seq;
            }
            cursor = page["next_cursor"].as_str().map(str::to_owned);
        }
    });
    println!("{services} services, {newest_seq} changes; {CLIENTS} clients, {seconds} s per scenario, /healthz every {} ms", HEALTH_EVERY.as_millis());
    println!(
        "{:<40} {:>10} {:>8} {:>8} {:>14} {:>10} {:>10} {:>10} {:>16}",
        "scenario", "requests", "req/s", "errors", "healthz n/fail", "median ms", "p95 ms", "p99 ms", "server CPU/wall"
    );
    for scenario in [Scenario::SyncFromTheStart, Scenario::SyncAtRandomCursors, Scenario::ListsChangedSince] {
        let running = Arc::new(AtomicBool::new(true));
        let health_failures = Arc::new(AtomicU64::new(0));
        let cpu_before = cpu_seconds(pid, ticks);
        let started = Instant::now();
        let (answered, failed, mut health) = runtime.block_on(async {
            let clients: Vec<_> =
                (0..CLIENTS).map(|n| tokio::spawn(client(http.clone(), base.clone(), scenario, n as u64 + 1, newest_seq.max(1), running.clone()))).collect();
            let probe = {
                let (base, running, failures) = (base.clone(), running.clone(), health_failures.clone());
                std::thread::spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(probe(base, running, failures)))
            };
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            running.store(false, Ordering::Relaxed);
            let (mut answered, mut failed) = (0, 0);
            for client in clients {
                let (a, f) = client.await.unwrap();
                answered += a;
                failed += f;
            }
            (answered, failed, probe.join().unwrap())
        });
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid, ticks) - cpu_before;
        health.sort();
        println!(
            "{:<40} {answered:>10} {:>8.1} {failed:>8} {:>14} {:>10.1} {:>10.1} {:>10.1} {:>16}",
            scenario.name(),
            answered as f64 / wall,
            format!("{}/{}", health.len(), health_failures.load(Ordering::Relaxed)),
            percentile(&health, 50),
            percentile(&health, 95),
            percentile(&health, 99),
            format!("{cpu:.1} s / {wall:.1} s"),
        );
    }
    drop(server);
}
