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
use super::{ChannelError, Output, missing_for};
use crate::content::document;
use crate::render::{facts, markdown};

const CHANNEL: &str = "kb115";
const TEMPLATE: &str = "kb115.html";

/// The JSON record: the German fields as written, Markdown as HTML, and
/// every referenced entry with the fields its type shows when expanded.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    slug: &'a str,
    revision: i32,
    fields: &'a Value,
    html: BTreeMap<String, String>,
    included: BTreeMap<String, Value>,
}

/// The printable page, with facts already in words.
#[derive(Serialize)]
struct Sheet<'a> {
    name: &'a str,
    leika: &'a str,
    sections: Vec<Section>,
    fees: Vec<Fact>,
    documents: Vec<Fact>,
    deadlines: Vec<Fact>,
    processing_time: String,
    online_service: Option<Link>,
    offices: Vec<Office>,
}

#[derive(Serialize)]
struct Section {
    title: String,
    html: String,
}

#[derive(Serialize)]
struct Fact {
    label: String,
    value: String,
    note: String,
}

#[derive(Serialize)]
struct Link {
    url: String,
    title: String,
}

#[derive(Serialize)]
struct Office {
    role: &'static str,
    note: String,
    name: String,
    address: String,
    building: String,
    phone: String,
    email: String,
    web: String,
    appointment_url: String,
    hours: Vec<Hours>,
    exceptions: Vec<String>,
}

#[derive(Serialize)]
struct Hours {
    kind: &'static str,
    note: String,
    lines: Vec<String>,
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub fn render(snapshot: &Snapshot) -> Result<Output, ChannelError> {
    let mut templates = minijinja::Environment::new();
    templates.add_template(TEMPLATE, include_str!("templates/kb115.html"))?;
    let page = templates.get_template(TEMPLATE)?;
    let mut output = Output::default();
    let mut overview = vec![["leika", "name", "slug", "zustaendige_stelle", "telefon", "kosten", "bearbeitungsdauer", "onlinedienst"].map(str::to_owned)];
    for service in snapshot.of_type("service") {
        let included = match included(snapshot, service) {
            Ok(included) => included,
            Err(problem) => {
                output.problems.push(format!("service/{}: {problem}", service.slug));
                continue;
            }
        };
        let fields = &service.source.document;
        let record = Record {
            id: &service.id,
            slug: &service.slug,
            revision: service.source.number,
            fields,
            html: markdown::fields_to_html(&service.content_type, fields),
            included,
        };
        let sheet = sheet(service, &record);
        overview.push([
            text(fields, "leika"),
            text(fields, "name"),
            service.slug.clone(),
            sheet.offices.first().map(|o| o.name.clone()).unwrap_or_default(),
            sheet.offices.first().map(|o| o.phone.clone()).unwrap_or_default(),
            sheet.fees.iter().map(|f| format!("{}: {}", f.label, f.value)).collect::<Vec<_>>().join("; "),
            sheet.processing_time.clone(),
            sheet.online_service.as_ref().map(|l| l.url.clone()).unwrap_or_default(),
        ]);
        output.files.insert(format!("{}.html", service.slug), page.render(minijinja::value::Serde(&sheet))?.into_bytes());
        output.files.insert(format!("{}.json", service.slug), super::pretty_json(&record)?);
    }
    output.files.insert("services.csv".to_owned(), super::csv(&overview));
    Ok(output)
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

fn sheet<'a>(service: &'a SnapshotEntry, record: &Record<'a>) -> Sheet<'a> {
    let fields = record.fields;
    let list = |key: &str| fields.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let properties = service.content_type.schema.get("properties");
    let sections = service
        .content_type
        .markdown_fields
        .iter()
        .filter_map(|field| {
            let html = record.html.get(field)?.clone();
            let title = properties.and_then(|p| p.get(field)).map(|p| text(p, "title")).filter(|t| !t.is_empty()).unwrap_or_else(|| field.clone());
            Some(Section { title, html })
        })
        .collect();
    let offices = list("responsible_offices")
        .iter()
        .filter_map(|responsibility| {
            let office = record.included.get(&format!("office/{}", text(responsibility, "office")))?;
            Some(Office {
                role: facts::role(&text(responsibility, "role")),
                note: text(responsibility, "note"),
                name: text(office, "name"),
                address: office.get("address").map(facts::address).unwrap_or_default(),
                building: office.get("address").map(|a| text(a, "building")).unwrap_or_default(),
                phone: text(office, "phone"),
                email: text(office, "email"),
                web: text(office, "web"),
                appointment_url: text(office, "appointment_url"),
                hours: office
                    .get("opening_hours")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|hours| Hours { kind: facts::hours_kind(&text(hours, "kind")), note: text(hours, "note"), lines: facts::hour_lines(hours) })
                    .collect(),
                exceptions: office.get("exceptions").and_then(Value::as_array).into_iter().flatten().map(facts::exception).collect(),
            })
        })
        .collect();
    Sheet {
        name: fields.get("name").and_then(Value::as_str).unwrap_or(&service.slug),
        leika: fields.get("leika").and_then(Value::as_str).unwrap_or_default(),
        sections,
        fees: list("fees").iter().map(|fee| Fact { label: text(fee, "label"), value: facts::fee_amount(fee), note: text(fee, "note") }).collect(),
        documents: list("documents")
            .iter()
            .filter(|d| text(d, "direction") == "incoming")
            .map(|d| Fact {
                label: text(d, "name"),
                value: if d.get("mandatory").and_then(Value::as_bool).unwrap_or(true) { "erforderlich" } else { "falls zutreffend" }.to_owned(),
                note: text(d, "description"),
            })
            .collect(),
        deadlines: list("deadlines").iter().map(|d| Fact { label: text(d, "label"), value: facts::time_span(d), note: String::new() }).collect(),
        processing_time: fields.get("processing_time").map(facts::time_span).unwrap_or_default(),
        online_service: fields.get("online_service").map(|o| Link { url: text(o, "url"), title: text(o, "title") }),
        offices,
    }
}
