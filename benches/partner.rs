//! Partner sync benchmark: a city of generated services exports its
//! partner bundle, a town syncs it into a fresh SQLite database (the
//! initial sync), the city changes the teaser of 100 services and exports
//! again, and the town syncs that (the incremental sync).
//!
//! `cargo bench --bench partner` (sizes: `KATALOG_BENCH_SIZES=10000`;
//! changes: `KATALOG_BENCH_CHANGES=100`). Prints the wall time of each
//! sync, the files it read and the peak resident memory it reported.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_katalog");

fn katalog(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).env("RUST_LOG", "warn").output().expect("run katalog");
    assert!(output.status.success(), "katalog {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn after<'a>(summary: &'a str, marker: &str) -> &'a str {
    summary.split(marker).nth(1).map(|rest| rest.split([',', ';', '\n']).next().unwrap_or(rest).trim()).unwrap_or("n/a")
}

/// Every service file below `folder`, in order.
fn service_files(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn main() {
    let sizes: Vec<usize> = std::env::var("KATALOG_BENCH_SIZES").unwrap_or_else(|_| "10000".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let changes: usize = std::env::var("KATALOG_BENCH_CHANGES").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");

    println!("{:>8} {:>12} {:>10} {:>10} {:>10}", "services", "sync", "seconds", "files read", "peak RSS");
    for size in sizes {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        let out = dir.path().join("out");
        katalog(&["generate", "--services", &size.to_string(), "--out", content.to_str().unwrap()]);
        let city = format!("sqlite://{}", dir.path().join("city.db").display());
        let town = format!("sqlite://{}", dir.path().join("town.db").display());
        let export = || {
            katalog(&[
                "export",
                "--channel",
                "partner",
                "--out",
                out.to_str().unwrap(),
                "--database",
                &city,
                "--schemas",
                schemas,
                "--content",
                content.to_str().unwrap(),
            ]);
        };
        katalog(&["import", content.to_str().unwrap(), "--publish", "--database", &city, "--schemas", schemas]);
        export();
        katalog(&["partner", "add", "city", "--source", out.join("partner").to_str().unwrap(), "--database", &town]);

        let sync = |label: &str| {
            let started = Instant::now();
            let summary = katalog(&["partner", "sync", "city", "--publish", "--database", &town, "--schemas", schemas]);
            let seconds = started.elapsed().as_secs_f64();
            // "…; 102 files read in 0.41 s, peak memory 80 MB"
            let files_read = after(&summary, "); ").split_whitespace().next().unwrap_or("n/a").to_owned();
            println!("{size:>8} {label:>12} {seconds:>10.2} {files_read:>10} {:>10}", after(&summary, "peak memory "));
        };
        sync("initial");

        for file in service_files(&content.join("service")).iter().take(changes) {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(text.contains("\nteaser = \""), "{}: the generated services changed; adjust the edit", file.display());
            std::fs::write(file, text.replacen("\nteaser = \"", "\nteaser = \"Neu: ", 1)).unwrap();
        }
        katalog(&["import", content.to_str().unwrap(), "--publish", "--database", &city, "--schemas", schemas]);
        export();
        sync(&format!("{changes} changed"));
    }
}
