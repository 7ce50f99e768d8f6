//! Search at scale: 50,000 generated services imported into SQLite, the
//! index built with `katalog reindex` (time, peak memory), then 1,000 mixed
//! queries (names, name + action, ae/oe/ue spellings, typos, prefixes)
//! in-process and over HTTP, suggest latency, and the same queries on
//! SQLite FTS5 (Python's sqlite3) for comparison.
//!
//! `cargo bench --bench search` (`KATALOG_BENCH_SERVICES`, default 50000;
//! `KATALOG_BENCH_DIR` keeps the generated database and index in that
//! folder and reuses them on the next run).

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use katalog::content::{Locale, Registry};
use katalog::generate::{ACTIONS, SUBJECTS};
use katalog::search::{SearchIndex, SearchRequest, Synonyms};
use support::{BIN, generated_site, start_server};

const QUERIES: usize = 1000;

/// splitmix64, so every run asks the same questions.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn transliterate(text: &str) -> String {
    text.to_lowercase().replace('ä', "ae").replace('ö', "oe").replace('ü', "ue").replace('ß', "ss")
}

fn queries() -> Vec<String> {
    let mut random = Random(7);
    (0..QUERIES)
        .map(|i| {
            let subject = SUBJECTS[random.below(SUBJECTS.len())];
            let action = ACTIONS[random.below(ACTIONS.len())];
            match i % 5 {
                0 => subject.to_owned(),
                1 => format!("{} {action}", subject.to_lowercase()),
                2 => transliterate(subject),
                3 => {
                    // Two neighbouring letters swapped.
                    let mut chars: Vec<char> = subject.to_lowercase().chars().collect();
                    let at = 1 + random.below(chars.len() - 2);
                    chars.swap(at, at + 1);
                    chars.into_iter().collect()
                }
                _ => subject.to_lowercase().chars().take(5).collect(),
            }
        })
        .collect()
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms ({} queries)", at(0.5), at(0.99), samples.len())
}

fn main() {
    let services: usize = std::env::var("KATALOG_BENCH_SERVICES").ok().and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let temporary = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("KATALOG_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temporary.path());
    let content = dir.join("content");
    let db_file = dir.join("bench.db");
    let database = format!("sqlite://{}", db_file.display());
    // Where `serve` looks for the index of this database, so the server below reuses it.
    let index_dir = std::path::PathBuf::from(format!("{}.search", db_file.display()));
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
    let run = |args: &[&str]| {
        let output = Command::new(BIN).args(args).env("RUST_LOG", "warn").stderr(Stdio::null()).output().unwrap();
        assert!(output.status.success(), "katalog {args:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    if !db_file.exists() {
        generated_site(dir, "bench", services);
        let index_arg = index_dir.to_str().unwrap();
        println!("{services} services: katalog reindex: {}", run(&["reindex", "--database", &database, "--schemas", schemas, "--search-index", index_arg]));
    }

    let queries = queries();
    let registry = Arc::new(Registry::load_dir(std::path::Path::new(schemas)).unwrap());
    let synonyms = Synonyms::shipped();
    {
        let index = SearchIndex::open(Some(&index_dir), registry).unwrap();
        let mut searched = Vec::new();
        let mut suggested = Vec::new();
        for query in &queries {
            let request = SearchRequest { text: query, locale: Locale::SOURCE, content_type: None, topic: None, office: None, limit: 10, offset: 0 };
            let started = Instant::now();
            let results = index.search(&request, &synonyms).unwrap();
            searched.push(started.elapsed());
            assert!(!results.hits.is_empty(), "no hit for {query:?}");
            let prefix: String = query.chars().take(4).collect();
            let started = Instant::now();
            index.suggest(&prefix, Locale::SOURCE, 8, &synonyms).unwrap();
            suggested.push(started.elapsed());
        }
        println!("search in-process:  {}", percentiles(searched));
        println!("suggest in-process: {}", percentiles(suggested));
    }

    let (server, base) = start_server(&database, content.to_str().unwrap());
    katalog::use_ring_for_tls();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let mut over_http = Vec::new();
        for query in &queries {
            let url = reqwest::Url::parse_with_params(&format!("{base}/api/v1/search"), &[("q", query.as_str())]).unwrap();
            let started = Instant::now();
            let response = http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
            over_http.push(started.elapsed());
        }
        println!("search over HTTP:   {}", percentiles(over_http));
    });
    drop(server);

    let query_file = dir.join("queries.txt");
    std::fs::write(&query_file, queries.join("\n")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fts5.py");
    match Command::new("python3").arg(script).arg(&db_file).arg(&query_file).output() {
        Ok(output) if output.status.success() => print!("{}", String::from_utf8_lossy(&output.stdout)),
        Ok(output) => println!("FTS5 comparison failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(error) => println!("FTS5 comparison needs python3: {error}"),
    }
}
