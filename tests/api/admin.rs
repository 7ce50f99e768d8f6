//! The editor UI at `/admin`: sessions, CSRF, forms made from the
//! schemas, the version check, and role-dependent workflow buttons — over
//! HTTP on both databases, and in headless Chromium as editors use it.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::browser::{Browser, WCAG_2_1_AA, axe_source, violations};
use crate::helpers::{Server, TestDb, katalog, named_token, repo_path, text};
use crate::on_both_databases;

/// A person's API token, named as the UI will show them.
fn person(db: &TestDb, role: &str, name: &str) -> String {
    named_token(db, role, name, &[])
}

/// A browser-like client over HTTP: keeps its cookies, follows no redirects.
struct Visitor<'s> {
    server: &'s Server,
    client: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The value of the first input, text area or select named `name`.
    fn input(&self, name: &str) -> String {
        let fields = form_values(&self.body);
        fields.into_iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no input {name} in {}", self.body))
    }

    /// What a browser would post for the entry form as shown, with `changes` made.
    fn entry_form(&self, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let start = self.body.find("class=\"entry\"").expect("an entry form");
        let end = start + self.body[start..].find("</form>").unwrap();
        let mut values = form_values(&self.body[start..end]);
        for (name, value) in changes {
            match values.iter_mut().find(|(n, _)| n == name) {
                Some(field) => field.1 = (*value).to_owned(),
                None => values.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        values
    }
}

/// The successful controls of the HTML forms in `html`, as a browser
/// posts them: inputs with their value (checkboxes when checked), text
/// areas with their text, selects with their selected (or first) option.
/// Enough HTML for the markup the editor UI writes.
fn form_values(html: &str) -> Vec<(String, String)> {
    let mut values = Vec::new();
    let mut rest = html;
    let mut select: Option<(String, Option<String>, Option<String>)> = None;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>').unwrap();
        let tag = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let name_of = |tag: &str| attribute(tag, "name");
        if let Some(body) = tag.strip_prefix("textarea") {
            let end = after.find("</textarea>").unwrap();
            if let Some(name) = name_of(body) {
                values.push((name, unescape(&after[..end])));
            }
        } else if let Some(body) = tag.strip_prefix("select") {
            select = name_of(body).map(|name| (name, None, None));
        } else if let Some(body) = tag.strip_prefix("option") {
            if let Some((_, first, chosen)) = select.as_mut() {
                let value = attribute(body, "value").unwrap_or_default();
                if first.is_none() {
                    *first = Some(value.clone());
                }
                if has_flag(body, "selected") {
                    *chosen = Some(value);
                }
            }
        } else if tag.starts_with("/select") {
            if let Some((name, first, chosen)) = select.take() {
                values.push((name, chosen.or(first).unwrap_or_default()));
            }
        } else if let Some(body) = tag.strip_prefix("input") {
            let kind = attribute(body, "type").unwrap_or_else(|| "text".into());
            let checkable = kind == "checkbox" || kind == "radio";
            if let Some(name) = name_of(body)
                && (!checkable || has_flag(body, "checked"))
            {
                values.push((name, attribute(body, "value").unwrap_or_default()));
            }
        }
        rest = after;
    }
    values
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(unescape(tag[start..].split('"').next()?))
}

fn has_flag(tag: &str, name: &str) -> bool {
    tag.split_whitespace().any(|word| word == name)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&#x27;", "'").replace("&amp;", "&")
}

