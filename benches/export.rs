//! The web export at 10,000 and 50,000 generated services in German and
//! English, against Hugo (Debian package `hugo`) building the same
//! services with a minimal template in the same run: full export time and
//! peak memory, and the incremental export after one office that 500
//! services show changes its phone number.
//!
//! Beside them, the same files written by two threads with no rendering
//! at all: what the file system alone costs on this machine, which bounds
//! how far any generator can get ahead of another. Deleting many files
//! makes ext4 slower at creating new ones for minutes after (it avoids
//! reusing recently freed inodes), so nothing is deleted until the end.
//!
//! `cargo bench --bench export` (`KATALOG_BENCH_SIZES`, default
//! `10000,50000`; needs `hugo` and `time`, `apt-get install hugo time`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_katalog");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
/// The office whose change the incremental export follows.
const SHARED_OFFICE: &str = "standort-00000";
const DEPENDENTS: usize = 500;

fn katalog(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).env("RUST_LOG", "warn").output().expect("run katalog");
    assert!(output.status.success(), "katalog {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a command cost, as `/usr/bin/time` measures it.
struct Usage {
    seconds: f64,
    user: f64,
    system: f64,
    peak_mb: f64,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} s (CPU user {:.2} s, system {:.2} s), peak memory {:.0} MB", self.seconds, self.user, self.system, self.peak_mb)
    }
}

/// Runs a command under `/usr/bin/time`; its output and what it cost.
fn timed(program: &str, args: &[&str]) -> (String, Usage) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "usage %e %U %S %M", program])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run /usr/bin/time (apt-get install time)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {args:?}: {stderr}");
    let figures: Vec<f64> = stderr.lines().rev().find_map(|l| l.strip_prefix("usage ")).unwrap_or_default().split(' ').filter_map(|n| n.parse().ok()).collect();
    let [seconds, user, system, peak_kb] = figures[..] else { panic!("no usage from /usr/bin/time: {stderr}") };
    (String::from_utf8_lossy(&output.stdout).into_owned(), Usage { seconds, user, system, peak_mb: peak_kb / 1024.0 })
}

/// The line of an export report that says what it did.
fn summary(report: &str) -> String {
    report.lines().filter(|l| l.starts_with("web:")).collect::<Vec<_>>().join("; ")
}

/// Writes the files below `from` into the new folder `to` with two
/// threads, read into memory first: the file system's share of an export.
fn write_alone(from: &Path, to: &Path) -> (usize, f64) {
    let mut files = Vec::new();
    let mut pending = vec![from.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((to.join(path.strip_prefix(from).unwrap()), bytes));
            }
        }
    }
    files.sort();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in [0, 1] {
            let files = &files;
            scope.spawn(move || {
                for (path, bytes) in files.iter().skip(part).step_by(2) {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, bytes).unwrap();
                }
            });
        }
    });
    (files.len(), started.elapsed().as_secs_f64())
}

fn service_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for group in std::fs::read_dir(dir.join("service")).unwrap() {
        for file in std::fs::read_dir(group.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files.sort();
    files
}

/// The generated services as a Hugo site with two languages and a minimal template.
fn hugo_site(content: &Path, site: &Path) {
    for (folder, layout) in [
        (
            "layouts/_default/single.html",
            "<!DOCTYPE html>\n<html lang=\"{{ .Language.Lang }}\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\n<body><main><h1>{{ .Title }}</h1>\n{{ .Content }}\n</main></body></html>\n",
        ),
        (
            "layouts/_default/list.html",
            "<!DOCTYPE html>\n<html lang=\"{{ .Language.Lang }}\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\n<body><main><h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></main></body></html>\n",
        ),
    ] {
        let path = site.join(folder);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, layout).unwrap();
    }
    std::fs::write(
        site.join("hugo.toml"),
        "baseURL = \"https://service.stuttgart.example/\"\ndefaultContentLanguage = \"de\"\ndefaultContentLanguageInSubdir = true\ndisableKinds = [\"taxonomy\", \"term\", \"RSS\"]\n\
         [languages.de]\ncontentDir = \"content/de\"\nweight = 1\n[languages.en]\ncontentDir = \"content/en\"\nweight = 2\n",
    )
    .unwrap();
    for file in service_files(content) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (slug, language) = match name.strip_suffix(".en.md") {
            Some(slug) => (slug.to_owned(), "en"),
            None => (name.trim_end_matches(".md").to_owned(), "de"),
        };
        let mut parts = text.splitn(3, "+++\n");
        let (_, front, body) = (parts.next(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let title = front.lines().find_map(|l| l.strip_prefix("name = ")).unwrap_or("\"?\"");
        let target = site.join("content").join(language).join("service").join(format!("{slug}.md"));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, format!("+++\ntitle = {title}\n+++\n{body}")).unwrap();
    }
}

