//! The web export at 10,000 and 50,000 generated services in German and
//! English, against Hugo (Debian package `hugo`) building the same
//! services with a minimal template in the same run: full export time and
//! peak memory, and the incremental export after one office that 500
//! services show changes its phone number.
//!
//! `cargo bench --bench export` (`KATALOG_BENCH_SIZES`, default
//! `10000,50000`).

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

/// The line of an export report that says what it did and how long it took.
fn summary(report: &str) -> String {
    report.lines().filter(|l| l.starts_with("web:") || l.starts_with("exported")).collect::<Vec<_>>().join("; ")
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
        ("layouts/_default/single.html", "<!DOCTYPE html>\n<html lang=\"{{ .Language.Lang }}\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\n<body><main><h1>{{ .Title }}</h1>\n{{ .Content }}\n</main></body></html>\n"),
        ("layouts/_default/list.html", "<!DOCTYPE html>\n<html lang=\"{{ .Language.Lang }}\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\n<body><main><h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></main></body></html>\n"),
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
    let sizes: Vec<usize> = std::env::var("KATALOG_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,50000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
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
        let export = || katalog(&["export", "--channel", "web", "--out", out.to_str().unwrap(), "--database", &database, "--schemas", SCHEMAS]);
        println!("{services} services (de + en):");
        println!("  katalog full web export:   {}", summary(&export()));
        println!("  katalog unchanged export:  {}", summary(&export()));
        let office = content.join("office").join(format!("{SHARED_OFFICE}.md"));
        let text = std::fs::read_to_string(&office).unwrap();
        std::fs::write(&office, text.replacen("phone = \"+49 711 ", "phone = \"+49 711 9", 1)).unwrap();
        katalog(&["import", content.to_str().unwrap(), "--publish", "--database", &database, "--schemas", SCHEMAS]);
        println!("  katalog after one office changed ({DEPENDENTS} services show it): {}", summary(&export()));

        let site = dir.path().join("hugo");
        hugo_site(&content, &site);
        let started = Instant::now();
        match Command::new("/usr/bin/time").args(["-f", "%M"]).arg("hugo").args(["--quiet", "-s"]).arg(&site).arg("-d").arg(dir.path().join("hugo-out")).output() {
            Ok(output) if output.status.success() => {
                let peak_kb: f64 = String::from_utf8_lossy(&output.stderr).trim().lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0.0);
                println!("  Hugo {} pages:        {:.2} s, peak memory {:.0} MB", services * 2, started.elapsed().as_secs_f64(), peak_kb / 1024.0);
            }
            Ok(output) => println!("  Hugo failed: {}", String::from_utf8_lossy(&output.stderr)),
            Err(error) => println!("  Hugo needs /usr/bin/time and hugo (apt-get install time hugo): {error}"),
        }
    }
}
