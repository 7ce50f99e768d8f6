//! The pages of the web channel have no WCAG 2.1 AA violation that axe-core
//! finds: a fresh export of the sample content is served over HTTP on
//! loopback and checked in headless Chromium through chromedriver (Debian's
//! `chromium` and `chromium-driver`, which `.ci/run` installs).

use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use crate::browser::{Browser, WCAG_2_1_AA, axe_source, violations};
use crate::helpers::{import_url, katalog, repo_path, text};

/// Page kinds checked in every locale that has them, besides the start page
/// and the A–Z index.
const PAGE_KINDS: [&str; 4] = ["service", "office", "topic", "article"];

/// Serves `root` over HTTP on a free loopback port as a web server serves
/// the exported site (`/de/` is `/de/index.html`); returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            // The browser may hold a connection open without a request:
            // one thread each, so it delays no other.
            std::thread::spawn(move || respond(&root, stream));
        }
    });
    base
}

fn respond(root: &Path, mut stream: TcpStream) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read the rest of the request: closing with unread bytes would reset
    // the connection before the browser has the answer.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|read| read > 0) && header != "\r\n" {
        header.clear();
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").split(['?', '#']).next().unwrap_or("/");
    let mut file = root.join(path.trim_start_matches('/'));
    if path.ends_with('/') {
        file.push("index.html");
    }
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    };
    let (status, content_type, body) = match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => ("200 OK", content_type, body),
        _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
}

/// The largest page below `dir` (the most markup to check), as a path of the site.
fn largest_page(site: &Path, dir: &Path) -> Option<String> {
    let pages = std::fs::read_dir(dir).ok()?.map(|entry| entry.unwrap().path().join("index.html")).filter(|page| page.is_file());
    let page = pages.max_by_key(|page| (page.metadata().unwrap().len(), page.clone()))?;
    Some(format!("/{}/", page.parent().unwrap().strip_prefix(site).unwrap().to_str().unwrap()))
}

#[test]
fn the_check_reports_known_violations() {
    let axe = axe_source();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<!DOCTYPE html>\n<html><head><title>Fixture</title></head><body><main><img src=\"/photo.png\"></main></body></html>\n",
    )
    .unwrap();
    let base = serve(site.path().to_path_buf());
    let browser = Browser::start();
    browser.goto(&format!("{base}/"));
    let results = browser.axe(&axe, &WCAG_2_1_AA);
    let found = violations("/", &results);
    for rule in ["html-has-lang", "image-alt"] {
        assert!(found.iter().any(|v| v.starts_with(&format!("/: {rule} "))), "{rule} is not reported: {found:#?}");
    }
    assert!(found.iter().any(|v| v.contains("<img src=\"/photo.png\">")), "the failing element is named: {found:#?}");
}