fn main() {
    let sizes: Vec<usize> =
        std::env::var("KATALOG_BENCH_SIZES").unwrap_or_else(|_| "10000,50000".into()).split(',').filter_map(|s| s.trim().parse().ok()).collect();
    // Deleted only at the end, so that no run pays for the deletions of another.
    let mut folders = Vec::new();
    for services in sizes {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        let database = format!("sqlite://{}", dir.path().join("bench.db").display());
        let out = dir.path().join("out");
        katalog(&["generate", "--services", &services.to_string(), "--out", content.to_str().unwrap(), "--english"]);
        // The first 500 services also show the shared office.
        for file in service_files(&content).into_iter().filter(|f| !f.to_string_lossy().ends_with(".en.md")).take(DEPENDENTS) {
            let text = std::fs::read_to_string(&file).unwrap();
            let extra = format!("role = \"receiving\"\n\n[[responsible_offices]]\noffice = \"{SHARED_OFFICE}\"\nrole = \"point_of_contact\"\n+++\n");
            std::fs::write(&file, text.replacen("role = \"receiving\"\n+++\n", &extra, 1)).unwrap();
        }
        katalog(&["import", content.to_str().unwrap(), "--publish", "--database", &database, "--schemas", SCHEMAS]);
        let export = || timed(BIN, &["export", "--channel", "web", "--out", out.to_str().unwrap(), "--database", &database, "--schemas", SCHEMAS]);
        println!("{services} services (de + en):");
        let (report, usage) = export();
        println!("  katalog full web export: {usage}; {}", summary(&report));
        let (report, usage) = export();
        println!("  katalog unchanged:       {usage}; {}", summary(&report));
        let office = content.join("office").join(format!("{SHARED_OFFICE}.md"));
        let text = std::fs::read_to_string(&office).unwrap();
        std::fs::write(&office, text.replacen("phone = \"+49 711 ", "phone = \"+49 711 9", 1)).unwrap();
        katalog(&["import", content.to_str().unwrap(), "--publish", "--database", &database, "--schemas", SCHEMAS]);
        let (report, usage) = export();
        println!("  katalog after one office changed ({DEPENDENTS} services show it): {usage}; {}", summary(&report));
        let (files, seconds) = write_alone(&out.join("web"), &dir.path().join("written-alone"));
        println!("  the same {files} files written alone, two threads: {seconds:.2} s");

        let site = dir.path().join("hugo");
        hugo_site(&content, &site);
        let hugo_out = dir.path().join("hugo-out");
        let hugo = Command::new("hugo").arg("version").output().map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1).unwrap_or("?").to_owned());
        match hugo {
            Ok(version) => {
                let (_, usage) = timed("hugo", &["--quiet", "-s", site.to_str().unwrap(), "-d", hugo_out.to_str().unwrap()]);
                println!("  Hugo {version}, {} pages: {usage}", services * 2);
            }
            Err(error) => println!("  Hugo needs hugo (apt-get install hugo): {error}"),
        }
        folders.push(dir);
    }
}
