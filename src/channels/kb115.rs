//! `kb115`: one self-contained record per service for the 115 knowledge
//! base, with every fact an agent needs on the phone inlined — each
//! responsible office's address, hours and phone, the fees, documents,
//! deadlines, processing time and online service — as JSON and as a
//! printable page; one record per knowledge article (`article/`), with
//! the notes meant for agents only and the offices it names; and a CSV
//! overview of all services.
//!
//! An entry that lacks a field the schemas require for `kb115` (or whose
//! offices do) is reported and left out, never exported half.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::snapshot::{Snapshot, SnapshotEntry};
use super::{Aggregates, ChannelError, EntryOutput, Projection, Sources, views};
use crate::content::known_fields::{article, service};
use crate::content::{Locale, document};

const CHANNEL: &str = "kb115";
const SERVICE_TEMPLATE: &str = "kb115.html";
const ARTICLE_TEMPLATE: &str = "kb115-article.html";
/// Every template, for the fingerprint.
const TEMPLATES: [(&str, &str); 4] = [
    ("kb115-base.html", include_str!("templates/kb115-base.html")),
    (SERVICE_TEMPLATE, include_str!("templates/kb115.html")),
    (ARTICLE_TEMPLATE, include_str!("templates/kb115-article.html")),
    ("kb115-office.html", include_str!("templates/kb115-office.html")),
];
const OVERVIEW_COLUMNS: [&str; 8] = ["leika", "name", "slug", "zustaendige_stellen", "telefonnummern", "kosten", "bearbeitungsdauer", "onlinedienst"];

/// The JSON record: the German fields as written, Markdown as HTML, and
/// every referenced entry with the fields its type shows when expanded.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    slug: &'a str,
    revision: i32,
    fields: &'a Value,
    html: &'a BTreeMap<String, String>,
    included: BTreeMap<String, Value>,
}

pub struct Kb115 {
    templates: minijinja::Environment<'static>,
}

impl Kb115 {
    pub fn new() -> Result<Kb115, ChannelError> {
        let mut templates = crate::render::html_templates();
        for (name, text) in TEMPLATES {
            templates.add_template(name, text)?;
        }
        Ok(Kb115 { templates })
    }
}

impl Projection for Kb115 {
    fn fingerprint(&self) -> String {
        let texts: Vec<&str> = TEMPLATES.iter().map(|(_, text)| *text).collect();
        // The overview's columns change its file as much as a template does.
        format!("kb115-{}", crate::digest::sha256_hex(format!("{}{OVERVIEW_COLUMNS:?}", texts.concat())))
    }

    fn entry_files(&self, entry: &SnapshotEntry, sources: &Sources<'_>) -> Result<EntryOutput, ChannelError> {
        let mut output = EntryOutput::default();
        if ![service::TYPE, article::TYPE].contains(&entry.content_type.name.as_str()) {
            return Ok(output);
        }
        let included = match included(sources.snapshot, entry) {
            Ok(included) => included,
            Err(problem) => {
                output.problem = Some(format!("{}/{}: {problem}", entry.content_type.name, entry.slug));
                return Ok(output);
            }
        };
        let record = Record {
            id: &entry.id,
            slug: &entry.slug,
            revision: entry.source.number,
            fields: &entry.source.document,
            html: entry.html(Locale::SOURCE),
            included,
        };
        let (folder, page) = if entry.content_type.name == service::TYPE {
            let sheet = views::service_view(sources, entry, Locale::SOURCE);
            output.digest = Some(Value::from(overview_row(entry, &sheet).to_vec()));
            ("", self.templates.get_template(SERVICE_TEMPLATE)?.render(minijinja::value::Serde(&sheet))?)
        } else {
            let sheet = views::article_view(sources, entry, Locale::SOURCE);
            ("article/", self.templates.get_template(ARTICLE_TEMPLATE)?.render(minijinja::value::Serde(&sheet))?)
        };
        output.files.push((format!("{folder}{}.html", entry.slug), page.into_bytes()));
        output.files.push((format!("{folder}{}.json", entry.slug), super::pretty_json(&record)?));
        Ok(output)
    }

    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
        let mut overview = vec![OVERVIEW_COLUMNS.map(str::to_owned).to_vec()];
        for entry in all.catalogue.of_type(service::TYPE) {
            let Some(Value::Array(row)) = all.entries.get(&entry.id).and_then(|record| record.digest.as_ref()) else { continue };
            overview.push(row.iter().map(|cell| cell.as_str().unwrap_or_default().to_owned()).collect());
        }
        Ok(vec![("services.csv".to_owned(), super::csv(&overview)?)])
    }
}

/// A service's line in `services.csv`.
fn overview_row(service: &SnapshotEntry, sheet: &views::ServiceView) -> [String; 8] {
    [
        sheet.leika.clone(),
        sheet.name.clone(),
        service.slug.clone(),
        // Every responsible office, in the same order in both columns.
        sheet.offices.iter().map(|o| o.office.name.clone()).collect::<Vec<_>>().join("; "),
        sheet.offices.iter().map(|o| o.office.phone.clone()).collect::<Vec<_>>().join("; "),
        sheet.fees.iter().map(|f| format!("{}: {}", f.label, f.value)).collect::<Vec<_>>().join("; "),
        sheet.processing_time.clone(),
        sheet.online_service.as_ref().map(|l| l.url.clone()).unwrap_or_default(),
    ]
}

/// The referenced entries, each with its expanded fields; an error names
/// what is missing.
fn included(snapshot: &Snapshot, entry: &SnapshotEntry) -> Result<BTreeMap<String, Value>, String> {
    let missing = entry.content_type.missing_for(CHANNEL, &entry.source.document);
    if !missing.is_empty() {
        return Err(format!("missing {} (required for {CHANNEL})", missing.join(", ")));
    }
    let mut included = BTreeMap::new();
    for reference in document::references(&entry.content_type, &entry.source.document) {
        let key = format!("{}/{}", reference.target_type, reference.target_slug);
        let Some(target) = snapshot.get(&reference.target_type, &reference.target_slug) else {
            return Err(format!("refers to {key}, which is not published"));
        };
        let missing = target.content_type.missing_for(CHANNEL, &target.source.document);
        if !missing.is_empty() {
            return Err(format!("{key} is missing {} (required for {CHANNEL})", missing.join(", ")));
        }
        let expanded: serde_json::Map<String, Value> =
            target.content_type.expand_fields.iter().filter_map(|field| Some((field.clone(), target.source.document.get(field)?.clone()))).collect();
        included.insert(key, Value::Object(expanded));
    }
    Ok(included)
}
