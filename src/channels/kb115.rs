//! `kb115`: one self-contained record per service for the 115 knowledge
//! base, with every fact an agent needs on the phone inlined — each
//! responsible office's address, hours and phone, the fees, documents,
//! deadlines, processing time and online service — as JSON and as a
//! printable page; and a CSV overview of all services.
//!
//! A service that lacks a field the schemas require for `kb115` (or whose
//! offices do) is reported and left out, never exported half.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::snapshot::{Snapshot, SnapshotEntry};
use super::{Aggregates, ChannelError, EntryOutput, Projection, Sources, missing_for, views};
use crate::content::{Locale, document};

const CHANNEL: &str = "kb115";
const TEMPLATE: &str = "kb115.html";
const OVERVIEW_COLUMNS: [&str; 8] = ["leika", "name", "slug", "zustaendige_stelle", "telefon", "kosten", "bearbeitungsdauer", "onlinedienst"];

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
        templates.add_template(TEMPLATE, include_str!("templates/kb115.html"))?;
        Ok(Kb115 { templates })
    }
}

impl Projection for Kb115 {
    fn fingerprint(&self) -> String {
        format!("kb115-{}", crate::digest::sha256_hex(include_str!("templates/kb115.html")))
    }

    fn entry_files(&self, service: &SnapshotEntry, sources: &Sources<'_>) -> Result<EntryOutput, ChannelError> {
        let mut output = EntryOutput::default();
        if service.content_type.name != "service" {
            return Ok(output);
        }
        let included = match included(sources.snapshot, service) {
            Ok(included) => included,
            Err(problem) => {
                output.problem = Some(format!("service/{}: {problem}", service.slug));
                return Ok(output);
            }
        };
        let record = Record { id: &service.id, slug: &service.slug, revision: service.source.number, fields: &service.source.document, html: service.html(Locale::SOURCE), included };
        let sheet = views::service_view(sources, service, Locale::SOURCE);
        let row = [
            sheet.leika.clone(),
            sheet.name.clone(),
            service.slug.clone(),
            sheet.offices.first().map(|o| o.office.name.clone()).unwrap_or_default(),
            sheet.offices.first().map(|o| o.office.phone.clone()).unwrap_or_default(),
            sheet.fees.iter().map(|f| format!("{}: {}", f.label, f.value)).collect::<Vec<_>>().join("; "),
            sheet.processing_time.clone(),
            sheet.online_service.as_ref().map(|l| l.url.clone()).unwrap_or_default(),
        ];
        output.digest = Some(Value::from(row.to_vec()));
        let page = self.templates.get_template(TEMPLATE)?.render(minijinja::value::Serde(&sheet))?;
        output.files.push((format!("{}.html", service.slug), page.into_bytes()));
        output.files.push((format!("{}.json", service.slug), super::pretty_json(&record)?));
        Ok(output)
    }

    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
        let mut overview = vec![OVERVIEW_COLUMNS.map(str::to_owned).to_vec()];
        for service in all.catalogue.of_type("service") {
            let Some(Value::Array(row)) = all.entries.get(&service.id).and_then(|record| record.digest.as_ref()) else { continue };
            overview.push(row.iter().map(|cell| cell.as_str().unwrap_or_default().to_owned()).collect());
        }
        Ok(vec![("services.csv".to_owned(), super::csv(&overview))])
    }
}

/// The referenced entries, each with its expanded fields; an error names
/// what is missing.
fn included(snapshot: &Snapshot, service: &SnapshotEntry) -> Result<BTreeMap<String, Value>, String> {
    let missing = missing_for(CHANNEL, &service.content_type, &service.source.document);
    if !missing.is_empty() {
        return Err(format!("missing {} (required for {CHANNEL})", missing.join(", ")));
    }
    let mut included = BTreeMap::new();
    for reference in document::references(&service.content_type, &service.source.document) {
        let key = format!("{}/{}", reference.target_type, reference.target_slug);
        let Some(target) = snapshot.get(&reference.target_type, &reference.target_slug) else {
            return Err(format!("refers to {key}, which is not published"));
        };
        let missing = missing_for(CHANNEL, &target.content_type, &target.source.document);
        if !missing.is_empty() {
            return Err(format!("{key} is missing {} (required for {CHANNEL})", missing.join(", ")));
        }
        let expanded: serde_json::Map<String, Value> = target
            .content_type
            .expand_fields
            .iter()
            .filter_map(|field| Some((field.clone(), target.source.document.get(field)?.clone())))
            .collect();
        included.insert(key, Value::Object(expanded));
    }
    Ok(included)
}
