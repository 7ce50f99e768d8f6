//! Soak: mixed read and write load on loopback for a long while, to see
//! that errors stay at zero, latency does not creep and memory stays flat.
//! 2,000 generated services in SQLite; 8 readers (single services, list
//! pages, search) and 2 writers (save and publish) as fast as the server answers.
//! Prints, each minute and at the end: requests, errors, p99 latency and
//! the server's resident memory.
//!
//! `cargo bench --bench soak` (`KATALOG_SOAK_SECONDS`, default 600).

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{BIN, generated_site, start_server};

const SERVICES: usize = 2_000;
const READERS: usize = 8;
const WRITERS: usize = 2;

/// Latencies and errors since the last report.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

impl Tally {
    fn record(&mut self, started: Instant, ok: bool) {
        self.latencies.push(started.elapsed());
        if !ok {
            self.errors += 1;
        }
    }
}

fn p99(latencies: &mut [Duration]) -> f64 {
    latencies.sort();
    latencies.get(latencies.len() * 99 / 100).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn resident_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let seconds: u64 = std::env::var("KATALOG_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let (database, content) = generated_site(dir.path(), "soak", SERVICES);
    let created =
        Command::new(BIN).args(["token", "create", "--role", "publisher", "--name", "soak", "--database", &database]).stderr(Stdio::null()).output().unwrap();
    assert!(created.status.success(), "katalog token create");
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    // The load comes from one address: rate limits would answer it with 429.
    // SAFETY: set before any other thread exists.
    unsafe {
        std::env::set_var("KATALOG_RATE_LIMIT_MANAGE", "0");
        std::env::set_var("KATALOG_RATE_LIMIT_SEARCH", "0");
    }
    let (server, base) = start_server(&database, &content);

    katalog::use_ring_for_tls();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let running = Arc::new(AtomicBool::new(true));
    let http = reqwest::Client::new();
    let mut workers = Vec::new();
    for reader in 0..READERS {
        let (http, base, tally, running) = (http.clone(), base.clone(), tally.clone(), running.clone());
        workers.push(runtime.spawn(async move {
            let mut round = reader;
            while running.load(Ordering::Relaxed) {
                round += READERS;
                let url = match round % 10 {
                    0..=5 => format!("{base}/api/v1/service/leistung-{:06}", round * 7919 % SERVICES),
                    6 => format!("{base}/api/v1/service?limit=20"),
                    7 => format!("{base}/api/v1/service?limit=50&office=standort-{:05}", round % 40 + 1),
                    _ => format!("{base}/api/v1/search?q=antrag%20{}", ["ausweis", "wohnung", "gewerbe", "hund"][round % 4]),
                };
                let started = Instant::now();
                let ok = match http.get(&url).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                tally.lock().unwrap().record(started, ok);
            }
        }));
    }
    for writer in 0..WRITERS {
        let (http, base, token, tally, running) = (http.clone(), base.clone(), token.clone(), tally.clone(), running.clone());
        workers.push(runtime.spawn(async move {
            let mut round = 0;
            while running.load(Ordering::Relaxed) {
                round += 1;
                // Writers take disjoint services: conflicts are not what is measured.
                let slug = format!("leistung-{:06}", (round * 31 % (SERVICES / WRITERS)) * WRITERS + writer);
                let manage = format!("{base}/api/v1/manage/service/{slug}");
                let started = Instant::now();
                let ok = save_and_publish(&http, &manage, &token, round).await;
                tally.lock().unwrap().record(started, ok);
            }
        }));
    }

    println!("{:>6} {:>10} {:>8} {:>10} {:>10}", "minute", "requests", "errors", "p99 ms", "RSS MiB");
    let memory_at_start = resident_mb(server.0.id());
    let (mut requests, mut errors, mut all) = (0u64, 0u64, Vec::new());
    let started = Instant::now();
    let mut minute = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let left = Duration::from_secs(seconds).saturating_sub(started.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(60)));
        minute += 1;
        let mut taken = std::mem::take(&mut *tally.lock().unwrap());
        println!("{minute:>6} {:>10} {:>8} {:>10.1} {:>10.1}", taken.latencies.len(), taken.errors, p99(&mut taken.latencies), resident_mb(server.0.id()));
        requests += taken.latencies.len() as u64;
        errors += taken.errors;
        all.extend(taken.latencies);
    }
    running.store(false, Ordering::Relaxed);
    runtime.block_on(async {
        for worker in workers {
            let _ = worker.await;
        }
    });
    println!(
        "{seconds} s: {requests} requests ({:.0}/s), {errors} errors, p99 {:.1} ms, server memory {memory_at_start:.1} MiB before the load, {:.1} MiB at the end",
        requests as f64 / seconds as f64,
        p99(&mut all),
        resident_mb(server.0.id())
    );
    drop(server);
}

/// One editor's change: read, save a new name with If-Match, publish.
async fn save_and_publish(http: &reqwest::Client, manage: &str, token: &str, round: usize) -> bool {
    let Ok(entry) = http.get(manage).bearer_auth(token).send().await else { return false };
    let Some(etag) = entry.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned) else { return false };
    let Ok(entry) = entry.json::<Value>().await else { return false };
    let mut fields = entry["fields"].clone();
    fields["name"] = json!(format!("Leistung, Stand {round}"));
    let saved = http.put(manage).bearer_auth(token).header("If-Match", etag).json(&json!({"fields": fields})).send().await;
    if !saved.is_ok_and(|response| response.status().is_success()) {
        return false;
    }
    let published = http.post(format!("{manage}/transitions")).bearer_auth(token).json(&json!({"action": "publish"})).send().await;
    published.is_ok_and(|response| response.status().is_success())
}