/// The web channel of the sample content, exported into `work/export/web`.
fn exported_site(work: &Path) -> PathBuf {
    let database = format!("sqlite://{}", work.join("katalog.db").display());
    let imported = import_url(&database, &repo_path("content"));
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let (schemas, content, out) = (repo_path("schemas"), repo_path("content"), work.join("export"));
    let exported = katalog(&[
        "export",
        "--channel",
        "web",
        "--out",
        out.to_str().unwrap(),
        "--database",
        &database,
        "--schemas",
        schemas.to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    out.join("web")
}

#[test]
fn the_web_pages_meet_wcag_2_1_aa() {
    let axe = axe_source();
    let work = tempfile::tempdir().unwrap();
    let site = exported_site(work.path());

    let mut locales: Vec<String> = std::fs::read_dir(&site)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("index.html").is_file())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    locales.sort();
    let mut pages = Vec::new();
    for locale in &locales {
        pages.extend([format!("/{locale}/"), format!("/{locale}/a-z/")]);
        pages.extend(PAGE_KINDS.iter().filter_map(|kind| largest_page(&site, &site.join(locale).join(kind))));
    }
    for locale in ["de", "en"] {
        for kind in ["service", "office", "topic"] {
            let prefix = format!("/{locale}/{kind}/");
            assert!(pages.iter().any(|page| page.starts_with(&prefix)), "no {kind} page in {locale} to check: {pages:?}");
        }
    }

    let base = serve(site);
    let browser = Browser::start();
    let found: Vec<String> = pages
        .iter()
        .flat_map(|page| {
            browser.goto(&format!("{base}{page}"));
            violations(page, &browser.axe(&axe, &WCAG_2_1_AA))
        })
        .collect();
    assert!(found.is_empty(), "WCAG 2.1 AA violations on the web pages:\n{}\n(checked {pages:?})", found.join("\n"));
}

/// The lost-property office (Mon, Tue, Wed, Fri 08:30–12:30, Thu
/// 08:30–18:00; closed on 4 March 2026) at given moments: the page's
/// script, run again with the clock set, says whether it is open. The
/// public holidays of Baden-Württemberg (`content/site.toml`) close it,
/// unless it names hours of its own for the day.
#[test]
fn office_pages_say_whether_the_office_is_open_now() {
    let work = tempfile::tempdir().unwrap();
    let base = serve(exported_site(work.path()));
    let browser = Browser::start();
    browser.goto(&format!("{base}/de/office/fundbuero/"));
    let shown = browser.call(
        reqwest::Method::POST,
        "/execute/sync",
        json!({"script": "const p = document.querySelector('.open-now'); return [p.hidden, p.textContent];", "args": []}),
    );
    assert_eq!(shown[0], false, "the line is shown once the script ran: {shown}");
    let now = shown[1].as_str().unwrap();
    assert!(now.starts_with("Jetzt geöffnet bis ") || now.starts_with("Jetzt geschlossen – öffnet "), "{now}");

    let at = |moment: &str| -> String {
        let script = r"
            const [moment, done] = [arguments[0], arguments[arguments.length - 1]];
            const RealDate = Date;
            window.Date = class extends RealDate {
                constructor(...args) { if (args.length) { super(...args); } else { super(moment); } }
                static now() { return new RealDate(moment).getTime(); }
            };
            fetch('/open-now.js').then(r => r.text()).then(source => { eval(source); done(document.querySelector('.open-now').textContent); });";
        browser.call(reqwest::Method::POST, "/execute/async", json!({"script": script, "args": [moment]})).as_str().unwrap().to_owned()
    };
    // Thursday 26 November 2026, 10:00 in Stuttgart (09:00 UTC).
    assert_eq!(at("2026-11-26T09:00:00Z"), "Jetzt geöffnet bis 18:00 Uhr");
    // The same Thursday, 18:30: next opening Friday morning.
    assert_eq!(at("2026-11-26T17:30:00Z"), "Jetzt geschlossen – öffnet morgen um 08:30 Uhr");
    // Friday 12:45: closed over the weekend until Monday.
    assert_eq!(at("2026-11-27T11:45:00Z"), "Jetzt geschlossen – öffnet Montag um 08:30 Uhr");
    // Wednesday 4 March 2026, 09:00, the inventory day: closed, open Thursday.
    assert_eq!(at("2026-03-04T08:00:00Z"), "Jetzt geschlossen – öffnet morgen um 08:30 Uhr");
    // Tuesday 3 March, 07:00: opens later today.
    assert_eq!(at("2026-03-03T06:00:00Z"), "Jetzt geschlossen – öffnet heute um 08:30 Uhr");
    // New Year's Day, a Thursday, 10:00.
    assert_eq!(at("2026-01-01T09:00:00Z"), "Heute geschlossen (Neujahr) – öffnet morgen um 08:30 Uhr");
    // Maundy Thursday evening: Good Friday, the weekend and Easter Monday go by.
    assert_eq!(at("2026-04-02T17:30:00Z"), "Jetzt geschlossen – öffnet Dienstag um 08:30 Uhr");
    // Epiphany is kept in Baden-Württemberg (not in every state).
    assert_eq!(at("2026-01-06T09:00:00Z"), "Heute geschlossen (Heilige Drei Könige) – öffnet morgen um 08:30 Uhr");
    // Hours the office names for a holiday beat it.
    let opened = r#"const p = document.querySelector('.open-now'); const schedule = JSON.parse(p.getAttribute('data-schedule'));
        schedule.exceptions.push({"from": "2026-01-01", "until": null, "closed": false, "slots": [{"opens": "10:00", "closes": "13:00"}]});
        p.setAttribute('data-schedule', JSON.stringify(schedule));"#;
    browser.call(reqwest::Method::POST, "/execute/sync", json!({"script": opened, "args": []}));
    assert_eq!(at("2026-01-01T09:30:00Z"), "Jetzt geöffnet bis 13:00 Uhr");

    browser.goto(&format!("{base}/en/office/buergerbuero-mitte/"));
    assert_eq!(at("2026-01-01T09:00:00Z"), "Closed today (New Year's Day) – opens tomorrow at 08:30");
}
