//! Headless Chromium for tests, driven through chromedriver's WebDriver
//! protocol (Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs), and axe-core for accessibility checks.
//!
//! axe-core is pinned in `tests/accessibility/package-lock.json` and
//! installed with `npm ci` on first use into a folder under the target
//! directory.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{repo_path, text};

/// axe.min.js of the pinned axe-core, installed if need be (one installer at a time).
pub fn axe_source() -> String {
    let package = repo_path("tests/accessibility");
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("accessibility");
    let script = root.join("node_modules/axe-core/axe.min.js");
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(root.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let pinned = std::fs::read(package.join("package-lock.json")).unwrap();
    let installed = std::fs::read(root.join("package-lock.json")).is_ok_and(|lock| lock == pinned) && script.is_file();
    if !installed {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(package.join(file), root.join(file)).unwrap();
        }
        let npm = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&root)
            .output()
            .unwrap_or_else(|e| panic!("npm (Node.js) is needed for the accessibility test, to install axe-core: {e}"));
        assert!(npm.status.success(), "npm ci in {}: {}", root.display(), text(&npm.stderr));
    }
    std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()))
}

/// The full path of an installed command.
fn installed(command: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(command))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{command} is needed for browser tests: apt-get install chromium chromium-driver"))
}

/// Headless Chromium driven by chromedriver; both end when it is dropped.
pub struct Browser {
    driver: Child,
    session: String,
    client: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let chromium = installed("chromium");
        let mut driver = Command::new(installed("chromedriver")).arg("--port=0").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut stdout = BufReader::new(driver.stdout.take().unwrap());
        let mut line = String::new();
        let port = loop {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "chromedriver ended before it was ready");
            if let Some((_, port)) = line.trim_end().trim_end_matches('.').split_once("started successfully on port ") {
                break port.to_owned();
            }
        };
        // Keep draining, so chromedriver never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        katalog::use_ring_for_tls();
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        let profile = tempfile::tempdir().unwrap();
        // The network is closed to the browser: without the flags against
        // background traffic it waits on refused connections.
        let arguments = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1024",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"script": 60_000, "pageLoad": 60_000, "implicit": 10_000},
            "goog:chromeOptions": {"binary": chromium, "args": arguments},
        }}});
        // Until the session exists, its URL is the one that creates it.
        let mut browser = Browser { driver, session: format!("http://127.0.0.1:{port}/session"), client, _profile: profile };
        let created = browser.call(reqwest::Method::POST, "", capabilities);
        browser.session += &format!("/{}", created["sessionId"].as_str().unwrap());
        browser
    }

    /// A WebDriver command of this session; its `value`.
    pub fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|error| panic!("WebDriver {path}: {error}"))
    }

    fn try_call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, String> {
        let request = self.client.request(method.clone(), format!("{}{path}", self.session));
        let request = if method == reqwest::Method::GET { request } else { request.json(&body) };
        let response = request.send().map_err(|e| e.to_string())?;
        let mut answer: Value = response.json().map_err(|e| e.to_string())?;
        let value = answer["value"].take();
        match value.get("error") {
            Some(error) => Err(format!("{error}: {}", value["message"])),
            None => Ok(value),
        }
    }

    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}));
    }

    pub fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", Value::Null).as_str().unwrap().to_owned()
    }

    /// Runs `script` in the page; what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": args}))
    }

    /// The WebDriver id of the first element matching `css`.
    pub fn find(&self, css: &str) -> String {
        let element = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css}));
        element.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap_or_else(|| panic!("no element {css}")).to_owned()
    }

    /// Whether the page shows an element matching `css` now (without
    /// waiting for one to appear, as finding does).
    pub fn exists(&self, css: &str) -> bool {
        self.execute("return document.querySelector(arguments[0]) !== null", json!([css])) == json!(true)
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), json!({}));
    }

    /// Clicks a button that loads another page, and waits until it has.
    pub fn submit(&self, css: &str) {
        self.execute("window.leavingThisPage = true", json!([]));
        self.click(css);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let script = json!({"script": "return window.leavingThisPage !== true && document.readyState === 'complete'", "args": []});
        // While the old page unloads, scripts may fail: that is waiting too.
        while self.try_call(reqwest::Method::POST, "/execute/sync", script.clone()) != Ok(json!(true)) {
            assert!(std::time::Instant::now() < deadline, "no new page after clicking {css}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Replaces the text of an input or text area, as typing would.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), json!({}));
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), json!({"text": text}));
    }

    /// Picks the option of a select by its value, as a click would.
    pub fn choose(&self, select_css: &str, value: &str) {
        self.click(&format!("{select_css} option[value='{value}']"));
    }

    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), Value::Null).as_str().unwrap().to_owned()
    }

    pub fn value(&self, css: &str) -> String {
        let element = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{element}/property/value"), Value::Null).as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the whole page.
    pub fn page_text(&self) -> String {
        self.text("body")
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", Value::Null);
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap()).unwrap()
    }

    /// axe-core's results for the page shown now, by the rules of `tags`.
    pub fn axe(&self, axe: &str, tags: &[&str]) -> Value {
        // Beyond the tags, headings must not skip a level: people who move
        // through a page by its headings take a skipped one for a gap.
        let run = r"
            const done = arguments[arguments.length - 1];
            const rules = {'heading-order': {enabled: true}};
            axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, rules, resultTypes: ['violations']})
                .then(results => done(results), error => done({error: String(error)}));";
        let results = self.call(reqwest::Method::POST, "/execute/async", json!({"script": format!("{axe}\n{run}"), "args": [tags]}));
        let url = self.current_url();
        assert!(results.get("error").is_none(), "axe-core failed on {url}: {}", results["error"]);
        assert!(!results["passes"].as_array().unwrap().is_empty(), "axe-core checked nothing on {url}");
        results
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session ends Chromium; killing chromedriver alone would leave it running.
        let _ = self.client.delete(&self.session).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub const WCAG_2_1_AA: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The violations in `results`, each with what a developer needs to fix it.
pub fn violations(page: &str, results: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for violation in results["violations"].as_array().unwrap() {
        let mut report = format!(
            "{page}: {} ({}): {}\n  {}",
            violation["id"].as_str().unwrap(),
            violation["impact"].as_str().unwrap_or("no impact"),
            violation["help"].as_str().unwrap(),
            violation["helpUrl"].as_str().unwrap_or_default()
        );
        for node in violation["nodes"].as_array().unwrap() {
            report += &format!(
                "\n  at {}: {}\n    {}",
                node["target"],
                node["html"].as_str().unwrap(),
                node["failureSummary"].as_str().unwrap_or_default().replace('\n', "\n    ")
            );
        }
        found.push(report);
    }
    found
}