impl<'s> Visitor<'s> {
    fn new(server: &'s Server) -> Visitor<'s> {
        katalog::use_ring_for_tls();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { server, client, cookies: Default::default() }
    }

    async fn signed_in(server: &'s Server, token: &str) -> Visitor<'s> {
        let mut visitor = Visitor::new(server);
        let page = visitor.sign_in(token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        visitor
    }

    async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/admin/signin?back=/admin/entries").await;
        let check = form.input("_signin");
        self.post("/admin/signin", &[("token", token), ("_signin", &check), ("back", "/admin/entries")]).await
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(self.server.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.client.post(self.server.url(path)).form(form);
        self.send(request).await
    }

    /// Posts the entry form of `page` as shown, with `changes` made.
    async fn save(&mut self, path: &str, page: &Page, changes: &[(&str, &str)]) -> Page {
        let mut form = page.entry_form(changes);
        form.push(("_action".into(), "save".into()));
        let request = self.client.post(self.server.url(path)).form(&form);
        self.send(request).await
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie_header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = request.header(COOKIE, cookie_header.join("; ")).send().await.unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
        Page { status, location, body: response.text().await.unwrap() }
    }
}

const ID_CARD: &str = "/admin/entries/service/personalausweis-beantragen";

async fn editors_sign_in_and_out(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let editor = person(&db, "editor", "Anna Beispiel");
    let mut visitor = Visitor::new(&server);

    let page = visitor.get("/admin/entries").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/admin/signin?back=/admin/entries"));

    let refused = visitor.sign_in("kat_000000000000_forged").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("Anmeldung nicht möglich"), "{}", refused.body);

    // A sign-in form that did not come from our page is refused, even with a good token.
    let mut stranger = Visitor::new(&server);
    let forged = stranger.post("/admin/signin", &[("token", &editor), ("_signin", "guessed")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let signed_in = visitor.sign_in(&editor).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location.as_deref(), Some("/admin/entries"));
    let list = visitor.get("/admin/entries?type=service&q=personalausweis").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Anna Beispiel"), "the list names who is signed in");
    assert!(list.body.contains("Personalausweis beantragen"), "{}", list.body);
    assert!(!list.body.contains("Hund anmelden"), "the text filter applies");
    // The search index finds what the words as written would not: "Trauschein"
    // is nowhere in the content, but a synonym of "Eheurkunde".
    let synonym = visitor.get("/admin/entries?q=trauschein").await;
    assert!(synonym.body.contains("Eheschließung anmelden"), "{}", synonym.body);

    // Posts need the session's CSRF token.
    let csrf = list.input("_csrf");
    let without = visitor.post("/admin/signout", &[]).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    let out = visitor.post("/admin/signout", &[("_csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.get("/admin/entries").await.status, StatusCode::SEE_OTHER, "signed out");

    // Revoking the token ends its sessions.
    let mut again = Visitor::signed_in(&server, &editor).await;
    assert_eq!(again.get("/admin/entries").await.status, StatusCode::OK);
    let token_id = editor.split('_').nth(1).unwrap();
    let revoked = katalog(&["token", "revoke", token_id, "--database", &db.url]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert_eq!(again.get("/admin/entries").await.status, StatusCode::SEE_OTHER);
}
on_both_databases!(editors_sign_in_and_out);

async fn a_save_in_between_shows_both_versions_and_keeps_the_text(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let mut ben = Visitor::signed_in(&server, &person(&db, "editor", "Ben Muster")).await;
    let anna_form = anna.get(ID_CARD).await;
    let ben_form = ben.get(ID_CARD).await;
    assert_eq!(anna_form.input("_version"), ben_form.input("_version"));

    let saved = anna.save(ID_CARD, &anna_form, &[("/name", "Personalausweis beantragen oder verlängern")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let after = anna.get(saved.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Gespeichert."), "{}", after.body);
    assert_eq!(after.input("/name"), "Personalausweis beantragen oder verlängern");

    let conflict = ben.save(ID_CARD, &ben_form, &[("/name", "Personalausweis – Antrag")]).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.body.contains("Jemand anderes hat diesen Eintrag inzwischen gespeichert"));
    assert!(conflict.body.contains("Anna Beispiel"), "who saved in between is named");
    assert!(conflict.body.contains("Personalausweis beantragen oder verlängern"), "their version is shown");
    assert_eq!(conflict.input("/name"), "Personalausweis – Antrag", "Ben's text is kept in the form");
    assert_eq!(conflict.input("_version"), after.input("_version"), "the next save builds on the saved version");

    let merged = ben.save(ID_CARD, &conflict, &[("/name", "Personalausweis beantragen – Antrag")]).await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let history = ben.get(&format!("{ID_CARD}/history?locale=de")).await;
    assert!(history.body.contains("Ben Muster") && history.body.contains("Anna Beispiel"), "{}", history.body);
}
on_both_databases!(a_save_in_between_shows_both_versions_and_keeps_the_text);

async fn errors_are_shown_at_their_field_and_lists_grow(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let form = anna.get("/admin/entries/new?type=service").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.input("_csrf");
    let path = "/admin/entries/new?type=service";

    let grown = anna.post(path, &[("_csrf", &csrf), ("_slug", "hundesteuer-zahlen"), ("/name", "Hundesteuer"), ("_action", "add:/fees")]).await;
    assert_eq!(grown.status, StatusCode::OK);
    assert!(grown.body.contains("name=\"/fees/0/label\""), "an empty fee to fill in");
    assert_eq!(grown.input("/name"), "Hundesteuer", "what was typed stays");

    let invalid = anna
        .post(
            path,
            &[("_csrf", &csrf), ("_slug", "hundesteuer-zahlen"), ("/name", "Hundesteuer"), ("/leika", "123"), ("/fees/0/amount", "zwölf"), ("_action", "save")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("id=\"f-fees-0-amount-error\""), "{}", invalid.body);
    assert!(invalid.body.contains("`zwölf` is not a number"));

    let invalid = anna.post(path, &[("_csrf", &csrf), ("_slug", "hundesteuer-zahlen"), ("/name", "Hundesteuer"), ("/leika", "123"), ("_action", "save")]).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("id=\"f-leika-error\""), "the schema's complaint is shown at the field: {}", invalid.body);
    assert!(invalid.body.contains("href=\"#f-leika\""), "and listed above the form");

    let bad_slug = anna.post(path, &[("_csrf", &csrf), ("_slug", "Hundesteuer!"), ("/name", "Hundesteuer"), ("_action", "save")]).await;
    assert_eq!(bad_slug.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_slug.body.contains("id=\"f-_slug-error\""));

    let created = anna
        .post(
            path,
            &[
                ("_csrf", &csrf),
                ("_slug", "hundesteuer-zahlen"),
                ("/name", "Hundesteuer"),
                ("/leika", "99010012345000"),
                ("/fees/0/label", "Erster Hund"),
                ("/fees/0/amount", "108"),
                ("/fees/0/kind", "fixed"),
                ("_action", "save"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let entry = anna.get(created.location.as_deref().unwrap()).await;
    assert_eq!(entry.input("/fees/0/amount"), "108");
    assert_eq!(entry.input("/leika"), "99010012345000");
}
on_both_databases!(errors_are_shown_at_their_field_and_lists_grow);

async fn each_role_sees_only_the_steps_it_may_take(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut editor = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let mut publisher = Visitor::signed_in(&server, &person(&db, "publisher", "Paula Prüfer")).await;

    let page = editor.get(ID_CARD).await;
    let saved = editor.save(ID_CARD, &page, &[("/short_text", "Neuer Kurztext für den Personalausweis.")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let draft = editor.get(ID_CARD).await;
    assert!(draft.body.contains("value=\"submit\""), "{}", draft.body);
    assert!(!draft.body.contains("value=\"publish\""), "an editor sees no publish button");
    assert!(!draft.body.contains("value=\"trash\""));
    let refused = editor.post(&format!("{ID_CARD}/workflow?locale=de"), &[("_csrf", &draft.input("_csrf")), ("action", "publish")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let submitted = editor.post(&format!("{ID_CARD}/workflow?locale=de"), &[("_csrf", &draft.input("_csrf")), ("action", "submit")]).await;
    assert_eq!(submitted.status, StatusCode::SEE_OTHER);
    let review = publisher.get(ID_CARD).await;
    assert!(review.body.contains("value=\"publish\"") && review.body.contains("value=\"request_changes\""), "{}", review.body);

    // Requesting changes needs a comment, which the editor then sees.
    let workflow = format!("{ID_CARD}/workflow?locale=de");
    let without_comment = publisher.post(&workflow, &[("_csrf", &review.input("_csrf")), ("action", "request_changes")]).await;
    assert_eq!(without_comment.status, StatusCode::CONFLICT);
    let requested =
        publisher.post(&workflow, &[("_csrf", &review.input("_csrf")), ("action", "request_changes"), ("comment", "Bitte die Gebühr prüfen.")]).await;
    assert_eq!(requested.status, StatusCode::SEE_OTHER);
    assert!(editor.get(ID_CARD).await.body.contains("Bitte die Gebühr prüfen."));

    let published = publisher.post(&workflow, &[("_csrf", &review.input("_csrf")), ("action", "publish")]).await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.body);
    let public = server.get("/de/service/personalausweis-beantragen/").await.text().await.unwrap();
    assert!(public.contains("Neuer Kurztext für den Personalausweis."), "the public page shows the published text");

    // The preview opens with the editor's session, and not without one.
    assert_eq!(editor.get("/preview/de/service/personalausweis-beantragen/").await.status, StatusCode::OK);
    assert_eq!(Visitor::new(&server).get("/preview/de/service/personalausweis-beantragen/").await.status, StatusCode::UNAUTHORIZED);
}
on_both_databases!(each_role_sees_only_the_steps_it_may_take);

/// Where screenshots of the main screens go when `KATALOG_SCREENSHOTS`
/// names a folder (the README shows them).
fn screenshot(browser: &Browser, name: &str) {
    if let Some(folder) = std::env::var_os("KATALOG_SCREENSHOTS") {
        let folder = std::path::PathBuf::from(folder);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{name}.png")), browser.screenshot()).unwrap();
    }
}

fn sign_in_with_browser(browser: &Browser, base: &str, token: &str) {
    browser.goto(&format!("{base}/admin/entries"));
    assert!(browser.current_url().contains("/admin/signin"), "{}", browser.current_url());
    browser.fill("#token", token);
    browser.submit("main button[type=submit]");
    assert!(browser.current_url().ends_with("/admin/entries"), "{}", browser.current_url());
}

fn sign_out_with_browser(browser: &Browser) {
    browser.submit(".signout button");
    assert!(browser.current_url().contains("/admin/signin"), "{}", browser.current_url());
}

/// No WCAG 2.1 AA violation on the page the browser shows.
fn assert_accessible(browser: &Browser, axe: &str, what: &str) {
    let found = violations(what, &browser.axe(axe, &WCAG_2_1_AA));
    assert!(found.is_empty(), "WCAG 2.1 AA violations:\n{}", found.join("\n"));
}

fn in_browser_database() -> (tokio::runtime::Runtime, TestDb) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new(crate::helpers::Backend::Sqlite));
    (runtime, db)
}

/// The editor's day in the browser: sign in, create a service, see the
/// mistake at its field, fix it, save, submit; the publisher publishes;
/// the public page shows it. The editor never sees a publish button.
#[test]
fn an_editor_writes_and_a_publisher_publishes_in_the_browser() {
    let axe = axe_source();
    let (_runtime, db) = in_browser_database();
    let server = Server::start(&db, &repo_path("content"));
    let (editor, publisher) = (person(&db, "editor", "Anna Beispiel"), person(&db, "publisher", "Paula Prüfer"));
    let base = server.base.clone();
    let browser = Browser::start();

    browser.goto(&format!("{base}/admin/signin"));
    screenshot(&browser, "sign-in");
    sign_in_with_browser(&browser, &base, &editor);
    browser.goto(&format!("{base}/admin/entries?type=service&sort=slug"));
    assert!(browser.page_text().contains("Personalausweis beantragen"));
    screenshot(&browser, "entry-list");
    assert_accessible(&browser, &axe, "the entry list");

    browser.goto(&format!("{base}/admin/entries/new?type=service"));
    browser.fill("#f-_slug", "hundesteuer-zahlen");
    browser.fill("[name='/name']", "Hundesteuer zahlen");
    browser.fill("[name='/leika']", "123");
    browser.submit("button[name=_action][value=save]");
    assert!(browser.exists("#f-leika-error"), "the mistake is shown at its field");
    assert_eq!(browser.execute("return document.querySelector('#f-leika').getAttribute('aria-invalid')", serde_json::json!([])), "true");
    assert_eq!(browser.value("[name='/name']"), "Hundesteuer zahlen", "what was typed stays");
    screenshot(&browser, "form-with-error");
    assert_accessible(&browser, &axe, "a form with an error");

    browser.fill("[name='/leika']", "99010012345000");
    browser.fill("[name='/short_text']", "Wer in Stuttgart einen Hund hält, zahlt Hundesteuer.");
    browser.fill("[name='/full_text']", "Melden Sie Ihren Hund innerhalb von zwei Wochen an.\n\n- Erster Hund: 108 Euro im Jahr");
    // The live preview shows the Markdown as the channels will.
    let preview = "const p = document.querySelector(\"[data-preview-for='f-full_text']\"); return p.hidden ? '' : p.innerHTML;";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !browser.execute(preview, serde_json::json!([])).as_str().unwrap().contains("<li>Erster Hund: 108 Euro im Jahr</li>") {
        assert!(std::time::Instant::now() < deadline, "no live preview");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    browser.fill("[name='/keywords']", "Hundesteuer\nHund anmelden");
    browser.submit("button[value='add:/fees']");
    browser.fill("[name='/fees/0/label']", "Erster Hund");
    browser.choose("[name='/fees/0/kind']", "fixed");
    browser.fill("[name='/fees/0/amount']", "108");
    browser.submit("button[value='add:/responsible_offices']");
    browser.choose("[name='/responsible_offices/0/office']", "buergerbuero-mitte");
    browser.choose("[name='/responsible_offices/0/role']", "responsible");
    browser.submit("button[value='add:/documents']");
    browser.choose("[name='/documents/0/direction']", "incoming");
    browser.fill("[name='/documents/0/name']", "Anmeldeformular");
    browser.fill("[name='/processing_time/note']", "Sofort bei Vorsprache.");
    browser.submit("button[name=_action][value=save]");
    assert!(browser.current_url().contains("/admin/entries/service/hundesteuer-zahlen"), "{}", browser.page_text());
    assert!(browser.page_text().contains("Gespeichert."));
    screenshot(&browser, "entry-form");
    assert_accessible(&browser, &axe, "the entry form");

    assert!(!browser.exists("button[value=publish]"), "an editor sees no publish button");
    browser.submit("button[value=submit]");
    assert!(browser.page_text().contains("Zur Prüfung eingereicht."));
    sign_out_with_browser(&browser);

    sign_in_with_browser(&browser, &base, &publisher);
    browser.goto(&format!("{base}/admin/entries/service/hundesteuer-zahlen?locale=de"));
    browser.submit("button[value=publish]");
    assert!(browser.page_text().contains("Veröffentlicht."), "{}", browser.page_text());
    browser.goto(&format!("{base}/admin/quality"));
    screenshot(&browser, "quality");
    assert_accessible(&browser, &axe, "the quality dashboard");
    browser.goto(&format!("{base}/de/service/hundesteuer-zahlen/"));
    assert!(browser.text("h1").contains("Hundesteuer zahlen"), "the public page shows the new service");
}

/// Two editors change the same entry: the second save shows both versions
/// and keeps the second editor's text, which then saves.
#[test]
fn a_conflicting_save_in_the_browser_keeps_the_text() {
    let (_runtime, db) = in_browser_database();
    let server = Server::start(&db, &repo_path("content"));
    let base = server.base.clone();
    let (anna, ben) = (Browser::start(), Browser::start());
    sign_in_with_browser(&anna, &base, &person(&db, "editor", "Anna Beispiel"));
    sign_in_with_browser(&ben, &base, &person(&db, "editor", "Ben Muster"));
    let entry = format!("{base}{ID_CARD}?locale=de");
    anna.goto(&entry);
    ben.goto(&entry);
    let leaving = "const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented;";
    assert_eq!(anna.execute(leaving, serde_json::json!([])), false, "no warning while nothing changed");

    anna.fill("[name='/teaser']", "Den Personalausweis beantragen Sie persönlich im Bürgerbüro.");
    // Leaving with unsaved changes asks first: the page cancels the unload
    // event, which makes the browser ask.
    assert_eq!(anna.execute(leaving, serde_json::json!([])), true, "the page warns before leaving unsaved changes");
    anna.submit("button[name=_action][value=save]");
    assert!(anna.page_text().contains("Gespeichert."));

    let bens_text = "Deutsche ab 16 Jahren brauchen einen Personalausweis oder Reisepass.";
    ben.fill("[name='/short_text']", bens_text);
    ben.submit("button[name=_action][value=save]");
    assert!(ben.exists(".conflict"), "the conflict is shown");
    let conflict = ben.text(".conflict");
    assert!(conflict.contains("Anna Beispiel") && conflict.contains("persönlich im Bürgerbüro"), "{conflict}");
    assert_eq!(ben.value("[name='/short_text']"), bens_text, "Ben's text is kept");
    screenshot(&ben, "conflict");

    // Ben takes over Anna's teaser and saves again.
    ben.fill("[name='/teaser']", "Den Personalausweis beantragen Sie persönlich im Bürgerbüro.");
    ben.submit("button[name=_action][value=save]");
    assert!(ben.page_text().contains("Gespeichert."), "{}", ben.page_text());
    assert_eq!(ben.value("[name='/short_text']"), bens_text);
    assert_eq!(ben.value("[name='/teaser']"), "Den Personalausweis beantragen Sie persönlich im Bürgerbüro.");
}

async fn the_quality_dashboard_names_what_to_fix(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;

    // A draft topic, and a draft service that refers to it and lacks what 115 needs.
    let new_topic = anna.get("/admin/entries/new?type=topic").await;
    let csrf = new_topic.input("_csrf");
    let topic = anna.post("/admin/entries/new?type=topic", &[("_csrf", &csrf), ("_slug", "haustiere"), ("/name", "Haustiere"), ("_action", "save")]).await;
    assert_eq!(topic.status, StatusCode::SEE_OTHER, "{}", topic.body);
    let service = anna
        .post(
            "/admin/entries/new?type=service",
            &[("_csrf", &csrf), ("_slug", "hundesteuer-zahlen"), ("/name", "Hundesteuer zahlen"), ("/topics", "haustiere"), ("_action", "save")],
        )
        .await;
    assert_eq!(service.status, StatusCode::SEE_OTHER, "{}", service.body);
    // The German ID card changes after its translations were made.
    let id_card = anna.get(ID_CARD).await;
    assert_eq!(anna.save(ID_CARD, &id_card, &[("/teaser", "Neu.")]).await.status, StatusCode::SEE_OTHER);

    let dashboard = anna.get("/admin/quality").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let section = |key: &str| {
        let start = dashboard.body.find(&format!("<h2 id=\"{key}\">")).unwrap_or_else(|| panic!("no section {key}"));
        let end = dashboard.body[start..].find("</section>").unwrap() + start;
        dashboard.body[start..end].to_owned()
    };
    let missing = section("missing_for_kb115");
    assert!(missing.contains("Hundesteuer zahlen") && missing.contains("short_text") && missing.contains("fees"), "{missing}");
    assert!(!missing.contains("Personalausweis beantragen"), "complete entries are not listed");
    let broken = section("broken_references");
    assert!(broken.contains("topic/haustiere (not published)"), "{broken}");
    let outdated = section("outdated_translations");
    assert!(outdated.contains("Personalausweis beantragen") && outdated.contains("en"), "{outdated}");
    let hardest = section("hardest_to_read");
    assert!(hardest.contains("<td>"), "every entry with German text has a reading ease");

    // The work list filters by the same findings.
    let list = anna.get("/admin/entries?outdated=1").await;
    assert!(list.body.contains("Personalausweis beantragen") && !list.body.contains("Hundesteuer zahlen"), "{}", list.body);
    let overdue = anna.get("/admin/entries?overdue=1").await;
    assert!(overdue.body.contains("0 Treffer"), "nothing was published a year ago");
}
on_both_databases!(the_quality_dashboard_names_what_to_fix);

async fn publishers_schedule_in_the_sites_time_zone(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let publisher_token = person(&db, "publisher", "Paula Prüfer");
    let mut publisher = Visitor::signed_in(&server, &publisher_token).await;
    let mut editor = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    assert!(!editor.get(ID_CARD).await.body.contains("name=\"publish_at\""), "editors do not schedule");

    let page = publisher.get(ID_CARD).await;
    let schedule = format!("{ID_CARD}/schedule?locale=de");
    let csrf = page.input("_csrf");
    let backwards = publisher.post(&schedule, &[("_csrf", &csrf), ("publish_at", "2030-07-01T09:00"), ("unpublish_at", "2030-06-01T09:00")]).await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(backwards.body.contains("id=\"f-_unpublish_at-error\""), "{}", backwards.body);
    // 02:30 on the last Sunday of March does not exist in Stuttgart.
    let skipped = publisher.post(&schedule, &[("_csrf", &csrf), ("publish_at", "2030-03-31T02:30")]).await;
    assert_eq!(skipped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(skipped.body.contains("id=\"f-_publish_at-error\""));

    let planned = publisher.post(&schedule, &[("_csrf", &csrf), ("publish_at", "2030-07-01T09:00"), ("unpublish_at", "")]).await;
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let shown = publisher.get(ID_CARD).await;
    assert_eq!(shown.input("publish_at"), "2030-07-01T09:00", "shown as entered, in the site's time zone");
    let api = crate::helpers::Client { server: &server, token: publisher_token };
    let (_, _, entry) = api.send(reqwest::Method::GET, "/api/v1/manage/service/personalausweis-beantragen", None, None).await;
    let german = entry["locales"].as_array().unwrap().iter().find(|l| l["locale"] == "de").unwrap();
    assert_eq!(german["publish_at"], "2030-07-01T07:00:00+00:00", "09:00 in Stuttgart in summer is 07:00 UTC");
}
on_both_databases!(publishers_schedule_in_the_sites_time_zone);

async fn translations_history_and_the_trash_work_in_the_ui(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let mut paula = Visitor::signed_in(&server, &person(&db, "publisher", "Paula Prüfer")).await;

    // A translation shows its German source beside each localised field and
    // saves only what is translated.
    let english = format!("{ID_CARD}?locale=en");
    let page = anna.get(&english).await;
    assert!(page.body.contains("Deutsche Vorlage") && page.body.contains("Deutsche ab 16 Jahren brauchen"), "the German text is beside the field");
    assert!(!page.body.contains("name=\"/leika\""), "fields that are not translated are not offered");
    let saved = anna.save(&english, &page, &[("/teaser", "Apply in person at a citizens' office.")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let api = crate::helpers::Client { server: &server, token: person(&db, "reader", "Leser") };
    let (_, _, entry) = api.send(reqwest::Method::GET, "/api/v1/manage/service/personalausweis-beantragen?locale=en", None, None).await;
    assert_eq!(entry["fields"]["teaser"], "Apply in person at a citizens' office.");
    assert!(entry["fields"].get("leika").is_none(), "the translation holds only localised fields: {entry}");

    // History shows what changed and restores an old revision as a new one.
    let german = anna.get(ID_CARD).await;
    assert_eq!(anna.save(ID_CARD, &german, &[("/teaser", "Vorübergehend geändert.")]).await.status, StatusCode::SEE_OTHER);
    let history = anna.get(&format!("{ID_CARD}/history?locale=de")).await;
    assert!(history.body.contains("Vorübergehend geändert.") && history.body.contains("Teaser"), "the newest change, by field title: {}", history.body);
    let restore = format!("{ID_CARD}/restore?locale=de");
    let restored = anna.post(&restore, &[("_csrf", &history.input("_csrf")), ("_version", &history.input("_version")), ("number", "1")]).await;
    assert_eq!(restored.status, StatusCode::SEE_OTHER, "{}", restored.body);
    let after = anna.get(restored.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Version wiederhergestellt."));
    assert!(after.input("/teaser").starts_with("Den Personalausweis beantragen Sie persönlich"), "the first revision's teaser is back");
    let missing = anna.post(&restore, &[("_csrf", &history.input("_csrf")), ("_version", &after.input("_version")), ("number", "99")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "no revision 99 is no server error: {}", missing.body);
    let french = anna.get(&format!("{ID_CARD}?locale=fr")).await;
    assert_eq!(french.status, StatusCode::BAD_REQUEST, "{}", french.body);
    assert!(french.body.contains("unknown locale `fr`; supported: de, en, de-x-ls"), "{}", french.body);

    // Publishers move entries to the trash and back; editors see neither button.
    assert!(!after.body.contains("value=\"trash\""));
    let review = paula.get(ID_CARD).await;
    let workflow = format!("{ID_CARD}/workflow?locale=de");
    let trashed = paula.post(&workflow, &[("_csrf", &review.input("_csrf")), ("action", "trash")]).await;
    assert_eq!(trashed.status, StatusCode::SEE_OTHER);
    let in_trash = paula.get("/admin/entries?trash=1").await;
    assert!(in_trash.body.contains("Personalausweis beantragen"), "{}", in_trash.body);
    assert_eq!(server.get("/api/v1/service/personalausweis-beantragen").await.status(), StatusCode::NOT_FOUND, "off every channel");
    let page = paula.get(ID_CARD).await;
    assert!(page.body.contains("value=\"untrash\"") && !page.body.contains("value=\"delete\""), "deleting for good is for admins");
    let back = paula.post(&workflow, &[("_csrf", &page.input("_csrf")), ("action", "untrash")]).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert!(!paula.get("/admin/entries?trash=1").await.body.contains("Personalausweis beantragen"));
}
on_both_databases!(translations_history_and_the_trash_work_in_the_ui);

/// Office hours are a list of weekly slots and a list of exceptions in the
/// schema; the generic form edits them like any other list.
async fn opening_hours_are_edited_as_lists(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let office = "/admin/entries/office/buergerbuero-mitte";
    let page = anna.get(office).await;
    let form = page.entry_form(&[]);
    let hours: Vec<&(String, String)> = form.iter().filter(|(name, _)| name.starts_with("/opening_hours")).collect();
    assert!(!hours.is_empty(), "the opening hours are in the form: {}", page.body);
    let mut grow = page.entry_form(&[]);
    grow.push(("_action".to_owned(), "add:/exceptions".to_owned()));
    let exceptions = anna.post(office, &grow.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(exceptions.status, StatusCode::OK);
    let added: Vec<String> = exceptions.entry_form(&[]).into_iter().map(|(name, _)| name).filter(|name| name.starts_with("/exceptions/")).collect();
    assert!(!added.is_empty(), "a new exception to fill in: {}", exceptions.body);
    // Saving the form unchanged keeps the hours as they were.
    let saved = anna.save(office, &page, &[]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let again = anna.get(office).await;
    let before: Vec<(String, String)> = form.into_iter().filter(|(name, _)| name.starts_with("/opening_hours") || name.starts_with("/exceptions")).collect();
    let after: Vec<(String, String)> =
        again.entry_form(&[]).into_iter().filter(|(name, _)| name.starts_with("/opening_hours") || name.starts_with("/exceptions")).collect();
    assert_eq!(before, after);
}
on_both_databases!(opening_hours_are_edited_as_lists);

/// A reader may look but not write: the UI refuses a reader's new entry by
/// the management API's rule, and every other post that changes entries,
/// before reading the form.
async fn a_reader_creates_and_changes_nothing(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let reader_token = person(&db, "reader", "Rita Leserin");
    let mut rita = Visitor::signed_in(&server, &reader_token).await;
    let entries = rita.get("/admin/entries").await;
    assert_eq!(entries.status, StatusCode::OK, "readers see the work list");
    let csrf = entries.input("_csrf");

    let refused = rita
        .post("/admin/entries/new?type=service", &[("_csrf", &csrf), ("_slug", "hundesteuer-zahlen"), ("/name", "Hundesteuer zahlen"), ("_action", "save")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("Rolle „editor“"), "{}", refused.body);
    let api = crate::helpers::Client { server: &server, token: reader_token };
    let (status, _, _) = api.send(reqwest::Method::GET, "/api/v1/manage/service/hundesteuer-zahlen", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was created");
    let (status, _, problem) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/manage/service",
            None,
            Some(serde_json::json!({"slug": "hundesteuer-zahlen", "fields": {"name": "Hundesteuer zahlen"}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the API refuses the same: {problem}");

    let page = rita.get(ID_CARD).await;
    assert_eq!(page.status, StatusCode::OK, "readers read entries");
    let version = page.input("_version");
    let posts = [
        (ID_CARD.to_owned(), vec![("_action", "save"), ("/name", "Von Rita")]),
        (ID_CARD.to_owned(), vec![("_action", "add:/fees")]),
        (format!("{ID_CARD}/workflow?locale=de"), vec![("action", "submit")]),
        (format!("{ID_CARD}/restore?locale=de"), vec![("_version", version.as_str()), ("number", "1")]),
        (format!("{ID_CARD}/schedule?locale=de"), vec![("publish_at", "2030-07-01T09:00")]),
    ];
    for (path, form) in posts {
        let mut form = form;
        form.push(("_csrf", &csrf));
        let refused = rita.post(&path, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path} {form:?}");
    }
    assert_eq!(rita.get(ID_CARD).await.input("_version"), version, "the entry is unchanged");
}
on_both_databases!(a_reader_creates_and_changes_nothing);

/// A list index far beyond the list's items is refused: never filled
/// with empty items, in the German form or a translation's.
async fn a_huge_list_index_is_refused(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let csrf = anna.get(ID_CARD).await.input("_csrf");
    let english = format!("{ID_CARD}?locale=en");
    let translation = anna.get(&english).await.entry_form(&[]);
    let posts = [
        (ID_CARD, vec![("/fees/100000/label", "Gebühr"), ("_action", "add:/fees")]),
        (english.as_str(), vec![("/fees/100000/label", "Fee"), ("_action", "add:/fees")]),
        (english.as_str(), vec![("/fees/100000/label", "Fee"), ("_action", "save")]),
        (ID_CARD, vec![("_action", "remove:/fees/100000")]),
        ("/admin/entries/office/buergerbuero-mitte", vec![("_action", "add:/opening_hours/100000/slots")]),
        ("/admin/entries/new?type=service", vec![("_slug", "x"), ("/fees/100000/label", "Gebühr"), ("_action", "add:/fees")]),
    ];
    for (path, form) in posts {
        let mut form = form;
        form.push(("_csrf", &csrf));
        let refused = anna.post(path, &form).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path} {form:?}: {}", refused.body);
        assert!(refused.body.contains("100000"), "the page names what was wrong: {}", refused.body);
    }
    assert_eq!(anna.get(&english).await.entry_form(&[]), translation, "the translation is unchanged");
}
on_both_databases!(a_huge_list_index_is_refused);

/// `_action=add:` with a path of 100,000 steps, from an editor or a
/// reader: refused, and the server answers on.
async fn a_deep_list_action_is_refused_and_the_server_answers_on(db: TestDb) {
    let server = Server::start(&db, &repo_path("content"));
    let mut anna = Visitor::signed_in(&server, &person(&db, "editor", "Anna Beispiel")).await;
    let mut rita = Visitor::signed_in(&server, &person(&db, "reader", "Rita Leserin")).await;
    let deep = format!("add:{}", "/a".repeat(100_000));
    let rita_csrf = rita.get("/admin/entries").await.input("_csrf");
    let refused = rita.post(ID_CARD, &[("_csrf", &rita_csrf), ("_action", &deep)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let csrf = anna.get(ID_CARD).await.input("_csrf");
    for path in [ID_CARD, "/admin/entries/new?type=service"] {
        let refused = anna.post(path, &[("_csrf", &csrf), ("_action", &deep)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let deep_name = format!("{}/0", "/fees/0".repeat(10_000));
    let refused = anna.post(ID_CARD, &[("_csrf", &csrf), (&deep_name, "x"), ("_action", "save")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(anna.get(ID_CARD).await.status, StatusCode::OK, "the editor works on");
}
on_both_databases!(a_deep_list_action_is_refused_and_the_server_answers_on);
