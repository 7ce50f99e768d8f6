//! Internal fields stay internal. Driven by the schemas: every field of
//! every type that no public channel may show (`x-channels`) gets a marker
//! in a published entry, in German and in each translation; then every
//! public output is searched for the markers, and the outputs meant for
//! the 115 service centre and for editors must carry them.

use std::path::Path;

use katalog::content::schema::Step;
use katalog::content::{Locale, Registry};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Client, Server, TestDb, files, katalog, repo_path, sample_content, text, token};
use crate::on_both_databases;

/// An internal field filled with a marker in one published entry.
struct Marked {
    content_type: String,
    slug: String,
    pointer: String,
    /// Per locale in which the entry is published.
    markers: Vec<(Locale, String)>,
}

/// Writes `value` at `path` (every element of a list), as the field's schema wants it.
fn fill(document: &mut Value, path: &[Step], value: &str, schema_type: &str) -> bool {
    match (path, document) {
        ([Step::Key(key)], Value::Object(map)) => {
            let filled = if schema_type == "array" { json!([value]) } else { json!(value) };
            map.insert(key.clone(), filled);
            true
        }
        ([Step::Key(key), rest @ ..], Value::Object(map)) => map.get_mut(key).is_some_and(|inner| fill(inner, rest, value, schema_type)),
        ([Step::AnyIndex, rest @ ..], Value::Array(items)) => {
            let mut filled = false;
            for item in items {
                filled |= fill(item, rest, value, schema_type);
            }
            filled
        }
        _ => false,
    }
}

/// The entries of a type in the sample content, those with translations first.
fn sample_slugs(content_type: &str) -> Vec<String> {
    let mut slugs: Vec<(bool, String)> = std::fs::read_dir(repo_path("content").join(content_type))
        .unwrap()
        .filter_map(|file| {
            let name = file.ok()?.file_name().into_string().ok()?;
            let slug = name.strip_suffix(".md")?;
            (!slug.contains('.')).then(|| slug.to_owned())
        })
        .map(|slug| (!repo_path("content").join(content_type).join(format!("{slug}.en.md")).exists(), slug))
        .collect();
    slugs.sort();
    slugs.into_iter().map(|(_, slug)| slug).collect()
}

async fn internal_fields_reach_only_the_115_centre_and_editors(db: TestDb) {
    let registry = Registry::load_dir(&repo_path("schemas")).unwrap();
    let internal: Vec<(String, katalog::content::audience::RestrictedField)> =
        registry.iter().flat_map(|t| t.restricted.iter().filter(|f| f.is_internal()).map(|f| (t.name.clone(), f.clone()))).collect();
    assert!(!internal.is_empty(), "the schemas mark no field internal: nothing to check");

    let content = sample_content();
    let server = Server::start(&db, content.path());
    let editor = Client { server: &server, token: token(&db, "publisher", &[]) };
    let mut marked = Vec::new();
    for (number, (content_type, field)) in internal.iter().enumerate() {
        let node = registry.get(content_type).unwrap();
        let (schema_type, localized) = field_type(&node.schema, &field.path);
        let candidates = sample_slugs(content_type);
        let mut done = None;
        for slug in &candidates {
            let path = format!("/api/v1/manage/{content_type}/{slug}");
            let mut markers = Vec::new();
            let (_, _, entry) = editor.send(Method::GET, &path, None, None).await;
            let locales: Vec<Locale> = entry["locales"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["published_revision"].is_number())
                .filter_map(|l| Locale::parse(l["locale"].as_str()?))
                .collect();
            let mut all_filled = true;
            // A field that is not translated exists in the German source only.
            for locale in locales.iter().filter(|l| l.is_source() || localized) {
                let url = format!("{path}?locale={}", locale.code());
                let (_, etag, current) = editor.send(Method::GET, &url, None, None).await;
                let marker = format!("zqinternal{number}{}", locale.code().replace('-', ""));
                let mut fields = current["fields"].clone();
                if !fill(&mut fields, &field.path, &marker, &schema_type) {
                    all_filled = false;
                    break;
                }
                let (status, _, saved) = editor.send(Method::PUT, &url, etag.as_deref(), Some(json!({"fields": fields}))).await;
                assert_eq!(status, 200, "{content_type}/{slug} {locale}: {saved}");
                let (status, _, published) =
                    editor.send(Method::POST, &format!("{path}/transitions"), None, Some(json!({"action": "publish", "locale": locale.code()}))).await;
                assert_eq!(status, 200, "{content_type}/{slug} {locale}: {published}");
                markers.push((*locale, marker));
            }
            if all_filled && !markers.is_empty() {
                done = Some(Marked { content_type: content_type.clone(), slug: slug.clone(), pointer: field.pointer(), markers });
                break;
            }
        }
        let marked_one = done.unwrap_or_else(|| panic!("no sample {content_type} has a place for {}: add one to content/", field.pointer()));
        marked.push(marked_one);
    }

    // Everything public, gathered as text.
    let mut public = Vec::new();
    let mut get = async |path: String| {
        let response = server.get(&path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        public.push((path, body));
    };
    for (content_type, _) in &internal {
        get(format!("/api/v1/{content_type}?limit=100&expand=all")).await;
    }
    for item in &marked {
        for (locale, marker) in &item.markers {
            let code = locale.code();
            get(format!("/api/v1/{}/{}?locale={code}&expand=all&referenced_by=true", item.content_type, item.slug)).await;
            get(format!("/{code}/{}/{}/", item.content_type, item.slug)).await;
            get(format!("/api/v1/search?q={marker}&locale={code}")).await;
            get(format!("/api/v1/suggest?q={}&locale={code}", &marker[..6])).await;
        }
        let title = item.slug.replace('-', " ");
        get(format!("/api/v1/search?q={title}")).await;
        get(format!("/partner/entries/{}/{}.json", item.content_type, item.slug)).await;
    }
    get("/api/v1/sync?limit=1000".to_owned()).await;
    for locale in Locale::ALL {
        get(format!("/api/v1/sync?limit=1000&locale={}", locale.code())).await;
    }
    for (path, body) in &public {
        for item in &marked {
            for (_, marker) in &item.markers {
                assert!(!body.contains(marker.as_str()), "{path} shows the internal {}/{} {}: {body}", item.content_type, item.slug, item.pointer);
            }
        }
    }
    for item in &marked {
        for (locale, marker) in &item.markers {
            // Search forgives typos, so other entries may come up; never the marked one.
            let found = server.get_json(&format!("/api/v1/search?q={marker}&locale={}", locale.code())).await;
            assert!(
                !found["items"].as_array().unwrap().iter().any(|hit| hit["slug"] == item.slug.as_str()),
                "search finds {}/{} by {marker}: {found}",
                item.content_type,
                item.slug
            );
        }
    }

    // The exported channels: none public carries a marker; kb115 carries each.
    let out = tempfile::tempdir().unwrap();
    let export = katalog(&["export", "--all", "--out", out.path().to_str().unwrap(), "--database", &db.url, "--content", content.path().to_str().unwrap()]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    for channel in ["web", "app", "partner"] {
        for (file, bytes) in files(&out.path().join(channel)) {
            let body = String::from_utf8_lossy(&bytes);
            for item in &marked {
                for (_, marker) in &item.markers {
                    assert!(!body.contains(marker.as_str()), "{channel}/{file} carries the internal {}/{} {}", item.content_type, item.slug, item.pointer);
                }
            }
        }
    }
    let kb115 = files(&out.path().join("kb115"));
    for item in &marked {
        let (_, german) = &item.markers[0];
        let records: Vec<&String> = kb115.iter().filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(german.as_str())).map(|(file, _)| file).collect();
        assert!(
            records.iter().any(|f| f.ends_with(&format!("{}.json", item.slug))),
            "no kb115 record carries {}/{} {}",
            item.content_type,
            item.slug,
            item.pointer
        );
        assert!(
            records.iter().any(|f| f.ends_with(&format!("{}.html", item.slug))),
            "no kb115 page carries {}/{} {}",
            item.content_type,
            item.slug,
            item.pointer
        );
    }

    // Editors see them in the management API and the editor UI.
    for item in &marked {
        let (locale, marker) = &item.markers[0];
        let (_, _, entry) = editor.send(Method::GET, &format!("/api/v1/manage/{}/{}?locale={}", item.content_type, item.slug, locale.code()), None, None).await;
        assert!(entry.to_string().contains(marker.as_str()), "the management API hides {}: {entry}", item.pointer);
    }
    assert_sample_export_is_clean(&out.path().join("web"));
}
on_both_databases!(internal_fields_reach_only_the_115_centre_and_editors);

/// The schema type of the value at a path (`string` unless it says
/// otherwise), and whether translations carry it.
fn field_type(schema: &Value, path: &[Step]) -> (String, bool) {
    let walker = katalog::content::schema::SchemaWalker::new(schema);
    let mut node = schema;
    let mut localized = false;
    for step in path {
        node = match step {
            Step::Key(key) => walker.property(node, key),
            Step::AnyIndex => walker.items(node),
        }
        .unwrap_or_else(|| panic!("the schema has no {path:?}"));
        localized |= node.get("x-localized").and_then(Value::as_bool) == Some(true);
    }
    (node.get("type").and_then(Value::as_str).unwrap_or("string").to_owned(), localized)
}

/// The sample's lost-property article, whose notes for agents started this.
fn assert_sample_export_is_clean(web: &Path) {
    let page = std::fs::read_to_string(web.join("de/article/fundbuero-wo-finde-ich/index.html")).unwrap();
    assert!(!page.contains("Hinweise für das Servicecenter"), "{page}");
}
